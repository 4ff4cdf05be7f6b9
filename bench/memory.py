r"""Peak memory of each recipe's run against the size of its corpus.

    python -m bench.memory [--quick] [--recipes=mnist_rnn,sentiment,...] \
        [--scales=1,10] [--epochs=1] [--workdir=/tmp/zoo-memory] \
        [--output=bench/results/memory.json]

For each recipe and scale, writes a corpus of that many times the
recipe's development data (the sizes of ../shared/data, in `CORPORA`;
`--quick`: a hundredth of them) in the format the recipe reads, then runs
`python -m zoo.recipes.<recipe>` on it as a child process (`--epochs`,
no export) and reads the child's peak resident memory (`ru_maxrss`).

The corpora are generated: MNIST digits of random strokes; texts of
made-up words (a Zipf-like draw from 20,000); sentences tagged by word;
pairs of such sentences; poems of random CJK characters. Labels are at
random; what a model learns does not matter here, only how much of the
corpus the run holds at once. `mnist_rnn` runs its default preset; the
text recipes run a small model on batches of 256 (`SMALL`), so that an
epoch over ten times their corpus takes minutes rather than hours: the
corpus, not the model, is what is measured.

A run that streams its corpus from disk peaks at about the same memory at
every scale; one that loads it grows with it. Sizes are in MiB (2^20
bytes). The results are printed as a markdown table and written as JSON.
"""

import gzip
import json
import os
import shutil
import subprocess
import sys

import numpy as np
from absl import app
from absl import flags

import bench

TRAIN, TEST = 60_000, 10_000
IMAGE = (28, 28)
# Examples per split of each recipe's development data in ../shared/data.
CORPORA = {
    "mnist_rnn": {"train": TRAIN, "test": TEST},
    "sentiment": {"train": 9_512, "test": 1_056},
    "tagger": {"train": 45_872, "dev": 5_734, "test": 5_734},
    "translate": {"pairs": 31_150},
    "poetry": {"poems": 57_603},
}
QUICK = 100  # --quick divides every corpus by this.
# The text recipes' small model (see the module docstring).
SMALL = ["--batch_size=256", "--units=16", "--embedding_dim=16"]
RECIPE_FLAGS = {
    "mnist_rnn": [],
    "sentiment": SMALL,
    "tagger": SMALL + ["--char_filters=8", "--char_embedding_dim=8"],
    "translate": SMALL + ["--beam_width=2", "--heatmaps=0"],
    # One pass over the corpus, not the preset's epochs of 500 steps.
    "poetry": SMALL + ["--samples=1", "--steps_per_epoch=0"],
}
# Test pairs or poems the recipes hold out of their one file, by default.
TEST_SIZES = {"translate": 1000, "poetry": 2000}
VOCABULARY = 20_000
TAGS = 190


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


def words(rng, count=VOCABULARY, letters="abcdefghijklmnopqrstuvwxyz"):
    """`count` distinct made-up words of 2 to 9 `letters`."""
    found = set()
    while len(found) < count:
        length = int(rng.integers(2, 10))
        found.add("".join(rng.choice(list(letters), length)))
    return sorted(found)


def sentences(rng, vocabulary, count, shortest=4, longest=40):
    """`count` lists of words: lengths uniform in [shortest, longest], the
    words drawn Zipf-like (a few frequent, most rare)."""
    for _ in range(count):
        length = int(rng.integers(shortest, longest + 1))
        ranks = (len(vocabulary) * rng.random(length) ** 3).astype(int)
        yield [vocabulary[r] for r in ranks]


def _write_lines(path, lines, compress=False):
    """Writes `lines` (str, without line ends) as UTF-8; returns bytes."""
    opener = gzip.open if compress else open
    with opener(path, "wt", encoding="utf-8", newline="\n") as f:
        for line in lines:
            f.write(line + "\n")
    return os.path.getsize(path)


def write_sentiment(folder, sizes, rng):
    """train.tsv and test.tsv of `label<TAB>text` rows; returns
    `(data path, bytes)`."""
    vocabulary = words(rng)
    written = sum(
        _write_lines(os.path.join(folder, f"{split}.tsv"), (
            f"{rng.integers(2)}\t{' '.join(words)}"
            for words in sentences(rng, vocabulary, count)))
        for split, count in sizes.items())
    return folder, written


def write_tagger(folder, sizes, rng):
    """train, dev and test CoNLL files, `token<TAB>tag` lines: each word
    has its tag (of `TAGS`)."""
    vocabulary = words(rng)
    tag_of = {w: f"T{rng.integers(TAGS)}" for w in vocabulary}
    written = sum(
        _write_lines(os.path.join(folder, f"{split}.conll"), (
            "\n".join(f"{w}\t{tag_of[w]}" for w in sentence) + "\n"
            for sentence in sentences(rng, vocabulary, count, 2, 40)))
        for split, count in sizes.items())
    return folder, written


def write_translate(folder, sizes, rng):
    """pairs.tsv of `source<TAB>target` lines; the target words have
    accented letters."""
    source, target = words(rng), words(rng, letters="aeiounrstlñáéíóú")
    path = os.path.join(folder, "pairs.tsv")
    pairs = zip(sentences(rng, source, sizes["pairs"], 3, 30),
                sentences(rng, target, sizes["pairs"], 3, 30))
    return path, _write_lines(
        path, (f"{' '.join(s)}\t{' '.join(t)}" for s, t in pairs))


def write_poetry(folder, sizes, rng):
    """poems.jsonl.gz of chinese-poetry objects: 2 to 8 lines of 5 or 7
    characters (of 5,000)."""
    characters = np.array([chr(0x4E00 + i) for i in range(5_000)])

    def poems():
        for i in range(sizes["poems"]):
            width, count = int(rng.choice([5, 7])), int(rng.integers(2, 9))
            drawn = rng.choice(characters, (count, width))
            lines = ["".join(line) + "。" for line in drawn]
            yield json.dumps({"title": f"poem {i}", "author": "bench",
                              "paragraphs": lines}, ensure_ascii=False)

    path = os.path.join(folder, "poems.jsonl.gz")
    return path, _write_lines(path, poems(), compress=True)


def write_mnist(folder, sizes, rng):
    """The four MNIST IDX files (see `write_corpus`)."""
    seed = int(rng.integers(2**31))
    return folder, write_corpus(folder, sizes["train"], sizes["test"], seed)


WRITERS = {"mnist_rnn": write_mnist, "sentiment": write_sentiment,
           "tagger": write_tagger, "translate": write_translate,
           "poetry": write_poetry}


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


def measure(recipe, scales, epochs, workdir, divide=1, seed=0):
    """One row per scale: corpus size, examples, peak memory and time."""
    rows = []
    for scale in scales:
        folder = os.path.join(workdir, f"{recipe}-x{scale}")
        shutil.rmtree(folder, ignore_errors=True)
        corpus = os.path.join(folder, "data")
        os.makedirs(corpus)
        sizes = {split: count * scale // divide
                 for split, count in CORPORA[recipe].items()}
        data, written = WRITERS[recipe](
            corpus, sizes, np.random.default_rng(seed))
        command = [
            sys.executable, "-m", f"zoo.recipes.{recipe}", f"--data={data}",
            f"--workdir={os.path.join(folder, 'run')}", "--export_dir=",
            f"--epochs={epochs}", *RECIPE_FLAGS[recipe],
        ]
        if divide > 1 and recipe in TEST_SIZES:
            command.append(f"--test_size={TEST_SIZES[recipe] // divide}")
        peak, seconds = peak_memory(command)
        examples = sum(sizes.values())
        rows.append({"recipe": recipe, "scale": scale, "examples": examples,
                     "corpus_mb": written / 2**20, "peak_rss_mb": peak,
                     "seconds": seconds})
        print(f"{recipe} x{scale}: {examples:,} examples, "
              f"{written / 2**20:.0f} MiB corpus, peak {peak:.0f} MiB, "
              f"{seconds:.0f} s", flush=True)
        shutil.rmtree(folder, ignore_errors=True)
    return rows


def table(result):
    lines = ["| recipe | corpus | examples | on disk (MiB) "
             "| peak memory (MiB) | seconds |", "|---|---|---|---|---|---|"]
    for row in result["rows"]:
        lines.append(
            f"| {row['recipe']} | x{row['scale']} | {row['examples']:,} | "
            f"{row['corpus_mb']:.0f} | {row['peak_rss_mb']:.0f} | "
            f"{row['seconds']:.0f} |")
    return "\n".join(lines)


def define_flags(flag_values=flags.FLAGS):
    """Defines the program's flags into `flag_values` (none at import)."""
    into = dict(flag_values=flag_values)
    flags.DEFINE_boolean(
        "quick", False, f"Corpora of 1/{QUICK} of the development data per "
        "unit of scale: a smoke run.", **into)
    flags.DEFINE_list("recipes", list(CORPORA), "Recipes to measure.",
                      **into)
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
    unknown = sorted(set(flag_values.recipes) - set(CORPORA))
    if unknown or not flag_values.recipes:
        raise app.UsageError(
            f"--recipes must name some of {', '.join(CORPORA)}, got "
            f"{flag_values.recipes}")
    divide = QUICK if flag_values.quick else 1
    rows = []
    for recipe in flag_values.recipes:
        rows += measure(recipe, scales, flag_values.epochs,
                        flag_values.workdir, divide)
    result = {"epochs": flag_values.epochs, "quick": flag_values.quick,
              "rows": rows}
    print(table(result))
    bench.write_json(result, flag_values.output)


if __name__ == "__main__":
    define_flags()
    app.run(main)
