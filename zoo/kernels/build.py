"""Builds zoo's compiled CPU kernels on this machine, once, and loads them.

The C++ sources ship with the package (`zoo/kernels/*.cc`). On first use,
`load()` compiles one with the system's C++ compiler (`$CXX`, else `g++`,
else `c++`) against the installed TensorFlow's own headers and flags
(`tf.sysconfig`), into a cache folder keyed by the TensorFlow version and
a hash of the source, the command (compiler, flags, OpenBLAS version)
and the CPU's features: a new TensorFlow, source, compiler or CPU builds
again, anything else loads the cached library. Nothing prebuilt is
fetched from anywhere. The matrix products call OpenBLAS from the
`scipy-openblas32` package (a pinned dependency: NumPy's and SciPy's own
build of it) where it is installed, else Eigen (from TensorFlow's
headers), about half as fast here.

Linux only. When the kernel cannot be had (another system, no compiler,
a failed build, a library TensorFlow refuses even once rebuilt, or
`ZOO_KERNELS=0` in the environment), `load()`
returns None and logs one line saying why; callers then take their
TensorFlow path. `unavailable_reason()` gives the same reason.

Environment:
    ZOO_KERNELS: `0` disables the compiled kernels (the TensorFlow loop
        runs everywhere).
    ZOO_KERNEL_CACHE: Folder of built libraries. Default:
        `$XDG_CACHE_HOME/zoo/kernels`, else `~/.cache/zoo/kernels`.
    CXX: The C++ compiler.
"""

import hashlib
import importlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading

import tensorflow as tf
from absl import logging

SOURCE_FOLDER = os.path.dirname(os.path.abspath(__file__))
DISABLE_VARIABLE = "ZOO_KERNELS"
CACHE_VARIABLE = "ZOO_KERNEL_CACHE"
BUILD_TIMEOUT_SECONDS = 600
# -march=native: the library is built for, and only used on, this machine.
OPTIMIZE_FLAGS = ("-O3", "-march=native")

_lock = threading.Lock()
_loaded = {}  # name -> (module or None, reason or None)


class BuildError(RuntimeError):
    """The compiler failed or is missing; the message says why, on one line."""


def cache_folder():
    """Where built libraries are kept (see the module docstring)."""
    folder = os.environ.get(CACHE_VARIABLE)
    if folder:
        return folder
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(
        os.path.expanduser("~"), ".cache"
    )
    return os.path.join(base, "zoo", "kernels")


def compiler():
    """The C++ compiler's path, or None when none is found."""
    candidates = [os.environ["CXX"]] if os.environ.get("CXX") else []
    candidates += ["g++", "c++"]
    for candidate in candidates:
        path = shutil.which(candidate)
        if path:
            return path
    return None


def blas_flags():
    """Compile and link flags for OpenBLAS (scipy-openblas32), or `[]`
    where the package is missing (the kernels then use Eigen)."""
    try:
        openblas = importlib.import_module("scipy_openblas32")
    except ImportError:
        return []
    lib = openblas.get_lib_dir()
    return [
        "-DZOO_OPENBLAS",
        # The version in the command, so that another one builds again.
        f"-DZOO_OPENBLAS_VERSION={openblas.__version__}",
        f"-I{openblas.get_include_dir()}",
        f"-L{lib}",
        f"-Wl,-rpath,{lib}",
        f"-l{openblas.get_library()}",
    ]


def command(cxx, source, library):
    """The compile-and-link command line of `source` into `library`."""
    return [
        cxx,
        "-std=c++17",
        "-shared",
        "-fPIC",
        *OPTIMIZE_FLAGS,
        "-w",  # TensorFlow's headers warn by the hundred.
        *tf.sysconfig.get_compile_flags(),
        source,
        "-o",
        library,
        *tf.sysconfig.get_link_flags(),
        *blas_flags(),
    ]


def library_path(name, cxx, folder=None):
    """The cached library of kernel `name` built by `cxx`: keyed by the
    TensorFlow version and a hash of the source and the build command."""
    source = os.path.join(SOURCE_FOLDER, f"{name}.cc")
    with open(source, "rb") as f:
        digest = hashlib.sha256(f.read())
    digest.update(" ".join(command(cxx, "SOURCE", "LIBRARY")).encode())
    # -march=native: a library built on another CPU (a shared home, an
    # image) may use instructions this one lacks.
    digest.update(_cpu_flags().encode())
    key = f"tf{tf.__version__}-{digest.hexdigest()[:16]}"
    return os.path.join(folder or cache_folder(), key, f"zoo_{name}.so")


def _cpu_flags():
    """The CPU's feature flags (Linux), or "" where they cannot be read."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    return line
    except OSError:
        pass
    return ""


def build(name, folder=None):
    """Compiles kernel `name` into the cache unless it is there already.

    Returns:
        The library's path.

    Raises:
        BuildError: No compiler, or the build failed (the compiler's first
            error line in the message).
    """
    cxx = compiler()
    if cxx is None:
        raise BuildError("no C++ compiler found (set CXX or install g++)")
    library = library_path(name, cxx, folder)
    if os.path.exists(library):
        return library
    os.makedirs(os.path.dirname(library), exist_ok=True)
    source = os.path.join(SOURCE_FOLDER, f"{name}.cc")
    logging.info("Building zoo's %s kernel with %s (once per TensorFlow "
                 "version; about half a minute)...", name, cxx)
    # Built beside its final name, then renamed: another process never
    # loads half a library, and two builds at once both end well.
    fd, partial = tempfile.mkstemp(
        suffix=".so", prefix=".partial-", dir=os.path.dirname(library)
    )
    os.close(fd)
    try:
        try:
            result = subprocess.run(
                command(cxx, source, partial), capture_output=True,
                text=True, timeout=BUILD_TIMEOUT_SECONDS,
            )
        except subprocess.TimeoutExpired as error:
            raise BuildError(
                f"the build took more than {BUILD_TIMEOUT_SECONDS} s"
            ) from error
        if result.returncode != 0:
            raise BuildError(f"the build failed: {_first_error(result.stderr)}")
        os.replace(partial, library)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    logging.info("Built %s", library)
    return library


def _first_error(stderr):
    """The line of the compiler's output that says what went wrong."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for marks in (("cannot find", "undefined reference"), ("error:",)):
        for line in lines:
            if any(mark in line for mark in marks):
                return line
    return lines[-1] if lines else "no message"


def disabled():
    """True when `ZOO_KERNELS=0` (or `false`, `no`, `off`) is set."""
    value = os.environ.get(DISABLE_VARIABLE, "").strip().lower()
    return value in ("0", "false", "no", "off")


def load(name):
    """The op module of kernel `name`, built if needed, or None.

    The first call per process decides: on failure it logs one warning
    with the reason and later calls return None at once.
    """
    with _lock:
        if name not in _loaded:
            _loaded[name] = _load(name)
            module, reason = _loaded[name]
            if module is None:
                logging.warning(
                    "zoo's compiled %s kernel is not used (%s); the "
                    "TensorFlow loop runs instead", name, reason
                )
        return _loaded[name][0]


def unavailable_reason(name):
    """Why `load(name)` returns None, or None when the kernel loads."""
    load(name)
    return _loaded[name][1]


def _load(name):
    if disabled():
        return None, f"{DISABLE_VARIABLE}={os.environ[DISABLE_VARIABLE]}"
    if sys.platform != "linux":
        return None, f"built on Linux only, not on {sys.platform}"
    message = None
    for attempt in range(2):
        try:
            library = build(name)
        except (BuildError, OSError) as error:
            return None, str(error)
        try:
            return tf.load_op_library(library), None
        except Exception as error:  # noqa: BLE001 - any refusal falls back.
            message = (str(error).strip().splitlines() or [repr(error)])[0]
        if attempt == 0:
            # A cached library TensorFlow refuses (damaged, or from another
            # build): built once more from the source.
            try:
                os.remove(library)
            except OSError:
                break
    return None, f"TensorFlow refused the built library: {message}"


def reset():
    """Forgets what `load` decided (tests use it after changing the
    environment); a library already loaded stays in the process."""
    with _lock:
        _loaded.clear()
