"""bench.memory: generated corpora, peak memory of a child, a quick run."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from absl import app
from absl import flags

from bench import memory
from zoo.data import mnist

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_digits_are_bright_strokes_on_black():
    images = memory.digits(50, np.random.default_rng(0))
    assert images.shape == (50, 28, 28) and images.dtype == np.uint8
    assert set(np.unique(images)) == {0, 255}
    lit = (images == 255).sum(axis=(1, 2))
    assert lit.min() >= 9 and lit.max() <= 3 * 9  # Three crosses of 9.


def test_write_corpus_writes_mnist_idx_files_in_chunks(tmp_path):
    written = memory.write_corpus(str(tmp_path), train=25, test=7, chunk=10)
    splits = mnist.load_idx_dir(str(tmp_path))
    assert splits.train_images.shape == (25, 28, 28)
    assert splits.test_images.shape == (7, 28, 28)
    assert set(splits.train_labels) <= set(range(10))
    assert written == (16 + 25 * 784) + (8 + 25) + (16 + 7 * 784) + (8 + 7)
    # Chunks continue one random stream: not the same strokes repeated.
    assert not np.array_equal(splits.train_images[:10],
                              splits.train_images[10:20])


def test_peak_memory_is_the_childs_largest_resident_set():
    small, _ = memory.peak_memory([sys.executable, "-c", "pass"])
    large, seconds = memory.peak_memory(
        [sys.executable, "-c", "x = bytearray(300 * 2**20); x[::4096] = "
         "b'1' * len(x[::4096])"])
    assert large - small > 250
    assert seconds > 0


def test_peak_memory_reports_a_failed_command():
    with pytest.raises(RuntimeError, match=r"(?s)failed:\n.*ZeroDivisionError"):
        memory.peak_memory([sys.executable, "-c", "1 / 0"])


def test_table_has_one_row_per_scale():
    result = {"rows": [
        {"scale": 1, "train_images": 600, "corpus_mb": 0.5,
         "peak_rss_mb": 700.4, "seconds": 12.2},
        {"scale": 10, "train_images": 6000, "corpus_mb": 5.2,
         "peak_rss_mb": 705.0, "seconds": 20.0},
    ]}
    assert memory.table(result).splitlines()[2:] == [
        "| x1 | 600 | 0 | 700 | 12 |", "| x10 | 6,000 | 5 | 705 | 20 |"]


@pytest.mark.parametrize("scales", [["a"], ["0"], ["1", "-2"]])
def test_main_rejects_bad_scales(scales):
    values = flags.FlagValues()
    memory.define_flags(values)
    values(["prog", f"--scales={','.join(scales)}"])
    with pytest.raises(app.UsageError, match="--scales must be whole numbers"):
        memory.main(["prog"], values)


def test_importing_defines_no_flags():
    assert "scales" not in flags.FLAGS


@pytest.mark.slow
def test_quick_run_writes_a_table_and_json(tmp_path):
    output = tmp_path / "memory.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.memory", "--quick", "--scales=1,2",
         f"--workdir={tmp_path / 'work'}", f"--output={output}"],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| x2 | 1,200 |" in done.stdout
    result = json.loads(output.read_text())
    assert [row["train_images"] for row in result["rows"]] == [600, 1200]
    assert all(row["peak_rss_mb"] > 100 for row in result["rows"])
    assert result["quick"] is True
    assert not os.listdir(tmp_path / "work")  # Corpora and runs removed.
