"""Tests for zoo.export: atomic, versioned SavedModel exports."""

import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo import errors
from zoo import export
from zoo import testing

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(2, activation="softmax")]
    )
    return model


def _endpoints(model):
    def outputs(x):
        probabilities = model(x, training=False)
        return {
            "probabilities": probabilities,
            "classes": tf.argmax(probabilities, axis=-1),
        }

    return {
        "serving_default": (
            lambda x: outputs(tf.cast(x, tf.float32) / 255.0),
            [tf.TensorSpec([None, 3], tf.uint8, name="x")],
        ),
        "serving_float": (
            outputs,
            [tf.TensorSpec([None, 3], tf.float32, name="x")],
        ),
    }


def _patch_write_out(monkeypatch, write_out):
    # keras.export.ExportArchive() returns a backend subclass (its __new__
    # dispatches), so patch the class that is really instantiated.
    archive_class = type(keras.export.ExportArchive())
    monkeypatch.setattr(archive_class, "write_out", write_out)


def _entries(root):
    return sorted(os.listdir(root))


def test_versions_ignores_non_digit_names(tmp_path):
    for name in ["2", "10", "1", "latest", ".partial-123", "3a", "v4"]:
        (tmp_path / name).mkdir()
    assert export.versions(str(tmp_path)) == [1, 2, 10]
    assert export.versions(str(tmp_path / "absent")) == []


@pytest.fixture(scope="module")
def exported(model, tmp_path_factory):
    root = str(tmp_path_factory.mktemp("exports") / "saved_models" / "toy")
    first = export.export_saved_model(model, _endpoints(model), root)
    second = export.export_saved_model(model, _endpoints(model), root)
    return root, first, second


def test_exports_numbered_versions(exported):
    root, first, second = exported
    assert first == os.path.join(root, "1")
    assert second == os.path.join(root, "2")
    assert export.versions(root) == [1, 2]
    assert _entries(root) == ["1", "2"]  # No .partial-* folder left.
    assert os.path.isfile(os.path.join(second, "saved_model.pb"))


def test_export_signatures_in_process(model, exported):
    _, path, _ = exported
    loaded = tf.saved_model.load(path)
    assert sorted(loaded.signatures) == ["serving_default", "serving_float"]
    pixels = np.array([[0, 128, 255], [10, 20, 30]], np.uint8)
    expected = np.asarray(model(pixels.astype("float32") / 255.0))
    outputs = loaded.signatures["serving_default"](x=tf.constant(pixels))
    np.testing.assert_allclose(outputs["probabilities"], expected, atol=1e-6)
    outputs = loaded.signatures["serving_float"](
        x=tf.constant(pixels.astype("float32") / 255.0)
    )
    np.testing.assert_allclose(outputs["probabilities"], expected, atol=1e-6)
    np.testing.assert_array_equal(outputs["classes"], expected.argmax(-1))


@pytest.mark.parametrize("shape", [[3], [2, 3, 1], [2, 4]])
def test_an_input_of_another_shape_is_refused_naming_it(exported, shape):
    # A loaded signature checks dtypes but not shapes; the export does.
    _, path, _ = exported
    serve = tf.saved_model.load(path).signatures["serving_float"]
    shown = ",".join(map(str, shape))
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=rf"Shape of tensor x \[{shown}\] is not "
                       r"compatible with expected shape \[\?,3\]"):
        serve(x=tf.zeros(shape))


def test_unnamed_specs_take_the_functions_argument_names(model, tmp_path):
    endpoints = {"serving_default": (
        lambda pixels: {"y": model(pixels)},
        [tf.TensorSpec([None, 3], tf.float32)],
    )}
    path = export.export_saved_model(model, endpoints, str(tmp_path / "toy"))
    serve = tf.saved_model.load(path).signatures["serving_default"]
    assert list(serve.structured_input_signature[1]) == ["pixels"]


@pytest.mark.slow
def test_export_loads_without_zoo_in_a_subprocess(model, exported):
    _, path, _ = exported
    pixels = np.array([[0, 128, 255], [10, 20, 30]], np.uint8)
    outputs = testing.run_export_test(path, "serving_default", {"x": pixels})
    expected = np.asarray(model(pixels.astype("float32") / 255.0))
    assert sorted(outputs) == ["classes", "probabilities"]
    np.testing.assert_allclose(outputs["probabilities"], expected, atol=1e-6)
    np.testing.assert_array_equal(outputs["classes"], expected.argmax(-1))


def test_failed_write_leaves_no_version_and_no_partial(
    model, tmp_path, monkeypatch
):
    root = tmp_path / "toy"
    (root / "1").mkdir(parents=True)
    written = []

    def write_out(self, filepath, **kwargs):
        os.makedirs(filepath)
        with open(os.path.join(filepath, "saved_model.pb"), "wb") as f:
            f.write(b"half")
        written.append(filepath)
        raise OSError("disk full")

    _patch_write_out(monkeypatch, write_out)
    with pytest.raises(OSError, match="disk full"):
        export.export_saved_model(model, _endpoints(model), str(root))
    assert [os.path.basename(p) for p in written] == [f".partial-{os.getpid()}"]
    assert _entries(root) == ["1"]
    assert export.versions(str(root)) == [1]


# Exports a tiny model to argv[1], but stops for good after the SavedModel
# is written and before it is renamed to its version: <argv[1]>/written
# tells the test to kill it there.
KILLED_EXPORT = """
import os, sys, time
import keras
import tensorflow as tf
from zoo import export

root = sys.argv[1]
archive_class = type(keras.export.ExportArchive())
write_out = archive_class.write_out

def write_out_and_stall(self, filepath, **kwargs):
    write_out(self, filepath, **kwargs)
    open(os.path.join(root, "written"), "w").close()
    time.sleep(600)

archive_class.write_out = write_out_and_stall
model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
export.export_saved_model(model, {"serving_default": (
    lambda x: {"y": model(x)}, [tf.TensorSpec([None, 3], tf.float32)])}, root)
"""


@pytest.mark.slow
def test_an_export_killed_half_way_leaves_no_version(model, tmp_path):
    root = tmp_path / "toy"
    root.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-c", KILLED_EXPORT, str(root)],
        env=dict(os.environ, PYTHONPATH=REPO), stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not (root / "written").exists():
            assert process.poll() is None, process.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "the export never got written"
            time.sleep(0.1)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
    finally:
        process.kill()
        process.communicate()
    partial = f".partial-{process.pid}"
    assert _entries(root) == [partial, "written"]
    assert os.path.isfile(root / partial / "saved_model.pb")  # All written...
    assert export.versions(str(root)) == []  # ...but no version to serve.
    # The next export takes version 1 and leaves the dead one's folder be.
    path = export.export_saved_model(model, _endpoints(model), str(root))
    assert path == str(root / "1")
    assert export.versions(str(root)) == [1]


def test_stale_partial_folder_is_replaced(model, tmp_path, monkeypatch):
    root = tmp_path / "toy"
    stale = root / f".partial-{os.getpid()}"
    stale.mkdir(parents=True)
    (stale / "junk").write_text("from a killed run")

    def write_out(self, filepath, **kwargs):
        assert not os.path.exists(filepath), "stale partial folder not removed"
        os.makedirs(filepath)

    _patch_write_out(monkeypatch, write_out)
    path = export.export_saved_model(model, _endpoints(model), str(root))
    assert path == str(root / "1")
    assert _entries(root) == ["1"]
    assert os.listdir(path) == []


def test_track_exports_layers_outside_the_model(model, tmp_path):
    # A lookup table the endpoint uses but the model does not hold.
    lookup = keras.layers.StringLookup(vocabulary=["a", "b"], name="lookup")
    lookup(tf.constant(["a"]))  # Built, as a layer in use is.

    def serve(words):
        ids = lookup(words)
        return {"probabilities": model(tf.one_hot(ids, 3), training=False)}

    endpoints = {"serving_default": (
        serve, [tf.TensorSpec([None], tf.string, name="words")]
    )}
    with pytest.raises(AssertionError, match="untracked"):
        export.export_saved_model(model, endpoints, str(tmp_path / "toy"))
    path = export.export_saved_model(
        model, endpoints, str(tmp_path / "toy"), track=[lookup]
    )
    assert path == str(tmp_path / "toy" / "1")
    loaded = tf.saved_model.load(path)
    outputs = loaded.signatures["serving_default"](
        words=tf.constant(["b", "zzz"])
    )
    expected = np.asarray(model(np.eye(3, dtype="float32")[[2, 0]]))
    np.testing.assert_allclose(outputs["probabilities"], expected, atol=1e-6)


# Portable formats (`export.Portable`, `formats`).

needs_export_extra = pytest.mark.skipif(
    bool(testing.missing_export_extra()),
    reason=testing.missing_export_extra() or "installed")


def _portable(model):
    def core(x):
        probabilities = model(tf.cast(x, tf.float32) / 255.0, training=False)
        return {"probabilities": probabilities,
                "classes": tf.argmax(probabilities, axis=-1)}

    return export.Portable(
        functions={"model": (core, [tf.TensorSpec([None, 3], tf.uint8,
                                                  name="x")])},
        description={"preprocessing": "none"},
        files={"labels.txt": "a\nb\n"})


def test_check_formats_keeps_the_portable_ones_once():
    assert export.check_formats(["saved_model"]) == ()
    assert export.check_formats(["litert", "saved_model", "litert"]) == (
        "litert",)


def test_check_formats_refuses_an_unknown_format():
    with pytest.raises(errors.ConfigError, match=r"^Received an invalid value "
                       r"for argument `export_formats`, expected some of "
                       r"saved_model, onnx, litert, got 'tflite'$"):
        export.check_formats(["saved_model", "tflite"])


def test_check_formats_names_the_missing_converter(monkeypatch):
    import importlib.util

    found = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name: None if name == "tf2onnx" else found(name))
    with pytest.raises(errors.ConfigError, match=r"^--export_formats=onnx "
                       r"needs tf2onnx: pip install '\.\[export\]' in zoo's checkout$"):
        export.check_formats(["saved_model", "onnx"])


def test_portable_formats_need_a_portable(model, tmp_path):
    with pytest.raises(ValueError, match=r"Portable formats \(onnx\) need a "
                       "`portable` to write"):
        export.export_saved_model(model, _endpoints(model),
                                  str(tmp_path / "toy"), formats=("onnx",))
    assert not os.path.exists(tmp_path / "toy")


def test_a_failed_conversion_leaves_no_version(model, tmp_path, monkeypatch):
    def write_portable(portable, folder, formats, model):
        assert os.path.isfile(os.path.join(folder, "saved_model.pb"))
        raise RuntimeError("converter failed")

    monkeypatch.setattr(export, "write_portable", write_portable)
    with pytest.raises(RuntimeError, match="converter failed"):
        export.export_saved_model(model, _endpoints(model),
                                  str(tmp_path / "toy"), portable=_portable(model),
                                  formats=("litert",))
    assert _entries(tmp_path / "toy") == []


@pytest.fixture(scope="module")
def portable_export(model, tmp_path_factory):
    root = str(tmp_path_factory.mktemp("portable") / "toy")
    return export.export_saved_model(
        model, _endpoints(model), root, portable=_portable(model),
        formats=("onnx", "litert"))


@needs_export_extra
def test_portable_models_are_written_beside_the_saved_model(portable_export):
    assert _entries(portable_export) == [
        "assets", "fingerprint.pb", "labels.txt", "model.onnx",
        "model.tflite", "portable.json", "saved_model.pb", "variables"]
    with open(os.path.join(portable_export, "labels.txt")) as f:
        assert f.read() == "a\nb\n"
    with open(os.path.join(portable_export, "portable.json")) as f:
        description = json.load(f)
    assert description == {
        "formats": ["onnx", "litert"], "files": ["labels.txt"],
        "preprocessing": "none",
        "models": {"model": {
            "files": {"onnx": "model.onnx", "litert": "model.tflite"},
            "inputs": [{"name": "x", "dtype": "uint8", "shape": [-1, 3]}],
            "litert_batch": 1,
            "outputs": [
                {"name": "classes", "dtype": "int64", "shape": [-1]},
                {"name": "probabilities", "dtype": "float32",
                 "shape": [-1, 2]}]}}}


@needs_export_extra
@pytest.mark.parametrize("batch", [1, 4])
def test_portable_models_match_the_saved_model_without_tensorflow(
        portable_export, batch):
    x = np.random.default_rng(batch).integers(0, 256, (batch, 3), np.uint8)
    x[0] = 0  # A black row; the last may be all white.
    x[-1] = 255 if batch > 1 else x[-1]
    served = testing.run_export_test(portable_export, "serving_default",
                                     {"x": x})
    onnx, litert = testing.run_portable_calls(
        [(os.path.join(portable_export, "model.onnx"), {"x": x}),
         (os.path.join(portable_export, "model.tflite"), {"x": x})])
    for found in (onnx, litert):
        assert testing.EXPORT_ERROR not in found, found.get(
            testing.EXPORT_ERROR)
        assert sorted(found) == ["classes", "probabilities"]
        np.testing.assert_allclose(found["probabilities"],
                                   served["probabilities"], atol=1e-6)
        np.testing.assert_array_equal(found["classes"], served["classes"])


@needs_export_extra
def test_portable_calls_keep_a_runtime_error(portable_export):
    wrong = np.zeros((2, 5), np.uint8)  # 5 features where 3 are expected.
    found, = testing.run_portable_calls(
        [(os.path.join(portable_export, "model.onnx"), {"x": wrong})])
    assert "Got invalid dimensions" in str(found[testing.EXPORT_ERROR])
