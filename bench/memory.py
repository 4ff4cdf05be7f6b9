r"""Peak memory of a recipe run against the size of its corpus.

    python -m bench.memory [--quick] [--scales=1,10] [--epochs=1] \
        [--workdir=/tmp/zoo-memory] [--output=bench/results/memory.json]

For each scale, writes an MNIST corpus of that many times the development
data (60,000 training and 10,000 test images; `--quick`: 600 and 100) as
raw IDX files, then runs `python -m zoo.recipes.mnist_rnn` on it as a
child process (default preset, but `--epochs` and no export) and reads
the child's peak resident memory (`ru_maxrss`). The corpus is generated:
digits of random strokes, labels at random; what the model learns does
not matter here, only how much of the corpus the run holds at once.

A run that streams its corpus from disk peaks at about the same memory at
every scale; one that loads it grows with it (the images alone are 52 MiB
per development-sized corpus). Sizes are in MiB (2^20 bytes). The results
are printed as a markdown table and written as JSON.
"""

import os
import shutil
import subprocess
import sys

import numpy as np
from absl import app
from absl import flags

import bench

TRAIN, TEST = 60_000, 10_000
QUICK_TRAIN, QUICK_TEST = 600, 100
IMAGE = (28, 28)


def write_idx(path, array):
    """`array` (uint8) as an IDX file: zeros, type, rank, big-endian dims."""
    with open(path, "wb") as f:
        f.write(bytes([0, 0, 0x08, array.ndim]))
        f.write(b"".join(int(d).to_bytes(4, "big") for d in array.shape))
        f.write(np.ascontiguousarray(array, np.uint8).tobytes())


def digits(count, rng):
    """`count` images `[28, 28]` of a few random bright strokes each."""
    images = np.zeros((count, *IMAGE), np.uint8)
    rows = rng.integers(4, 24, size=(count, 3))
    cols = rng.integers(4, 24, size=(count, 3))
    for stroke in range(3):
        for offset in range(-2, 3):
            images[np.arange(count), rows[:, stroke] + offset,
                   cols[:, stroke]] = 255
            images[np.arange(count), rows[:, stroke],
                   cols[:, stroke] + offset] = 255
    return images


def write_corpus(folder, train, test, seed=0, chunk=60_000):
    """The four MNIST IDX files of `train` and `test` generated images.

    Written a chunk at a time, so that writing a large corpus does not
    hold it in this process either. Returns the bytes written.
    """
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    for prefix, count in (("train", train), ("t10k", test)):
        images = os.path.join(folder, f"{prefix}-images-idx3-ubyte")
        with open(images, "wb") as f:
            f.write(bytes([0, 0, 0x08, 3]))
            f.write(b"".join(d.to_bytes(4, "big") for d in (count, *IMAGE)))
            for start in range(0, count, chunk):
                f.write(digits(min(chunk, count - start), rng).tobytes())
        write_idx(os.path.join(folder, f"{prefix}-labels-idx1-ubyte"),
                  rng.integers(0, 10, size=count).astype(np.uint8))
    return sum(os.path.getsize(os.path.join(folder, name))
               for name in os.listdir(folder))


def peak_memory(command, env=None):
    """Runs `command`; returns `(peak resident MiB, seconds)` of the child.

    Each measurement runs in its own process: `ru_maxrss` of
    `RUSAGE_CHILDREN` is the largest of all children waited for, so this
    one exists only to run `command`.
    """
    probe = (
        "import resource, subprocess, sys, time\n"
        "start = time.perf_counter()\n"
        "subprocess.run(sys.argv[1:], check=True)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,\n"
        "      time.perf_counter() - start)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe, *command], env=env,
                          capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n"
                           f"{done.stderr[-3000:]}")
    kilobytes, seconds = done.stdout.split()[-2:]
    return int(kilobytes) / 1024, float(seconds)


def measure(scales, epochs, workdir, train=TRAIN, test=TEST):
    """One row per scale: corpus size, images, peak memory and time."""
    rows = []
    for scale in scales:
        folder = os.path.join(workdir, f"x{scale}")
        shutil.rmtree(folder, ignore_errors=True)
        corpus = os.path.join(folder, "data")
        written = write_corpus(corpus, train * scale, test * scale)
        command = [
            sys.executable, "-m", "zoo.recipes.mnist_rnn", f"--data={corpus}",
            f"--workdir={os.path.join(folder, 'run')}", "--export_dir=",
            f"--epochs={epochs}",
        ]
        peak, seconds = peak_memory(command)
        rows.append({"scale": scale, "train_images": train * scale,
                     "test_images": test * scale,
                     "corpus_mb": written / 2**20, "peak_rss_mb": peak,
                     "seconds": seconds})
        print(f"x{scale}: {written / 2**20:.0f} MiB corpus, peak "
              f"{peak:.0f} MiB, {seconds:.0f} s", flush=True)
        shutil.rmtree(folder, ignore_errors=True)
    return {"recipe": "mnist_rnn", "epochs": epochs, "rows": rows}


def table(result):
    lines = ["| corpus | train images | on disk (MiB) | peak memory (MiB) "
             "| seconds |", "|---|---|---|---|---|"]
    for row in result["rows"]:
        lines.append(
            f"| x{row['scale']} | {row['train_images']:,} | "
            f"{row['corpus_mb']:.0f} | {row['peak_rss_mb']:.0f} | "
            f"{row['seconds']:.0f} |")
    return "\n".join(lines)


def define_flags(flag_values=flags.FLAGS):
    """Defines the program's flags into `flag_values` (none at import)."""
    into = dict(flag_values=flag_values)
    flags.DEFINE_boolean(
        "quick", False, "Corpora of 600 training images per unit of "
        "scale: a smoke run.", **into)
    flags.DEFINE_list("scales", ["1", "10"], "Corpus sizes, in multiples of "
                      "the development data.", **into)
    flags.DEFINE_integer("epochs", 1, "Epochs of each run.", lower_bound=1,
                         **into)
    flags.DEFINE_string("workdir", "/tmp/zoo-memory", "Where the corpora "
                        "and runs are written (and deleted after).", **into)
    flags.DEFINE_string("output", "bench/results/memory.json",
                        "Where the JSON results go.", **into)


def main(argv, flag_values=flags.FLAGS):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    try:
        scales = [int(s) for s in flag_values.scales]
    except ValueError:
        raise app.UsageError(
            f"--scales must be whole numbers, got {flag_values.scales}")
    if not scales or min(scales) < 1:
        raise app.UsageError(
            f"--scales must be whole numbers >= 1, got {flag_values.scales}")
    sizes = ((QUICK_TRAIN, QUICK_TEST) if flag_values.quick
             else (TRAIN, TEST))
    result = measure(scales, flag_values.epochs, flag_values.workdir, *sizes)
    result["quick"] = flag_values.quick
    print(table(result))
    bench.write_json(result, flag_values.output)


if __name__ == "__main__":
    define_flags()
    app.run(main)
