"""Tests for zoo/__init__.py: importing zoo first quiets TensorFlow's C++
log, unless the user chose a level."""

import os
import subprocess
import sys

import pytest

SHOW = "import os, zoo; print(os.environ['TF_CPP_MIN_LOG_LEVEL'])"


@pytest.mark.parametrize("given, expected", [(None, "3"), ("0", "0")])
def test_zoo_sets_the_tensorflow_log_level_unless_given(given, expected):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    if given is not None:
        env["TF_CPP_MIN_LOG_LEVEL"] = given
    done = subprocess.run([sys.executable, "-c", SHOW], env=env,
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip() == expected
