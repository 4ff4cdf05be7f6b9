r"""The development corpora of model selection, cut from ../shared/data.

    python -m bench.dev_data [--shared=../shared/data] [--out=/tmp/zoo-dev]

Writes, below `--out` (never into the repository):
- `brown_names_500/`, `brown_names_1000/`: `brown_names` with its first
  500 or 1,000 training sentences, the same dev and test files (the
  learning curve; all 2,000 are `../shared/data/brown_names` itself);
- `mr_2000/`: `sentence_polarity` with its first 2,000 training rows and
  the same test file.

Each recipe's defaults are measured on these and on its own corpus, with
no flags but `--data`, `--workdir` and `--export_dir` (see
`bench/README.md`); the other corpora are read where they are.
"""

import os
import shutil

from absl import app
from absl import flags

FLAGS = flags.FLAGS
flags.DEFINE_string("shared", "../shared/data", "The shared data folder.")
flags.DEFINE_string("out", "/tmp/zoo-dev", "Where the cut corpora go.")

NAMES_SIZES = (500, 1000)
MR_SIZE = 2000


def first_sentences(path, count):
    """The first `count` blank-line-separated sentences of a CoNLL file,
    as text ending in a blank line."""
    sentences, lines = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                lines.append(line)
            elif lines:
                sentences.append("".join(lines))
                lines = []
                if len(sentences) == count:
                    break
    if lines and len(sentences) < count:
        sentences.append("".join(lines))
    return "\n".join(sentences) + "\n"


def first_rows(path, count):
    """The header and the first `count` rows of a TSV file."""
    with open(path, encoding="utf-8", newline="") as f:
        header = f.readline()
        rows = [f.readline() for _ in range(count)]
    return header + "".join(rows)


def write(shared, out):
    """Writes the cut corpora; returns {name: folder}."""
    written = {}
    names = os.path.join(shared, "brown_names")
    for size in NAMES_SIZES:
        folder = os.path.join(out, f"brown_names_{size}")
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "train.conll"), "w",
                  encoding="utf-8") as f:
            f.write(first_sentences(os.path.join(names, "train.conll"), size))
        for split in ("dev", "test"):
            shutil.copyfile(os.path.join(names, f"{split}.conll"),
                            os.path.join(folder, f"{split}.conll"))
        written[folder] = size
    folder = os.path.join(out, f"mr_{MR_SIZE}")
    os.makedirs(folder, exist_ok=True)
    polarity = os.path.join(shared, "sentence_polarity")
    with open(os.path.join(folder, "train.tsv"), "w", encoding="utf-8",
              newline="") as f:
        f.write(first_rows(os.path.join(polarity, "train.tsv"), MR_SIZE))
    shutil.copyfile(os.path.join(polarity, "test.tsv"),
                    os.path.join(folder, "test.tsv"))
    written[folder] = MR_SIZE
    return written


def main(argv):
    del argv
    for folder, size in write(FLAGS.shared, FLAGS.out).items():
        print(f"{folder}: {size} training examples")


if __name__ == "__main__":
    app.run(main)
