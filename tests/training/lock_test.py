"""Tests for zoo.training.lock: one live run per workdir."""

import json
import os
import socket
import subprocess
import sys

import pytest

from zoo import errors
from zoo.training import lock


def _lock_path(workdir):
    return os.path.join(workdir, lock.LOCK_FILE)


def test_acquire_writes_this_process_and_release_removes_it(tmp_path):
    workdir = str(tmp_path / "run")
    lock.acquire(workdir)  # Makes the folder.
    found = lock.holder(workdir)
    assert (found["pid"], found["host"]) == (os.getpid(), socket.gethostname())
    assert found["started"]
    lock.release(workdir)
    assert lock.holder(workdir) is None and os.listdir(workdir) == []


def _other_process(workdir):
    """A live process of this host holding `workdir`, and its pid."""
    process = subprocess.Popen([sys.executable, "-c", "import time; "
                                "time.sleep(60)"])
    with open(_lock_path(workdir), "w") as f:
        json.dump({"pid": process.pid, "host": socket.gethostname(),
                   "started": "2026-12-05T12:00:00"}, f)
    return process


def test_a_second_run_stops_naming_the_holder(tmp_path):
    workdir = str(tmp_path)
    process = _other_process(workdir)
    try:
        with pytest.raises(errors.WorkdirError) as error:
            lock.acquire(workdir)
    finally:
        process.kill()
        process.wait()
    assert str(error.value) == (
        f"{workdir} is in use by process {process.pid} on "
        f"{socket.gethostname()} since 2026-12-05T12:00:00; wait for it to "
        "end, or pass another --workdir")
    # Refused, the holder's lock stays as it was.
    assert lock.holder(workdir)["pid"] == process.pid


def test_a_lock_whose_process_is_gone_is_taken_over(tmp_path):
    workdir = str(tmp_path)
    process = _other_process(workdir)
    process.kill()
    process.wait()
    lock.acquire(workdir)
    assert lock.holder(workdir)["pid"] == os.getpid()
    lock.release(workdir)


def test_a_lock_of_another_host_says_which_file_to_delete(tmp_path):
    workdir = str(tmp_path)
    with open(_lock_path(workdir), "w") as f:
        json.dump({"pid": 1, "host": "elsewhere", "started": None}, f)
    with pytest.raises(errors.WorkdirError,
                       match=r"in use by process 1 on elsewhere; .* \(if that "
                       r"run is gone, delete .*run\.lock\)"):
        lock.acquire(workdir)


def test_a_lock_being_written_counts_as_held(tmp_path):
    workdir = str(tmp_path)
    open(_lock_path(workdir), "w").close()  # Created, not yet written.
    with pytest.raises(errors.WorkdirError, match="in use by another run"):
        lock.acquire(workdir)


def test_release_leaves_another_processs_lock(tmp_path):
    workdir = str(tmp_path)
    with open(_lock_path(workdir), "w") as f:
        json.dump({"pid": os.getpid() + 1, "host": socket.gethostname()}, f)
    lock.release(workdir)
    assert os.path.exists(_lock_path(workdir))


def test_held_releases_when_the_block_raises(tmp_path):
    workdir = str(tmp_path)
    with pytest.raises(KeyError):
        with lock.held(workdir):
            assert lock.holder(workdir)["pid"] == os.getpid()
            raise KeyError("stop")
    assert lock.holder(workdir) is None
    with lock.held(workdir, take=False):  # A worker: nothing taken.
        assert lock.holder(workdir) is None
