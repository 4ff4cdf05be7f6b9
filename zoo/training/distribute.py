"""tf.distribute strategies for the recipes: `--strategy` and who writes.

A recipe's `train_and_evaluate` is wrapped in `distributed`, which makes
the strategy named by `config.strategy` and runs the whole recipe inside
its scope, so models, optimizers and metrics are built as the strategy
wants them. Inside, `global_batch_size(config)` is the batch the data
pipeline must produce (`--batch_size` is per replica), and `is_chief()`
says whether this process writes checkpoints, TensorBoard logs, metrics
and exports (one process of a cluster does). The other workers must still
save and export whatever the chief does, since saving can take part in
the cluster's collective operations; `write_path` sends their copies to
a scratch folder that is deleted when the process ends.

Strategies (`STRATEGIES`):
    default: no distribution (one device).
    mirrored: `tf.distribute.MirroredStrategy`, every GPU of this machine
        (on a machine without GPUs, its CPU).
    multi_worker: `tf.distribute.MultiWorkerMirroredStrategy`; the cluster
        and this process' place in it come from the `TF_CONFIG` environment
        variable. Every worker must see the same `--workdir` (a shared
        folder): all restore from the chief's checkpoints.
    tpu: `tf.distribute.TPUStrategy` on the TPU named by `TPU_NAME` (or
        the local one).
"""

import atexit
import functools
import os
import shutil
import tempfile

import keras
import tensorflow as tf
from absl import logging

STRATEGIES = ("default", "mirrored", "multi_worker", "tpu")


def make_strategy(name):
    """The `tf.distribute.Strategy` called `name` (one of `STRATEGIES`).

    Raises:
        ValueError: An unknown name, or `tpu` on a machine without one.
    """
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        if "TF_CONFIG" not in os.environ:
            logging.warning(
                "--strategy=multi_worker without TF_CONFIG: a cluster of one "
                "worker (this process)."
            )
        _patch_keras_for_multi_worker()
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver(
                tpu=os.environ.get("TPU_NAME", "")
            )
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
        except (ValueError, RuntimeError, tf.errors.OpError) as error:
            raise ValueError(
                f"--strategy=tpu found no TPU ({type(error).__name__}: "
                f"{error}); set TPU_NAME or run on a TPU host"
            ) from error
        return tf.distribute.TPUStrategy(resolver)
    raise ValueError(
        "Received an invalid value for argument `strategy`, expected one of "
        f"{', '.join(STRATEGIES)}, got {name!r}"
    )


def distributed(train_and_evaluate):
    """Runs `train_and_evaluate(config, workdir, ...)` in `config.strategy`.

    The strategy is made before anything else of the run (a multi-worker
    strategy must exist before TensorFlow's first operation).
    """

    @functools.wraps(train_and_evaluate)
    def run(config, workdir, *args, **kwargs):
        strategy = make_strategy(config.strategy)
        logging.info(
            "Strategy %s: %d replicas in sync%s", config.strategy,
            strategy.num_replicas_in_sync,
            "" if is_chief(strategy) else " (this worker does not write)",
        )
        with strategy.scope():
            return train_and_evaluate(config, workdir, *args, **kwargs)

    return run


def num_replicas():
    """Replicas of the strategy in scope (1 outside any)."""
    return tf.distribute.get_strategy().num_replicas_in_sync


def global_batch_size(config):
    """Examples per step over all replicas: `config.batch_size` x replicas."""
    return config.batch_size * num_replicas()


def is_chief(strategy=None):
    """Whether this process keeps the run's files (see module docstring).

    The strategy's own answer: under a multi-worker strategy, the task of
    type `chief`, or worker 0 of a cluster without one; otherwise this
    process.
    """
    strategy = strategy or tf.distribute.get_strategy()
    return bool(strategy.extended.should_checkpoint)


def check_same_epoch(epoch, where):
    """Raises unless every replica found the same newest `epoch` in `where`.

    Workers that see different `--workdir` folders would resume different
    epochs, and their collective operations would stop matching; this says
    so instead.

    Raises:
        ValueError: The epochs differ (on every worker).
    """
    strategy = tf.distribute.get_strategy()
    if strategy.num_replicas_in_sync == 1:
        return
    epochs = strategy.gather(
        strategy.run(lambda: tf.constant([epoch], tf.int64)), axis=0)
    low, high = int(tf.reduce_min(epochs)), int(tf.reduce_max(epochs))
    if low != high:
        raise ValueError(
            f"The workers found different checkpoints (newest epochs {low} "
            f"to {high}; this one {epoch}) in {where}: every worker must see "
            "the same --workdir, a folder they share"
        )


def write_path(path):
    """`path` on the chief; on another worker, a place in its scratch folder.

    The scratch folder is this process' own, in the system's temporary
    folder, and deleted when the process exits normally (not when it is
    killed).
    """
    if is_chief():
        return path
    return os.path.join(_scratch(), os.path.abspath(path).lstrip(os.sep))


@functools.cache
def _scratch():
    folder = tempfile.mkdtemp(prefix="zoo-worker-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def shard_by_worker(dataset):
    """`dataset` set to be split among workers element by element.

    tf.data's default (`AUTO`) first tries to give each worker its own
    files, which fails when a pipeline reads fewer files than there are
    workers (and warns when it reads none: in-memory arrays); `DATA`
    splits any pipeline: each worker reads all of it and keeps its share
    of every batch.
    """
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA
    )
    return dataset.with_options(options)


@functools.cache
def _patch_keras_for_multi_worker():
    """Mends Keras 3.15's `fit` under `MultiWorkerMirroredStrategy`.

    Keras' TensorFlow trainer (keras-team/keras#20585) breaks on a cluster
    of several workers in two places; both are replaced here, for that
    strategy only (others keep Keras' own code):

    - Before the first step, it reduces a whole input batch across workers
      only to learn its shapes, which fails; the local batch gives them.
    - After each step, it averages the replicas' scalar metrics along an
      axis 0 they do not have; they are averaged as scalars instead.
    """
    from keras.src.backend.tensorflow import trainer

    missing = _missing_keras_parts(trainer)
    if missing:
        raise RuntimeError(
            f"--strategy=multi_worker mends Keras {keras.__version__}'s fit, "
            f"but what it replaces is gone ({', '.join(missing)}); install "
            "the Keras version setup.cfg names"
        )
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


def _missing_keras_parts(trainer):
    """The names `_patch_keras_for_multi_worker` needs that `trainer` lacks."""
    missing = [name for name in ("reduce_per_replica",
                                 "_collective_all_reduce_multi_worker")
               if not hasattr(trainer, name)]
    if not hasattr(getattr(trainer, "TensorFlowTrainer", None),
                   "_maybe_symbolic_build"):
        missing.append("TensorFlowTrainer._maybe_symbolic_build")
    return missing
