"""Tests for zoo/__init__.py: after importing zoo, TensorFlow's C++ log is
quiet (its start-up banner included), unless the user chose a level, and
its CPU tensors come from its pooling allocator, unless the user chose."""

import os
import pathlib
import subprocess
import sys

import pytest

REPO = str(pathlib.Path(__file__).resolve().parents[1])
SHOW = "import os, zoo; print(os.environ['TF_CPP_MIN_LOG_LEVEL'])"


def _env(**given):
    env = {k: v for k, v in os.environ.items()
           if k not in ("TF_CPP_MIN_LOG_LEVEL", "TF_CPU_ALLOCATOR_USE_BFC")}
    return {**env, **given}


def _run(code, env):
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("given, expected", [(None, "3"), ("0", "0")])
def test_zoo_sets_the_tensorflow_log_level_unless_given(given, expected):
    env = _env(**({"TF_CPP_MIN_LOG_LEVEL": given} if given else {}))
    done = _run(SHOW, env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == expected


def test_importing_zoo_then_tensorflow_prints_nothing():
    done = _run("import zoo, tensorflow", _env())
    assert done.returncode == 0
    assert done.stderr == ""


# A stand-in TensorFlow that writes what the real one's libraries write at
# load (the banner), plus lines that are not the banner.
FAKE_TENSORFLOW = r'''
import os, sys
os.write(2, b"WARNING: All log messages before absl::InitializeLog() is "
            b"called are written to STDERR\n"
            b"I0000 00:00:1.5 1 port.cc:153] oneDNN custom operations\n"
            b"E0000 00:00:1.5 1 something.cc:1] a real error\n")
print("a Python warning", file=sys.stderr)
if os.environ.get("FAKE_FAILS"):
    raise ImportError("fake tensorflow is broken")
'''


@pytest.fixture
def fake_tensorflow(tmp_path):
    package = tmp_path / "tensorflow"
    package.mkdir()
    (package / "__init__.py").write_text(FAKE_TENSORFLOW)
    return str(tmp_path)


def test_only_the_banner_is_held_back(fake_tensorflow):
    done = _run("import zoo, tensorflow",
                _env(PYTHONPATH=f"{fake_tensorflow}:{REPO}"))
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        "E0000 00:00:1.5 1 something.cc:1] a real error", "a Python warning"]


def test_a_failing_import_still_shows_what_it_printed(fake_tensorflow):
    done = _run("import zoo, tensorflow",
                _env(PYTHONPATH=f"{fake_tensorflow}:{REPO}", FAKE_FAILS="1"))
    assert done.returncode == 1
    assert "a real error" in done.stderr
    assert "ImportError: fake tensorflow is broken" in done.stderr


def test_zoo_alone_does_not_import_tensorflow():
    done = _run("import sys, zoo; print('tensorflow' in sys.modules)", _env())
    assert done.stdout.strip() == "False", done.stderr


def test_a_user_who_sets_the_level_sees_the_whole_log(fake_tensorflow):
    done = _run("import zoo, tensorflow",
                _env(PYTHONPATH=f"{fake_tensorflow}:{REPO}",
                     TF_CPP_MIN_LOG_LEVEL="0"))
    assert done.returncode == 0, done.stderr
    assert "before absl::InitializeLog()" in done.stderr


# Only a pooling allocator keeps statistics: with malloc, TensorFlow has
# none to report for the CPU.
POOLED = """
import zoo, tensorflow as tf
tf.ones([1000])
try:
    print(tf.config.experimental.get_memory_info("CPU:0")["peak"] > 0)
except ValueError:
    print("malloc")
"""


@pytest.mark.parametrize("given, expected", [(None, "True"), ("0", "malloc")])
def test_zoo_pools_cpu_memory_unless_given(given, expected):
    env = _env(**({"TF_CPU_ALLOCATOR_USE_BFC": given} if given else {}))
    done = _run(POOLED, env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == expected
