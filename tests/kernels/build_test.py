"""Tests for zoo.kernels.build: from-source build, cache, and fallback."""

import logging
import os
import stat
import subprocess
import sys

import pytest
import tensorflow as tf

from zoo.kernels import build


@pytest.fixture
def fresh(monkeypatch, tmp_path):
    """An empty cache and no decision taken yet; restored afterwards."""
    monkeypatch.setenv(build.CACHE_VARIABLE, str(tmp_path / "cache"))
    monkeypatch.delenv(build.DISABLE_VARIABLE, raising=False)
    monkeypatch.setattr(build, "_loaded", {})
    return tmp_path / "cache"


def _fake_compiler(folder, script):
    path = folder / "fake-cxx"
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


@pytest.mark.skipif(build.compiler() is None, reason="no C++ compiler here")
@pytest.mark.slow
def test_builds_from_source_into_an_empty_cache_then_reuses_it(
        fresh, monkeypatch):
    # Built and loaded in a new process: a second copy of the ops in this
    # one would register their kernels twice.
    program = (
        "import tensorflow as tf\n"
        "from zoo.kernels import build\n"
        "library = build.build('rnn')\n"
        "module = tf.load_op_library(library)\n"
        "assert hasattr(module, 'zoo_rnn_forward')\n"
        "assert hasattr(module, 'zoo_rnn_backward')\n"
        "print(library)\n"
    )
    env = dict(os.environ, **{build.CACHE_VARIABLE: str(fresh)})
    result = subprocess.run([sys.executable, "-c", program], env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    library = result.stdout.strip().splitlines()[-1]
    assert library.startswith(str(fresh))
    assert f"tf{tf.__version__}-" in library
    # Here, the library is found: the compiler is not run again.
    monkeypatch.setattr(build.subprocess, "run", _must_not_run)
    assert build.build("rnn") == library
    assert os.listdir(os.path.dirname(library)) == ["zoo_rnn.so"]


def _must_not_run(*args, **kwargs):
    raise AssertionError("the compiler ran again")


@pytest.mark.skipif(build.compiler() is None, reason="no C++ compiler here")
@pytest.mark.slow
def test_without_openblas_the_eigen_build_gives_the_same_results(tmp_path):
    # Where scipy-openblas32 is missing the kernel's products use Eigen.
    program = tmp_path / "eigen.py"
    program.write_text(
        "import numpy as np\n"
        "from zoo.kernels import build, rnn\n"
        "build.blas_flags = lambda: []\n"
        "from zoo import cells\n"
        "from zoo.layers import Recurrent\n"
        "assert '-DZOO_OPENBLAS' not in build.command('g++', 's', 'l')\n"
        "assert rnn.ops() is not None, build.unavailable_reason('rnn')\n"
        "import tensorflow as tf\n"
        "for cell in (cells.LSTMCell(5, use_peepholes=True),\n"
        "             cells.GRUCell(5, reset_after=False)):\n"
        "    cell.build((None, 3))\n"
        "    x = tf.constant(np.random.default_rng(0).normal(\n"
        "        size=(20, 4, 3)).astype('f'))\n"
        "    state = cell.get_initial_state(20)\n"
        "    loop = Recurrent(cell, return_sequences=True, use_kernel=False,\n"
        "                     use_fused=False, batch_shards=1)\n"
        "    found = []\n"
        "    for fn in (lambda: rnn.run(cell, x, state),\n"
        "               lambda: loop._loop(x, state, None, None)):\n"
        "        with tf.GradientTape() as tape:\n"
        "            tape.watch(x)\n"
        "            out = fn()[1]\n"
        "            loss = tf.reduce_sum(tf.sin(out))\n"
        "        found.append([out, *tape.gradient(\n"
        "            loss, [x, *cell.trainable_weights])])\n"
        "    for a, b in zip(*found):\n"
        "        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)\n"
        "print('eigen ok')\n"
    )
    env = dict(os.environ, **{build.CACHE_VARIABLE: str(tmp_path / "cache")})
    env.pop(build.DISABLE_VARIABLE, None)
    result = subprocess.run([sys.executable, str(program)], env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "eigen ok" in result.stdout


def test_blas_flags_name_openblas_where_it_is_installed(monkeypatch):
    flags = build.blas_flags()
    if flags:
        assert flags[0] == "-DZOO_OPENBLAS"
        assert any(flag.startswith("-l") for flag in flags)
    real = build.importlib.import_module

    def without_openblas(name):
        if name == "scipy_openblas32":
            raise ImportError(name)
        return real(name)

    monkeypatch.setattr(build.importlib, "import_module", without_openblas)
    assert build.blas_flags() == []


def test_cache_key_follows_source_tensorflow_and_command(fresh, monkeypatch):
    first = build.library_path("rnn", "g++")
    assert build.library_path("rnn", "g++") == first
    assert build.library_path("rnn", "clang++") != first
    monkeypatch.setattr(build.tf, "__version__", "9.9.9")
    assert "tf9.9.9-" in build.library_path("rnn", "g++")
    monkeypatch.setattr(build, "OPTIMIZE_FLAGS", ("-O2",))
    assert build.library_path("rnn", "g++").split("-")[-1] != (
        first.split("-")[-1])


def test_cache_folder(monkeypatch, tmp_path):
    monkeypatch.setenv(build.CACHE_VARIABLE, str(tmp_path))
    assert build.cache_folder() == str(tmp_path)
    monkeypatch.delenv(build.CACHE_VARIABLE)
    monkeypatch.setenv("XDG_CACHE_HOME", "/somewhere")
    assert build.cache_folder() == "/somewhere/zoo/kernels"


def test_no_compiler_falls_back_with_one_line(fresh, monkeypatch, caplog):
    monkeypatch.delenv("CXX", raising=False)
    monkeypatch.setattr(build.shutil, "which", lambda name: None)
    with pytest.raises(build.BuildError, match=r"^no C\+\+ compiler found "
                       r"\(set CXX or install g\+\+\)$"):
        build.build("rnn")
    with caplog.at_level(logging.WARNING):
        assert build.load("rnn") is None
        assert build.load("rnn") is None  # Decided once: no second line.
    warnings = [r.getMessage() for r in caplog.records
                if r.levelno == logging.WARNING]
    assert warnings == [
        "zoo's compiled rnn kernel is not used (no C++ compiler found (set "
        "CXX or install g++)); the TensorFlow loop runs instead"
    ]
    assert build.unavailable_reason("rnn").startswith("no C++ compiler")


def test_a_failed_build_falls_back_and_leaves_no_library(
        fresh, monkeypatch, tmp_path):
    monkeypatch.setenv("CXX", _fake_compiler(
        tmp_path, "echo 'rnn.cc:1: note: something' >&2\n"
        "echo 'rnn.cc:2: error: boom' >&2\nexit 1\n"))
    with pytest.raises(build.BuildError,
                       match=r"^the build failed: rnn.cc:2: error: boom$"):
        build.build("rnn")
    assert build.load("rnn") is None
    assert build.unavailable_reason("rnn") == (
        "the build failed: rnn.cc:2: error: boom")
    for _, _, files in os.walk(fresh):
        assert files == []  # No partial library left behind.


def test_a_library_tensorflow_refuses_is_rebuilt_once_then_falls_back(
        fresh, monkeypatch, tmp_path):
    # The "compiler" writes a file that is no shared library, and counts.
    count = tmp_path / "count"
    monkeypatch.setenv("CXX", _fake_compiler(
        tmp_path, 'for a; do case "$last" in -o) out="$a";; esac;'
        f' last="$a"; done\necho x >> {count}\necho junk > "$out"\n'))
    assert build.load("rnn") is None
    assert build.unavailable_reason("rnn").startswith(
        "TensorFlow refused the built library: ")
    assert count.read_text().count("x") == 2


def test_the_compilers_telling_line_is_reported():
    stderr = ("In file included from /tf/errors.h:19,\n"
              "/usr/bin/ld: cannot find -lscipy_openblas\n"
              "collect2: error: ld returned 1 exit status\n")
    assert build._first_error(stderr) == (
        "/usr/bin/ld: cannot find -lscipy_openblas")
    assert build._first_error("a.h: note: x\nrnn.cc:3: error: boom\n") == (
        "rnn.cc:3: error: boom")
    assert build._first_error("only this\n") == "only this"
    assert build._first_error("") == "no message"


def test_another_cpu_gets_another_library(fresh, monkeypatch):
    first = build.library_path("rnn", "g++")
    monkeypatch.setattr(build, "_cpu_flags", lambda: "flags : sse2")
    assert build.library_path("rnn", "g++") != first


def test_a_build_that_hangs_is_stopped(fresh, monkeypatch, tmp_path):
    monkeypatch.setenv("CXX", _fake_compiler(tmp_path, "sleep 30\n"))
    monkeypatch.setattr(build, "BUILD_TIMEOUT_SECONDS", 0.5)
    with pytest.raises(build.BuildError,
                       match=r"^the build took more than 0.5 s$"):
        build.build("rnn")


@pytest.mark.parametrize("value", ["0", "false", "No", "off"])
def test_disabled_by_the_environment(fresh, monkeypatch, value):
    monkeypatch.setenv(build.DISABLE_VARIABLE, value)
    monkeypatch.setattr(build, "build", _must_not_run)
    assert build.load("rnn") is None
    assert build.unavailable_reason("rnn") == f"ZOO_KERNELS={value}"


def test_other_platforms_are_not_built(fresh, monkeypatch):
    monkeypatch.setattr(build.sys, "platform", "darwin")
    monkeypatch.setattr(build, "build", _must_not_run)
    assert build.load("rnn") is None
    assert build.unavailable_reason("rnn") == (
        "built on Linux only, not on darwin")


def test_reset_forgets_the_decision(fresh, monkeypatch):
    monkeypatch.setenv(build.DISABLE_VARIABLE, "0")
    assert build.load("rnn") is None
    build.reset()
    assert build._loaded == {}
