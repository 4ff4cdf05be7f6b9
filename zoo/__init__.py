"""zoo: masked recurrent building blocks and recipes for Keras 3.

Importing zoo sets two of TensorFlow's environment settings, each only
where the user has not: a quiet C++ log and pooled CPU memory (see
`_quiet_tensorflow` and `_pool_cpu_memory`)."""

import contextlib
import importlib.abc
import importlib.util
import os
import re
import sys
import tempfile

__version__ = "0.1.0"

# TensorFlow's C++ start-up notes, printed while its libraries load: absl's
# "before InitializeLog" warning and info-level lines (`I1205 12:00:00...`).
_STARTUP_NOTE = re.compile(
    rb"^(WARNING: All log messages before absl::InitializeLog\(\)"
    rb"|I\d{4} )")


@contextlib.contextmanager
def _without_startup_notes():
    """File descriptor 2 goes to a temporary file for the block; then
    everything written there but TensorFlow's start-up notes goes to the
    real stderr (also when the block raises)."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (AttributeError, OSError, ValueError):  # No usable fd 2.
        yield
        return
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            rest = b"".join(line for line in caught.read().splitlines(True)
                            if not _STARTUP_NOTE.match(line))
            while rest:
                rest = rest[os.write(2, rest):]


class _QuietLoader(importlib.abc.Loader):
    """TensorFlow's own loader, its module run without start-up notes."""

    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        with _without_startup_notes():
            self._loader.exec_module(module)

    def __getattr__(self, name):  # Resource readers and the like.
        return getattr(self._loader, name)


class _QuietTensorFlow(importlib.abc.MetaPathFinder):
    """Finds `tensorflow` once, as the other finders do, with its loader
    wrapped in `_QuietLoader`; then leaves `sys.meta_path`."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


def _quiet_tensorflow():
    """Quiets TensorFlow's C++ log, unless the user chose a level.

    Sets TF_CPP_MIN_LOG_LEVEL=3: no info, warnings or error-level notes
    (a missing CUDA driver on a CPU machine, oneDNN falling back to Eigen);
    failures still raise in Python. TensorFlow 2.21 also prints a start-up
    banner, twice, while its libraries load and before any log level
    applies: when it is imported (later, by whichever module needs it; zoo
    itself imports quickly), its banner lines are held back and everything
    else it writes to stderr is passed on. A user who sets
    TF_CPP_MIN_LOG_LEVEL (0 shows it all) sees TensorFlow's log untouched.
    """
    if "TF_CPP_MIN_LOG_LEVEL" in os.environ or "tensorflow" in sys.modules:
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    sys.meta_path.insert(0, _QuietTensorFlow())


_quiet_tensorflow()


def _pool_cpu_memory():
    """TensorFlow's CPU tensors from its pooling allocator (BFC), unless
    the user chose.

    By default TensorFlow takes every CPU tensor from malloc, and a
    training step's large tensors (a recurrent layer's workspace, its
    gradients) come back as fresh pages that the system zeroes on first
    touch: hundreds to thousands of page faults per step, about a tenth of
    an LSTM training step's time (docs/performance.md). TensorFlow's BFC
    allocator keeps freed memory for the next step; it grows as needed and
    holds its peak. The setting takes effect if zoo is imported before
    TensorFlow runs its first operation. TF_CPU_ALLOCATOR_USE_BFC=0 keeps
    malloc.
    """
    os.environ.setdefault("TF_CPU_ALLOCATOR_USE_BFC", "1")


_pool_cpu_memory()
