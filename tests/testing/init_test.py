"""Tests for zoo.testing: the shared checks pass good layers, fail bad ones."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo import layers
from zoo import testing


@keras.saving.register_keras_serializable(package="zoo_testing_test")
class Scale(keras.layers.Layer):
    """Multiplies by `factor`; correct get_config and shapes."""

    def __init__(self, factor=1.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, inputs):
        return inputs * self.factor

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


@keras.saving.register_keras_serializable(package="zoo_testing_test")
class ForgetfulScale(Scale):
    """Broken: get_config omits `factor`, so a rebuilt layer scales by 1."""

    def get_config(self):
        return keras.layers.Layer.get_config(self)


@keras.saving.register_keras_serializable(package="zoo_testing_test")
class LyingScale(Scale):
    """Broken: compute_output_shape drops the last axis."""

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1])


def _inputs():
    return np.random.default_rng(0).normal(size=(2, 4, 3)).astype("float32")


def _recurrent():
    return layers.Recurrent("gru", units=5, seed=0)


def test_run_layer_test_passes_a_healthy_layer():
    output = testing.run_layer_test(Scale(2.0), _inputs(), (2, 4, 3))
    np.testing.assert_allclose(output, _inputs() * 2.0)


def test_run_layer_test_passes_a_zoo_recurrent_with_mask():
    mask = np.array([[True] * 4, [True, True, False, False]])
    output = testing.run_layer_test(_recurrent(), _inputs(), (2, 5), mask=mask)
    assert tuple(output.shape) == (2, 5)


def test_run_layer_test_rejects_a_wrong_output_shape():
    with pytest.raises(
        AssertionError,
        match=r"eager call: expected shape \(2, 4, 4\), got \(2, 4, 3\)",
    ):
        testing.run_layer_test(Scale(2.0), _inputs(), (2, 4, 4))


def test_run_layer_test_rejects_a_lying_compute_output_shape():
    with pytest.raises(
        AssertionError,
        match=r"compute_output_shape: expected \(2, 4, 3\), got \(2, 4\)",
    ):
        testing.run_layer_test(LyingScale(2.0), _inputs(), (2, 4, 3))


def test_run_serialization_test_passes_healthy_layers():
    testing.run_serialization_test(Scale(2.0), _inputs())
    testing.run_serialization_test(_recurrent(), _inputs())


def test_run_serialization_test_rejects_a_forgetful_get_config():
    with pytest.raises(
        AssertionError, match="layer rebuilt from its config gives other outputs"
    ):
        testing.run_serialization_test(ForgetfulScale(2.0), _inputs())


@pytest.mark.slow
def test_run_export_test_reports_stderr_for_a_non_savedmodel(tmp_path):
    (tmp_path / "not_a_model.txt").write_text("hello")
    with pytest.raises(
        AssertionError,
        match=r"(?s)calling serving_default of .* without zoo failed:\n.*"
        r"SavedModel file does not exist",
    ):
        testing.run_export_test(
            str(tmp_path), "serving_default", {"x": np.zeros((1, 3), "float32")}
        )


def test_run_export_calls_keeps_each_calls_answer_or_error(tmp_path):
    class Doubler(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
        def double(self, x):
            return {"y": 2.0 * x, "text": tf.strings.as_string(x)}

    module = Doubler()
    path = str(tmp_path / "doubler")
    tf.saved_model.save(module, path, signatures={"serving_default":
                                                  module.double})
    good = {"x": np.array([1.5, -2.0], "float32")}
    answers = testing.run_export_calls([
        (path, "serving_default", good),
        (path, "no_such_signature", good),
        (str(tmp_path / "absent"), "serving_default", good),
        (path, "serving_default", {"x": np.zeros((0,), "float32")}),
    ])
    np.testing.assert_array_equal(answers[0]["y"], [3.0, -4.0])
    assert answers[0]["text"].tolist() == [b"1.500000", b"-2.000000"]
    assert "no_such_signature" in str(answers[1][testing.EXPORT_ERROR])
    assert "absent" in str(answers[2][testing.EXPORT_ERROR])
    assert answers[3]["y"].shape == (0,)


def test_write_mnist_idx_writes_loadable_files(tmp_path):
    from zoo.data import mnist

    directory = testing.write_mnist_idx(
        str(tmp_path), train_size=12, test_size=4, gzip_files=False
    )
    splits = mnist.load(directory)
    assert splits.train_images.shape == (12, 28, 28)
    assert splits.test_labels.tolist() == [0, 1, 2, 3]


def test_run_layer_test_checks_masked_layers_in_a_functional_model():
    mask = np.array([[True, True, False, False], [False, True, True, True]])
    output = testing.run_layer_test(_recurrent(), _inputs(), (2, 5), mask=mask)
    assert output.shape == (2, 5)


def test_random_array_is_float32_standard_normal_and_fixed_by_seed():
    a = testing.random_array((3, 4), 7)
    assert a.shape == (3, 4) and a.dtype == np.float32
    np.testing.assert_array_equal(a, testing.random_array((3, 4), 7))
    np.testing.assert_array_equal(
        a, np.random.default_rng(7).normal(size=(3, 4)).astype("float32")
    )
    assert np.abs(a - testing.random_array((3, 4), 8)).min() > 0


def _dense():
    layer = keras.layers.Dense(3)
    layer.build((None, 2))
    return layer


def test_randomize_weights_changes_every_weight_and_is_fixed_by_seed():
    layer = _dense()
    before = layer.get_weights()  # The bias starts at zero.
    testing.randomize_weights(layer, 1)
    after = layer.get_weights()
    assert [w.shape for w in after] == [w.shape for w in before]
    for old, new in zip(before, after):
        assert new.dtype == np.float32
        assert np.all(new != old)
    again = _dense()
    testing.randomize_weights(again, 1)
    for a, b in zip(after, again.get_weights()):
        np.testing.assert_array_equal(a, b)
    testing.randomize_weights(again, 2)
    assert np.all(again.get_weights()[0] != after[0])


def test_randomize_weights_scales_the_draw():
    small, large = _dense(), _dense()
    testing.randomize_weights(small, 3)  # scale=0.6
    testing.randomize_weights(large, 3, scale=1.2)
    for a, b in zip(small.get_weights(), large.get_weights()):
        np.testing.assert_allclose(2 * a, b, rtol=1e-6)


def test_to_numpy_gives_a_list_for_a_list_or_tuple_and_else_an_array():
    tensors = [keras.ops.ones((2, 3)), keras.ops.zeros((2,))]
    for container in (tensors, tuple(tensors)):
        arrays = testing.to_numpy(container)
        assert type(arrays) is list and len(arrays) == 2
        assert all(type(a) is np.ndarray for a in arrays)
        np.testing.assert_array_equal(arrays[0], np.ones((2, 3)))
        np.testing.assert_array_equal(arrays[1], np.zeros((2,)))
    array = testing.to_numpy(keras.ops.ones((2, 3)))
    assert type(array) is np.ndarray and array.shape == (2, 3)


def test_step_and_grads_matches_a_hand_computed_simple_rnn_step():
    keras.utils.set_random_seed(0)
    cell = keras.layers.SimpleRNNCell(2, bias_initializer="random_normal")
    cell.build((None, 3))
    kernel, recurrent, bias = [w.astype("float64") for w in cell.get_weights()]
    x = testing.random_array((2, 3), 1)
    h = testing.random_array((2, 2), 2)
    results, grads = testing.step_and_grads(cell, x, [h])
    # h' = tanh(x K + h R + b) is both the output and the one new state, so
    # the loss is 2 * sum(w * h') with w = sin(1 + arange(4)) as a 2x2.
    new_h = np.tanh(x @ kernel + h @ recurrent + bias)
    weights = np.sin(1.0 + np.arange(4)).reshape(2, 2)
    d_pre = 2 * weights * (1 - new_h**2)
    expected_grads = [
        d_pre @ kernel.T,  # x
        d_pre @ recurrent.T,  # h
        x.T @ d_pre,  # kernel
        h.T @ d_pre,  # recurrent kernel
        d_pre.sum(axis=0),  # bias
    ]
    assert len(results) == 2 and len(grads) == 5
    for result in results:
        np.testing.assert_allclose(result, new_h, atol=1e-6)
    for got, expected in zip(grads, expected_grads):
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, atol=1e-5)
    assert np.abs(grads[0]).min() > 0  # The check is not vacuous.


def test_mock_conll2003_serves_aligned_examples_per_split():
    rows = {"train": [{"tokens": ["Köln", "."], "ner": [5, 0], "pos": [1, 2],
                       "chunks": [3, 0]}], "test": []}
    as_dataset = testing.mock_conll2003(rows)
    (served,) = list(as_dataset(None, "train").as_numpy_iterator())
    assert [t.decode() for t in served["tokens"]] == ["Köln", "."]
    assert served["chunks"].tolist() == [3, 0]
    assert list(as_dataset(None, "test")) == []


def test_weight_recorder_names_the_weights_that_did_not_move():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1),
                              keras.layers.Dense(1, trainable=False)])
    model.layers[0].bias.assign([0.0])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    recorder = testing.WeightRecorder()
    # Inputs of 0: the kernel's gradient is 0, the bias's is not.
    model.fit(np.zeros((4, 2)), np.ones((4, 1)), epochs=1, verbose=0,
              callbacks=[recorder])
    assert recorder.unmoved() == [model.layers[0].kernel.path]


def test_read_preset_expands_nested_flagfiles(tmp_path):
    from absl import flags

    values = flags.FlagValues()
    flags.DEFINE_integer("units", 1, "", flag_values=values)
    flags.DEFINE_string("cell", "lstm", "", flag_values=values)
    (tmp_path / "presets").mkdir()
    (tmp_path / "presets" / "base.flags").write_text("--units=8\n--cell=gru\n")
    (tmp_path / "presets" / "more.flags").write_text(
        "--flagfile=presets/base.flags\n--units=16\n"
    )
    assert testing.read_preset(values, "presets/more.flags", str(tmp_path)) == {
        "units": 16, "cell": "gru"
    }


def test_write_file_writes_text_as_is_and_bytes_unchanged(tmp_path):
    path = testing.write_file(tmp_path / "a" / "b.txt", "é\r\nx")
    assert path == str(tmp_path / "a" / "b.txt")
    with open(path, "rb") as f:
        assert f.read() == "é\r\nx".encode("utf-8")
    testing.write_file(path, b"\xff\xfe")
    with open(path, "rb") as f:
        assert f.read() == b"\xff\xfe"


# Malformed-file tables: FOLDER, Raises, Returns, check_malformed_files.


def _fail(error, message):
    def run():
        raise error(message)
    return run


def test_raises_refuses_a_text_that_does_not_name_the_file():
    with pytest.raises(
        ValueError, match=r"argument `text`, expected a message that names "
        r"the file with `\{path\}` or `\{tmp\}`, got 'bad row'"
    ):
        testing.Raises(ValueError, "bad row")
    with pytest.raises(TypeError, match="argument `error`, expected an "
                       "exception class, got 'ValueError'"):
        testing.Raises("ValueError", "{path}")


def test_raises_passes_the_error_with_the_text_filled_in():
    testing.Raises(ValueError, "{path}:2: bad [row]").check(
        _fail(ValueError, "/d/a.tsv:2: bad [row] (fix it)"), "/d/a.tsv", "/d")
    # A subclass passes; `{tmp}` is the folder.
    testing.Raises(OSError, "{tmp}/b.tsv").check(
        _fail(FileNotFoundError, "no /d/b.tsv"), "/d/a.tsv", "/d")


def test_raises_fails_when_the_message_differs():
    with pytest.raises(
        AssertionError, match="ValueError message lacks '/d/a.tsv:3: bad "
        "row':\n/d/a.tsv:2: bad row"
    ):
        testing.Raises(ValueError, "{path}:3: bad row").check(
            _fail(ValueError, "/d/a.tsv:2: bad row"), "/d/a.tsv", "/d")


def test_raises_fails_when_nothing_is_raised_and_lets_other_errors_by():
    with pytest.raises(
        AssertionError, match=r"expected ValueError with '/d/a.tsv: empty', "
        r"but the call returned \(\[\], \[\]\)"
    ):
        testing.Raises(ValueError, "{path}: empty").check(
            lambda: ([], []), "/d/a.tsv", "/d")
    with pytest.raises(KeyError, match="other"):
        testing.Raises(ValueError, "{path}").check(
            _fail(KeyError, "other"), "/d/a.tsv", "/d")


def test_returns_compares_arrays_tuples_and_lists_through_a_view():
    testing.Returns((np.arange(3), ["a"])).check(
        lambda: (np.arange(3), ["a"]), "/d/a", "/d")
    testing.Returns(["a", "b"], view=sorted).check(
        lambda: {"b", "a"}, "/d/a", "/d")
    with pytest.raises(AssertionError, match="Arrays are not equal"):
        testing.Returns(np.arange(3)).check(lambda: np.ones(3), "/d/a", "/d")
    with pytest.raises(AssertionError):
        testing.Returns(["a"], view=sorted).check(lambda: {"b"}, "/d/a", "/d")
    with pytest.raises(TypeError, match="argument `view`, expected a "
                       "function or None, got 3"):
        testing.Returns(1, view=3)


def _listing(path):
    """Sorted `(relative name, kind)` under `path`, kinds `dir` or bytes."""
    found = []
    for root, dirs, files in os.walk(path):
        for name in dirs:
            found.append((os.path.relpath(os.path.join(root, name), path),
                          "dir"))
        for name in files:
            with open(os.path.join(root, name), "rb") as f:
                found.append((os.path.relpath(os.path.join(root, name), path),
                              f.read()))
    return sorted(found)


def test_check_malformed_files_writes_files_folders_and_absences(tmp_path):
    seen = []

    def call(path, **kwargs):
        seen.append((path, kwargs))
        return _listing(tmp_path)

    files = {"a.txt": "é\r\n", "sub/b.bin": b"\xff", "c": testing.FOLDER,
             "d.txt": None}
    testing.check_malformed_files(
        tmp_path, call, files, testing.Returns(
            [("a.txt", "é\r\n".encode()), ("c", "dir"), ("sub", "dir"),
             ("sub/b.bin", b"\xff")]), skip=True)
    # Several names: the loader gets the folder; kwargs are passed on.
    assert seen == [(str(tmp_path), {"skip": True})]


@pytest.mark.parametrize(
    "files, target, expected",
    [
        ({"a.txt": b""}, None, "a.txt"),  # The only file.
        ({"a.txt": None}, None, "a.txt"),  # The only name, absent.
        ({"a.txt": testing.FOLDER}, None, "a.txt"),
        ({"a.txt": b"", "b.txt": b""}, None, ""),  # Several: the folder.
        ({}, None, ""),
        ({"a.txt": b""}, "", ""),  # "": the folder.
        ({"a.txt": b""}, "absent", "absent"),
    ],
)
def test_check_malformed_files_passes_the_target(tmp_path, files, target,
                                                 expected):
    testing.check_malformed_files(
        tmp_path, lambda path: path, files,
        testing.Returns(os.path.join(str(tmp_path), expected) if expected
                        else str(tmp_path)), target)


def test_check_malformed_files_fills_path_and_tmp_in_raises(tmp_path):
    testing.check_malformed_files(
        tmp_path, open, {"x": testing.FOLDER},
        testing.Raises(IsADirectoryError, "Is a directory: '{tmp}/x'"))
    testing.check_malformed_files(
        tmp_path / "other", open, {"absent.txt": None},
        testing.Raises(FileNotFoundError, "No such file or directory: "
                       "'{path}'"))
    with pytest.raises(AssertionError, match="message lacks"):
        testing.check_malformed_files(
            tmp_path / "third", open, {"absent.txt": None},
            testing.Raises(FileNotFoundError, "{tmp}/other.txt"))


def test_check_malformed_files_rejects_other_data(tmp_path):
    with pytest.raises(TypeError, match=r"`files\['a'\]`, expected bytes, "
                       "a str, FOLDER or None, got int"):
        testing.check_malformed_files(tmp_path, open, {"a": 3},
                                      testing.Returns(None))


def test_malformed_files_docstring_examples_run():
    for obj in (testing.Raises, testing.Returns,
                testing.check_malformed_files):
        testing.run_docstring_examples(obj)


def test_declared_settings_are_the_recipes_own_and_text_settings():
    import dataclasses

    from zoo import training

    @dataclasses.dataclass
    class Config(training.TextConfig):
        WORKDIR = "w"
        epochs: int = 3
        window: int = training.setting(4, "Characters.", lower=1)

    assert testing.declared_settings(Config) == {
        "epochs", "window", "embedding_dim", "embedding_dropout",
        "output_dropout", "bucket"}


def test_missing_export_extra_names_what_is_not_installed(monkeypatch):
    import importlib.util

    found = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: (
        None if name in ("tf2onnx", "ai_edge_litert") else found(name)))
    assert testing.missing_export_extra() == (
        "tf2onnx, ai_edge_litert not installed (pip install '.[export]')")
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: object())
    assert testing.missing_export_extra() == ""


@pytest.mark.skipif(bool(testing.missing_export_extra()),
                    reason=testing.missing_export_extra() or "installed")
def test_run_portable_calls_keeps_each_calls_error(tmp_path):
    # Files that are no models: each call's error is the runtime's own.
    onnx, litert = tmp_path / "not.onnx", tmp_path / "not.tflite"
    onnx.write_bytes(b"not a model")
    litert.write_bytes(b"not a model either")
    first, second = testing.run_portable_calls(
        [(str(onnx), {"x": np.zeros(2)}), (str(litert), {"x": np.zeros(2)})])
    assert "INVALID_PROTOBUF" in str(first[testing.EXPORT_ERROR])
    assert "ai_edge_litert" in str(second[testing.EXPORT_ERROR])


def test_run_portable_program_runs_without_zoo_or_tensorflow():
    found = testing.run_portable_program(
        """
import importlib
for name in ("zoo", "tensorflow"):
    try:
        importlib.import_module(name)
    except ImportError:
        outputs[name] = np.array(False)
outputs["greedy"] = decoding.greedy_search(
    lambda tokens, state: (inputs["table"][tokens], state), [0], {}, 3, 2)
""", {"table": np.log(np.array([[.1, .7, .2], [.1, .1, .8], [1, 1, 1]],
                               np.float32) / 1.0)})
    assert found["zoo"] == False and found["tensorflow"] == False  # noqa: E712
    assert found["greedy"].tolist() == [[1, 2, 0]]


def test_run_portable_program_reports_the_programs_error():
    with pytest.raises(AssertionError, match="ZeroDivisionError"):
        testing.run_portable_program("1 / 0", {})
