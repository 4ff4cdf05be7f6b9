"""End-to-end tests of zoo.recipes.sentiment on tiny data the tests write."""

import json
import logging
import os
import signal
import time

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from absl import flags

from zoo import errors
from zoo import ngrams
from zoo import testing
from zoo.data import labelled_text
from zoo.data import pipeline
from zoo.data import sources
from zoo.portable import text as portable_text
from zoo.recipes import sentiment
from zoo.training import flags as zoo_flags

FLAGS = flags.FlagValues()
zoo_flags.define_flags(sentiment.Config, FLAGS)
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

GOOD = ["a good film", "great fun", "good , warm and great", "fine acting"]
BAD = ["a bad film", "dull", "bad , cold and dull plot", "awful acting"]


def write_tsv(path, rows, header=True):
    lines = ["label\ttext"] if header else []
    lines += [f"{label}\t{text}" for label, text in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("polarity")
    rows = [("positive", t) for t in GOOD] + [("negative", t) for t in BAD]
    write_tsv(root / "train.tsv", rows * 4)
    write_tsv(root / "test.tsv", rows)
    return str(root)


def tiny_config(data, **overrides):
    values = dict(
        data=data, export_dir="", epochs=1, batch_size=4, units=3,
        embedding_dim=4, max_tokens=50, bigram_tokens=30, max_length=8,
        validation_fraction=0.25,
        learning_rate=1e-2, dropout=0.0,
        embedding_dropout=0.0, output_dropout=0.0,
    )
    values.update(overrides)
    return sentiment.Config(**values)


@pytest.mark.slow
@pytest.mark.parametrize("pooling", ["last", "attention"])
def test_end_to_end_moves_every_weight(data_dir, tmp_path, pooling):
    recorder = testing.WeightRecorder()
    metrics = sentiment.train_and_evaluate(
        tiny_config(data_dir, pooling=pooling), str(tmp_path), [recorder]
    )
    assert len(recorder.before) >= 9
    assert recorder.unmoved() == []
    with open(tmp_path / "metrics.json") as f:
        assert json.load(f) == metrics
    assert metrics["class_names"] == ["negative", "positive"]
    assert 0.0 <= metrics["test_accuracy"] <= 1.0 and metrics["wall_seconds"] > 0
    assert len(metrics["padded_fraction"]) == 1
    assert 0.0 <= metrics["padded_fraction"][0] < 1.0
    assert metrics["epoch_seconds"][0] > 0
    # The baseline saw the network's training rows (a quarter of the 32
    # validate) and the same 8 test rows.
    baseline = metrics["baseline"]
    assert baseline["name"] == "TF-IDF word 1-2 grams + logistic regression"
    assert (baseline["train_examples"], baseline["test_examples"]) == (24, 8)
    assert 0.0 <= baseline["accuracy"] <= 1.0


@pytest.fixture(scope="module")
def exported(data_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("sentiment_export")
    config = tiny_config(data_dir, export_dir=str(root / "export"))
    metrics = sentiment.train_and_evaluate(config, str(root / "work"))
    return config, metrics


@pytest.mark.slow
def test_export_serves_raw_strings_without_zoo(exported, data_dir):
    config, metrics = exported
    texts = np.array(["a good film", "dull plot", "unknown words only"])
    served = testing.run_export_test(
        metrics["export_path"], "serving_default", {"text": texts}
    )
    assert served["probabilities"].shape == (3, 2)
    np.testing.assert_allclose(served["probabilities"].sum(-1), 1.0, atol=1e-6)
    names = np.array([b"negative", b"positive"])
    np.testing.assert_array_equal(
        served["labels"], names[served["probabilities"].argmax(-1)]
    )
    # The same texts in process: the run's vocabulary comes from its
    # training split (validation carved off), the network's weights from the
    # checkpoint, and the n-gram model is refit on training and validation
    # rows at the C the run chose.
    splits = labelled_text.load(data_dir)
    size = len(splits.train_labels)
    held = pipeline.held_out(
        size, round(size * config.validation_fraction), seed=config.seed)
    train = splits.train_texts[~held], splits.train_labels[~held]
    validation = splits.train_texts[held], splits.train_labels[held]
    tokenizers = sentiment.make_tokenizers(config, train[0].astype(str))
    model = sentiment.build_model(config, tokenizers, 2)
    model.load_weights(os.path.join(
        os.path.dirname(metrics["export_path"]), os.pardir, "work",
        "checkpoints", "epoch-0001.weights.h5",
    ))
    chosen = metrics["ngrams"]
    rows = [str(t) for t in np.concatenate([train[0], validation[0]])]
    kernel, bias = ngrams.fit_at(
        model.ngram_features(rows),
        np.concatenate([train[1], validation[1]]), 2, chosen["c"],
        seed=config.seed,
    )
    network = np.asarray(model(texts))
    linear = ngrams.probabilities(
        model.ngram_features(list(texts)), kernel, bias)
    np.testing.assert_allclose(
        served["probabilities"],
        ngrams.product(network, linear, chosen["weight"], chosen["scale"]),
        atol=1e-4,
    )


@pytest.fixture(scope="module")
def portable_export(data_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("sentiment_portable")
    config = tiny_config(data_dir, export_dir=str(root / "export"),
                         export_formats="saved_model,onnx,litert")
    return sentiment.train_and_evaluate(config, str(root / "work"))[
        "export_path"]


@pytest.mark.slow
@pytest.mark.skipif(bool(testing.missing_export_extra()),
                    reason=testing.missing_export_extra() or "installed")
def test_portable_exports_match_the_saved_model_on_ids_made_without_tf(
        portable_export):
    path = portable_export
    texts = ["a good film", "DULL, dull plot!", "unknown words only", "",
             "   ", "good " * 50, "caf\u00e9 \u0130stanbul \u00df",
             "\u202e\u200b\x07 a\x00b", "床前明月光"]
    served = testing.run_export_test(
        path, "serving_default",
        {"text": np.array([t.encode("utf-8", "surrogatepass")
                           for t in texts] + [b"\xff\xfe good \xc3"])})
    texts.append(b"\xff\xfe good \xc3")
    with open(os.path.join(path, "tokenizers.json")) as f:
        tokenizers = {name: portable_text.TextIds.from_config(config)
                      for name, config in json.load(f).items()}
    assert sorted(tokenizers) == ["bigram_ids", "ids"]
    with open(os.path.join(path, "labels.txt")) as f:
        assert f.read().split() == ["negative", "positive"]
    # One text at a time (LiteRT's batch), and all at once (ONNX).
    calls = [(os.path.join(path, "model.onnx"), {
        name: np.array(tokenizer(texts), np.int64)
        for name, tokenizer in tokenizers.items()})]
    calls += [(os.path.join(path, "model.tflite"), {
        name: np.array(tokenizer([text]), np.int64)
        for name, tokenizer in tokenizers.items()}) for text in texts]
    found = testing.run_portable_calls(calls)
    for answer in found:
        assert testing.EXPORT_ERROR not in answer, answer.get(
            testing.EXPORT_ERROR)
    litert = {key: np.concatenate([answer[key] for answer in found[1:]])
              for key in ("probabilities", "classes")}
    for answer in (found[0], litert):
        np.testing.assert_allclose(answer["probabilities"],
                                   served["probabilities"], atol=1e-5)
        np.testing.assert_array_equal(
            np.array([b"negative", b"positive"])[answer["classes"]],
            served["labels"])


def test_ngram_model_is_chosen_on_validation_rows(exported):
    _, metrics = exported
    chosen = metrics["ngrams"]
    assert chosen["c"] in ngrams.C_GRID
    assert chosen["weight"] in ngrams.WEIGHT_GRID
    assert chosen["scale"] in ngrams.SCALE_GRID
    assert chosen["validation_log_loss"] > 0
    assert set(chosen["validation_accuracy"]) == {"network", "ngrams",
                                                  "product"}
    assert all(0.0 <= v <= 1.0 for v in chosen["validation_accuracy"].values())


def test_without_validation_rows_there_is_no_ngram_model(
        data_dir, tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="absl"):
        metrics = sentiment.train_and_evaluate(
            tiny_config(data_dir, validation_fraction=0.0), str(tmp_path))
    assert "ngrams" not in metrics
    assert "No n-gram model: it is chosen on the validation split" in caplog.text


def test_a_split_ngrams_cannot_fit_leaves_the_network_alone(caplog):
    config = tiny_config("unused")
    texts = ["good film", "great fun", "fine acting"]
    tokenizers = sentiment.make_tokenizers(config, texts)
    model = sentiment.build_model(config, tokenizers, 2)
    one_class = tf.data.Dataset.from_tensor_slices((texts, [1, 1, 1]))
    with caplog.at_level(logging.WARNING, logger="absl"):
        same, found = sentiment.add_ngrams(model, config, one_class,
                                           one_class, 2)
    assert same is model
    assert "two classes" in found["error"]
    assert "No n-gram model: Training rows" in caplog.text


@pytest.mark.slow
@pytest.mark.parametrize(
    "texts",
    [
        [""],
        ["   \t "],
        ["good " * 200_000],  # About 1 MB.
        [b"\xff\xfe good \xc3"],
        [],
    ],
    ids=["empty", "whitespace", "1MB", "not-utf8", "zero-strings"],
)
def test_export_answers_bad_input(exported, texts):
    _, metrics = exported
    encoded = [t if isinstance(t, bytes) else t.encode() for t in texts]
    array = np.array(encoded, dtype="S") if texts else np.zeros((0,), "S1")
    served = testing.run_export_test(
        metrics["export_path"], "serving_default", {"text": array}
    )
    assert served["probabilities"].shape == (len(texts), 2)
    assert np.all(np.isfinite(served["probabilities"]))
    assert served["labels"].shape == (len(texts),)


def test_malformed_row_names_file_and_line(tmp_path):
    path = tmp_path / "data.tsv"
    path.write_text("label\ttext\npositive\tgood\nnegative\n")
    with pytest.raises(labelled_text.MalformedRowError, match=r"data.tsv:3:"):
        sentiment.train_and_evaluate(tiny_config(str(path)), str(tmp_path / "w"))


@pytest.mark.slow
def test_skipped_rows_are_counted(tmp_path):
    rows = [("1", t) for t in GOOD * 3] + [("0", t) for t in BAD * 3]
    path = write_tsv(tmp_path / "data.tsv", rows)
    with open(path, "a") as f:
        f.write("\tno label\nonly-a-label\n")
    metrics = sentiment.train_and_evaluate(
        tiny_config(str(path), skip_bad_rows=True), str(tmp_path / "w")
    )
    assert metrics["skipped_rows"] == 2
    assert metrics["class_names"] == ["0", "1"]


def test_trains_from_the_records_it_streams(tmp_path, monkeypatch):
    rows = [("1", t) for t in GOOD * 3] + [("0", t) for t in BAD * 3]
    path = write_tsv(tmp_path / "data.tsv", rows)

    def no_load(*args, **kwargs):
        raise AssertionError("the recipe loaded the corpus into memory")

    monkeypatch.setattr(labelled_text, "load", no_load)
    metrics = sentiment.train_and_evaluate(
        tiny_config(str(path)), str(tmp_path / "w"))
    assert os.listdir(tmp_path / "w" / "data") == ["rows.tfrecord"]
    assert metrics["class_names"] == ["0", "1"]


def test_offline_without_data_says_how_to_provide_it(tmp_path, no_network):
    start = time.monotonic()
    with pytest.raises(sources.DataUnavailableError, match=r"--data=PATH.*\.tsv"):
        sentiment.train_and_evaluate(
            tiny_config("imdb_reviews", tfds_data_dir=str(tmp_path)),
            str(tmp_path / "w"),
        )
    assert time.monotonic() - start < 10


@pytest.mark.slow
def test_tfds_imdb_reviews_on_mock_data(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "network_available", lambda *a, **k: True)
    with tfds.testing.mock_data(num_examples=12):
        metrics = sentiment.train_and_evaluate(
            tiny_config("imdb_reviews"), str(tmp_path)
        )
    assert metrics["data"] == "tensorflow-datasets imdb_reviews"
    assert metrics["class_names"] == ["neg", "pos"]


def test_default_preset_is_the_flag_defaults():
    values = testing.read_preset(FLAGS, "recipes/sentiment/bilstm.flags", REPO)
    assert values == {name: FLAGS[name].default for name in values}
    every = testing.declared_settings(sentiment.Config)
    assert every - {"data", "export_dir", "bucket",
                    "skip_bad_rows"} <= set(values)


class _CtrlCInEpoch2(keras.callbacks.Callback):
    """Sends this process SIGINT at the second step of the second epoch."""

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if (self.epoch, batch) == (1, 1):
            os.kill(os.getpid(), signal.SIGINT)


def test_a_run_stopped_by_ctrl_c_and_rerun_gives_the_same_results(
        data_dir, tmp_path):
    # Shuffled batches and dropout: the resume must replay both.
    config = tiny_config(data_dir, epochs=3, dropout=0.3,
                         embedding_dropout=0.2, output_dropout=0.2,
                         baseline=False)
    whole = sentiment.train_and_evaluate(config, str(tmp_path / "whole"))
    workdir = str(tmp_path / "stopped")
    with pytest.raises(errors.Interrupted, match=(
            "^interrupted in epoch 2; rerun the same command to resume from "
            "epoch 2$")):
        sentiment.train_and_evaluate(config, workdir, [_CtrlCInEpoch2()])
    assert not os.path.exists(os.path.join(workdir, "metrics.json"))
    resumed = sentiment.train_and_evaluate(config, workdir)
    assert resumed["resumed_from_epoch"] == 1

    def results(metrics):
        return {k: v for k, v in metrics.items()
                if k.startswith("test_") or k in ("best_epoch", "ngrams")}

    assert results(resumed) == results(whole)
    # Every epoch's validation record too, the resumed ones included.
    assert resumed["selection"] == whole["selection"]
