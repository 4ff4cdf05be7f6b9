"""Where zoo uses Keras' private modules: one place, and its guard.

zoo needs two things that Keras 3.15 does not make public (setup.cfg
admits `keras>=3.15,<3.16`; a newer minor release is admitted once the
tests pass on it):

* `keras_backend()`: `keras.src.backend`, whose `rnn` (the step loop) and
  `lstm` and `gru` (the fused kernels: cuDNN on a GPU) Keras' own RNN
  layers call. `zoo.layers.Recurrent` calls them the same way.
* `multi_worker_fit()`: a context in which Keras' TensorFlow trainer works
  under `tf.distribute.MultiWorkerMirroredStrategy`
  (keras-team/keras#20585). Two of the trainer's functions are replaced
  on entry and restored on exit; the replacements act only for a
  multi-worker strategy and call Keras' own code otherwise.

Each raises a `RuntimeError` naming what the installed Keras lacks
(`missing_parts`), instead of failing somewhere inside a run.
"""

import contextlib

import keras
import tensorflow as tf

BACKEND_PARTS = ("rnn", "lstm", "gru")
TRAINER_PARTS = ("reduce_per_replica", "_collective_all_reduce_multi_worker",
                 "TensorFlowTrainer._maybe_symbolic_build")


def missing_parts(module, names):
    """The dotted `names` that `module` lacks."""
    missing = []
    for name in names:
        found = module
        for part in name.split("."):
            found = getattr(found, part, None)
        if found is None:
            missing.append(name)
    return missing


def _check(module, names, use):
    missing = missing_parts(module, names)
    if missing:
        raise RuntimeError(
            f"{use} uses Keras {keras.__version__}'s private "
            f"{module.__name__}, which lacks {', '.join(missing)}; install "
            "the Keras version setup.cfg names"
        )
    return module


def keras_backend():
    """`keras.src.backend`, checked to have `rnn`, `lstm` and `gru`.

    Raises:
        RuntimeError: The installed Keras lacks one of them.
    """
    from keras.src import backend

    return _check(backend, BACKEND_PARTS, "zoo.layers.Recurrent")


@contextlib.contextmanager
def multi_worker_fit():
    """Within, Keras' `fit`, `evaluate` and `predict` work under a
    `MultiWorkerMirroredStrategy` of several workers.

    Keras' TensorFlow trainer breaks there in two places, both replaced
    for the context:

    - Before the first step, it reduces a whole input batch across workers
      only to learn its shapes, which fails; the local batch gives them.
    - After each step, it averages the replicas' scalar metrics along an
      axis 0 they do not have; they are averaged as scalars instead.

    Raises:
        RuntimeError: The installed Keras lacks what is replaced.
    """
    from keras.src.backend.tensorflow import trainer

    _check(trainer, TRAINER_PARTS, "--strategy=multi_worker")
    reduce_per_replica = trainer.reduce_per_replica
    maybe_symbolic_build = trainer.TensorFlowTrainer._maybe_symbolic_build

    def multi_worker(strategy):
        return trainer._collective_all_reduce_multi_worker(strategy)

    def reduce(values, strategy, reduction):
        if reduction in ("auto", "mean") and multi_worker(strategy):
            return tf.nest.map_structure(
                lambda v: strategy.reduce("MEAN", v, axis=None), values
            )
        return reduce_per_replica(values, strategy, reduction)

    def symbolic_build(self, iterator=None, data_batch=None):
        strategy = self._distribute_strategy
        if iterator is None or strategy is None or not multi_worker(strategy):
            return maybe_symbolic_build(self, iterator, data_batch)
        for _, _, batches in iterator:
            data_batch = tf.nest.map_structure(
                lambda v: strategy.experimental_local_results(v)[0]
                if isinstance(v, tf.distribute.DistributedValues) else v,
                next(batches),
            )
            break
        with strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    trainer.reduce_per_replica = reduce
    trainer.TensorFlowTrainer._maybe_symbolic_build = symbolic_build
    try:
        yield
    finally:
        trainer.reduce_per_replica = reduce_per_replica
        trainer.TensorFlowTrainer._maybe_symbolic_build = maybe_symbolic_build
