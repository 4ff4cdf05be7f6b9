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
import contextlib
import functools
import os
import shutil
import tempfile

import tensorflow as tf
from absl import logging

from zoo import compat
from zoo import errors

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
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver(
                tpu=os.environ.get("TPU_NAME", "")
            )
            tf.config.experimental_connect_to_cluster(resolver)
            tf.tpu.experimental.initialize_tpu_system(resolver)
        except (ValueError, RuntimeError, tf.errors.OpError) as error:
            raise errors.ConfigError(
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
        if config.strategy != "default":  # One device needs no word.
            logging.info(
                "Strategy %s: %d replicas in sync%s", config.strategy,
                strategy.num_replicas_in_sync,
                "" if is_chief(strategy) else " (this worker does not write)",
            )
        # Keras' trainer needs a mend under a multi-worker strategy, for
        # this run only (see zoo.compat).
        mend = (compat.multi_worker_fit() if config.strategy == "multi_worker"
                else contextlib.nullcontext())
        with mend, strategy.scope():
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
