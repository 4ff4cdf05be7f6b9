"""Tests for zoo.training.task: the Task hooks and the one driver, `run`."""

import dataclasses
import json
import logging
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo import errors
from zoo import training
from zoo.training import lock


@dataclasses.dataclass
class TinyConfig(training.TrainConfig):
    WORKDIR = "unused"

    epochs: int = 3
    batch_size: int = 8
    learning_rate: float = 0.05
    validation_fraction: float = 0.25


def _examples(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2)).astype("float32")
    return tf.data.Dataset.from_tensor_slices((x, (x[:, 0] > 0).astype("int64")))


class Sign(training.Task):
    """Is the first of two numbers positive? Records the hooks it gets."""

    Config = TinyConfig
    selection = training.Selection("val_accuracy", "max")

    def __init__(self, dev=None):
        self.calls, self.dev = [], dev

    def data(self, config, workdir):
        self.calls.append("data")
        return training.Data(_examples(64, 0), _examples(16, 1), 64, 16,
                             "random numbers", validation=self.dev,
                             extra={"class_names": ["no", "yes"]})

    def adapt(self, config, train):
        self.calls.append(("adapt", sum(1 for _ in train)))

    def batches(self, config, examples, batch_size, training):
        return examples.batch(batch_size)

    def build(self, config):
        self.calls.append("build")
        inputs = keras.Input((2,))
        return keras.Model(inputs, keras.layers.Dense(2, "softmax")(inputs))

    def after_fit(self, model, config, train, validation, history):
        return model, {"after_fit": len(history["loss"])}

    def baseline(self, config, train, test):
        return {"name": "always yes", "accuracy": 0.5}

    def endpoints(self, model, config):
        return {"serving_default": (
            lambda x: {"probabilities": model(x, training=False)},
            [tf.TensorSpec([None, 2], tf.float32, name="x")])}


def test_run_calls_the_hooks_and_writes_the_metrics(tmp_path):
    task = Sign()
    config = TinyConfig(export_dir=str(tmp_path / "export"))
    metrics = training.run(task, config, str(tmp_path / "work"))
    # A quarter of the 64 training examples validate.
    assert task.calls == ["data", ("adapt", 48), "build"]
    with open(tmp_path / "work" / "metrics.json") as f:
        assert json.load(f) == metrics
    assert metrics["data"] == "random numbers"
    assert metrics["class_names"] == ["no", "yes"]
    assert metrics["after_fit"] == metrics["epochs"]
    assert len(metrics["epoch_seconds"]) == metrics["epochs"]
    assert metrics["baseline"] == {"name": "always yes", "accuracy": 0.5}
    assert metrics["test_accuracy"] > 0.5
    assert metrics["selection"]["monitor"] == "val_accuracy"
    assert 1 <= metrics["best_epoch"] <= metrics["epochs"] <= 3
    assert metrics["precision"] == "float32"
    served = tf.saved_model.load(metrics["export_path"]).signatures[
        "serving_default"](x=tf.constant([[1.0, 0.0]]))
    assert served["probabilities"].shape == (1, 2)


def test_the_model_is_built_under_the_precision_it_names(
        tmp_path, caplog):
    task = Sign()
    built = []
    build = task.build
    task.build = lambda config: built.append(build(config)) or built[-1]
    before = keras.config.dtype_policy().name
    config = TinyConfig(precision="mixed_bfloat16",
                        export_dir=str(tmp_path / "export"))
    with caplog.at_level(logging.INFO, logger="absl"):
        metrics = training.run(task, config, str(tmp_path / "work"))
    assert "Precision: mixed_bfloat16 (asked for with --precision)." in (
        caplog.text)
    assert metrics["precision"] == "mixed_bfloat16"
    assert keras.config.dtype_policy().name == before  # Restored.
    dense = built[0].layers[-1]
    assert (dense.compute_dtype, dense.variable_dtype) == ("bfloat16",
                                                          "float32")
    assert metrics["test_accuracy"] > 0.5
    served = tf.saved_model.load(metrics["export_path"]).signatures[
        "serving_default"](x=tf.constant([[1.0, 0.0]]))
    assert served["probabilities"].shape == (1, 2)


def test_portable_formats_of_a_task_without_a_portable_core_are_refused_first(
        tmp_path):
    task = Sign()
    config = TinyConfig(export_dir=str(tmp_path / "export"),
                        export_formats="saved_model,litert")
    with pytest.raises(errors.ConfigError, match=r"^--export_formats="
                       r"saved_model,litert: Sign has no portable export "
                       r"\(onnx, litert\); only saved_model$"):
        training.run(task, config, str(tmp_path / "work"))
    assert task.calls == []  # Before the data.


def test_an_unknown_export_format_is_refused_first(tmp_path):
    task = Sign()
    config = TinyConfig(export_dir=str(tmp_path / "export"),
                        export_formats="saved_model,pdf")
    with pytest.raises(errors.ConfigError, match="got 'pdf'"):
        training.run(task, config, str(tmp_path / "work"))
    assert task.calls == []


def test_a_portable_core_is_written_in_the_formats_asked_for(
        tmp_path, monkeypatch):
    from zoo import export

    written = []
    monkeypatch.setattr(export, "write_portable",
                        lambda portable, folder, formats, model: written.append(
                            (portable, os.path.basename(folder), formats)))
    core = export.Portable({})

    class PortableSign(Sign):
        def portable(self, model, config):
            return core

    task = PortableSign()
    config = TinyConfig(export_dir=str(tmp_path / "export"),
                        export_formats="saved_model,litert")
    metrics = training.run(task, config, str(tmp_path / "work"))
    assert written == [(core, f".partial-{os.getpid()}", ("litert",))]
    assert metrics["export_path"] == str(tmp_path / "export" / "1")


def test_a_finished_run_is_returned_as_it_is(tmp_path):
    first = training.run(Sign(), TinyConfig(), str(tmp_path))
    task = Sign()
    assert training.run(task, TinyConfig(), str(tmp_path)) == first
    assert task.calls == []


def test_a_validation_split_of_its_own_is_not_carved_again(tmp_path):
    task = Sign(dev=_examples(8, 2))
    metrics = training.run(task, TinyConfig(), str(tmp_path))
    assert ("adapt", 64) in task.calls
    assert metrics["selection"] is not None


@pytest.mark.parametrize(
    "hook, args, message",
    [
        ("data", (None, None), r"Task.data\(config, workdir\) must return"),
        ("batches", (None, None, 8, True), r"Task.batches\(config, examples, "
         r"batch_size, training\) must batch"),
        ("build", (None,), r"Task.build\(config\) must return the model"),
        ("endpoints", (None, None), r"Task.endpoints\(model, config\) must "
         r"say what the export serves"),
    ],
)
def test_a_required_hook_left_out_says_what_it_must_do(hook, args, message):
    with pytest.raises(NotImplementedError, match=message):
        getattr(training.Task(), hook)(*args)


class PaddedSign(Sign):
    """`Sign` whose inputs count as [x0, x1, 0, 0]: half padding."""

    baseline_name = "always yes"

    def padding(self, config):
        return lambda x, y: (tf.fill([tf.shape(x)[0]], 2), 4)

    def baseline(self, config, train, test):
        raise ValueError("Training rows hold one class only")


def test_padding_is_counted_as_batches_stream_and_a_baseline_may_fail(
        tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="absl"):
        metrics = training.run(PaddedSign(), TinyConfig(), str(tmp_path))
    assert "Fitting the baseline (always yes)." in caplog.text
    assert metrics["padded_fraction"] == [0.5] * metrics["epochs"]
    assert metrics["baseline"] == {
        "name": "always yes", "error": "Training rows hold one class only"}
    assert "No baseline: Training rows hold one class only" in caplog.text
    # Without the hook, nothing is counted.
    plain = training.run(Sign(), TinyConfig(), str(tmp_path / "plain"))
    assert "padded_fraction" not in plain


class Nested(Sign):
    """Starts a second run on the same workdir from inside its own."""

    def data(self, config, workdir):
        with pytest.raises(errors.WorkdirError, match=(
                rf"{workdir} is in use by process {os.getpid()} on ")):
            training.run(Sign(), config, workdir)
        return super().data(config, workdir)


def test_a_workdir_in_use_stops_a_second_run_and_the_first_goes_on(tmp_path):
    metrics = training.run(Nested(), TinyConfig(), str(tmp_path))
    assert metrics["test_accuracy"] > 0.5
    assert not os.path.exists(tmp_path / lock.LOCK_FILE)  # Released.


class UnknownSize(Sign):
    """Batches whose number tf.data cannot tell, as bucketing makes them."""

    def batches(self, config, examples, batch_size, training):
        return examples.filter(lambda x, y: True).batch(batch_size)


def test_batch_totals_are_known_from_the_first_epoch(tmp_path, recwarn):
    training.run(UnknownSize(), TinyConfig(), str(tmp_path))
    assert not [w for w in recwarn.list
                if "ran out of data" in str(w.message)]
