"""End-to-end tests of zoo.recipes.mnist_rnn on tiny data the tests write."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow_datasets as tfds
from absl import flags

from zoo import errors
from zoo import testing
from zoo.data import sources
from zoo.recipes import mnist_rnn
from zoo.training import flags as zoo_flags

FLAGS = flags.FlagValues()
zoo_flags.define_flags(mnist_rnn.Config, FLAGS)
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PRESETS = os.path.join(REPO, "recipes", "mnist_rnn")
SHARED_MNIST = os.path.join(REPO, os.pardir, "shared", "data", "mnist")


def tiny_config(data, **overrides):
    values = dict(
        data=data,
        export_dir="",
        epochs=1,
        batch_size=16,
        learning_rate=1e-2,
        units=4,
        validation_fraction=0.25,
    )
    values.update(overrides)
    return mnist_rnn.Config(**values)


@pytest.fixture(scope="module")
def idx_dir(tmp_path_factory):
    return testing.write_mnist_idx(str(tmp_path_factory.mktemp("idx")))


@pytest.mark.slow
@pytest.mark.parametrize(
    "cell,weights_per_cell",
    [("lstm", 3), ("peephole_lstm", 4), ("gru", 3), ("simple_rnn", 3)],
)
def test_end_to_end_on_idx_files_moves_every_weight_and_exports(
    idx_dir, tmp_path, cell, weights_per_cell
):
    recorder = testing.WeightRecorder()
    export_root = str(tmp_path / "export")
    config = tiny_config(idx_dir, export_dir=export_root, layers=2,
                         bidirectional=True, cell=cell)
    metrics = mnist_rnn.train_and_evaluate(
        config, str(tmp_path / "work"), callbacks=[recorder]
    )

    assert recorder.before.keys() == recorder.after.keys()
    # 2 layers x 2 directions of cells, and the dense kernel and bias.
    assert len(recorder.before) == 4 * weights_per_cell + 2
    assert recorder.unmoved() == []
    with open(tmp_path / "work" / "metrics.json") as f:
        written = json.load(f)
    assert written == metrics
    assert 0.0 <= metrics["test_accuracy"] <= 1.0
    assert metrics["wall_seconds"] > 0
    assert metrics["epochs"] == 1 and metrics["resumed_from_epoch"] == 0
    assert metrics["data"] == (
        f"IDX files in {idx_dir} (train-images-idx3-ubyte.gz, "
        "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
        "t10k-labels-idx1-ubyte.gz)")
    assert metrics["export_path"] == os.path.join(export_root, "1")
    assert os.path.isdir(tmp_path / "work" / "tensorboard")


@pytest.mark.slow
def test_export_serves_raw_images_without_zoo(idx_dir, tmp_path):
    config = tiny_config(idx_dir, export_dir=str(tmp_path / "export"))
    metrics = mnist_rnn.train_and_evaluate(config, str(tmp_path / "work"))
    path = metrics["export_path"]

    images = np.random.default_rng(1).integers(0, 256, (3, 28, 28), np.uint8)
    served = testing.run_export_test(path, "serving_default", {"images": images})
    served_float = testing.run_export_test(
        path, "serving_float", {"images": images.astype(np.float32) / 255.0}
    )

    # The same computation in process, from the checkpointed weights.
    model = mnist_rnn.build_model(config)
    model.load_weights(
        os.path.join(tmp_path, "work", "checkpoints", "epoch-0001.weights.h5")
    )
    expected = model.predict(images.astype(np.float32) / 255.0, verbose=0)
    assert served["probabilities"].shape == (3, 10)
    np.testing.assert_allclose(served["probabilities"], expected, atol=1e-6)
    np.testing.assert_allclose(served_float["probabilities"], expected, atol=1e-6)
    np.testing.assert_array_equal(served["classes"], expected.argmax(-1))

    # The console script installed with TensorFlow, beside this Python.
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    shown = subprocess.run(
        [cli, "show", "--dir", path, "--all"],
        capture_output=True, text=True, timeout=120,
    )
    assert shown.returncode == 0, shown.stderr[-2000:]
    for word in ("serving_default", "serving_float", "probabilities", "classes"):
        assert word in shown.stdout


@pytest.mark.slow
@pytest.mark.skipif(bool(testing.missing_export_extra()),
                    reason=testing.missing_export_extra() or "installed")
def test_portable_exports_match_the_saved_model(idx_dir, tmp_path):
    config = tiny_config(idx_dir, export_dir=str(tmp_path / "export"),
                         layers=2, bidirectional=True,
                         export_formats="saved_model,onnx,litert")
    path = mnist_rnn.train_and_evaluate(
        config, str(tmp_path / "work"))["export_path"]
    with open(os.path.join(path, "portable.json")) as f:
        description = json.load(f)
    assert description["models"]["model"]["inputs"] == [
        {"name": "images", "dtype": "uint8", "shape": [-1, 28, 28]}]
    with open(os.path.join(path, "labels.txt")) as f:
        assert f.read().split() == [str(d) for d in range(10)]

    rng = np.random.default_rng(2)
    for images in (rng.integers(0, 256, (1, 28, 28), np.uint8),
                   np.concatenate([np.zeros((1, 28, 28), np.uint8),
                                   np.full((1, 28, 28), 255, np.uint8),
                                   rng.integers(0, 256, (3, 28, 28),
                                                np.uint8)])):
        served = testing.run_export_test(path, "serving_default",
                                         {"images": images})
        for found in testing.run_portable_calls(
                [(os.path.join(path, "model.onnx"), {"images": images}),
                 (os.path.join(path, "model.tflite"), {"images": images})]):
            assert testing.EXPORT_ERROR not in found, found.get(
                testing.EXPORT_ERROR)
            np.testing.assert_allclose(found["probabilities"],
                                       served["probabilities"], atol=1e-5)
            np.testing.assert_array_equal(found["classes"], served["classes"])


@pytest.mark.slow
def test_same_seed_gives_same_metrics(idx_dir, tmp_path):
    first = mnist_rnn.train_and_evaluate(tiny_config(idx_dir), str(tmp_path / "a"))
    second = mnist_rnn.train_and_evaluate(tiny_config(idx_dir), str(tmp_path / "b"))
    other = mnist_rnn.train_and_evaluate(
        tiny_config(idx_dir, seed=1), str(tmp_path / "c")
    )
    for key in ("test_accuracy", "test_loss", "validation_accuracy"):
        assert first[key] == second[key], key
    assert first["test_loss"] != other["test_loss"]


@pytest.mark.slow
def test_tfds_path_on_mock_data(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "network_available", lambda *a, **k: True)
    with tfds.testing.mock_data(num_examples=40):
        metrics = mnist_rnn.train_and_evaluate(
            tiny_config("mnist"), str(tmp_path / "work")
        )
    assert metrics["data"] == "tensorflow-datasets mnist"
    assert not metrics["data_is_fallback"]


def _no_network(*args, **kwargs):
    raise OSError("network disabled by the test")


@pytest.mark.slow
def test_offline_falls_back_loudly_to_packaged_digits(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(socket, "create_connection", _no_network)
    config = tiny_config("mnist", tfds_data_dir=str(tmp_path / "tfds"))
    start = time.monotonic()
    metrics = mnist_rnn.train_and_evaluate(config, str(tmp_path / "work"))
    assert time.monotonic() - start < 120
    assert metrics["data_is_fallback"] is True
    assert metrics["data"].startswith("FALLBACK")
    assert "TRAINING ON THE OFFLINE FALLBACK" in capsys.readouterr().out


def test_unknown_data_name_is_an_error(tmp_path):
    with pytest.raises(errors.DataNotFoundError,
                       match="neither an existing folder nor"):
        mnist_rnn.train_and_evaluate(
            tiny_config("no_such_dataset"), str(tmp_path / "work")
        )


def test_missing_idx_files_name_what_is_expected(tmp_path):
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        mnist_rnn.train_and_evaluate(tiny_config(str(tmp_path)), str(tmp_path / "w"))


def _cli(idx_dir, workdir, export_dir):
    return [
        sys.executable, "-m", "zoo.recipes.mnist_rnn",
        f"--data={idx_dir}", f"--workdir={workdir}", f"--export_dir={export_dir}",
        "--epochs=3", "--batch_size=4", "--units=16", "--validation_fraction=0",
    ]


@pytest.mark.slow
def test_resume_after_sigkill_mid_epoch(tmp_path):
    idx_dir = testing.write_mnist_idx(str(tmp_path / "idx"), train_size=1500)
    workdir, export_dir = tmp_path / "work", tmp_path / "export"
    command = _cli(idx_dir, workdir, export_dir)
    env = dict(os.environ, PYTHONPATH=REPO)
    first_checkpoint = workdir / "checkpoints" / "epoch-0001.weights.h5"

    process = subprocess.Popen(
        command, cwd=REPO, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 300
        while not first_checkpoint.exists():
            assert process.poll() is None, "training ended before the kill"
            assert time.monotonic() < deadline, "no checkpoint after 300 s"
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)  # In epoch 2 of 3.
    finally:
        returncode = process.wait(timeout=60)
    assert returncode == -signal.SIGKILL
    assert not (workdir / "metrics.json").exists()
    assert not export_dir.exists() or not os.listdir(export_dir)

    resumed = subprocess.run(
        command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    with open(workdir / "metrics.json") as f:
        metrics = json.load(f)
    assert metrics["epochs"] == 3
    assert 1 <= metrics["resumed_from_epoch"] < 3
    assert "Epoch 1/3" not in resumed.stdout
    assert "Epoch 3/3" in resumed.stdout
    assert sorted(os.listdir(export_dir)) == ["1"]


def read_preset(name):
    return testing.read_preset(FLAGS, f"recipes/mnist_rnn/{name}", REPO)


def test_default_preset_is_the_flag_defaults():
    values = read_preset("lstm.flags")
    assert values == {name: FLAGS[name].default for name in values}
    # Every default but where data, runs and exports live is in the preset.
    every = testing.declared_settings(mnist_rnn.Config)
    assert every - {"data", "export_dir"} == set(values)


@pytest.mark.parametrize(
    "preset", sorted(p for p in os.listdir(PRESETS) if p.endswith(".flags"))
)
def test_every_preset_parses_and_names_its_cell(preset):
    values = read_preset(preset)
    assert values["cell"] == preset[: -len(".flags")]
    assert not {"data", "workdir", "export_dir"} & set(values)


@pytest.mark.skipif(
    not os.path.isdir(SHARED_MNIST), reason="../shared/data/mnist is absent"
)
def test_reads_the_real_mnist_files():
    from zoo.data import mnist

    splits = mnist.load(SHARED_MNIST)
    assert splits.train_images.shape == (60000, 28, 28)
    assert splits.test_labels.shape == (10000,)


@pytest.fixture(scope="module")
def serve():
    """`serve(signature, images)`: the recipe's endpoints, traced as
    exported, on a tiny untrained model."""
    import tensorflow as tf

    endpoints = mnist_rnn.serving_endpoints(
        mnist_rnn.build_model(tiny_config("unused")))
    traced = {name: tf.function(fn, input_signature=specs)
              for name, (fn, specs) in endpoints.items()}
    return lambda name, images: traced[name](tf.constant(images))


@pytest.mark.parametrize("value, message", [
    (np.nan, r"serving_float: `images` must be finite pixels in \[0, 1\] : "
             r"Tensor had NaN values"),
    (-np.inf, r"serving_float: `images` must be finite pixels in \[0, 1\] : "
              r"Tensor had Inf values"),
    (-0.5, r"serving_float: `images` must be pixels in \[0, 1\] \(uint8 "
           r"pixels, 0-255, go to serving_default\); got min and max\] "
           r"\[-0.5\] \[1\]"),
    (255.0, r"`images` must be pixels in \[0, 1\] .* \[0\] \[255\]"),
])
def test_serving_float_refuses_pixels_outside_0_1(serve, value, message):
    # They once gave NaN probabilities (class 0) or confident nonsense.
    import tensorflow as tf

    images = np.zeros((2, 28, 28), np.float32)
    images[0, 0, 0], images[1, 0, 0] = value, 1.0
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        serve("serving_float", images)


def test_serving_float_takes_what_serving_default_makes_of_uint8(serve):
    pixels = np.random.default_rng(0).integers(0, 256, (3, 28, 28))
    pixels[0] = 0
    pixels[1] = 255  # The ends of the range.
    as_uint8 = serve("serving_default", pixels.astype(np.uint8))
    as_float = serve("serving_float", (pixels / 255.0).astype(np.float32))
    for key in ("probabilities", "classes"):
        np.testing.assert_allclose(as_float[key], as_uint8[key], atol=1e-6)
    empty = serve("serving_float", np.zeros((0, 28, 28), np.float32))
    assert empty["probabilities"].shape == (0, 10)
