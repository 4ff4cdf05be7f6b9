"""Hostile inputs for SavedModel signatures: a table of named cases.

A served model meets clients that send an empty batch, empty or
whitespace strings, 100 kB of text, bytes that are not UTF-8, a float64
array where float32 was declared, a missing batch dimension, NaN pixels,
a negative `top_k`... `cases(specs)` turns a signature's input specs
into such calls, each with the outcome the zoo promises for it:

* `OUTPUT`: the call returns, every output has the case's `batch` rows,
  float outputs are finite and string outputs are valid UTF-8 (bytes that
  are not UTF-8 are read as U+FFFD);
* `ERROR`: the call raises, with a message that matches the case's
  `pattern`, which names the problem and the input.

What a signature itself rejects before any of its code runs (its
arguments are bound by name, then converted with no casting) is worded
by TensorFlow: a missing input names itself ("missing a required
argument: 'seed'"); a wrong dtype names the input by its position among
the signature's input names in sorted order ("input #2(zero-based) was
expected to be a int64 tensor but is a int32 tensor"). A shape other
than the declared one is *not* rejected by a loaded signature (its
dimensions are not checked), so `zoo.export` makes every endpoint check
it first: "Shape of tensor images [28,28] is not compatible with expected
shape [?,28,28]".

Inputs are told apart by dtype, rank and name: strings `[N]` (texts) and
`[N, T]` (tokens), uint8 and float `[N, ...]` (images; a float input
named in `FLOAT_RANGES` must lie in its range), and scalar settings,
which must be named in `SETTINGS`: what a generation setting may be is
part of the serving contract, so the table says it (e.g. `max_length`
0 or less writes nothing; a negative `top_k` is an error). Each case
changes one input of an ordinary call (`ordinary_inputs`):

| input            | cases (outcome)                                     |
|------------------|-----------------------------------------------------|
| the batch        | `empty_batch`: 0 rows of every batched input        |
| any              | `missing`, `wrong_dtype`, `rank_plus_1`,            |
|                  | `rank_minus_1`, `wrong_shape` (a fixed dimension    |
|                  | one shorter): all errors                            |
| strings `[N]`    | `empty_strings`, `whitespace`, `not_utf8`,          |
|                  | `control_characters`, `over_long` (`LONG_WORDS`     |
|                  | words), `over_long_word` (`LONG_WORD` characters),  |
|                  | `mixed` (ordinary, empty and invalid rows): outputs |
| strings `[N, T]` | the same but `mixed`, and `inner_padding` and       |
|                  | `no_steps` (`[N, 0]`): outputs                      |
| uint8            | `range_ends` (0 and 255): output                    |
| float            | `nan`, `inf`, `minus_inf`: errors; in               |
|                  | `FLOAT_RANGES`, `below_range` and `above_range`     |
|                  | (255.0): errors, `range_ends`: output               |
| scalar           | `SETTINGS[name].cases`                              |

Example:

>>> import tensorflow as tf
>>> specs = [tf.TensorSpec([None], tf.string, name="text")]
>>> [case.name for case in cases(specs)][:4]
['empty_batch', 'text/missing', 'text/wrong_dtype', 'text/rank_plus_1']
>>> count([specs, specs])
24
"""

import dataclasses
import re

import numpy as np
import tensorflow as tf

OUTPUT, ERROR = "output", "error"
# A batch of ordinary texts: English and Chinese (the poetry recipe's).
TEXTS = ("The film is a quiet delight.", "床前明月光")
TOKENS = (("The", "film", "is"), ("Where", "is", ""))
# Over-long inputs: words of a text (about 100 kB) or tokens of a row,
# and characters of a single word.
LONG_WORDS = 20_000
LONG_WORD = 100_000
NOT_UTF8 = (
    b"\xff\xfe",  # Never in UTF-8.
    b"caf\xc3",  # A truncated sequence.
    b"\xed\xa0\x80 half",  # A UTF-16 surrogate, encoded.
    b"\xc0\xaf over",  # An overlong encoding of "/".
)
CONTROL = (b"a\x00b", "\u202e\u200b\x07".encode(), b"\x1b[31m red")
# Float inputs whose values must lie in a range, by input name.
FLOAT_RANGES = {"images": (0.0, 1.0)}
# Rows of an ordinary batch; unknown dimensions other than the batch.
BATCH, STEPS = 2, 3


@dataclasses.dataclass(frozen=True)
class Setting:
    """What a scalar setting input may be.

    Args:
        ordinary: The value of ordinary calls.
        cases: Dict case name -> `(value, pattern)`: pattern None for a
            value with a defined output, else the regex of its error.
    """

    ordinary: object
    cases: dict


_FORM = r"a poem must have at most \d+ characters"
SETTINGS = {
    # Output length: 0 or less writes nothing, longer ones are cut.
    "max_length": Setting(8, {"negative": (-1, None), "zero": (0, None),
                              "huge": (2**31 - 1, None)}),
    "temperature": Setting(1.0, {
        "nan": (float("nan"), r"temperature must be a finite number"
                              r"[^\n]*Tensor had NaN values"),
        "inf": (float("inf"), r"temperature must be a finite number"
                              r"[^\n]*Tensor had Inf values"),
        "minus_inf": (float("-inf"), r"temperature must be a finite "
                                     r"number[^\n]*Tensor had Inf values"),
        "negative": (-1.0, r"temperature must be >= 0"),
        "zero": (0.0, None),  # Greedy.
        "tiny": (1e-38, None),  # Logits / temperature overflow to inf.
        "huge": (1e30, None),
    }),
    "top_k": Setting(0, {"negative": (-1, r"top_k must be >= 0"),
                         "huge": (2**31 - 1, None)}),
    "seed": Setting(0, {"negative": (-1, None),
                        "largest": (2**63 - 1, None),
                        "smallest": (-2**63, None)}),
    "characters": Setting(5, {"zero": (0, r"characters must be >= 1"),
                              "negative": (-7, r"characters must be >= 1"),
                              "huge": (2**31 - 1, _FORM)}),
    "lines": Setting(4, {"zero": (0, r"lines must be >= 1"),
                         "negative": (-3, r"lines must be >= 1"),
                         "huge": (2**31 - 1, _FORM)}),
}


@dataclasses.dataclass(frozen=True)
class Case:
    """One hostile call of a signature and the outcome it must have.

    Args:
        name: `"<input>/<what>"`, or `"<what>"` for a case of every
            batched input (`"empty_batch"`).
        inputs: Dict input name -> numpy array (strings as bytes arrays);
            an input a case leaves out is missing on purpose.
        expect: `OUTPUT` or `ERROR`.
        pattern: For `ERROR`, a regex searched in the error's text.
        batch: For `OUTPUT`, the rows every output must have.
    """

    name: str
    inputs: dict
    expect: str
    pattern: str = None
    batch: int = None


def input_specs(signature):
    """`{name: tf.TensorSpec}` of a signature's inputs.

    Args:
        signature: A loaded signature or a concrete function (their
            `structured_input_signature`), a list of named `tf.TensorSpec`
            (as `serving_endpoints` gives) or a dict of them.
    """
    if hasattr(signature, "structured_input_signature"):
        # A loaded signature takes keywords; a traced function may not.
        args, kwargs = signature.structured_input_signature
        return {**{spec.name: spec for spec in tf.nest.flatten(args)},
                **kwargs}
    if isinstance(signature, dict):
        return dict(signature)
    return {spec.name: spec for spec in signature}


def _dims(spec, batch):
    """A concrete shape for `spec`: `batch` rows, `STEPS` for other Nones."""
    dims = spec.shape.as_list()
    return [batch if i == 0 else (STEPS if d is None else d)
            for i, d in enumerate(dims)]


def _bytes(text):
    return text.encode("utf-8") if isinstance(text, str) else text


def _strings(rows):
    """A bytes array of strings or of rows of them (rows padded with "")."""
    if len(rows) and isinstance(rows[0], (list, tuple)):
        width = max(len(r) for r in rows)
        return np.array([[_bytes(t) for t in r] + [b""] * (width - len(r))
                         for r in rows], dtype=object).astype("S")
    if not len(rows):
        return np.zeros((0,), "S1")  # np.array([]) is not a string array.
    return np.array([_bytes(r) for r in rows], dtype=object).astype("S")


def ordinary_value(name, spec, batch=BATCH):
    """An ordinary value of input `name` with `spec`, `batch` rows.

    Texts cycle through `TEXTS`, tokens through `TOKENS`, uint8 images are
    fixed random pixels, float ones the same in [0, 1], scalar settings
    `SETTINGS[name].ordinary`.

    Raises:
        ValueError: No ordinary value is known for such an input.
    """
    dtype, rank = spec.dtype, spec.shape.rank
    if rank == 0:
        if name not in SETTINGS:
            raise ValueError(
                f"No setting is known for the scalar input `{name}` "
                f"({dtype.name}); known: {', '.join(SETTINGS)}")
        return np.array(SETTINGS[name].ordinary, dtype.as_numpy_dtype)
    shape = _dims(spec, batch)
    if dtype == tf.string and rank == 1:
        return _strings([TEXTS[i % len(TEXTS)] for i in range(batch)])
    if dtype == tf.string and rank == 2:
        if not batch:
            return np.zeros(shape, "S1")
        return _strings([TOKENS[i % len(TOKENS)] for i in range(batch)])
    if dtype in (tf.uint8, tf.float16, tf.float32, tf.float64):
        pixels = np.random.default_rng(0).integers(0, 256, size=shape)
        if dtype == tf.uint8:
            return pixels.astype(np.uint8)
        return (pixels / 255.0).astype(dtype.as_numpy_dtype)
    raise ValueError(f"No ordinary value is known for `{name}` "
                     f"({dtype.name} {spec.shape})")


def ordinary_inputs(specs, batch=BATCH):
    """Ordinary values of every input of `specs` (see `input_specs`)."""
    specs = input_specs(specs)
    return {name: ordinary_value(name, spec, batch)
            for name, spec in specs.items()}


# What TensorFlow calls a dtype in its messages, where that differs.
_TYPE_NAMES = {"float32": "float", "float64": "double"}
# The likeliest wrong dtype for each declared one.
_WRONG_DTYPES = {tf.string: np.int32, tf.uint8: np.float32,
                 tf.float32: np.float64, tf.int32: np.int64,
                 tf.int64: np.int32}


def _type_name(dtype):
    name = tf.as_dtype(dtype).name
    return _TYPE_NAMES.get(name, name)


def _shape_text(shape):
    """A shape as TensorFlow's messages print it: `[?,28,28]`."""
    return "[" + ",".join("?" if d is None else str(d) for d in shape) + "]"


def _wrong_shape_pattern(name, spec, value):
    return (rf"Shape of tensor {re.escape(name)} "
            rf"{re.escape(_shape_text(value.shape))} is not compatible with "
            rf"expected shape {re.escape(_shape_text(spec.shape.as_list()))}")


def _signature_cases(name, spec, index, ordinary):
    """Missing input, wrong dtype, wrong rank and shape: for any input."""
    value = ordinary[name]
    others = {k: v for k, v in ordinary.items() if k != name}
    if spec.dtype == tf.string:
        converted = np.ones(value.shape, np.int32)  # Numbers, not text.
    else:
        converted = value.astype(_WRONG_DTYPES.get(spec.dtype, "S"))
    found = [
        Case(f"{name}/missing", others, ERROR,
             rf"missing a required argument: '{re.escape(name)}'"),
        Case(f"{name}/wrong_dtype", {**others, name: converted}, ERROR,
             rf"input #{index}\(zero-based\) was expected to be a "
             rf"{_type_name(spec.dtype)} tensor but is a "
             rf"{_type_name(converted.dtype)} tensor"),
    ]
    shapes = {"rank_plus_1": value[..., None]}
    if spec.shape.rank:
        shapes["rank_minus_1"] = np.asarray(value[0])
        fixed = [i for i, d in enumerate(spec.shape.as_list()) if d]
        if fixed:  # One fixed dimension one shorter.
            shapes["wrong_shape"] = np.delete(value, 0, axis=fixed[-1])
    for what, bad in shapes.items():
        found.append(Case(f"{name}/{what}", {**others, name: bad}, ERROR,
                          _wrong_shape_pattern(name, spec, bad)))
    return found


def _text_values(spec):
    """Hostile values of a string input `[N]` or `[N, T]`, by name."""
    if spec.shape.rank == 1:
        return {
            "empty_strings": ["", ""],
            "whitespace": [" ", "\t\n \r"],
            "not_utf8": list(NOT_UTF8),
            "control_characters": list(CONTROL),
            "over_long": ["word " * LONG_WORDS],
            "over_long_word": ["a" * LONG_WORD],
            "mixed": [TEXTS[0], "", NOT_UTF8[0], "word " * 1000],
        }
    return {
        "empty_strings": [["", "", ""]],
        "whitespace": [[" ", "\t", "\n"]],
        "not_utf8": [list(NOT_UTF8)],
        "control_characters": [list(CONTROL)],
        "over_long": [["word"] * LONG_WORDS],
        "over_long_word": [["a" * LONG_WORD]],
        "inner_padding": [["The", "", "film"], ["", "", "is"]],
        "no_steps": np.zeros((BATCH, 0), "S1"),
    }


def _float_values(name, ordinary):
    """Non-finite and out-of-range pixels of a float input, each in one
    spot of an ordinary batch, with the error each must raise."""
    found = {}
    finite = rf"`{re.escape(name)}` must be finite[^\n]*Tensor had"
    for what, x, kind in (("nan", np.nan, "NaN"), ("inf", np.inf, "Inf"),
                          ("minus_inf", -np.inf, "Inf")):
        found[what] = (x, f"{finite} {kind} values")
    if name in FLOAT_RANGES:
        low, high = FLOAT_RANGES[name]
        outside = (rf"`{re.escape(name)}` must be [^\n\]]*"
                   rf"\[{low:g}, {high:g}\]")
        found["below_range"] = (low - 0.5, outside)
        # Pixels 0-255 as floats: the classic mistake.
        found["above_range"] = (255.0, outside)
    cases = {}
    for what, (x, pattern) in found.items():
        value = ordinary.copy()
        value.flat[value.size // 2] = x
        cases[what] = (value, pattern)
    if name in FLOAT_RANGES:
        value = ordinary.copy()
        value[0], value[-1] = low, high
        cases["range_ends"] = (value, None)
    return cases


def cases(signature, batch=BATCH):
    """The hostile cases of a signature, for its input specs.

    Args:
        signature: What `input_specs` takes.
        batch: Rows of the ordinary inputs a case leaves as they are.

    Returns:
        A list of `Case`, in a fixed order, with distinct names.

    Raises:
        ValueError: A scalar input that `SETTINGS` does not describe, or
            an input of a dtype and rank the table has no values for.
    """
    specs = input_specs(signature)
    ordinary = ordinary_inputs(specs, batch)
    batched = [n for n, s in specs.items() if s.shape.rank]
    found = []

    def with_batch(name, value, rows):
        """The ordinary inputs, `name` replaced, other batched inputs of
        `rows` rows too."""
        inputs = {n: (ordinary_value(n, specs[n], rows) if n in batched
                      else ordinary[n]) for n in specs}
        inputs[name] = value
        return inputs

    if batched:
        empty = {n: ordinary_value(n, s, 0) if s.shape.rank else ordinary[n]
                 for n, s in specs.items()}
        found.append(Case("empty_batch", empty, OUTPUT, batch=0))
    for index, name in enumerate(sorted(specs)):
        spec = specs[name]
        found.extend(_signature_cases(name, spec, index, ordinary))
        if spec.dtype == tf.string:
            for what, rows in _text_values(spec).items():
                value = rows if isinstance(rows, np.ndarray) else (
                    _strings(rows))
                found.append(Case(f"{name}/{what}",
                                  with_batch(name, value, len(value)),
                                  OUTPUT, batch=len(value)))
        elif spec.dtype == tf.uint8:
            value = ordinary[name].copy()
            value[0], value[-1] = 0, 255  # uint8 is in range by construction.
            found.append(Case(f"{name}/range_ends", with_batch(name, value,
                                                                batch),
                              OUTPUT, batch=batch))
        elif spec.dtype.is_floating and spec.shape.rank:
            for what, (value, pattern) in _float_values(
                    name, ordinary[name]).items():
                found.append(Case(
                    f"{name}/{what}", with_batch(name, value, batch),
                    ERROR if pattern else OUTPUT, pattern,
                    None if pattern else batch))
        elif spec.shape.rank == 0:
            for what, (x, pattern) in SETTINGS[name].cases.items():
                value = np.array(x, spec.dtype.as_numpy_dtype)
                found.append(Case(
                    f"{name}/{what}", {**ordinary, name: value},
                    ERROR if pattern else OUTPUT, pattern,
                    None if pattern else batch))
    return found


def count(signatures):
    """How many cases `cases` gives for all these signatures together."""
    return sum(len(cases(signature)) for signature in signatures)


def problems(case, outputs, error=None):
    """What is wrong with a call's answer, given its case.

    Args:
        case: A `Case`.
        outputs: Dict output name -> numpy array (strings as bytes), or
            None if the call raised.
        error: The error's text (e.g. a traceback), if the call raised.

    Returns:
        A list of messages, empty if the answer is the one promised.
    """
    if case.expect == ERROR:
        if error is None:
            return [f"{case.name}: expected an error matching "
                    f"{case.pattern!r}, got outputs {sorted(outputs)}"]
        if not re.search(case.pattern, error):
            return [f"{case.name}: the error does not match "
                    f"{case.pattern!r}:\n{error[-1500:]}"]
        return []
    if error is not None:
        return [f"{case.name}: expected outputs, got an error:\n"
                f"{error[-1500:]}"]
    if not outputs:
        return [f"{case.name}: expected outputs, got none"]
    found = []
    for key, value in sorted(outputs.items()):
        value = np.asarray(value)
        if value.ndim == 0 or value.shape[0] != case.batch:
            found.append(f"{case.name}: output {key} has shape "
                         f"{value.shape}, expected {case.batch} rows")
        if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
            found.append(f"{case.name}: output {key} is not finite")
        if value.dtype.kind in "SO":
            for text in value.ravel():
                try:
                    bytes(text).decode("utf-8")
                except UnicodeDecodeError:
                    found.append(f"{case.name}: output {key} holds bytes "
                                 f"that are not UTF-8: {bytes(text)[:40]!r}")
                    break
    return found
