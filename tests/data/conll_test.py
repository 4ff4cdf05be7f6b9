"""Tests for zoo.data.conll: the column-file reader, folders, load, stream.

The tests write their own tiny files and, for tensorflow-datasets, supply
their own examples. No test contacts a host: `socket.create_connection`
refuses in every test.
"""

import gzip
import os
import re
import tempfile
import time

import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from zoo import errors
from zoo import testing
from zoo.data import conll
from zoo.data import sources
from zoo.data.conll import MalformedLineError
from zoo.testing import FOLDER, Raises, Returns, check_malformed_files


# No test contacts a host (see tests/conftest.py).
pytestmark = pytest.mark.usefixtures("no_network")
write = testing.write_file


# The CoNLL-2003 layout: token, part of speech, chunk, named entity.
CONLL2003 = (
    "-DOCSTART- -X- -X- O\n"
    "\n"
    "EU NNP B-NP B-ORG\n"
    "rejects VBZ B-VP O\n"
    "German JJ B-NP B-MISC\n"
    "call NN I-NP O\n"
    "\n"
    "Peter NNP B-NP B-PER\n"
    "Blackburn NNP I-NP I-PER\n"
)
CONLL2003_TOKENS = [["EU", "rejects", "German", "call"], ["Peter", "Blackburn"]]


# read_conll


def test_read_conll_tab_separated_two_columns(tmp_path):
    path = write(tmp_path / "a.tsv", "The\tO\ncat\tO\n\nRome\tB-LOC\n")
    assert conll.read_conll(path) == (
        [["The", "cat"], ["Rome"]], [["O", "O"], ["B-LOC"]]
    )


@pytest.mark.parametrize(
    "tag_column, tags",
    [
        (-1, [["B-ORG", "O", "B-MISC", "O"], ["B-PER", "I-PER"]]),
        (3, [["B-ORG", "O", "B-MISC", "O"], ["B-PER", "I-PER"]]),
        (1, [["NNP", "VBZ", "JJ", "NN"], ["NNP", "NNP"]]),
        (2, [["B-NP", "B-VP", "B-NP", "I-NP"], ["B-NP", "I-NP"]]),
        (-2, [["B-NP", "B-VP", "B-NP", "I-NP"], ["B-NP", "I-NP"]]),
    ],
)
def test_read_conll_conll2003_layout_picks_the_tag_column(
    tmp_path, tag_column, tags
):
    path = write(tmp_path / "eng.train", CONLL2003)
    assert conll.read_conll(path, tag_column=tag_column) == (
        CONLL2003_TOKENS, tags
    )


def test_read_conll_runs_of_spaces_and_crlf(tmp_path):
    path = write(tmp_path / "a.txt", "  EU   NNP  B-ORG \r\ncall NN O\r\n\r\n")
    assert conll.read_conll(path) == ([["EU", "call"]], [["B-ORG", "O"]])


def test_read_conll_byte_order_mark_and_utf8(tmp_path):
    path = write(tmp_path / "a.txt",
                 "\ufeffK\u00f6ln\tB-LOC\n\u00e9t\u00e9\tO\n")
    assert conll.read_conll(path) == ([["K\u00f6ln", "\u00e9t\u00e9"]],
                                      [["B-LOC", "O"]])


def test_read_conll_tabs_keep_spaces_inside_a_token(tmp_path):
    # With tabs, a space belongs to the token; without, a no-break space
    # (not ASCII whitespace) does.
    path = write(tmp_path / "a.tsv", "10 000\tCD\n\nten\u00a0thousand CD\n")
    assert conll.read_conll(path) == (
        [["10 000"], ["ten\u00a0thousand"]], [["CD"], ["CD"]]
    )


def test_read_conll_blank_lines_and_docstart_separate_sentences(tmp_path):
    path = write(
        tmp_path / "a.txt",
        "\n \n-DOCSTART- O\na O\n\t\n\n\nb O\n-DOCSTART-\tO\nc O\nd O",
    )
    # The last line has no line end; a -DOCSTART- line ends a sentence.
    assert conll.read_conll(path) == (
        [["a"], ["b"], ["c", "d"]], [["O"], ["O"], ["O", "O"]]
    )


@pytest.mark.parametrize(
    "text", ["", "\n\n", "-DOCSTART- -X- -X- O\n\n"],
    ids=["empty", "blank", "docstart"],
)
def test_read_conll_no_sentences(tmp_path, text):
    path = write(tmp_path / "a.txt", text)
    assert conll.read_conll(path) == ([], [])


def test_read_conll_extra_columns_are_ignored(tmp_path):
    path = write(tmp_path / "a.tsv", "EU\tNNP\tB-ORG\nx\ty\tO\n")
    assert conll.read_conll(path, tag_column=-1) == (
        [["EU", "x"]], [["B-ORG", "O"]]
    )


MALFORMED = [
    # name, content, tag_column, line, problem
    ("one_column", "EU B-ORG\ncall\n", -1, 2,
     "expected at least 2 columns (a token and the tag in tag_column=-1), "
     "found 1: 'call'"),
    ("tag_column_3", "EU\tB-ORG\n", 3, 1,
     "expected at least 4 columns (a token and the tag in tag_column=3), "
     "found 2: 'EU\\tB-ORG'"),
    ("tag_column_minus_2", "a x O\n\nEU B-ORG\n", -2, 3,
     "expected at least 3 columns (a token and the tag in tag_column=-2), "
     "found 2: 'EU B-ORG'"),
    ("empty_tag", "EU\tB-ORG\ncall\t\n", -1, 2,
     "empty tag in tag_column=-1: 'call\\t'"),
    ("empty_token", "\tB-ORG\n", -1, 1, "empty token in column 0: '\\tB-ORG'"),
    ("lone_cr", "EU\tB-ORG\nE\rU\tB-ORG\n", -1, 2,
     "carriage return (\\r) inside the line; lines end at \\n or \\r\\n, and "
     "no token or tag holds a \\r: 'E\\rU\\tB-ORG'"),
    ("long_line", "a O\n" + "y" * 80 + "\n", -1, 2,
     "expected at least 2 columns (a token and the tag in tag_column=-1), "
     "found 1: '" + "y" * 57 + "...'"),
]


@pytest.mark.parametrize(
    "name, content, tag_column, line, problem", MALFORMED,
    ids=[m[0] for m in MALFORMED],
)
def test_read_conll_malformed_line_names_file_and_line(
    tmp_path, name, content, tag_column, line, problem
):
    path = write(tmp_path / name, content)
    with pytest.raises(
        MalformedLineError, match=re.escape(f"{path}:{line}: {problem}") + "$"
    ):
        conll.read_conll(path, tag_column=tag_column)


def test_read_conll_invalid_utf8_names_file_and_line(tmp_path):
    path = write(tmp_path / "a.txt", b"EU B-ORG\n\nK\xf6ln B-LOC\n")
    with pytest.raises(
        MalformedLineError,
        match=re.escape(f"{path}:3: not valid UTF-8 (invalid start byte at "
                        "byte 1 of the line); save the file as UTF-8"),
    ):
        conll.read_conll(path)


def test_malformed_line_error_is_a_value_error():
    assert issubclass(MalformedLineError, ValueError)


@pytest.mark.parametrize("tag_column", [0, True, "1", 1.5, None])
def test_read_conll_rejects_a_bad_tag_column(tmp_path, tag_column):
    path = write(tmp_path / "a.tsv", "EU\tB-ORG\n")
    with pytest.raises(
        ValueError,
        match=re.escape(
            "Received an invalid value for argument `tag_column`, expected a "
            "nonzero integer column index (column 0 holds the token; -1 is "
            f"the last column), got {tag_column!r}"
        ),
    ):
        conll.read_conll(path, tag_column=tag_column)


# load (local folders)


def _folder(root, names, texts=None):
    """Writes a file per name: `texts[name]`, or one two-token sentence."""
    texts = texts or {}
    for i, name in enumerate(names):
        text = texts.get(name, f"w{i}\tO\nx{i}\tB-X\n")
        write(os.path.join(root, name), text)


@pytest.mark.parametrize(
    "names",
    [
        ("train.txt", "dev.txt", "test.txt"),
        ("train", "valid.conll", "test.tsv"),
        ("TRAIN.TXT", "validation", "Test.conll"),
        ("eng.train", "eng.testa", "eng.testb"),
    ],
    ids=["txt", "mixed", "case", "conll2003"],
)
def test_load_folder_finds_the_split_files(tmp_path, names):
    _folder(str(tmp_path), names)
    splits = conll.load(str(tmp_path))
    assert splits.train_tokens == [["w0", "x0"]]
    assert splits.train_tags == [["O", "B-X"]]
    assert splits.dev_tokens == [["w1", "x1"]]
    assert splits.dev_tags == [["O", "B-X"]]
    assert splits.test_tokens == [["w2", "x2"]]
    assert splits.test_tags == [["O", "B-X"]]
    assert splits.source == f"local {tmp_path} ({', '.join(names)})"


def test_load_folder_conll2003_files_and_tag_column(tmp_path):
    texts = {"eng.train": CONLL2003, "eng.testb": "SOCCER NN B-NP O\n"}
    _folder(str(tmp_path), ["eng.train", "eng.testb"], texts)
    write(tmp_path / "README", "not a split file\n")
    splits = conll.load(str(tmp_path), tag_column=1)
    assert splits.train_tokens == CONLL2003_TOKENS
    assert splits.train_tags == [["NNP", "VBZ", "JJ", "NN"], ["NNP", "NNP"]]
    assert splits.test_tags == [["NN"]]


def test_load_folder_dev_is_optional(tmp_path):
    _folder(str(tmp_path), ["train.txt", "test.txt"])
    splits = conll.load(str(tmp_path))
    assert splits.dev_tokens == [] and splits.dev_tags == []
    assert splits.test_tokens == [["w1", "x1"]]
    assert splits.source == f"local {tmp_path} (train.txt, test.txt)"


def test_load_folder_missing_test_lists_the_names_looked_for(tmp_path):
    _folder(str(tmp_path), ["train.txt", "dev.txt", "test.json"])
    os.makedirs(tmp_path / "test")  # A folder is not a file.
    with pytest.raises(
        FileNotFoundError,
        match=re.escape(
            f"{tmp_path} holds no test file (looked for test, test.conll, "
            "test.txt, test.tsv, eng.testb); names are matched ignoring case"
        ),
    ):
        conll.load(str(tmp_path))


def test_load_folder_missing_train_and_test(tmp_path):
    _folder(str(tmp_path), ["dev.txt"])
    with pytest.raises(
        FileNotFoundError,
        match=re.escape(
            f"{tmp_path} holds no train file (looked for train, train.conll, "
            "train.txt, train.tsv, eng.train) and no test file (looked for "
            "test, test.conll, test.txt, test.tsv, eng.testb)"
        ),
    ):
        conll.load(str(tmp_path))


def test_load_folder_two_files_for_one_split(tmp_path):
    _folder(str(tmp_path), ["train.txt", "test.txt", "dev.txt", "eng.testa"])
    with pytest.raises(
        ValueError,
        match=re.escape(f"{tmp_path} holds 2 dev files (dev.txt, eng.testa); "
                        "keep one"),
    ):
        conll.load(str(tmp_path))


def test_load_folder_a_file_is_not_a_folder(tmp_path):
    path = write(tmp_path / "train.txt", "EU\tB-ORG\n")
    with pytest.raises(
        errors.DataError,
        match=re.escape(f"{path} is a file; tagging data is a folder holding "
                        "train, test and optionally dev files"),
    ):
        conll.load(path)


def test_load_folder_missing_folder(tmp_path):
    absent = tmp_path / "absent"
    with pytest.raises(errors.DataNotFoundError,
                       match=f"^no such file or folder: {re.escape(str(absent))}$"):
        conll.load(str(absent))


@pytest.mark.parametrize("empty", ["train.txt", "test.txt"])
def test_load_folder_split_without_sentences(tmp_path, empty):
    _folder(str(tmp_path), ["train.txt", "dev.txt", "test.txt"],
            {empty: "-DOCSTART- O\n\n"})
    with pytest.raises(
        ValueError,
        match=re.escape(f"{tmp_path / empty}: no sentences; expected one "
                        "`token<TAB>tag` (or space-separated) line per token"),
    ):
        conll.load(str(tmp_path))


def test_load_folder_empty_dev_is_fine(tmp_path):
    _folder(str(tmp_path), ["train.txt", "dev.txt", "test.txt"],
            {"dev.txt": ""})
    assert conll.load(str(tmp_path)).dev_tokens == []


def test_load_folder_malformed_line_names_the_file(tmp_path):
    _folder(str(tmp_path), ["train.txt", "test.txt"],
            {"test.txt": "a\tO\n\nb\n"})
    with pytest.raises(MalformedLineError,
                       match=re.escape(f"{tmp_path / 'test.txt'}:3: ")):
        conll.load(str(tmp_path))


# load: arguments and local data


def test_load_dispatches_local_paths(tmp_path, monkeypatch):
    def no_tfds(*args, **kwargs):
        raise AssertionError("a local path must not reach tensorflow-datasets")

    monkeypatch.setattr(sources, "tfds_datasets", no_tfds)
    _folder(str(tmp_path), ["train.txt", "test.txt"],
            {"train.txt": "EU NNP B-ORG\n"})
    splits = conll.load(str(tmp_path), tag_column=1, tfds_tags="pos")
    assert splits.train_tags == [["NNP"]]
    assert splits == conll.load(str(tmp_path), tag_column=1)


def test_load_expands_user(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    _folder(str(tmp_path / "tags"), ["train.txt", "test.txt"])
    assert conll.load("~/tags").train_tokens == [["w0", "x0"]]


@pytest.mark.parametrize(
    "data", ["imdb_reviews", "conll2002"]
)
def test_load_unsupported_name(data):
    with pytest.raises(
        errors.DataNotFoundError,
        match=re.escape(f"--data={data!r} is neither an existing folder nor a "
                        "supported tensorflow-datasets name (supported: "
                        "conll2003)"),
    ):
        conll.load(data)


def test_load_rejects_a_bad_tfds_tags():
    with pytest.raises(
        ValueError,
        match=re.escape("Received an invalid value for argument `tfds_tags`, "
                        "expected one of ner, pos, chunks, got 'NER'"),
    ):
        conll.load("conll2003", tfds_tags="NER")


def test_load_rejects_a_bad_tag_column():
    with pytest.raises(ValueError, match="argument `tag_column`.*got 0"):
        conll.load("conll2003", tag_column=0)


# load: tensorflow-datasets conll2003 on mock data

# Ids index the ClassLabel names of tfds conll2003 (its `pos`, `chunks` and
# `ner` features); the expected names are written out by hand below.
TFDS_EXAMPLES = {
    "train": [
        {"tokens": ["EU", "rejects", "German", "call"],
         "pos": [22, 42, 16, 21], "chunks": [11, 21, 11, 12],
         "ner": [3, 0, 7, 0]},
        {"tokens": ["Peter", "Blackburn"],
         "pos": [22, 22], "chunks": [11, 12], "ner": [1, 2]},
    ],
    "dev": [
        {"tokens": ["K\u00f6ln", "."],
         "pos": [22, 7], "chunks": [11, 0], "ner": [5, 0]},
    ],
    "test": [
        {"tokens": ["SOCCER", "-"],
         "pos": [21, 8], "chunks": [11, 0], "ner": [0, 0]},
    ],
}
TFDS_TAGS = {
    "ner": {
        "train": [["B-ORG", "O", "B-MISC", "O"], ["B-PER", "I-PER"]],
        "dev": [["B-LOC", "O"]],
        "test": [["O", "O"]],
    },
    "pos": {
        "train": [["NNP", "VBZ", "JJ", "NN"], ["NNP", "NNP"]],
        "dev": [["NNP", "."]],
        "test": [["NN", ":"]],
    },
    "chunks": {
        "train": [["B-NP", "B-VP", "B-NP", "I-NP"], ["B-NP", "I-NP"]],
        "dev": [["B-NP", "O"]],
        "test": [["B-NP", "O"]],
    },
}


@pytest.fixture
def online(monkeypatch):
    monkeypatch.setattr(sources, "network_available", lambda *a, **k: True)


@pytest.mark.parametrize("tags", conll.TFDS_TAGS)
def test_load_tfds_conll2003_on_mock_data(tmp_path, online, tags):
    mock = testing.mock_conll2003(TFDS_EXAMPLES)
    with tfds.testing.mock_data(as_dataset_fn=mock):
        splits = conll.load("conll2003", tfds_tags=tags,
                            tfds_data_dir=str(tmp_path))
    assert splits.source == f"tensorflow-datasets conll2003 ({tags})"
    assert splits.train_tokens == CONLL2003_TOKENS
    assert splits.dev_tokens == [["K\u00f6ln", "."]]  # Decoded, not bytes.
    assert splits.test_tokens == [["SOCCER", "-"]]
    assert splits.train_tags == TFDS_TAGS[tags]["train"]
    assert splits.dev_tags == TFDS_TAGS[tags]["dev"]
    assert splits.test_tags == TFDS_TAGS[tags]["test"]
    # The names are the dataset's ClassLabel names, looked up by id.
    names = tfds.builder(
        "conll2003", data_dir=str(tmp_path)
    ).info.features[tags].names
    for split in ("train", "dev", "test"):
        assert getattr(splits, f"{split}_tags") == [
            [names[i] for i in row[tags]] for row in TFDS_EXAMPLES[split]
        ]


def test_load_tfds_tokens_and_tags_of_different_lengths(tmp_path, online):
    examples = {**TFDS_EXAMPLES, "dev": [
        TFDS_EXAMPLES["dev"][0],
        {"tokens": ["a", "b", "c"], "pos": [1, 2, 3], "chunks": [0, 0, 0],
         "ner": [0, 0]},
    ]}
    mock = testing.mock_conll2003(examples)
    with tfds.testing.mock_data(as_dataset_fn=mock):
        assert conll.load("conll2003", tfds_tags="pos",
                          tfds_data_dir=str(tmp_path)).dev_tags[1] == [
            "''", "#", "$"
        ]
        with pytest.raises(
            ValueError,
            match=re.escape("tensorflow-datasets conll2003 (ner) dev split, "
                            "example 1: 3 tokens but 2 'ner' tags"),
        ):
            conll.load("conll2003", tfds_data_dir=str(tmp_path))


def test_load_tfds_tag_id_outside_the_names(tmp_path, online):
    examples = {**TFDS_EXAMPLES, "test": [
        {"tokens": ["a"], "pos": [0], "chunks": [0], "ner": [9]},
    ]}
    mock = testing.mock_conll2003(examples)
    with tfds.testing.mock_data(as_dataset_fn=mock):
        with pytest.raises(
            ValueError,
            match=re.escape("tensorflow-datasets conll2003 (ner) test split, "
                            "example 0: tag id 9 is outside the 9 'ner' tag "
                            "names"),
        ):
            conll.load("conll2003", tfds_data_dir=str(tmp_path))


def test_load_tfds_empty_train_split(tmp_path, online):
    examples = {**TFDS_EXAMPLES, "train": []}
    mock = testing.mock_conll2003(examples)
    with tfds.testing.mock_data(as_dataset_fn=mock):
        with pytest.raises(
            ValueError,
            match=re.escape("tensorflow-datasets conll2003 (ner) train split: "
                            "no sentences"),
        ):
            conll.load("conll2003", tfds_data_dir=str(tmp_path))


def test_load_tfds_offline_says_how_to_provide_data(tmp_path):
    start = time.monotonic()
    with pytest.raises(
        sources.DataUnavailableError,
        match=r"'conll2003' is not in .*cannot be reached.*--data=PATH.*"
        r"For tagging, --data may also be a folder of CoNLL column files",
    ):
        conll.load("conll2003", tfds_data_dir=str(tmp_path))
    assert time.monotonic() - start < 10


BROWN_POS = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir,
    os.pardir, "shared", "data", "brown_pos",
)


@pytest.mark.skipif(not os.path.isdir(BROWN_POS),
                    reason="../shared/data/brown_pos is absent")
def test_reads_the_real_brown_pos_corpus():
    splits = conll.load(BROWN_POS)
    sizes = [len(s) for s in (splits.train_tokens, splits.dev_tokens,
                              splits.test_tokens)]
    assert sizes == [45872, 5734, 5734]
    assert sum(map(len, splits.test_tokens)) == 117245
    tags = {t for split in (splits.train_tags, splits.dev_tags, splits.test_tags)
            for sentence in split for t in sentence}
    assert len(tags) == 190  # As ../shared/data/README.md says.
    for tokens, tags in zip(splits.train_tokens, splits.train_tags):
        assert len(tokens) == len(tags) and all(tokens) and all(tags)


# Malformed files: one table of hostile inputs, each with its defined
# outcome (an error naming the file and the problem, or a documented
# result). The README counts the cases of `MALFORMED_FILES`.


def _case(case_id, files, outcome, call=conll.read_conll, target=None,
          **kwargs):
    """A case of `check_malformed_files`: `target` is by default the only
    file, or the folder of several."""
    return pytest.param(call, files, outcome, target, kwargs, id=case_id)


def _folder_case(case_id, changes, outcome):
    """`load` of a train.txt/test.txt folder with `changes`."""
    files = {"train.txt": "EU\tB-ORG\n", "test.txt": "Rome\tB-LOC\n"}
    return _case(case_id, {**files, **changes}, outcome, conll.load)


COLUMNS = ("expected at least {} columns (a token and the tag in "
           "tag_column={}), found {}: ")
UTF8 = "; save the file as UTF-8"
NO_SENTENCES = "no sentences; expected one `token<TAB>tag`"
NO_TEST = "{tmp} holds no test file (looked for test, test.conll"

MALFORMED_FILES = [
    # Empty and blank files: no sentences, an error for train or test.
    _case("empty_file", {"a.txt": ""}, Returns(([], []))),
    _case("whitespace_only", {"a.txt": " \n\t\n\r\n\f\n"}, Returns(([], []))),
    _case("docstart_only", {"a.txt": "-DOCSTART- -X- O\n\n"},
          Returns(([], []))),
    _folder_case("empty_train_file", {"train.txt": ""}, Raises(
        ValueError, "{tmp}/train.txt: " + NO_SENTENCES)),
    _folder_case("whitespace_only_test_file", {"test.txt": "\n \n\t\n"},
                 Raises(ValueError, "{tmp}/test.txt: " + NO_SENTENCES)),
    # Truncated files.
    _case("truncated_mid_line", {"a.txt": "EU\tB-ORG\ncall"}, Raises(
        MalformedLineError, "{path}:2: " + COLUMNS.format(2, -1, 1)
        + "'call'")),
    _case("truncated_mid_utf8_char", {"a.txt": b"K\xc3\xb6ln\tB-LOC\nK\xc3"},
          Raises(MalformedLineError, "{path}:2: not valid UTF-8 (unexpected "
                 "end of data at byte 1 of the line)" + UTF8)),
    # Encodings.
    _case("latin1_bytes", {"a.txt": "K\u00f6ln\tB-LOC\n".encode("latin-1")},
          Raises(MalformedLineError, "{path}:1: not valid UTF-8 (invalid "
                 "start byte at byte 1 of the line)" + UTF8)),
    _case("utf8_byte_order_mark", {"a.txt": "\ufeffEU\tB-ORG\n"},
          Returns(([["EU"]], [["B-ORG"]]))),
    _case("utf16_le_byte_order_mark",
          {"a.txt": "EU\tB-ORG\n".encode("utf-16")},
          Raises(MalformedLineError, "{path}:1: UTF-16 text (byte order mark "
                 "fffe), expected UTF-8" + UTF8)),
    _case("utf16_be_byte_order_mark",
          {"a.txt": "\ufeffEU\tB-ORG\n".encode("utf-16-be")},
          Raises(MalformedLineError, "{path}:1: UTF-16 text (byte order mark "
                 "feff)")),
    _case("utf16_without_byte_order_mark",
          {"a.txt": "EU\tB-ORG\n".encode("utf-16-le")},
          Raises(MalformedLineError, "{path}:1: NUL byte at byte 1 of the "
                 "line (binary data or UTF-16 text?)" + UTF8)),
    _case("gzip_data", {"a.txt": gzip.compress(b"EU\tB-ORG\n", mtime=0)},
          Raises(MalformedLineError, "{path}:1: NUL byte at byte 3 of the "
                 "line (binary data or UTF-16 text?)")),
    _case("binary_garbage", {"a.txt": bytes(range(256)) * 2}, Raises(
        MalformedLineError, "{path}:1: NUL byte at byte 0 of the line")),
    _case("nul_inside_a_token", {"a.txt": b"EU\tO\nE\x00U\tB-ORG\n"}, Raises(
        MalformedLineError, "{path}:2: NUL byte at byte 1 of the line")),
    # Line ends: \n or \r\n; a lone \r inside a line, where no token or
    # tag holds one, is an error.
    _case("crlf_line_ends",
          {"a.txt": "EU\tB-ORG\r\ncall\tO\r\n\r\nRome\tB-LOC\r\r\n"},
          Returns(([["EU", "call"], ["Rome"]], [["B-ORG", "O"], ["B-LOC"]]))),
    _case("lone_cr_inside_a_token", {"a.txt": "EU\tB-ORG\nE\rU\tB-ORG\n"},
          Raises(MalformedLineError, "{path}:2: carriage return (\\r) inside "
                 "the line; lines end at \\n or \\r\\n, and no token or tag "
                 "holds a \\r: 'E\\rU\\tB-ORG'")),
    _case("cr_inside_a_crlf_line_spaces", {"a.txt": "EU B-ORG\rcall O\r\n"},
          Raises(MalformedLineError, "{path}:1: carriage return (\\r) inside "
                 "the line")),
    # Old Mac line ends: a file without \n whose lines end in a lone \r.
    _case("cr_line_ends", {"a.txt": "EU\tB-ORG\rcall\tO\r"},
          Returns(([["EU", "call"]], [["B-ORG", "O"]]))),
    _case("cr_line_ends_spaces_and_a_blank_line",
          {"a.txt": "\ufeffEU B-ORG\r\rRome B-LOC"},
          Returns(([["EU"], ["Rome"]], [["B-ORG"], ["B-LOC"]]))),
    # Quotes are tokens; a trailing tab makes an empty last column.
    _case("quotes_are_tokens", {"a.txt": '"\tO\nhe\tO\n"hi\tO\n\n``\tO\n'},
          Returns(([['"', "he", '"hi'], ["``"]], [["O", "O", "O"], ["O"]]))),
    _case("trailing_tab_is_an_empty_tag", {"a.txt": "EU\tB-ORG\t\n"},
          Raises(MalformedLineError, "{path}:1: empty tag in tag_column=-1: "
                 "'EU\\tB-ORG\\t'")),
    _case("trailing_tab_on_every_line_tag_column_1",
          {"a.txt": "EU\tB-ORG\t\ncall\tO\t\r\n"},
          Returns(([["EU", "call"]], [["B-ORG", "O"]])), tag_column=1),
    # Column counts.
    _case("one_column", {"a.txt": "EU B-ORG\ncall\n"}, Raises(
        MalformedLineError, "{path}:2: " + COLUMNS.format(2, -1, 1)
        + "'call'")),
    _case("too_few_for_tag_column_2", {"a.txt": "EU\tNNP\n"}, Raises(
        MalformedLineError, "{path}:1: " + COLUMNS.format(3, 2, 2)
        + "'EU\\tNNP'"), tag_column=2),
    _case("more_columns_than_the_first_line",
          {"a.txt": "EU B-ORG\n\nNew York B-LOC\n"},
          Raises(MalformedLineError, "{path}:3: 3 columns, but line 1 has 2; "
                 "every token line needs the same columns: "
                 "'New York B-LOC'")),
    _case("fewer_columns_than_the_first_line",
          {"a.txt": "EU NNP B-ORG\ncall O\n"}, Raises(
              MalformedLineError, "{path}:2: 2 columns, but line 1 has 3")),
    _case("extra_columns_on_every_line", {"a.txt": "EU\tNNP\tB-ORG\n"},
          Returns(([["EU"]], [["B-ORG"]]))),
    _case("empty_tag", {"a.txt": "EU\tB-ORG\ncall\t\n"}, Raises(
        MalformedLineError, "{path}:2: empty tag in tag_column=-1: "
        "'call\\t'")),
    _case("empty_token", {"a.txt": "\tB-ORG\n"}, Raises(
        MalformedLineError, "{path}:1: empty token in column 0")),
    # Folders.
    _case("missing_test_file", {"train.txt": "EU\tB-ORG\n"}, Raises(
        FileNotFoundError, NO_TEST), conll.load, target=""),
    _folder_case("test_file_is_a_folder", {"test.txt": FOLDER}, Raises(
        FileNotFoundError, NO_TEST)),
    _folder_case("two_train_files", {"eng.train": "a\tO\n"}, Raises(
        ValueError, "{tmp} holds 2 train files (eng.train, train.txt); keep "
        "one")),
    _case("a_file_instead_of_a_folder", {"train.txt": "EU\tB-ORG\n"},
          Raises(errors.DataError, "{path} is a file; tagging data is a "
                 "folder"), conll.load),
    _folder_case("malformed_dev_file", {"dev.txt": b"a\tO\n\xff\tO\n"},
                 Raises(MalformedLineError, "{tmp}/dev.txt:2: not valid "
                        "UTF-8")),
]


@pytest.mark.parametrize("call, files, outcome, target, kwargs",
                         MALFORMED_FILES)
def test_malformed_files_end_in_a_defined_outcome(
    tmp_path, call, files, outcome, target, kwargs
):
    check_malformed_files(tmp_path, call, files, outcome, target, **kwargs)


# Streaming: the same sentences as `load`, read from TFRecord files.


def _decoded(dataset):
    return [([t.decode("utf-8") for t in tokens],
             [t.decode("utf-8") for t in tags])
            for tokens, tags in dataset.as_numpy_iterator()]


def _streamed(data, **kwargs):
    """`stream` read back into a `Splits`, to compare with `load`.

    Its TFRecord files go to a fresh folder, not into the data's.
    """
    streams = conll.stream(data, tempfile.mkdtemp(), **kwargs)
    columns = []
    for split in ("train", "dev", "test"):
        dataset = getattr(streams, split)
        size = getattr(streams, f"{split}_size")
        if dataset is None:
            assert split == "dev" and size == 0
            columns += [[], []]
            continue
        assert int(dataset.cardinality()) == size
        sentences = _decoded(dataset)
        columns += [[t for t, _ in sentences], [t for _, t in sentences]]
    splits = conll.Splits(*columns, source=streams.source)
    assert streams.tag_names == sorted(
        {t for split in (splits.train_tags, splits.dev_tags, splits.test_tags)
         for sentence in split for t in sentence})
    assert streams.longest == max(
        len(s) for split in (splits.train_tokens, splits.dev_tokens,
                             splits.test_tokens) for s in split)
    return splits


@pytest.mark.parametrize("names", [("train.txt", "dev.txt", "test.txt"),
                                   ("eng.train", "eng.testb")])
def test_stream_gives_the_sentences_load_gives(tmp_path, names):
    _folder(str(tmp_path), names, {names[0]: CONLL2003})
    assert _streamed(str(tmp_path), tag_column=1) == conll.load(
        str(tmp_path), tag_column=1)


def test_stream_writes_a_record_file_per_split(tmp_path):
    _folder(str(tmp_path / "data"), ["train.txt", "dev.txt", "test.txt"])
    streams = conll.stream(str(tmp_path / "data"), str(tmp_path / "records"))
    assert sorted(os.listdir(tmp_path / "records")) == [
        "dev.tfrecord", "test.tfrecord", "train.tfrecord"]
    assert streams.train.element_spec == (
        tf.TensorSpec([None], tf.string), tf.TensorSpec([None], tf.string))


@pytest.mark.parametrize("tags", conll.TFDS_TAGS)
def test_stream_tfds_conll2003_on_mock_data(tmp_path, online, tags):
    mock = testing.mock_conll2003(TFDS_EXAMPLES)
    with tfds.testing.mock_data(as_dataset_fn=mock):
        kwargs = dict(tfds_tags=tags, tfds_data_dir=str(tmp_path))
        assert _streamed("conll2003", **kwargs) == conll.load(
            "conll2003", **kwargs)


def test_stream_tfds_refuses_what_load_refuses(tmp_path, online):
    examples = {**TFDS_EXAMPLES, "train": []}
    mock = testing.mock_conll2003(examples)
    with tfds.testing.mock_data(as_dataset_fn=mock):
        with pytest.raises(ValueError, match=re.escape(
                "tensorflow-datasets conll2003 (ner) train split: no "
                "sentences")):
            conll.stream("conll2003", str(tmp_path / "x"),
                         tfds_data_dir=str(tmp_path))


@pytest.mark.parametrize("kwargs, error", [
    (dict(tfds_tags="NER"), "argument `tfds_tags`"),
    (dict(tag_column=0), "argument `tag_column`"),
])
def test_stream_rejects_bad_arguments(tmp_path, kwargs, error):
    with pytest.raises(ValueError, match=error):
        conll.stream("conll2003", str(tmp_path), **kwargs)


@pytest.mark.parametrize(
    "call, files, outcome, target, kwargs",
    [pytest.param(_streamed, *case.values[1:], id=case.id)
     for case in MALFORMED_FILES if case.values[0] is conll.load])
def test_stream_refuses_what_load_refuses(
    tmp_path, call, files, outcome, target, kwargs
):
    check_malformed_files(tmp_path, call, files, outcome, target, **kwargs)


def test_as_lists_and_token_lists_read_a_dataset_of_sentences(monkeypatch):
    sentences = tf.data.Dataset.from_generator(
        lambda: iter([(["The", "caf\xe9"], ["DT", "NN"]), (["Go"], ["VB"]),
                      ([b"\xff"], ["X"])]),
        output_signature=(tf.TensorSpec([None], tf.string),
                          tf.TensorSpec([None], tf.string)))
    tokens, tags = conll.as_lists(sentences)
    assert tokens == [["The", "caf\xe9"], ["Go"], ["\ufffd"]]
    assert tags == [["DT", "NN"], ["VB"], ["X"]]
    monkeypatch.setattr(conll.TokenLists, "CHUNK", 2)
    lists = conll.TokenLists(sentences.take(2))
    # The tokens of CHUNK sentences a list, anew on every pass.
    assert list(lists) == [["The", "caf\xe9", "Go"]] == list(lists)
