"""Tests for zoo.testing: the shared checks pass good layers, fail bad ones."""

import keras
import numpy as np
import pytest

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
        match=r"(?s)loading .* without zoo failed:\n.*"
        r"SavedModel file does not exist",
    ):
        testing.run_export_test(
            str(tmp_path), "serving_default", {"x": np.zeros((1, 3), "float32")}
        )


def test_write_mnist_idx_writes_loadable_files(tmp_path):
    from zoo.data import mnist

    directory = testing.write_mnist_idx(
        str(tmp_path), train_size=12, test_size=4, gzip_files=False
    )
    splits = mnist.load_idx_dir(directory)
    assert splits.train_images.shape == (12, 28, 28)
    assert splits.test_labels.tolist() == [0, 1, 2, 3]


def test_run_layer_test_checks_masked_layers_in_a_functional_model():
    mask = np.array([[True, True, False, False], [False, True, True, True]])
    output = testing.run_layer_test(_recurrent(), _inputs(), (2, 5), mask=mask)
    assert output.shape == (2, 5)
