"""End-to-end tests of zoo.recipes.tagger on tiny data the tests write."""

import json
import os
import time

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from absl import flags

from zoo import testing
from zoo.data import conll
from zoo.data import sources
from zoo.portable import text as portable_text
from zoo.recipes import tagger
from zoo.training import flags as zoo_flags

FLAGS = flags.FlagValues()
zoo_flags.define_flags(tagger.Config, FLAGS)
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# A toy part-of-speech corpus: determiner, adjective, noun, verb, adverb.
SENTENCES = [
    [("The", "DT"), ("old", "JJ"), ("dog", "NN"), ("runs", "VB"), ("fast", "RB")],
    [("a", "DT"), ("cat", "NN"), ("sleeps", "VB")],
    [("The", "DT"), ("small", "JJ"), ("cat", "NN"), ("runs", "VB")],
    [("a", "DT"), ("dog", "NN"), ("sleeps", "VB"), ("slowly", "RB")],
]
# Named entities in IOB2 (the CoNLL-2003 4-column layout).
ENTITIES = [
    [("John", "B-PER"), ("Smith", "I-PER"), ("visited", "O"), ("Paris", "B-LOC")],
    [("Mary", "B-PER"), ("likes", "O"), ("Rome", "B-LOC"), (".", "O")],
    [("Acme", "B-ORG"), ("Corp", "I-ORG"), ("hired", "O"), ("John", "B-PER")],
]


def write_conll(path, sentences, four_columns=False):
    lines = ["-DOCSTART- -X- -X- O", ""] if four_columns else []
    for sentence in sentences:
        for token, tag in sentence:
            lines.append(f"{token} NNP I-NP {tag}" if four_columns
                         else f"{token}\t{tag}")
        lines.append("")
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("pos")
    write_conll(root / "train.conll", SENTENCES * 3)
    write_conll(root / "dev.conll", SENTENCES[:2])
    write_conll(root / "test.conll", SENTENCES[2:])
    return str(root)


@pytest.fixture(scope="module")
def ner_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("ner")
    for name, rows in (("eng.train", ENTITIES * 3), ("eng.testa", ENTITIES[:1]),
                       ("eng.testb", ENTITIES[1:])):
        write_conll(root / name, rows, four_columns=True)
    return str(root)


def tiny_config(data, **overrides):
    values = dict(
        data=data, export_dir="", epochs=1, batch_size=4, units=3,
        embedding_dim=4, char_filters=3, char_embedding_dim=2, max_chars=6,
        learning_rate=1e-2, dropout=0.0,
        embedding_dropout=0.0, output_dropout=0.0, min_count=1,
    )
    values.update(overrides)
    return tagger.Config(**values)


@pytest.mark.slow
@pytest.mark.parametrize("output", ["crf", "softmax"])
def test_end_to_end_moves_every_weight(data_dir, tmp_path, output):
    recorder = testing.WeightRecorder()
    metrics = tagger.train_and_evaluate(
        tiny_config(data_dir, output=output), str(tmp_path), [recorder]
    )
    # Word and character embeddings, convolution kernel and bias, 2 x 3
    # LSTM weights, dense kernel and bias (+ 3 CRF transition weights).
    assert len(recorder.before) == (15 if output == "crf" else 12)
    assert recorder.unmoved() == []
    with open(tmp_path / "metrics.json") as f:
        assert json.load(f) == metrics
    assert metrics["tag_names"] == ["DT", "JJ", "NN", "RB", "VB"]
    assert 0.0 <= metrics["test_token_accuracy"] <= 1.0
    assert 0.0 <= metrics["validation_token_accuracy"] <= 1.0
    assert "test_f1" not in metrics  # Not a chunk tag set.
    assert metrics["wall_seconds"] > 0 and len(metrics["epoch_seconds"]) == 1
    # Every test word has one tag in training: the baseline gets them all.
    assert metrics["baseline"]["token_accuracy"] == 1.0
    assert "f1" not in metrics["baseline"]


@pytest.mark.slow
def test_entity_tags_report_f1_and_learn(ner_dir, tmp_path):
    metrics = tagger.train_and_evaluate(
        tiny_config(ner_dir, epochs=30, units=8, char_filters=0,
                    learning_rate=5e-2),
        str(tmp_path),
    )
    assert metrics["tag_names"] == ["B-LOC", "B-ORG", "B-PER", "I-ORG",
                                    "I-PER", "O"]
    for name in ("precision", "recall", "f1"):
        assert 0.0 <= metrics[f"test_{name}"] <= 1.0
    # The test sentences are training sentences: a working tagger gets
    # them right.
    assert metrics["test_token_accuracy"] == 1.0 and metrics["test_f1"] == 1.0
    assert metrics["baseline"]["f1"] == 1.0
    assert metrics["selection"]["monitor"] == "val_f1"


def _model(config, tag_names=("DT", "JJ", "NN", "RB", "VB")):
    keras.utils.set_random_seed(0)
    train = [[t for t, _ in s] for s in SENTENCES]
    vocabularies = tagger.make_vocabularies(config, train)
    return tagger.build_model(config, vocabularies, len(tag_names))


@pytest.mark.parametrize("output", ["crf", "softmax"])
def test_padding_on_either_side_changes_nothing(output):
    model = _model(tiny_config("unused", output=output, bidirectional=True))
    sentence = ["The", "cat", "sleeps", "zzz"]
    plain = model.tag(tf.constant([sentence]))
    for padded, real in ((sentence + ["", ""], slice(0, 4)),
                         (["", ""] + sentence, slice(2, 6))):
        ids, scores, mask = model.tag(tf.constant([padded]))
        np.testing.assert_array_equal(ids[:, real], plain[0])
        np.testing.assert_allclose(scores[:, real], plain[1], atol=1e-6)
        assert not np.any(np.delete(mask.numpy(), np.r_[real], axis=1))
        assert np.all(np.delete(scores.numpy(), np.r_[real], axis=1) == 0)


def test_tag_text_returns_tokens_as_utf8():
    # The tokens of text that is not UTF-8 were returned as sent; a JSON
    # client could not decode them. Tags are what the lookups read: the
    # same either way.
    model = _model(tiny_config("unused"))
    tag_text, _ = tagger.serving_endpoints(
        model, ["DT", "JJ", "NN", "RB", "VB"])["tag_text"]
    found = tag_text(tf.constant([b"caf\xc3 \xff\xfe dog", b"a"]))
    assert found["tokens"].numpy().tolist() == [
        ["caf\ufffd".encode(), "\ufffd\ufffd".encode(), b"dog"],
        [b"a", b"", b""]]
    same = tag_text(tf.constant(["caf\ufffd \ufffd\ufffd dog", "a"]))
    np.testing.assert_array_equal(found["tags"], same["tags"])


@pytest.fixture(scope="module", params=["crf", "softmax"])
def exported(request, data_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp(f"tagger_export_{request.param}")
    config = tiny_config(data_dir, output=request.param,
                         export_dir=str(root / "export"))
    metrics = tagger.train_and_evaluate(config, str(root / "work"))
    return config, metrics, root


@pytest.mark.slow
def test_export_tags_tokens_without_zoo(exported, data_dir):
    config, metrics, root = exported
    tokens = np.array([["The", "dog", "sleeps", ""], ["unseenword", "", "", ""]])
    served = testing.run_export_test(
        metrics["export_path"], "serving_default", {"tokens": tokens}
    )
    assert served["tags"].shape == (2, 4) and served["scores"].shape == (2, 4)
    real = tokens != ""
    assert np.all(served["tags"][~real] == b"") and np.all(served["scores"][~real] == 0)
    names = [n.encode() for n in metrics["tag_names"]]
    assert all(t in names for t in served["tags"][real])
    assert np.all((served["scores"][real] > 0) & (served["scores"][real] <= 1))
    # The same tokens in process, with the run's vocabularies and weights.
    splits = conll.load(data_dir)
    model = tagger.build_model(
        config, tagger.make_vocabularies(config, splits.train_tokens),
        len(metrics["tag_names"]),
    )
    model.load_weights(os.path.join(
        root, "work", "checkpoints", "epoch-0001.weights.h5"
    ))
    ids, scores, _ = model.tag(tf.constant(tokens))
    expected = np.where(real, np.array(names)[ids.numpy()], b"")
    np.testing.assert_array_equal(served["tags"], expected)
    np.testing.assert_allclose(served["scores"], scores, atol=1e-6)
    # The sentence signature splits on whitespace and agrees.
    text = testing.run_export_test(
        metrics["export_path"], "tag_text",
        {"text": np.array(["The dog  sleeps", "unseenword"])},
    )
    np.testing.assert_array_equal(text["tokens"], tokens[:, :3].astype("S"))
    np.testing.assert_array_equal(text["tags"], served["tags"][:, :3])


@pytest.mark.slow
@pytest.mark.skipif(bool(testing.missing_export_extra()),
                    reason=testing.missing_export_extra() or "installed")
def test_portable_exports_match_the_saved_model_on_ids_made_without_tf(
        data_dir, tmp_path):
    config = tiny_config(data_dir, export_dir=str(tmp_path / "export"),
                         export_formats="saved_model,onnx,litert")
    path = tagger.train_and_evaluate(config, str(tmp_path / "work"))[
        "export_path"]
    tokens = [["The", "dog", "sleeps", ""], ["unseenword", "", "", ""],
              ["", "", "", ""], ["\x00x", "caf\u00e9", "\u202e\u200b",
                                 "a" * 40],
              ["DOG", "\ud800", "sleeps", "runs"]]
    encoded = np.array([[t.encode("utf-8", "surrogatepass") for t in row]
                        for row in tokens])
    served = testing.run_export_test(path, "serving_default",
                                     {"tokens": encoded})
    with open(os.path.join(path, "tokenizers.json")) as f:
        configs = json.load(f)
    ids = {"word_ids": np.array(portable_text.TokenIds.from_config(
               configs["word_ids"])(tokens), np.int64),
           "char_ids": np.array(portable_text.TokenCharIds.from_config(
               configs["char_ids"])(tokens), np.int64)}
    with open(os.path.join(path, "labels.txt")) as f:
        names = np.array([n.encode() for n in f.read().splitlines()])
    for found in testing.run_portable_calls(
            [(os.path.join(path, "model.onnx"), ids),
             (os.path.join(path, "model.tflite"), ids)]):
        assert testing.EXPORT_ERROR not in found, found.get(
            testing.EXPORT_ERROR)
        real = encoded != b""
        np.testing.assert_array_equal(
            np.where(real, names[found["tags"]], b""), served["tags"])
        np.testing.assert_allclose(found["scores"], served["scores"],
                                   atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize(
    "signature, inputs, shape",
    [
        ("serving_default", np.array([["", ""]]), (1, 2)),
        ("serving_default", np.zeros((2, 0), "S1"), (2, 0)),
        ("serving_default", np.zeros((0, 3), "S1"), (0, 3)),
        ("serving_default", np.array([["dog"] * 5000]), (1, 5000)),
        ("serving_default", np.array([[b"\xff\xfe", b"caf\xc3"]]), (1, 2)),
        ("tag_text", np.array([""]), (1, 0)),
        ("tag_text", np.array([" ".join(["cat"] * 5000)]), (1, 5000)),
    ],
    ids=["empty-sentence", "no-steps", "no-rows", "5000-tokens", "not-utf8",
         "empty-text", "5000-token-text"],
)
def test_export_answers_bad_input(exported, signature, inputs, shape):
    _, metrics, _ = exported
    key = "tokens" if signature == "serving_default" else "text"
    served = testing.run_export_test(
        metrics["export_path"], signature, {key: inputs}
    )
    assert served["tags"].shape == shape and served["scores"].shape == shape
    # Every real token gets a tag and its probability; padding gets neither.
    tokens = inputs if signature == "serving_default" else served["tokens"]
    real = np.vectorize(len, otypes=[int])(tokens) > 0
    names = {n.encode() for n in metrics["tag_names"]}
    assert all(tag in names for tag in served["tags"][real])
    assert np.all((served["scores"][real] > 0) & (served["scores"][real] <= 1))
    assert np.all(served["tags"][~real] == b"")
    assert np.all(served["scores"][~real] == 0)


@pytest.mark.slow
@pytest.mark.parametrize("fraction, validated, dev", [
    (0.25, True, None), (0.0, False, None), (0.25, True, "-DOCSTART- O\n"),
])
def test_without_dev_sentences_validation_comes_from_train(
        tmp_path, monkeypatch, fraction, validated, dev):
    for split, rows in (("train", SENTENCES * 3), ("test", SENTENCES)):
        write_conll(tmp_path / f"{split}.txt", rows)
    if dev is not None:  # A dev file without sentences.
        testing.write_file(tmp_path / "dev.txt", dev)

    def no_load(*args, **kwargs):
        raise AssertionError("the recipe loaded the corpus into memory")

    # The sentences stream from the records the recipe writes.
    monkeypatch.setattr(conll, "load", no_load)
    metrics = tagger.train_and_evaluate(
        tiny_config(str(tmp_path), validation_fraction=fraction),
        str(tmp_path / "w"),
    )
    assert sorted(os.listdir(tmp_path / "w" / "data")) == sorted(
        ["test.tfrecord", "train.tfrecord"]
        + (["dev.tfrecord"] if dev is not None else []))
    assert ("validation_token_accuracy" in metrics) == validated
    assert 0.0 <= metrics["test_token_accuracy"] <= 1.0


def test_malformed_line_names_file_and_line(tmp_path):
    for split in ("train", "test"):
        write_conll(tmp_path / f"{split}.conll", SENTENCES)
    with open(tmp_path / "test.conll", "a") as f:
        f.write("lonely\n")
    with pytest.raises(conll.MalformedLineError, match=r"test.conll:2[0-9]:"):
        tagger.train_and_evaluate(tiny_config(str(tmp_path)), str(tmp_path / "w"))


def test_offline_without_data_says_how_to_provide_it(tmp_path, no_network):
    start = time.monotonic()
    with pytest.raises(sources.DataUnavailableError, match=r"--data=PATH"):
        tagger.train_and_evaluate(
            tiny_config("conll2003", tfds_data_dir=str(tmp_path)),
            str(tmp_path / "w"),
        )
    assert time.monotonic() - start < 10


def test_default_preset_is_the_flag_defaults():
    values = testing.read_preset(FLAGS, "recipes/tagger/bilstm_crf.flags", REPO)
    assert values == {name: FLAGS[name].default for name in values}
    every = testing.declared_settings(tagger.Config)
    assert every - {"data", "export_dir", "bucket", "tag_column",
                    "tfds_tags"} <= set(values)


@pytest.mark.slow
def test_tfds_conll2003_on_mock_data(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "network_available", lambda *a, **k: True)
    row = {"tokens": ["EU", "rejects", "German", "call"],
           "pos": [22, 42, 16, 21], "chunks": [11, 21, 11, 12],
           "ner": [3, 0, 7, 0]}
    mock = testing.mock_conll2003({"train": [row] * 4, "dev": [row],
                                   "test": [row]})
    with tfds.testing.mock_data(as_dataset_fn=mock):
        metrics = tagger.train_and_evaluate(
            tiny_config("conll2003", tfds_tags="ner",
                        tfds_data_dir=str(tmp_path / "tfds")),
            str(tmp_path / "w"),
        )
    assert metrics["data"] == "tensorflow-datasets conll2003 (ner)"
    assert metrics["tag_names"] == ["B-MISC", "B-ORG", "O"]
    assert 0.0 <= metrics["test_f1"] <= 1.0
