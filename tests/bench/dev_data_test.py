"""Tests for bench.dev_data: the cut corpora of the learning curve."""

import os

from bench import dev_data


def _write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)


def test_cuts_the_first_sentences_and_rows_and_keeps_dev_and_test(tmp_path,
                                                                   monkeypatch):
    shared, out = tmp_path / "shared", tmp_path / "out"
    sentences = "".join(f"w{i}\tB-NAME\nx\tO\n\n" for i in range(1200))
    _write(str(shared / "brown_names" / "train.conll"), sentences)
    _write(str(shared / "brown_names" / "dev.conll"), "d\tO\n")
    _write(str(shared / "brown_names" / "test.conll"), "t\tO\n")
    rows = "".join(f"{i % 2}\ttext {i}\r\n" for i in range(2500))
    _write(str(shared / "sentence_polarity" / "train.tsv"),
           "label\ttext\r\n" + rows)
    _write(str(shared / "sentence_polarity" / "test.tsv"), "label\ttext\n")
    written = dev_data.write(str(shared), str(out))
    assert written == {str(out / "brown_names_500"): 500,
                       str(out / "brown_names_1000"): 1000,
                       str(out / "mr_2000"): 2000}
    train = (out / "brown_names_500" / "train.conll").read_text()
    assert train.split("\n\n")[:2] == ["w0\tB-NAME\nx\tO", "w1\tB-NAME\nx\tO"]
    assert train.count("B-NAME") == 500 and "w499\t" in train
    assert (out / "brown_names_1000" / "dev.conll").read_text() == "d\tO\n"
    with open(out / "mr_2000" / "train.tsv", encoding="utf-8",
              newline="") as f:
        lines = f.read().split("\r\n")
    assert lines[0] == "label\ttext" and lines[2000] == "1\ttext 1999"
    assert lines[2001:] == [""]
