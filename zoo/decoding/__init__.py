"""Decoders: loops over a step function, behind a `get()` registry.

Greedy search, beam search and sampling (temperature, top-k, top-p).
Every decoder drives a step function

    next_fn(tokens, state, index) -> (logits, state)

with `tokens` int32 `[batch]` (the previous token of each sequence),
`state` any nested dict/list/tuple of tensors whose leading dimension is
batch (recurrent states, encoder outputs for attention, ...), `index` the
int32 step (0-based) and `logits` float `[batch, vocab]`, unnormalized. The
decoders use `keras.ops.while_loop` with fixed-shape loop variables, so
they run eagerly and inside a `tf.function` with an unknown batch size
(SavedModel export).

Why not keras_hub's samplers: zoo does not depend on keras_hub (the
keras-hub 0.32.0 wheel requires, among others, kagglehub, sentencepiece,
tokenizers and tensorflow-text). Its samplers are written for token by
token language-model generation: `next(prompt, cache, index)` sees a
fixed-length `[batch, max_length]` prompt buffer into which each new token
is written at `index`, and its `BeamSampler` ranks beams by their
log-probability sum with no length penalty, keeps extending beams after
they emit an end token and by default returns only the best sequence.
These decoders take any nested recurrent state and return every beam's
sequence, length and score with a GNMT length penalty.

>>> from zoo import decoding
>>> decoding.names()
['beam', 'greedy', 'sample']
>>> decoding.get("beam", beam_width=2).beam_width
2
"""

from zoo.decoding.beam import BeamSearch
from zoo.decoding.beam import beam_search
from zoo.decoding.greedy import GreedySearch
from zoo.decoding.greedy import greedy_search
from zoo.decoding.sampling import Sampler
from zoo.decoding.sampling import filter_logits
from zoo.decoding.sampling import sample

# Name -> class.
_REGISTRY = {
    "greedy": GreedySearch,
    "beam": BeamSearch,
    "sample": Sampler,
}
_CLASSES = {cls.__name__: cls for cls in _REGISTRY.values()}


def names():
    """The decoder names `get()` accepts."""
    return sorted(_REGISTRY)


def get(identifier, **kwargs):
    """Returns a decoder from a name, a config dict or an instance.

    Args:
        identifier: A registered name (see `names()`), a dict
            `{"class_name": "BeamSearch", "config": {...}}` (as returned by
            `keras.saving.serialize_keras_object(decoder)`), or a decoder
            instance (returned as is).
        **kwargs: Constructor arguments (e.g. `beam_width=8`) used with a
            name.

    Raises:
        ValueError: For an unknown name or class name, listing the known
            ones.

    Example:

    >>> get({"class_name": "BeamSearch", "config": {"beam_width": 8}})
    BeamSearch(beam_width=8, length_penalty=0.0)
    >>> get("greedy")
    GreedySearch()
    """
    if isinstance(identifier, tuple(_REGISTRY.values())):
        if kwargs:
            raise ValueError(
                "Constructor arguments are only accepted with a decoder "
                f"name; got a decoder instance and {sorted(kwargs)}"
            )
        return identifier
    if isinstance(identifier, dict):
        if kwargs:
            raise ValueError(
                "Constructor arguments are only accepted with a decoder "
                f"name; got a config dict and {sorted(kwargs)}"
            )
        class_name = identifier.get("class_name")
        if class_name not in _CLASSES:
            raise ValueError(
                f"Unknown decoder class {class_name!r}. Known classes: "
                + ", ".join(sorted(_CLASSES))
            )
        return _CLASSES[class_name].from_config(
            dict(identifier.get("config") or {})
        )
    if isinstance(identifier, str):
        key = identifier.lower()
        if key not in _REGISTRY:
            raise ValueError(
                f"Unknown decoder {identifier!r}. Known decoders: "
                + ", ".join(names())
            )
        return _REGISTRY[key](**kwargs)
    raise ValueError(
        "Received an invalid value for argument `identifier`, expected a "
        f"decoder name, config dict or decoder instance, got {identifier!r}"
    )


__all__ = [
    "BeamSearch",
    "GreedySearch",
    "Sampler",
    "beam_search",
    "filter_logits",
    "get",
    "greedy_search",
    "names",
    "sample",
]
