"""Shared checks for zoo tests: layers, serialization and exports.

These are plain functions that raise `AssertionError` with a message, so
any test (pytest or not) can call them. A few small helpers for making
test data and reading results (`random_array`, `randomize_weights`,
`to_numpy`, `step_and_grads`, `write_file`, `mock_conll2003`,
`random_poems`, `untrained_poet`), recipe tests
(`WeightRecorder`, `read_preset`) and tables of malformed input files
(`check_malformed_files` with the outcomes `Raises` and `Returns`, and
`FOLDER`) sit alongside them.
"""

import json
import os
import random
import subprocess
import sys
import tempfile
import textwrap

import keras
import numpy as np


def run_layer_test(layer, inputs, expected_output_shape, mask=None):
    """Calls `layer` eagerly and in a functional model; checks the shapes.

    Checks that the eager output has `expected_output_shape` (the first
    output, for layers that return a list), that `compute_output_shape`
    agrees, and that a functional model around the layer (with the mask as
    a second input, if given) gives the eager output.

    Returns:
        The eager output.
    """
    kwargs = {} if mask is None else {"mask": mask}
    output = layer(inputs, **kwargs)
    _assert_shape(output, expected_output_shape, "eager call")
    declared = layer.compute_output_shape(tuple(inputs.shape))
    if declared and isinstance(declared[0], (list, tuple)):
        declared = declared[0]  # [output, *states] shapes.
    assert tuple(declared) == tuple(expected_output_shape), (
        f"compute_output_shape: expected {tuple(expected_output_shape)}, "
        f"got {tuple(declared)}"
    )
    symbolic = keras.Input(batch_shape=tuple(inputs.shape))
    if mask is None:
        model = keras.Model(symbolic, layer(symbolic))
        functional = model(inputs)
    else:
        symbolic_mask = keras.Input(batch_shape=tuple(mask.shape), dtype="bool")
        model = keras.Model(
            [symbolic, symbolic_mask], layer(symbolic, mask=symbolic_mask)
        )
        functional = model([inputs, mask])
    np.testing.assert_allclose(
        _first(functional),
        _first(output),
        atol=1e-6,
        err_msg="functional model output differs from the eager call",
    )
    return output


def _first(x):
    return np.asarray(x[0] if isinstance(x, (list, tuple)) else x)


def _assert_shape(output, expected, where):
    actual = tuple(_first(output).shape)
    assert actual == tuple(expected), (
        f"{where}: expected shape {tuple(expected)}, got {actual}"
    )


def run_serialization_test(layer, inputs, mask=None, atol=1e-6):
    """Round-trips `layer` through `get_config` and a `.keras` file.

    The rebuilt layer (from its config, with the weights copied) and the
    reloaded model must give the outputs of the original.
    """
    kwargs = {} if mask is None else {"mask": mask}
    expected = _first(layer(inputs, **kwargs))
    config = keras.saving.serialize_keras_object(layer)
    clone = keras.saving.deserialize_keras_object(config)
    clone(inputs, **kwargs)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(
        _first(clone(inputs, **kwargs)), expected, atol=atol,
        err_msg="layer rebuilt from its config gives other outputs",
    )
    assert clone.get_config() == layer.get_config(), (
        "get_config() changed in a round trip"
    )
    symbolic = keras.Input(batch_shape=tuple(inputs.shape))
    model = keras.Model(symbolic, layer(symbolic))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.keras")
        model.save(path)
        reloaded = keras.saving.load_model(path)
    np.testing.assert_allclose(
        _first(reloaded(inputs)), _first(model(inputs)), atol=atol,
        err_msg="model reloaded from .keras gives other outputs",
    )


def run_model_serialization_test(model, inputs, atol=1e-6):
    """Round-trips a model through `get_config` and a `.keras` file.

    The model rebuilt from its config (with the weights copied) and the
    model reloaded from `.keras` must be of its class, have its config and
    give its outputs on `inputs` (with dropout off).
    """
    expected = np.asarray(model(inputs, training=False))
    clone = type(model).from_config(model.get_config())
    clone.set_weights(model.get_weights())
    assert clone.get_config() == model.get_config(), (
        "get_config() changed in a round trip"
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.keras")
        model.save(path)
        reloaded = keras.saving.load_model(path)
    for other, how in ((clone, "rebuilt from its config"),
                       (reloaded, "reloaded from .keras")):
        assert type(other) is type(model), f"{how}: a {type(other)}"
        np.testing.assert_allclose(
            np.asarray(other(inputs, training=False)), expected, atol=atol,
            err_msg=f"model {how} gives other outputs",
        )


# Runs a list of signature calls in one process in which `import zoo`
# fails, keeping each call's outputs or its error.
_STANDALONE = textwrap.dedent(
    """
    import json, sys, traceback
    import numpy as np
    sys.modules["zoo"] = None  # The export must stand alone.
    import tensorflow as tf
    with open(sys.argv[1]) as f:
        calls = json.load(f)
    inputs, found, loaded = np.load(sys.argv[2]), {}, {}
    for i, (path, signature, names) in enumerate(calls):
        try:
            if path not in loaded:
                loaded[path] = tf.saved_model.load(path)
            fn = loaded[path].signatures[signature]
            outputs = fn(**{n: tf.constant(inputs[f"{i}:{n}"]) for n in names})
            for key, value in outputs.items():
                value = value.numpy()
                # Strings come back as object arrays of bytes: store bytes.
                found[f"{i}:{key}"] = (
                    value.astype("S") if value.dtype == object else value
                )
        except Exception:
            found[f"{i}:{EXPORT_ERROR}"] = np.array(traceback.format_exc()[-3000:])
    np.savez(sys.argv[3], **found)
    """
)
EXPORT_ERROR = "__error__"


def run_export_calls(calls, timeout=180):
    """Calls SavedModel signatures in one fresh process without `zoo`.

    Loading TensorFlow is most of a call's time, so many calls share one
    process; each export is loaded once.

    Args:
        calls: List of `(export_path, signature, inputs)`, inputs a dict of
            numpy arrays keyed by input name.
        timeout: Seconds for the whole process.

    Returns:
        One dict per call: its numpy outputs keyed by output name (strings
        as numpy bytes arrays), or `{EXPORT_ERROR: traceback}` for a call
        that raised.
    """
    return _run_calls(
        _STANDALONE, [[path, signature, sorted(inputs)]
                      for path, signature, inputs in calls],
        [inputs for _, _, inputs in calls], "loading exports without zoo",
        timeout)


def _run_calls(script, described, inputs, what, timeout):
    """Runs `script` in a fresh process, in a temporary folder (not the
    repository, so its `zoo/` is not on the path), on the calls
    `described` (JSON, `sys.argv[1]`) with their `inputs` (dicts of
    arrays, `sys.argv[2]`); returns the `{name: array}` of each call that
    the script wrote (`sys.argv[3]`: keys `"<call>:<name>"`)."""
    with tempfile.TemporaryDirectory() as tmp:
        paths = [os.path.join(tmp, n) for n in ("calls.json", "in.npz",
                                                "out.npz")]
        with open(paths[0], "w") as f:
            json.dump(described, f)
        np.savez(paths[1], **{
            f"{i}:{name}": value for i, arrays in enumerate(inputs)
            for name, value in arrays.items()
        })
        result = subprocess.run(
            [sys.executable, "-c",
             script.replace("{EXPORT_ERROR}", EXPORT_ERROR), *paths],
            capture_output=True, text=True, timeout=timeout, cwd=tmp,
        )
        assert result.returncode == 0, (
            f"{what} failed:\n{result.stderr[-3000:]}"
        )
        answers = [{} for _ in described]
        with np.load(paths[2]) as found:
            for key in found.files:
                index, name = key.split(":", 1)
                answers[int(index)][name] = found[key]
    return answers


def run_export_test(export_path, signature, inputs, timeout=120):
    """Calls `signature` of a SavedModel in a fresh process without `zoo`.

    Args:
        export_path: The SavedModel folder.
        signature: Signature name, e.g. `"serving_default"`.
        inputs: Dict of numpy arrays, keyed by input name.

    Returns:
        Dict of numpy outputs, keyed by output name (string outputs as
        numpy bytes arrays).
    """
    outputs, = run_export_calls([(export_path, signature, inputs)], timeout)
    assert EXPORT_ERROR not in outputs, (
        f"calling {signature} of {export_path} without zoo failed:\n"
        f"{outputs[EXPORT_ERROR]}"
    )
    return outputs


# What `pip install '.[export]'` brings: the converter and the runtimes.
EXPORT_EXTRA = ("tf2onnx", "onnxruntime", "ai_edge_litert")


def missing_export_extra():
    """Why the portable-export tests cannot run here ("" if they can):
    the modules of the `export` extra that are not installed."""
    import importlib.util

    missing = [m for m in EXPORT_EXTRA if importlib.util.find_spec(m) is None]
    if not missing:
        return ""
    return (f"{', '.join(missing)} not installed (pip install "
            "'.[export]')")


# Runs portable models (ONNX, LiteRT) in one process in which neither
# `zoo` nor `tensorflow` can be imported, keeping each call's outputs by
# name or its error.
_PORTABLE = textwrap.dedent(
    """
    import json, sys, traceback
    import numpy as np
    sys.modules["zoo"] = None  # The models must stand alone...
    sys.modules["tensorflow"] = None  # ...without TensorFlow too.
    with open(sys.argv[1]) as f:
        calls = json.load(f)
    inputs, found = np.load(sys.argv[2]), {}
    for i, (path, names) in enumerate(calls):
        feed = {n: inputs[f"{i}:{n}"] for n in names}
        try:
            if path.endswith(".onnx"):
                import onnxruntime
                session = onnxruntime.InferenceSession(
                    path, providers=["CPUExecutionProvider"])
                keys = [o.name for o in session.get_outputs()]
                outputs = dict(zip(keys, session.run(keys, feed)))
            else:
                # A fixed batch (zoo.export.LITERT_BATCH): row by row.
                from ai_edge_litert import interpreter
                runner = interpreter.Interpreter(
                    model_path=path).get_signature_runner()
                rows = [runner(**{n: v[r:r + 1] for n, v in feed.items()})
                        for r in range(len(next(iter(feed.values()))))]
                outputs = {k: np.concatenate([row[k] for row in rows])
                           for k in rows[0]}
            for key, value in outputs.items():
                found[f"{i}:{key}"] = np.asarray(value)
        except Exception:
            found[f"{i}:{EXPORT_ERROR}"] = np.array(traceback.format_exc()[-3000:])
    np.savez(sys.argv[3], **found)
    """
)


def run_portable_calls(calls, timeout=180):
    """Runs portable models in one fresh process without `zoo` and without
    TensorFlow: `.onnx` files in ONNX Runtime, `.tflite` files in the
    LiteRT interpreter (its signature runner, a row at a time: their
    batch is `zoo.export.LITERT_BATCH`, 1).

    Args:
        calls: List of `(model_path, inputs)`, inputs a dict of numpy
            arrays keyed by input name.
        timeout: Seconds for the whole process.

    Returns:
        One dict per call: its numpy outputs keyed by output name, or
        `{EXPORT_ERROR: traceback}` for a call that raised.
    """
    return _run_calls(
        _PORTABLE, [[os.path.abspath(path), sorted(inputs)]
                    for path, inputs in calls],
        [inputs for _, inputs in calls], "running portable models", timeout)


# Runs a client program in a process in which neither `zoo` nor
# `tensorflow` can be imported, with `zoo/portable/decoding.py` loaded
# from its file as `decoding`: what a client that copies it can do.
_PORTABLE_PROGRAM = textwrap.dedent(
    """
    import importlib.util, sys
    import numpy as np
    sys.modules["zoo"] = None
    sys.modules["tensorflow"] = None
    spec = importlib.util.spec_from_file_location("decoding", sys.argv[1])
    decoding = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(decoding)
    with np.load(sys.argv[2]) as saved:
        inputs = {key: saved[key] for key in saved.files}
    outputs = {}
    with open(sys.argv[3], encoding="utf-8") as f:
        exec(f.read())
    np.savez(sys.argv[4], **outputs)
    """
)


def run_portable_program(program, inputs, timeout=300):
    """Runs `program` (Python source) in a fresh process without `zoo` and
    without TensorFlow, where `decoding` is `zoo/portable/decoding.py`
    loaded from its file and `inputs` the given dict of arrays; returns
    the dict of arrays the program put in `outputs`.

    Raises:
        AssertionError: The program failed (with its traceback).
    """
    from zoo.portable import decoding

    with tempfile.TemporaryDirectory() as tmp:
        paths = [os.path.join(tmp, n) for n in ("in.npz", "program.py",
                                                "out.npz")]
        np.savez(paths[0], **inputs)
        with open(paths[1], "w", encoding="utf-8") as f:
            f.write(program)
        result = subprocess.run(
            [sys.executable, "-c", _PORTABLE_PROGRAM,
             os.path.abspath(decoding.__file__), *paths],
            capture_output=True, text=True, timeout=timeout, cwd=tmp,
        )
        assert result.returncode == 0, (
            f"the portable client program failed:\n{result.stderr[-3000:]}")
        with np.load(paths[2]) as found:
            return {key: found[key] for key in found.files}


def write_mnist_idx(directory, train_size=64, test_size=32, seed=0, gzip_files=True):
    """Writes four tiny MNIST-format IDX files of random digits to `directory`.

    Returns:
        `directory`.
    """
    import gzip

    rng = np.random.default_rng(seed)
    os.makedirs(directory, exist_ok=True)
    for prefix, size in (("train", train_size), ("t10k", test_size)):
        images = rng.integers(0, 256, size=(size, 28, 28), dtype=np.uint8)
        labels = (np.arange(size) % 10).astype(np.uint8)
        for kind, array in (("images-idx3", images), ("labels-idx1", labels)):
            # Magic: two zero bytes, type 0x08 (ubyte), rank; then big-endian
            # dimensions and the data.
            header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
                int(d).to_bytes(4, "big") for d in array.shape
            )
            name = os.path.join(directory, f"{prefix}-{kind}-ubyte")
            payload = header + array.tobytes()
            if gzip_files:
                with gzip.open(name + ".gz", "wb") as f:
                    f.write(payload)
            else:
                with open(name, "wb") as f:
                    f.write(payload)
    return directory


def random_array(shape, seed):
    """A float32 array of standard normal values, the same for each `seed`.

    Drawn from `np.random.default_rng(seed)`.
    """
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def randomize_weights(layer, seed, scale=0.6):
    """Sets every weight of the built `layer` to random values.

    Each weight (biases and peepholes included, in `get_weights()` order)
    becomes float32 normal values times `scale`, drawn from
    `np.random.default_rng(seed)`, so the same seed gives the same weights.
    """
    rng = np.random.default_rng(seed)
    layer.set_weights(
        [(rng.normal(size=w.shape) * scale).astype("float32")
         for w in layer.get_weights()]
    )


def to_numpy(x):
    """A list of numpy arrays for a list or tuple, else one numpy array.

    For layer results that are either one tensor or `[output, *states]`.
    """
    if isinstance(x, (list, tuple)):
        return [np.asarray(t) for t in x]
    return np.asarray(x)


def step_and_grads(cell, x, states):
    """Runs one step of an RNN cell and takes gradients of its results.

    Calls `cell(x, states)`, which must return `(output, new_states)`. The
    loss is a weighted sum over the results `[output, *new_states]`: each
    result `r` is multiplied elementwise by
    `np.sin(1.0 + np.arange(r.size)).reshape(r.shape)` (float32) and summed,
    so every element has its own nonzero weight.

    Returns:
        `(results, grads)`: numpy arrays of `[output, *new_states]`, and of
        the gradients of the loss with respect to `x`, each of `states` and
        each of `cell.trainable_weights` (in that order).
    """
    import tensorflow as tf

    x = tf.constant(x)
    states = [tf.constant(s) for s in states]
    with tf.GradientTape() as tape:
        tape.watch([x, *states])
        output, new_states = cell(x, states)
        results = [output, *new_states]
        loss = sum(
            tf.reduce_sum(r * np.sin(1.0 + np.arange(np.prod(r.shape)))
                          .reshape(r.shape).astype("float32"))
            for r in results
        )
    grads = tape.gradient(loss, [x, *states, *cell.trainable_weights])
    return [np.asarray(r) for r in results], [np.asarray(g) for g in grads]


def run_docstring_examples(obj, recurse=True):
    """Runs the `>>>` examples in `obj`'s docstrings; all must pass.

    `obj` is a class, function or module; examples see the globals of the
    module that defines it. With `recurse=False` only `obj`'s own docstring
    is searched (for a package, not its submodules' objects).
    """
    import doctest
    import inspect

    module = obj if inspect.ismodule(obj) else sys.modules[obj.__module__]
    runner = doctest.DocTestRunner()
    finder = doctest.DocTestFinder(recurse=recurse)
    for test in finder.find(obj, globs=vars(module)):
        runner.run(test)
    results = runner.summarize(verbose=False)
    assert results.attempted > 0, f"no docstring examples in {obj!r}"
    assert results.failed == 0, (
        f"{results.failed} of {results.attempted} docstring examples of "
        f"{obj!r} failed"
    )


def mock_conll2003(examples):
    """An `as_dataset_fn` for `tfds.testing.mock_data` serving `examples`.

    `mock_data`'s own random `conll2003` examples give the tokens and each
    tag column unrelated lengths; these are the caller's, aligned.

    Args:
        examples: Dict split name -> list of dicts with `tokens` (strings)
            and `ner`, `pos` and `chunks` (integer tag ids).

    Example:

    >>> import tensorflow_datasets as tfds
    >>> row = {"tokens": ["EU"], "ner": [3], "pos": [22], "chunks": [11]}
    >>> fn = mock_conll2003({"train": [row]})
    >>> next(iter(fn(None, "train")))["ner"].numpy().tolist()
    [3]
    """
    import tensorflow as tf

    columns = ("ner", "pos", "chunks")
    signature = {
        "tokens": tf.TensorSpec([None], tf.string),
        **{name: tf.TensorSpec([None], tf.int64) for name in columns},
    }

    def as_dataset(builder, split, **kwargs):
        rows = examples[str(split)]
        return tf.data.Dataset.from_generator(
            lambda: (
                {"tokens": [t.encode("utf-8") for t in row["tokens"]],
                 **{name: row[name] for name in columns}}
                for row in rows
            ),
            output_signature=signature,
        )

    return as_dataset


class WeightRecorder(keras.callbacks.Callback):
    """Keeps a model's trainable weights before and after `fit`.

    `before` and `after` map each variable's path to a copy of its value.
    """

    def on_train_begin(self, logs=None):
        self.before = {
            v.path: np.array(v.numpy()) for v in self.model.trainable_variables
        }

    def on_train_end(self, logs=None):
        self.after = {
            v.path: np.array(v.numpy()) for v in self.model.trainable_variables
        }

    def unmoved(self):
        """Paths of the weights that training left as they were."""
        return [
            path for path, before in self.before.items()
            if np.allclose(before, self.after[path])
        ]


def read_preset(flag_values, path, repo):
    """A preset flagfile's values, parsed by `flag_values`' flags.

    Nested `--flagfile` lines are expanded relative to `repo` (the
    repository root, as when a recipe runs from there); a flag given twice
    keeps its last value.
    """
    cwd = os.getcwd()
    os.chdir(repo)
    try:
        args = flag_values.read_flags_from_files(
            [f"--flagfile={path}"], force_gnu=False
        )
    finally:
        os.chdir(cwd)
    values = {}
    for arg in args:
        key, value = arg[2:].split("=", 1)
        values[key] = flag_values[key].parser.parse(value)
    return values


def declared_settings(config_class):
    """The settings a recipe's `Config` declares itself or takes from a
    base between it and `zoo.training.TrainConfig` (such as `TextConfig`):
    what its default preset must name."""
    from zoo.training import TrainConfig

    return {name for cls in config_class.__mro__
            if issubclass(cls, TrainConfig) and cls is not TrainConfig
            for name in vars(cls).get("__annotations__", {})
            if name != "WORKDIR"}


POEM_ALPHABET = "春夏秋冬山水風月花鳥雲天人日"


def random_poems(count, seed=0):
    """Regular 5x4 and 7x4 poems of random characters (`POEM_ALPHABET`), as
    records of the chinese-poetry schema."""
    rng = random.Random(seed)
    records = []
    for _ in range(count):
        n = rng.choice([5, 7])
        lines = ["".join(rng.choice(POEM_ALPHABET) for _ in range(n))
                 for _ in range(4)]
        records.append({"title": "題", "author": "人", "paragraphs": [
            f"{lines[0]}，{lines[1]}。", f"{lines[2]}，{lines[3]}。"]})
    return records


def untrained_poet(poems=True, seed=1, texts=None):
    """A `zoo.models.Poet` of a tiny `CharLM` (6 units) with random weights,
    its vocabulary fit on `texts` (default: 20 `random_poems`)."""
    from zoo import layers as zoo_layers
    from zoo import models
    from zoo.models import char_lm

    keras.utils.set_random_seed(0)
    texts = texts or ["".join(r["paragraphs"]) for r in random_poems(20)]
    layer = zoo_layers.TextToIds(40, char_lm.MAX_TEXT, lowercase=False,
                                 split="character", normalize="NFC")
    layer.fit_vocabulary(texts, reserved=[char_lm.BEGIN, char_lm.END])
    model = models.CharLM(len(layer.get_vocabulary()), embedding_dim=4,
                          units=6)
    randomize_weights(model, seed, scale=1.0)
    return models.Poet(model, layer, poems)


def write_file(path, text):
    """Writes `text` to `path`, creating folders; returns the path as str.

    A str is written as UTF-8 with its line endings as they are; bytes
    are written unchanged (for malformed-file fixtures).
    """
    path = str(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    if isinstance(text, bytes):
        with open(path, "wb") as f:
            f.write(text)
    else:
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(text)
    return path


# Malformed-file tables: each case writes some files, calls a loader on
# them and checks one defined outcome, an error naming the file or a result.

class _Folder:
    """In the files of `check_malformed_files`: a folder where a file
    belongs. Its one instance is `FOLDER`."""

    def __repr__(self):
        return "FOLDER"


FOLDER = _Folder()


class Raises:
    """The outcome "the loader raises `error`, its message holding `text`".

    The message must name the file: `text` holds `{path}` (the path passed
    to the loader) or `{tmp}` (the folder holding the case's files), which
    `check` fills in. The rest of `text` is matched literally, anywhere in
    the message (as `pytest.raises(error, match=re.escape(text))` does).

    Args:
        error: The exception class the loader must raise (a subclass
            passes too).
        text: Part of the message, with `{path}` or `{tmp}`.

    Example:

    >>> outcome = Raises(ValueError, "{path}: empty")
    >>> def load():
    ...     raise ValueError("/data/a.txt: empty file")
    >>> outcome.check(load, "/data/a.txt", "/data")
    """

    def __init__(self, error, text):
        if not (isinstance(error, type) and issubclass(error, BaseException)):
            raise TypeError(
                "Received an invalid value for argument `error`, expected an "
                f"exception class, got {error!r}"
            )
        if "{path}" not in text and "{tmp}" not in text:
            raise ValueError(
                "Received an invalid value for argument `text`, expected a "
                "message that names the file with `{path}` or `{tmp}`, got "
                f"{text!r}"
            )
        self.error = error
        self.text = text

    def check(self, run, path, tmp):
        """Calls `run()`; passes if it raises `error` with the message.

        Args:
            run: The loader call, without arguments.
            path: What `{path}` stands for.
            tmp: What `{tmp}` stands for.

        Raises:
            AssertionError: `run()` returned, or raised `error` with
                another message. Other exceptions propagate.
        """
        text = self.text.replace("{path}", str(path))
        text = text.replace("{tmp}", str(tmp))
        try:
            result = run()
        except self.error as e:
            if text not in str(e):
                raise AssertionError(
                    f"{type(e).__name__} message lacks {text!r}:\n{e}"
                ) from e
            return
        raise AssertionError(
            f"expected {self.error.__name__} with {text!r}, but the call "
            f"returned {result!r}"
        )

    def __repr__(self):
        return f"Raises({self.error.__name__}, {self.text!r})"


class Returns:
    """The outcome "the loader returns `expected`" (a documented result).

    The result, seen through `view` if given, is compared with
    `np.testing.assert_equal`, so arrays, tuples, lists and dicts of them
    compare item by item (a list equals a tuple of the same items).

    Args:
        expected: The result.
        view: Optional function of the result giving what is compared,
            for results with parts the case does not fix.

    Example:

    >>> Returns([1, 2], view=sorted).check(lambda: {2, 1}, "/a", "/")
    """

    def __init__(self, expected, view=None):
        if view is not None and not callable(view):
            raise TypeError(
                "Received an invalid value for argument `view`, expected a "
                f"function or None, got {view!r}"
            )
        self.expected = expected
        self.view = view

    def check(self, run, path, tmp):
        """Calls `run()`; passes if its result equals `expected`.

        `path` and `tmp` are unused; they are there to match `Raises`.

        Raises:
            AssertionError: The result differs.
        """
        result = run()
        np.testing.assert_equal(
            self.view(result) if self.view else result, self.expected
        )

    def __repr__(self):
        return f"Returns({self.expected!r})"


def check_malformed_files(tmp_path, call, files, outcome, target=None,
                          **kwargs):
    """Writes `files` into `tmp_path`, calls the loader, checks `outcome`.

    One case of a table of malformed inputs: the loader `call` either
    raises a defined error naming the file or returns a defined result.

    Args:
        tmp_path: An empty folder (str or path) for the case's files.
        call: The loader, called as `call(path, **kwargs)`.
        files: Dict `{name: data}`; a name may hold `/` (folders are
            made). `data` is bytes (written unchanged), a str (written as
            UTF-8, line endings as they are), `FOLDER` (an empty folder
            made under that name) or `None` (no file: the name is only
            a possible `target`).
        outcome: `Raises(error, text)` or `Returns(expected, view=None)`.
        target: The name in `tmp_path` passed to `call`. By default the
            only name in `files`, or `tmp_path` itself when `files` has
            several names or none; `""` passes `tmp_path` itself.
        **kwargs: Passed to `call`.

    Raises:
        AssertionError: The outcome was not met.

    Example:

    >>> import tempfile
    >>> def read(path):
    ...     with open(path, "rb") as f:
    ...         return f.read()
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     check_malformed_files(tmp, read, {"a.txt": b"x"}, Returns(b"x"))
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     check_malformed_files(tmp, read, {"a.txt": FOLDER}, Raises(
    ...         IsADirectoryError, "Is a directory: '{path}'"))
    """
    tmp = str(tmp_path)
    for name, data in files.items():
        if data is FOLDER:
            os.makedirs(os.path.join(tmp, name))
        elif data is not None:
            if not isinstance(data, (bytes, str)):
                raise TypeError(
                    f"Received an invalid value for `files[{name!r}]`, "
                    "expected bytes, a str, FOLDER or None, got "
                    f"{type(data).__name__}"
                )
            write_file(os.path.join(tmp, name), data)
    if target is None and len(files) == 1:
        (target,) = files
    path = os.path.join(tmp, target) if target else tmp
    outcome.check(lambda: call(path, **kwargs), path, tmp)
