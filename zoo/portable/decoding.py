"""Decoding loops over a portable step function, in NumPy.

The translator's and the language model's portable exports hold step
functions (`encode`, `states`, `next`; see their `portable.json`); what
ONNX and LiteRT cannot hold well (beam search's reordering, sampling) runs
here, around them. Each loop is `zoo.decoding`'s, step for step, so that
over the same logits it emits the same tokens:

* `greedy_search`: the most probable token each step (the first of equal
  maxima).
* `beam_search`: GNMT length-penalized beam search, finished hypotheses
  ranked before those cut off at `max_length`.
* `sample`: temperature, top-k and nucleus (top-p) filtering and a
  constraint, with `zoo.decoding.sample`'s draws (an integer hash of the
  seed, step and row; `uniforms`, `draw`), so the same seed gives the
  SavedModel's tokens.

`onnx_function` and `litert_function` turn a model file into the
`fn(**inputs) -> {name: array}` the loops' step functions are built from.

This module imports NumPy only (and a runtime when one of those two is
called): a client copies it as it is.
"""

import numpy as np

NEG_INF = float("-inf")


def onnx_function(path):
    """`fn(**inputs) -> {output name: array}` of an `.onnx` file, run by
    ONNX Runtime on the CPU."""
    import onnxruntime

    session = onnxruntime.InferenceSession(
        path, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]

    def run(**inputs):
        return dict(zip(names, session.run(names, inputs)))

    return run


def litert_function(path):
    """`fn(**inputs) -> {output name: array}` of a `.tflite` file, run by
    the LiteRT interpreter a row at a time (its batch is 1) and stacked;
    scalar inputs go to every row."""
    from ai_edge_litert import interpreter

    runner = interpreter.Interpreter(model_path=path).get_signature_runner()

    def run(**inputs):
        inputs = {n: np.asarray(v) for n, v in inputs.items()}
        rows = max(len(v) for v in inputs.values() if v.ndim)
        # Scalars (a length, a setting) go whole to every row.
        found = [runner(**{n: v[r:r + 1] if v.ndim else v
                           for n, v in inputs.items()})
                 for r in range(rows)]
        return {k: np.concatenate([row[k] for row in found])
                for k in found[0]}

    return run


def log_softmax(logits):
    """float32 log-probabilities over the last axis (-inf stays -inf)."""
    logits = np.asarray(logits, np.float32)
    top = np.max(logits, axis=-1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    shifted = logits - top
    with np.errstate(divide="ignore"):
        return shifted - np.log(np.sum(np.exp(shifted), axis=-1,
                                       keepdims=True))


def _top_k(values, k):
    """`(values, indices)` of the `k` largest along the last axis, the
    lower index first among equal values (as `tf.math.top_k`)."""
    order = np.argsort(-values, axis=-1, kind="stable")[..., :k]
    return np.take_along_axis(values, order, axis=-1), order


def _take_rows(state, rows):
    return {k: v[rows] for k, v in state.items()}


def greedy_search(next_fn, start_tokens, state, max_length, end_token,
                  pad_token=0):
    """Most probable token each step until every row emits `end_token`,
    or `max_length` steps.

    Args:
        next_fn: `next_fn(tokens [N], state) -> (logits [N, V], state)`;
            `state` is a dict of arrays with leading dimension N.
        start_tokens: int `[N]`, the first input tokens.
        state: The first state.
        max_length: The length of the output.
        end_token: The token that finishes a row.
        pad_token: Written after the end token.

    Returns:
        int32 `[N, max_length]`.
    """
    return sample(next_fn, start_tokens, state, max_length, end_token,
                  temperature=0.0, pad_token=pad_token)


def beam_search(next_fn, start_tokens, state, max_length, end_token,
                beam_width=4, length_penalty=0.0, pad_token=0):
    """Keeps the `beam_width` best hypotheses per row, as
    `zoo.decoding.beam_search`; `next_fn` sees `N * beam_width` rows (the
    beams of row 0 first).

    Returns:
        `(sequences, scores)`: int32 `[N, beam_width, max_length]`, best
        first, and their float32 length-penalized scores `[N, beam_width]`.
    """
    start_tokens = np.asarray(start_tokens)
    batch = len(start_tokens)
    tokens = np.repeat(start_tokens, beam_width)
    state = {k: np.repeat(v, beam_width, axis=0) for k, v in state.items()}
    sequences = np.full([batch, beam_width, max_length], pad_token, np.int32)
    log_probs = np.where(np.arange(beam_width) == 0, 0.0,
                         NEG_INF).astype(np.float32)
    log_probs = np.tile(log_probs, (batch, 1))
    lengths = np.zeros([batch, beam_width], np.int32)
    finished = np.zeros([batch, beam_width], bool)
    for index in range(max_length):
        if finished.all():
            break
        logits, state = next_fn(tokens, state)
        vocab = logits.shape[-1]
        step = log_softmax(logits).reshape(batch, beam_width, vocab)
        only_one = np.where(np.arange(vocab) == 0, 0.0,
                            NEG_INF).astype(np.float32)
        step = np.where(finished[:, :, None], only_one, step)
        candidates = (log_probs[:, :, None] + step).reshape(batch, -1)
        log_probs, chosen = _top_k(candidates, beam_width)
        parents, token = chosen // vocab, (chosen % vocab).astype(np.int32)
        sequences = np.take_along_axis(sequences, parents[:, :, None], axis=1)
        lengths = np.take_along_axis(lengths, parents, axis=1)
        finished = np.take_along_axis(finished, parents, axis=1)
        token = np.where(finished, pad_token, token)
        lengths = lengths + np.where(finished, 0, 1).astype(np.int32)
        finished = finished | (token == end_token)
        sequences[:, :, index] = token
        flat = (parents + np.arange(batch)[:, None] * beam_width).reshape(-1)
        state = _take_rows(state, flat)
        tokens = token.reshape(-1)
    scores = (log_probs / np.power((5.0 + lengths.astype(np.float32)) / 6.0,
                                   np.float32(length_penalty))).astype(
                                       np.float32)
    # Finished hypotheses by score, then the unfinished ones by score.
    order = np.stack([
        np.concatenate([
            [b for _, b in sorted(
                (-scores[r, b], b) for b in range(beam_width)
                if finished[r, b] == done)]
            for done in (True, False)]).astype(int)
        for r in range(batch)])
    return (np.take_along_axis(sequences, order[:, :, None], axis=1),
            np.take_along_axis(scores, order, axis=1))


def filter_logits(logits, top_k=0, top_p=1.0):
    """`logits` `[N, V]` with the tokens outside the top-k and the top-p
    nucleus at -inf, as `zoo.decoding.filter_logits`."""
    logits = np.asarray(logits, np.float32)
    vocab = logits.shape[-1]
    ranked = -np.sort(-logits, axis=-1)
    k = min(top_k, vocab) if top_k > 0 else vocab
    kth = ranked[:, k - 1]
    probabilities = np.exp(log_softmax(ranked))
    before = np.cumsum(probabilities, axis=-1) - probabilities
    nucleus = before < np.float32(top_p)
    smallest = np.min(np.where(nucleus, ranked, ranked[:, :1]), axis=-1)
    threshold = np.maximum(kth, smallest)[:, None]
    return np.where(logits >= threshold, logits, NEG_INF)


_MIX = 0x45D9F3B
_LOW32 = 0xFFFFFFFF


def _hash32(x):
    """`zoo.decoding.sampling._hash32`: int64 in [0, 2**32) -> [0, 2**32)."""
    for _ in range(2):
        x = (((x >> 16) ^ x) * _MIX) & _LOW32
    return (x >> 16) ^ x


def uniforms(seed, index, rows):
    """`zoo.decoding.sampling.uniforms`: the float32 numbers in [0, 1) of
    draw `index` of a call with `seed`, one per row."""
    seed = np.int64(seed)
    key = _hash32((seed & _LOW32) ^ _hash32((seed >> 32) & _LOW32))
    key = _hash32(key ^ np.int64(index))
    bits = _hash32(key ^ np.arange(rows, dtype=np.int64))
    return (bits >> 8).astype(np.float32) / np.float32(2**24)


def draw(logits, uniform):
    """`zoo.decoding.sampling.draw`: the token of each row whose
    cumulative weight `exp(logits - max)` first exceeds `uniform` of the
    row's total."""
    logits = np.asarray(logits, np.float32)
    weights = np.exp(logits - np.max(logits, axis=-1, keepdims=True))
    cumulative = np.cumsum(weights, axis=-1, dtype=np.float32)
    target = uniform * cumulative[:, -1]
    token = np.sum(cumulative <= target[:, None], axis=-1)
    last = logits.shape[-1] - 1 - np.argmax(weights[:, ::-1] > 0, axis=-1)
    return np.minimum(token, last)


def sample(next_fn, start_tokens, state, max_length, end_token,
           temperature=1.0, top_k=0, top_p=1.0, seed=0, pad_token=0,
           constraint=None):
    """Draws each token from the filtered distribution, as
    `zoo.decoding.sample` (temperature 0: greedy), with its draws: the
    same seed gives the SavedModel's tokens over the same logits.
    `constraint(index) -> allowed` (bool, broadcastable to `[N, V]`)
    forbids tokens at a step.

    Returns:
        int32 `[N, max_length]`, `pad_token` after a row's `end_token`.
    """
    tokens = np.asarray(start_tokens)
    sequences = np.full([len(tokens), max_length], pad_token, np.int32)
    finished = np.zeros([len(tokens)], bool)
    for index in range(max_length):
        if finished.all():
            break
        logits, state = next_fn(tokens, state)
        logits = np.asarray(logits, np.float32)
        if constraint is not None:
            logits = np.where(constraint(index), logits, NEG_INF)
        if temperature <= 0:
            token = np.argmax(logits, axis=-1)
        else:
            reshaped = filter_logits(logits / np.float32(temperature), top_k,
                                     top_p)
            token = draw(reshaped, uniforms(seed, index, len(tokens)))
        token = np.where(finished, pad_token, token).astype(np.int32)
        finished = finished | (token == end_token)
        sequences[:, index] = token
        tokens = token
    return sequences


class Export:
    """A version's portable models, loaded once.

    Args:
        folder: The version folder (with `portable.json`).
        runtime: "onnx" (ONNX Runtime) or "litert".

    Attributes:
        description: `portable.json`.
        models: `{name: fn(**inputs) -> {output name: array}}`.
    """

    def __init__(self, folder, runtime="onnx"):
        self.folder = folder
        self.runtime = runtime
        self.description, self.models = _read_export(folder, runtime)


def _loaded(export, runtime):
    return export if isinstance(export, Export) else Export(export, runtime)


def _read_export(folder, runtime):
    """`(description, {name: fn})` of the portable export in `folder`."""
    import json
    import os

    if runtime not in RUNTIMES:
        raise ValueError(f"Received an invalid value for argument `runtime`, "
                         f"expected one of {', '.join(RUNTIMES)}, got "
                         f"{runtime!r}")
    with open(os.path.join(folder, "portable.json"), encoding="utf-8") as f:
        description = json.load(f)
    functions = {}
    for name, model in description["models"].items():
        if runtime not in model["files"]:
            raise ValueError(f"{folder} has no {runtime} models (its "
                             f"formats: {', '.join(description['formats'])})")
        functions[name] = RUNTIMES[runtime](
            os.path.join(folder, model["files"][runtime]))
    return description, functions


def _step(next_model):
    """`next_fn(tokens, state)` of a portable `next` model: `state` holds
    its inputs but `tokens` (`state_i`, and the translator's `source_ids`
    and `encoded`); its outputs `next_state_i` become the next `state_i`."""

    def step(tokens, state):
        found = next_model(tokens=np.asarray(tokens, np.int64), **state)
        state = {**state, **{k[len("next_"):]: v for k, v in found.items()
                             if k.startswith("next_state_")}}
        return found["logits"], state

    return step


def translate_ids(export, source_ids, beam_width=None, runtime="onnx"):
    """Translation ids `[N, max_length]` of a translator's portable export,
    as its SavedModel decodes: greedy (`beam_width` 1) or beam search
    (default: the export's `beam_width`), 0 after the end id; a source
    without a token gets none.

    Args:
        export: An `Export`, or its version folder (loaded for the call).
        source_ids: int `[N, S]`, the source texts' ids (0-padded).
        beam_width: Hypotheses kept; None: the export's.
        runtime: "onnx" (ONNX Runtime) or "litert", for a folder.
    """
    export = _loaded(export, runtime)
    description, models = export.description, export.models
    settings = description["decoding"]
    source_ids = np.asarray(source_ids, np.int64)
    state = {"source_ids": source_ids,
             **models["encode"](source_ids=source_ids)}
    start = np.full([len(source_ids)], settings["start_id"])
    step = _step(models["next"])
    width = settings["beam_width"] if beam_width is None else beam_width
    if width == 1:
        ids = greedy_search(step, start, state, settings["max_length"],
                            settings["end_id"])
    else:
        ids = beam_search(step, start, state, settings["max_length"],
                          settings["end_id"], width,
                          settings["length_penalty"])[0][:, 0]
    return np.where((source_ids != 0).any(axis=1)[:, None], ids, 0)


def generate_ids(export, prompt_ids, max_length=100, temperature=1.0,
                 top_k=0, top_p=1.0, seed=0, runtime="onnx"):
    """Continuation ids `[N, width]` of a language model's portable export,
    as its SavedModel's `generate` samples them (see `sample` for the
    seed), the end id and 0 after it.

    Args:
        export: An `Export`, or its version folder (loaded for the call).
        prompt_ids: One list of ids per prompt: the prompt's characters
            (at most `max_text` of them, the last), no markers.
        max_length: Characters to emit before the end id (0 to
            `max_generate`).
        temperature, top_k, top_p, seed: As for `sample`.
        runtime: "onnx" (ONNX Runtime) or "litert", for a folder.
    """
    export = _loaded(export, runtime)
    description, models = export.description, export.models
    settings = description["decoding"]
    rows = [[settings["begin_id"]] + list(ids)[-settings["max_text"]:]
            for ids in prompt_ids]
    start = np.array([row[-1] for row in rows], np.int64)
    longest = max([1] + [len(row) - 1 for row in rows])
    before = np.array([row[:-1] + [0] * (longest - len(row) + 1)
                       for row in rows], np.int64)
    state = models["states"](ids=before)
    max_length = min(max(int(max_length), 0), settings["max_generate"])
    logits, = [o for o in description["models"]["next"]["outputs"]
               if o["name"] == "logits"]
    ids = np.arange(logits["shape"][-1])
    free = (ids >= settings["free_from"])[None]
    end = (ids == settings["end_id"])[None]
    return sample(_step(models["next"]), start, state, settings["width"],
                  settings["end_id"], temperature, top_k, top_p, seed,
                  constraint=lambda index: free if index < max_length
                  else end)


RUNTIMES = {"onnx": onnx_function, "litert": litert_function}
