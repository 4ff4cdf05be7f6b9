"""Tests for zoo.compat: the private Keras parts zoo uses, and the guard."""

import types

import pytest
import tensorflow as tf
from keras.src.backend.tensorflow import trainer

from zoo import compat


def test_this_keras_has_every_part_zoo_uses():
    from keras.src import backend

    assert compat.missing_parts(backend, compat.BACKEND_PARTS) == []
    assert compat.missing_parts(trainer, compat.TRAINER_PARTS) == []
    assert compat.keras_backend() is backend


def test_missing_parts_names_what_a_release_lacks():
    module = types.SimpleNamespace(
        reduce_per_replica=object(),
        TensorFlowTrainer=types.SimpleNamespace(),
    )
    assert compat.missing_parts(module, compat.TRAINER_PARTS) == [
        "_collective_all_reduce_multi_worker",
        "TensorFlowTrainer._maybe_symbolic_build",
    ]


def test_a_missing_part_stops_with_what_to_install(monkeypatch):
    monkeypatch.delattr(trainer, "reduce_per_replica")
    with pytest.raises(RuntimeError, match=r"--strategy=multi_worker uses "
                       r"Keras 3\.\d+\.\d+'s private "
                       r"keras\.src\.backend\.tensorflow\.trainer, which "
                       r"lacks reduce_per_replica; install the Keras version "
                       r"setup.cfg names"):
        with compat.multi_worker_fit():
            pass


def test_the_mend_holds_only_within_its_context():
    reduce = trainer.reduce_per_replica
    build = trainer.TensorFlowTrainer._maybe_symbolic_build
    with pytest.raises(KeyError):
        with compat.multi_worker_fit():
            assert trainer.reduce_per_replica is not reduce
            assert trainer.TensorFlowTrainer._maybe_symbolic_build is not build
            raise KeyError("a failed run")
    assert trainer.reduce_per_replica is reduce
    assert trainer.TensorFlowTrainer._maybe_symbolic_build is build


def test_the_mend_leaves_other_strategies_to_keras():
    strategy = tf.distribute.get_strategy()
    values = {"loss": tf.constant(2.0)}
    with compat.multi_worker_fit():
        mended = trainer.reduce_per_replica(values, strategy, "auto")
    np_value = float(mended["loss"])
    assert np_value == float(trainer.reduce_per_replica(
        values, strategy, "auto")["loss"]) == 2.0
