"""One live run per workdir: a lock file holding its process id and host.

`run` (`zoo.training.task`) holds its workdir for the whole run: a second
run started on the same workdir stops at once with one line naming the
process that holds it, instead of both writing the same data records,
checkpoints and exports. The lock is released when the run ends, however
it ends; one left behind by a process that is gone (killed, or its machine
rebooted) is taken over, when the holder ran on this host. A lock from
another host cannot be checked from here: its message says which file to
delete once that run is known to be gone.

Only the chief of a multi-worker cluster takes the lock; the other workers
share the chief's workdir as they always have.
"""

import contextlib
import datetime
import json
import os
import socket

from zoo import errors

LOCK_FILE = "run.lock"


def holder(workdir):
    """`{"pid", "host", "started"}` of the run holding `workdir`, or None."""
    try:
        with open(os.path.join(workdir, LOCK_FILE)) as f:
            return json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError):  # Being written, or cut short.
        return {"pid": None, "host": None, "started": None}


def _alive(pid):
    """True if process `pid` runs on this host (or cannot be told apart)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # Someone else's process: alive.
        return True
    return True


def _gone(found):
    """True if the holder `found` is a process of this host that ended."""
    return (found is not None and found.get("host") == socket.gethostname()
            and isinstance(found.get("pid"), int) and not _alive(found["pid"]))


def _in_use(workdir, found):
    path = os.path.join(workdir, LOCK_FILE)
    who = (f"process {found['pid']} on {found['host']}"
           if found.get("pid") else "another run")
    since = f" since {found['started']}" if found.get("started") else ""
    message = (f"{workdir} is in use by {who}{since}; wait for it to end, or "
               "pass another --workdir")
    if found.get("host") != socket.gethostname():
        message += f" (if that run is gone, delete {path})"
    return errors.WorkdirError(message)


def acquire(workdir):
    """Takes `workdir` for this process.

    Raises:
        zoo.errors.WorkdirError: Another live run holds it.
    """
    os.makedirs(workdir, exist_ok=True)
    path = os.path.join(workdir, LOCK_FILE)
    me = {"pid": os.getpid(), "host": socket.gethostname(),
          "started": datetime.datetime.now().isoformat(timespec="seconds")}
    for _ in range(2):  # A second try after taking over a stale lock.
        try:
            # O_EXCL: of two runs starting at once, exactly one creates it.
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            found = holder(workdir)
            if found is not None and not _gone(found):
                raise _in_use(workdir, found) from None
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
            continue
        with os.fdopen(fd, "w") as f:
            json.dump(me, f)
        return
    raise _in_use(workdir, holder(workdir) or {})


def release(workdir):
    """Gives `workdir` up, if this process holds it."""
    found = holder(workdir)
    if (found is not None and found.get("pid") == os.getpid()
            and found.get("host") == socket.gethostname()):
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(workdir, LOCK_FILE))


@contextlib.contextmanager
def held(workdir, take=True):
    """Holds `workdir` for the `with` block (nothing when not `take`)."""
    if not take:
        yield
        return
    acquire(workdir)
    try:
        yield
    finally:
        release(workdir)
