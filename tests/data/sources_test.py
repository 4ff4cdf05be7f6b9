"""Tests for zoo.data.sources: local paths, the network probe, tfds checks.

No test contacts a host: `socket.create_connection` is replaced for every
test (by a function that refuses, unless a test installs its own fake).
"""

import re
import socket
import time

import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from zoo import errors
from zoo.data import sources

# Never resolved: every test replaces socket.create_connection.
FAKE_HOSTS = (("host-a.invalid", 443), ("host-b.invalid", 80))


def _refuse(address, timeout=None, *args, **kwargs):
    raise OSError(f"no network in tests ({address})")


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    monkeypatch.setattr(socket, "create_connection", _refuse)


class _FakeConnection:
    """What a successful create_connection returns: a context manager."""

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        return False


def test_is_local_true_for_existing_file_and_folder(tmp_path):
    path = tmp_path / "data.txt"
    path.write_text("x")
    assert sources.is_local(str(path))
    assert sources.is_local(str(tmp_path))


@pytest.mark.parametrize("data", ["mnist", "", None, "no/such/folder"])
def test_is_local_false_for_names_and_missing_paths(data):
    assert sources.is_local(data) is False


def test_is_local_expands_user(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "mnist").mkdir()
    assert sources.is_local("~/mnist")
    assert not sources.is_local("~/absent")


def test_network_available_true_when_a_connection_opens(monkeypatch):
    calls = []

    def connect(address, timeout=None):
        calls.append((address, timeout))
        return _FakeConnection()

    monkeypatch.setattr(socket, "create_connection", connect)
    assert sources.network_available(FAKE_HOSTS[:1], timeout=0.5) is True
    assert calls == [(FAKE_HOSTS[0], 0.5)]


def test_network_available_tries_the_next_host(monkeypatch):
    calls = []

    def connect(address, timeout=None):
        calls.append(address)
        if address == FAKE_HOSTS[0]:
            raise ConnectionRefusedError("refused")
        return _FakeConnection()

    monkeypatch.setattr(socket, "create_connection", connect)
    assert sources.network_available(FAKE_HOSTS, timeout=0.5) is True
    assert calls == list(FAKE_HOSTS)


def test_network_available_false_when_every_connection_fails():
    assert sources.network_available(FAKE_HOSTS, timeout=0.5) is False


def test_network_available_gives_up_on_a_hanging_connection(monkeypatch):
    def hang(address, timeout=None):
        time.sleep(30)  # Like a name lookup that never answers.
        return _FakeConnection()

    monkeypatch.setattr(socket, "create_connection", hang)
    start = time.monotonic()
    assert sources.network_available(FAKE_HOSTS[:1], timeout=0.5) is False
    assert time.monotonic() - start < 3.0


def test_tfds_prepared_false_for_an_unknown_name(tmp_path):
    assert sources.tfds_prepared("no_such_dataset_zoo", str(tmp_path)) is False


def test_tfds_prepared_false_for_an_empty_data_dir(tmp_path):
    assert sources.tfds_prepared("mnist", str(tmp_path)) is False


def test_load_tfds_offline_and_not_prepared_says_how_to_get_data(
    tmp_path, monkeypatch
):
    probes = []
    monkeypatch.setattr(
        sources, "network_available", lambda *a, **k: probes.append(1) or False
    )
    with pytest.raises(
        sources.DataUnavailableError,
        match=r"'mnist' is not in .*tfds_empty.*cannot be reached.*"
        r"--data=PATH.*--tfds_data_dir=DIR",
    ):
        sources.load_tfds("mnist", ["train"], data_dir=str(tmp_path / "tfds_empty"))
    assert probes == [1]


def test_tfds_datasets_offline_and_not_prepared_says_how_to_get_data(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(sources, "network_available", lambda *a, **k: False)
    with pytest.raises(
        sources.DataUnavailableError,
        match=r"'conll2003' is not in .*tfds_empty.*cannot be reached.*"
        r"--data=PATH.*--tfds_data_dir=DIR",
    ):
        sources.tfds_datasets(
            "conll2003", ["train"], data_dir=str(tmp_path / "tfds_empty")
        )


def test_the_unavailable_message_ends_with_the_callers_hint(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(sources, "network_available", lambda *a, **k: False)
    for load in (sources.tfds_datasets, sources.load_tfds):
        with pytest.raises(sources.DataUnavailableError,
                           match=r"a prepared copy\. Or read these files\.$"):
            load("mnist", ["train"], data_dir=str(tmp_path / "none"),
                 local_hint="Or read these files.")


def test_tfds_datasets_returns_datasets_without_probing_when_prepared(
    tmp_path, monkeypatch
):
    def no_probe(*args, **kwargs):
        raise AssertionError("prepared data must not probe the network")

    monkeypatch.setattr(sources, "tfds_prepared", lambda *a, **k: True)
    monkeypatch.setattr(sources, "network_available", no_probe)
    with tfds.testing.mock_data(num_examples=3):
        train, test = sources.tfds_datasets(
            "mnist", ["train", "test"], data_dir=str(tmp_path)
        )
        assert isinstance(train, tf.data.Dataset)
        for dataset in (train, test):
            examples = list(dataset.as_numpy_iterator())
            assert len(examples) == 3
            image, label = examples[0]  # as_supervised: (image, label) pairs.
            assert image.shape == (28, 28, 1) and label.shape == ()


@pytest.mark.parametrize("data, path", [
    ("missing/reviews.tsv", True), ("../shared/data/x", True),
    ("reviews.tsv", True), ("poems.json.gz", True), ("~/corpus", True),
    (".", True), ("./x", True), ("imdb_reviews", False), ("mnist", False),
    ("noextension", False),
])
def test_looks_like_path(data, path):
    assert sources.looks_like_path(data) is path


def test_looks_like_path_docstring_example_runs():
    from zoo.testing import run_docstring_examples

    run_docstring_examples(sources.looks_like_path)


@pytest.mark.parametrize("name, known", [
    ("imdb_reviews", True), ("ted_hrlr_translate/pt_to_en", True),
    ("mnist:3.0.1", True), ("imdbreviews", False), ("missing/x.tsv", False),
])
def test_is_tfds_name_checks_the_registry(name, known):
    assert sources.is_tfds_name(name) is known


def test_a_missing_path_is_no_such_file_before_any_probe(monkeypatch):
    def no_probe(*args, **kwargs):
        raise AssertionError("a path must not probe the network")

    monkeypatch.setattr(sources, "network_available", no_probe)
    monkeypatch.setattr(sources, "tfds_prepared", no_probe)
    for data in ("missing/reviews.tsv", "../shared/data/sentence_polarity",
                 "reviews.tsv"):
        with pytest.raises(errors.DataNotFoundError,
                           match=rf"^no such file or folder: {re.escape(data)}$"):
            sources.tfds_datasets(data, ["train"], local_hint="Or a file.")


def test_an_unknown_name_says_what_data_can_be(monkeypatch):
    monkeypatch.setattr(sources, "network_available", lambda *a, **k: False)
    with pytest.raises(errors.DataNotFoundError, match=(
            r"^--data='imdbreviews' is neither a file or folder nor a "
            r"tensorflow-datasets name \(see `tfds.list_builders\(\)`\)\. "
            r"Or a TSV file\.$")):
        sources.tfds_datasets("imdbreviews", ["train"],
                              local_hint="Or a TSV file.")


@pytest.mark.parametrize("head, encoding, mark", [
    (b"\xff\xfe\x00\x00x", "UTF-32", "fffe0000"),
    (b"\x00\x00\xfe\xffx", "UTF-32", "0000feff"),
    (b"\xff\xfeh\x00", "UTF-16", "fffe"),
    (b"\xfe\xff\x00h", "UTF-16", "feff"),
])
def test_foreign_bom_names_the_encoding(head, encoding, mark):
    assert sources.foreign_bom(head) == (
        f"{encoding} text (byte order mark {mark}), expected UTF-8; save the "
        "file as UTF-8")


@pytest.mark.parametrize("head", [b"", b"plain", b"\xef\xbb\xbfUTF-8 BOM",
                                  b"\xff not a mark"])
def test_foreign_bom_passes_utf8_and_other_bytes(head):
    assert sources.foreign_bom(head) is None


@pytest.mark.parametrize("raw, number, expected", [
    (b"plain\n", 1, ("plain\n", None)),
    (b"\xef\xbb\xbffirst\n", 1, ("first\n", None)),  # The mark is dropped...
    (b"\xef\xbb\xbfsecond\n", 2, ("\ufeffsecond\n", None)),  # ...only first.
    (b"a\x00b", 3, (None, "NUL byte at byte 1 of the line (binary data or "
                    "UTF-16 text?); save the file as UTF-8")),
    (b"caf\xe9!", 1, (None, "not valid UTF-8 (invalid continuation byte at "
                     "byte 3 of the line); save the file as UTF-8")),
])
def test_decode_line_gives_the_text_or_why_not(raw, number, expected):
    assert sources.decode_line(raw, number) == expected


@pytest.mark.parametrize("data, expected", [
    (b"", []),
    (b"a\nb", [b"a\n", b"b"]),
    (b"a\r\nb\r\n", [b"a\r\n", b"b\r\n"]),
    # A lone \r inside a line is text; any \r before a \n goes with it.
    (b"a\rb\nc\r\r\n\r", [b"a\rb\n", b"c\r\r\n", b"\r"]),
    (b"a\r", [b"a\r"]),
    # No \n in the file, a lone \r before its end: classic Mac line ends.
    (b"a\rb\r", [b"a\r", b"b\r"]),
    (b"a\r\rb", [b"a\r", b"\r", b"b"]),
    (b"\xef\xbb\xbfa\rb", [b"\xef\xbb\xbfa\r", b"b"]),
], ids=["empty", "lf", "crlf", "lone_cr_is_text", "trailing_cr",
        "mac", "mac_blank_line", "mac_bom"])
def test_numbered_lines_end_at_lf_or_at_mac_cr(tmp_path, data, expected):
    path = tmp_path / "a.txt"
    path.write_bytes(data)
    with open(path, "rb") as f:
        assert list(sources.numbered_lines(f)) == list(
            enumerate(expected, start=1))
    # The same of str lines, split after each "\n".
    lines = [line for line in re.split("(?<=\n)", data.decode()) if line]
    assert list(sources.numbered_lines(lines)) == list(
        enumerate([line.decode() for line in expected], start=1))


def test_numbered_lines_docstring_example_runs():
    from zoo.testing import run_docstring_examples

    run_docstring_examples(sources.numbered_lines)
