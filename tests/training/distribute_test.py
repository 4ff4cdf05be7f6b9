"""Tests for zoo.training.distribute: strategies, and a two-worker cluster."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
import types

import numpy as np
import pytest
import tensorflow as tf

from zoo import testing
from zoo.training import config as zoo_config
from zoo.training import distribute

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_default_is_the_strategy_outside_any_scope():
    strategy = distribute.make_strategy("default")
    assert strategy is tf.distribute.get_strategy()
    assert distribute.num_replicas() == 1
    assert distribute.is_chief()


def test_mirrored_strategy_on_this_machine():
    strategy = distribute.make_strategy("mirrored")
    assert isinstance(strategy, tf.distribute.MirroredStrategy)
    config = zoo_config.TrainConfig(batch_size=16)
    with strategy.scope():
        assert distribute.num_replicas() == strategy.num_replicas_in_sync
        assert distribute.global_batch_size(config) == (
            16 * strategy.num_replicas_in_sync)
        assert distribute.is_chief()


def test_an_unknown_strategy_is_rejected():
    with pytest.raises(ValueError, match="argument `strategy`, expected one "
                       "of default, mirrored, multi_worker, tpu, got 'gpu'"):
        distribute.make_strategy("gpu")


def test_tpu_without_a_tpu_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("TPU_NAME", raising=False)
    with pytest.raises(ValueError, match="--strategy=tpu found no TPU .*set "
                       "TPU_NAME or run on a TPU host"):
        distribute.make_strategy("tpu")


def test_distributed_runs_the_recipe_in_the_strategy_scope():
    seen = {}

    @distribute.distributed
    def train_and_evaluate(config, workdir, extra=None):
        """The recipe."""
        seen["strategy"] = tf.distribute.get_strategy()
        seen["args"] = (workdir, extra)
        return "metrics"

    config = zoo_config.TrainConfig(strategy="mirrored")
    assert train_and_evaluate(config, "w", extra=1) == "metrics"
    assert isinstance(seen["strategy"], tf.distribute.MirroredStrategy)
    assert seen["args"] == ("w", 1)
    assert train_and_evaluate.__doc__ == "The recipe."
    assert not tf.distribute.has_strategy()  # The scope ended.


def test_is_chief_is_the_strategys_own_answer():
    def strategy(checkpoints):
        return types.SimpleNamespace(
            extended=types.SimpleNamespace(should_checkpoint=checkpoints))

    assert distribute.is_chief(strategy(True))
    assert not distribute.is_chief(strategy(False))


def test_shard_by_worker_splits_element_by_element():
    dataset = distribute.shard_by_worker(tf.data.Dataset.range(4).batch(2))
    policy = dataset.options().experimental_distribute.auto_shard_policy
    assert policy == tf.data.experimental.AutoShardPolicy.DATA
    assert [b.tolist() for b in dataset.as_numpy_iterator()] == [[0, 1], [2, 3]]


# A two-worker cluster on 127.0.0.1: each worker is `python -c WORKER`, which
# trains mnist_rnn with --strategy=multi_worker and saves its final weights
# and optimizer step to <out>/worker-<index>.npz. With "pause" as its last
# argument, worker 1 stops as its second epoch begins (so a test can kill
# it mid-training) and signals that it did by writing <out>/paused. (Not
# at the end of the first: saving a checkpoint takes part in collective
# operations, so the chief's save would wait for it.)
WORKER = textwrap.dedent(
    """
    import json, os, sys, time
    import keras
    import numpy as np
    from zoo.recipes import mnist_rnn

    data, workdirs, export_dir, out, epochs, pause = sys.argv[1:]
    index = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
    # One workdir for all, or one per worker (comma-separated).
    workdirs = workdirs.split(",")
    workdir = workdirs[index % len(workdirs)]

    class Record(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if pause == "pause" and index == 1 and epoch == 1:
                open(os.path.join(out, "paused"), "w").close()
                time.sleep(600)

        def on_train_end(self, logs=None):
            np.savez(os.path.join(out, f"worker-{index}.npz"),
                     iterations=self.model.optimizer.iterations.numpy(),
                     *self.model.get_weights())

    config = mnist_rnn.Config(
        data=data, export_dir=export_dir, epochs=int(epochs), batch_size=8,
        units=4, dropout=0.0, recurrent_dropout=0.0, validation_fraction=0.25,
        strategy="multi_worker")
    metrics = mnist_rnn.train_and_evaluate(config, workdir, [Record()])
    print("METRICS", json.dumps({k: metrics[k] for k in (
        "epochs", "resumed_from_epoch", "test_accuracy")}))
    """
)


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _start_cluster(ports, args):
    workers = [f"127.0.0.1:{port}" for port in ports]
    processes = []
    for index in range(len(workers)):
        env = dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="2",
                   TF_CONFIG=json.dumps({"cluster": {"worker": workers},
                                         "task": {"type": "worker",
                                                  "index": index}}))
        processes.append(subprocess.Popen(
            [sys.executable, "-c", WORKER, *map(str, args)], env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        ))
    return processes


def _finish(processes, timeout=300):
    try:
        ended = [p.communicate(timeout=timeout) for p in processes]
    finally:
        for p in processes:
            p.kill()
    for index, (process, (_, stderr)) in enumerate(zip(processes, ended)):
        assert process.returncode == 0, (
            f"worker {index} failed:\n{stderr[-4000:]}")
    return [stdout for stdout, _ in ended]


def _metrics(stdout):
    line, = [x for x in stdout.splitlines() if x.startswith("METRICS ")]
    return json.loads(line.split(" ", 1)[1])


def _weights(out, index):
    with np.load(os.path.join(out, f"worker-{index}.npz")) as found:
        iterations = int(found["iterations"])
        weights = [found[k] for k in sorted(
            (k for k in found.files if k.startswith("arr_")),
            key=lambda k: int(k.split("_")[1]))]
    return iterations, weights


@pytest.fixture
def cluster_run(tmp_path):
    data = tmp_path / "mnist"
    testing.write_mnist_idx(str(data), train_size=64, test_size=16)
    out = tmp_path / "out"
    out.mkdir()
    paths = dict(data=data, workdir=tmp_path / "workdir",
                 export_dir=tmp_path / "exports", out=out)
    return paths, _free_ports(2)


def _assert_same_training(out, steps):
    (iterations_0, weights_0), (iterations_1, weights_1) = (
        _weights(out, 0), _weights(out, 1))
    # 48 training examples in global batches of 2 workers x 8: 3 steps.
    assert iterations_0 == iterations_1 == steps
    assert len(weights_0) == len(weights_1) > 0
    for a, b in zip(weights_0, weights_1):
        np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_two_workers_train_the_same_weights_and_export_once(cluster_run):
    paths, ports = cluster_run
    args = [paths[k] for k in ("data", "workdir", "export_dir", "out")]
    outputs = _finish(_start_cluster(ports, [*args, 2, "run"]))
    _assert_same_training(paths["out"], steps=2 * 3)
    assert os.listdir(paths["export_dir"]) == ["1"]
    chief, worker = map(_metrics, outputs)
    assert chief == worker
    assert chief["epochs"] == 2 and chief["resumed_from_epoch"] == 0
    with open(paths["workdir"] / "metrics.json") as f:
        assert json.load(f)["test_accuracy"] == chief["test_accuracy"]
    # Only the chief wrote: its checkpoints, logs, settings and metrics.
    assert sorted(os.listdir(paths["workdir"])) == [
        "checkpoints", "metrics.json", "run_config.json", "tensorboard"]
    assert sorted(os.listdir(paths["workdir"] / "checkpoints")) == [
        "epoch-0001.weights.h5", "epoch-0002.weights.h5", "selection.json"]


@pytest.mark.slow
def test_workers_that_restore_different_epochs_say_so(cluster_run):
    paths, ports = cluster_run
    data, out = paths["data"], paths["out"]
    shared = paths["workdir"]
    _finish(_start_cluster(ports, [data, shared, "", out, 1, "run"]))
    # Worker 0 sees the finished epoch, worker 1 a folder of its own.
    own = paths["workdir"].parent / "elsewhere"
    processes = _start_cluster(ports, [data, f"{shared},{own}", "", out, 2,
                                       "run"])
    ended = [p.communicate(timeout=300) for p in processes]
    assert all(p.returncode != 0 for p in processes)
    # Each raises; the one that exits first may cut the other's last
    # exchange short, so its message can be the lost peer's instead.
    said = [re.search(
        r"ValueError: The workers found different checkpoints \(newest "
        r"epochs 0 to 1; this one ([01])\) in .*: every worker must see the "
        r"same --workdir, a folder they share", stderr) for _, stderr in ended]
    assert any(said), "\n".join(stderr[-3000:] for _, stderr in ended)
    # Each names its own: worker 0 found epoch 1, worker 1 nothing.
    for index, found in enumerate(said):
        assert found is None or found.group(1) == str(1 - index)


@pytest.mark.slow
def test_a_killed_worker_resumes_from_the_last_checkpoint(cluster_run):
    paths, ports = cluster_run
    args = [paths[k] for k in ("data", "workdir", "export_dir", "out")]
    first = _start_cluster(ports, [*args, 3, "pause"])
    checkpoint = paths["workdir"] / "checkpoints" / "epoch-0001.weights.h5"
    deadline = time.monotonic() + 180
    try:
        while not ((paths["out"] / "paused").exists() and checkpoint.exists()):
            assert time.monotonic() < deadline, "worker 1 never paused"
            assert all(p.poll() is None for p in first), (
                "a worker ended before the kill:\n"
                + "\n".join(p.communicate()[1][-3000:] for p in first))
            time.sleep(0.2)
        first[1].send_signal(signal.SIGKILL)
        # The chief waits for worker 1 in its next step; the cluster is
        # restarted as a whole, as an operator (or a job scheduler) would.
        first[1].wait(timeout=60)
    finally:
        for p in first:
            p.kill()
            p.communicate()
    assert first[1].returncode == -signal.SIGKILL
    assert not (paths["out"] / "worker-1.npz").exists()

    # The same command again, without the pause.
    outputs = _finish(_start_cluster(ports, [*args, 3, "run"]))
    chief, worker = map(_metrics, outputs)
    assert chief["resumed_from_epoch"] == worker["resumed_from_epoch"] == 1
    assert chief["epochs"] == 3
    # The optimizer state came back too: 3 epochs of 3 steps in all.
    _assert_same_training(paths["out"], steps=3 * 3)
    assert os.listdir(paths["export_dir"]) == ["1"]
