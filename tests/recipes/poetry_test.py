"""End-to-end tests of zoo.recipes.poetry on tiny data the tests write."""

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf
from absl import flags

from zoo import errors
from zoo import metrics as zoo_metrics
from zoo import models
from zoo import testing
from zoo.data import pipeline
from zoo.data import poems as poems_lib
from zoo.data import sources
from zoo.portable import text as portable_text
from zoo.recipes import poetry
from zoo.training import flags as zoo_flags

FLAGS = flags.FlagValues()
zoo_flags.define_flags(poetry.Config, FLAGS)
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

ALPHABET = testing.POEM_ALPHABET
RESERVED = ("[UNK]", poetry.BEGIN, poetry.END)


def random_poems(count, seed=0):
    return testing.random_poems(count, seed)


def write_poems(path, count=40):
    return testing.write_file(path, "".join(
        json.dumps(r, ensure_ascii=False) + "\n" for r in random_poems(count)
    ))


def tiny_config(data, **overrides):
    values = dict(
        data=data, export_dir="", epochs=1, steps_per_epoch=0, batch_size=8,
        units=6,
        embedding_dim=4, test_size=6, validation_fraction=0.1, samples=3,
        max_tokens=40, learning_rate=1e-2, output_dropout=0.0,
        # The preset's auto is bfloat16 on some machines and not others;
        # these tests compare the export with float32 arithmetic.
        precision="float32",
    )
    values.update(overrides)
    return poetry.Config(**values)


@pytest.fixture(scope="module")
def poems_file(tmp_path_factory):
    return write_poems(tmp_path_factory.mktemp("poems") / "poems.jsonl")


class Run:
    def __init__(self, config, metrics, workdir, recorder, poet):
        self.config = config
        self.metrics = metrics
        self.workdir = workdir
        self.recorder = recorder
        self.poet = poet  # The run's poet: the weights it exported.


@pytest.fixture(scope="module")
def run(poems_file, tmp_path_factory):
    """One exported run on the poems file."""
    root = tmp_path_factory.mktemp("poetry")
    config = tiny_config(
        poems_file, export_dir=str(root / "export"),
        export_formats="saved_model" if testing.missing_export_extra()
        else "saved_model,onnx,litert")
    made = []

    class Recorded(models.Poet):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    recorder = testing.WeightRecorder()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(models, "Poet", Recorded)
        metrics = poetry.train_and_evaluate(config, str(root / "work"),
                                            [recorder])
    return Run(config, metrics, str(root / "work"), recorder, made[0])


@pytest.mark.slow
def test_end_to_end_moves_every_weight_and_reports(run):
    # Embedding, LSTM (kernel, recurrent kernel, bias), logits (2).
    assert len(run.recorder.before) == 6
    assert run.recorder.unmoved() == []
    # The poems streamed from the one file they were read into.
    assert os.listdir(os.path.join(run.workdir, "data")) == ["texts.tfrecord"]
    metrics = run.metrics
    # Every character weighs the same in training: the loss divides by
    # the mean characters per batch, not by each batch's own count.
    # Poems of 24 or 32 characters: 25 or 33 targets with the end marker.
    tokens = run.poet.model.loss.tokens_per_batch / run.config.batch_size
    assert 25 < tokens < 33
    with open(os.path.join(run.workdir, "metrics.json")) as f:
        assert json.load(f) == metrics
    for key in ("test_bpc", "unigram_bpc", "bigram_bpc", "validation_bpc"):
        assert 0 < metrics[key] < 10, key
    assert metrics["wall_seconds"] > 0 and len(metrics["epoch_seconds"]) == 1
    # 6 test poems of 24 or 32 characters, each with its end marker.
    assert 6 * 25 <= metrics["test_characters"] <= 6 * 33
    assert metrics["form_rate"] == 1.0
    samples = metrics["samples"]
    assert sorted(samples) == ["5x4", "7x4", "acrostic", "free"]
    assert all(len(texts) == 3 for texts in samples.values())
    for text in samples["acrostic"]:
        assert poetry.poem_form(text, 5, 4, "春夏秋冬")
    with open(os.path.join(run.workdir, "samples.txt"),
              encoding="utf-8") as f:
        written = f.read()
    assert written.startswith("# free\n")
    for texts in samples.values():
        for text in texts:
            assert f"{text}\n" in written
            assert not any(token in text for token in RESERVED)


# Generates with the portable models in a process without zoo and without
# TensorFlow: the client loop (greedy and seeded samples) and the greedy
# loop inside the model, on both runtimes.
POETRY_PORTABLE = """
folder = str(inputs["folder"])
prompts = [[int(i) for i in row[row >= 0]] for row in inputs["prompt_ids"]]
length = int(inputs["max_length"])
for runtime, suffix in (("onnx", ".onnx"), ("litert", ".tflite")):
    outputs[f"{runtime}:greedy"] = decoding.generate_ids(
        folder, prompts, length, temperature=0.0, runtime=runtime)
    outputs[f"{runtime}:sampled"] = decoding.generate_ids(
        folder, prompts, length, temperature=0.8, top_k=5, seed=3,
        runtime=runtime)
    greedy = decoding.RUNTIMES[runtime](folder + "/greedy" + suffix)
    # The prime as generate_ids makes it, for the in-model loop, a row at
    # a time: [BEGIN] + the prompt; the last id starts.
    rows = [[2] + row for row in prompts]
    outputs[f"{runtime}:model"] = np.concatenate([greedy(
        ids=np.array([row[:-1] or [0]], np.int64),
        start=np.array([row[-1]], np.int64),
        max_length=np.array(length, np.int32))["output_ids"]
        for row in rows])
"""


@pytest.mark.slow
@pytest.mark.skipif(bool(testing.missing_export_extra()),
                    reason=testing.missing_export_extra() or "installed")
def test_portable_models_generate_as_the_saved_model(run):
    path = run.metrics["export_path"]
    with open(os.path.join(path, "portable.json")) as f:
        described = json.load(f)
    assert sorted(described["models"]) == ["greedy", "next", "states"]
    with open(os.path.join(path, "tokenizers.json")) as f:
        config = json.load(f)["characters"]
    characters = portable_text.TextIds.from_config(config)
    prompts = ["", "春", "床前明月光，", "zz\u2603 e\u0301",
               b"\xff\xfe \xe6\x98\xa5", ALPHABET[:6] * 200]
    length = 12
    served, sampled = (testing.run_export_test(path, "generate", {
        "prompt": texts_array(prompts), "max_length": np.int32(length),
        "temperature": np.float32(temperature), "top_k": np.int32(top_k),
        "seed": np.int64(3)})["text"] for temperature, top_k in ((0.0, 0),
                                                                (0.8, 5)))
    # The prompt's last MAX_TEXT characters' ids, -1-padded for the array.
    ids = [[characters.lookup(c) for c in characters.tokens(p)]
           [-poetry.MAX_TEXT:] for p in prompts]
    padded = np.array([row + [-1] * (max(map(len, ids)) - len(row))
                       for row in ids])
    found = testing.run_portable_program(POETRY_PORTABLE, {
        "folder": np.array(path), "prompt_ids": padded,
        "max_length": np.array(length)})
    vocabulary = config["vocabulary"]

    def text(prompt, row):
        chars = []
        for i in row:
            if i == poetry.END_ID:
                break
            chars.append(vocabulary[i - 2])  # Ids 0 and 1 are not drawn.
        return (portable_text.standardize(prompt, False, False, "NFC")
                + "".join(chars)).encode()

    for runtime in ("onnx", "litert"):
        for key, expected in (("greedy", served), ("model", served),
                              ("sampled", sampled)):
            assert [text(p, row) for p, row in zip(
                prompts, found[f"{runtime}:{key}"])] == list(expected), (
                    runtime, key)
    # Not vacuous: the draws are not the greedy choices.
    assert list(sampled) != list(served)


def texts_array(items):
    """A bytes array `[N]` of str or bytes items."""
    return np.array([t if isinstance(t, bytes) else t.encode()
                     for t in items], dtype="S")


@pytest.mark.slow
def test_test_bpc_is_the_model_loss_in_bits(run, poems_file):
    corpus = poems_lib.load(poems_file, test_size=run.config.test_size)
    poet = run.poet
    batches = char_batches(run.config, poet.text_layer,
                           tf.data.Dataset.from_tensor_slices(corpus.test), True)
    loss = zoo_metrics.SequenceCrossentropy()
    nats = count = 0.0
    for inputs, targets in batches:
        real = float(tf.reduce_sum(tf.cast(targets != 0, tf.float32)))
        nats += float(loss(targets, poet.model(inputs))) * real
        count += real
    assert run.metrics["test_bpc"] == pytest.approx(
        nats / count / np.log(2), rel=1e-5)


def sequences(layer, texts, poems):
    """Each text's ids as the model reads them (markers included)."""
    return models.char_lm.marked_ids(layer, tf.constant(texts, tf.string),
                                     poems).to_list()


def char_batches(config, layer, texts, poems, shuffle=False):
    """What the recipe trains on: `Poetry.batches` of a dataset of texts."""
    task = poetry.Poetry()
    task.text_layer, task.poems = layer, poems
    return task.batches(config, texts, config.batch_size, shuffle)


def test_sequences_have_markers_and_batches_shift_by_one():
    layer = poetry.make_text_layer(tiny_config("x"), ["春山", "水"])
    ids = {t: i for i, t in enumerate(layer.get_vocabulary())}
    poems = sequences(layer, ["春山", "水x"], poems=True)
    assert poems == [[2, ids["春"], ids["山"], 3], [2, ids["水"], 1, 3]]
    windows = sequences(layer, ["春山"], poems=False)
    assert windows == [[2, ids["春"], ids["山"]]]
    config = tiny_config("x", bucket=False, batch_size=2)
    inputs, targets = next(iter(char_batches(
        config, layer, tf.data.Dataset.from_tensor_slices(["春山", "水x"]),
        True)))
    np.testing.assert_array_equal(inputs, [[2, ids["春"], ids["山"]],
                                           [2, ids["水"], 1]])
    np.testing.assert_array_equal(targets, [[ids["春"], ids["山"], 3],
                                            [ids["水"], 1, 3]])


def _pairs(batches):
    return [(x.numpy().tolist(), y.numpy().tolist()) for x, y in batches]


# Poems, a text with no character, one with an unknown character and one
# longer than MAX_TEXT (read up to it: the longest sequence possible).
BATCHED_TEXTS = ["".join(r["paragraphs"]) for r in random_poems(20)] + [
    "", "☃春", "春" * (poetry.MAX_TEXT + 5)]


@pytest.mark.parametrize("bucket", [True, False])
@pytest.mark.parametrize("poems", [True, False])
def test_text_batches_are_shifted_batches_of_the_same_ids(bucket, poems):
    config = tiny_config("x", bucket=bucket, batch_size=3)
    layer = poetry.make_text_layer(config, BATCHED_TEXTS)
    texts = tf.data.Dataset.from_tensor_slices(BATCHED_TEXTS)
    streamed = _pairs(char_batches(config, layer, texts, poems))
    # Each text once, as its ids and the same ids one step on.
    found = sorted(
        ([i for i in x if i], [i for i in y if i])
        for inputs, targets in streamed for x, y in zip(inputs, targets))
    expected = sorted((ids[:-1], ids[1:])
                      for ids in sequences(layer, BATCHED_TEXTS, poems))
    assert found == expected
    assert all(len(inputs) <= 3 for inputs, _ in streamed)
    if not bucket:  # In the order of the texts.
        first = [i for i in streamed[0][0][0] if i]
        assert first == sequences(layer, BATCHED_TEXTS[:1], poems)[0][:-1]


def test_shuffled_text_batches_hold_every_text_in_a_new_order():
    config = tiny_config("x", batch_size=3)
    layer = poetry.make_text_layer(config, BATCHED_TEXTS)
    texts = tf.data.Dataset.from_tensor_slices(BATCHED_TEXTS)
    batches = char_batches(config, layer, texts, True, shuffle=True)

    def rows(pairs):  # Each text's inputs, without padding.
        return [[i for i in row if i] for x, _ in pairs for row in x]

    epochs = []
    for epoch in range(2):  # The harness sets the epoch as each begins.
        pipeline.set_epoch(epoch)
        epochs.append(rows(_pairs(batches)))
    plain = rows(_pairs(char_batches(config, layer, texts, True)))
    assert sorted(epochs[0]) == sorted(epochs[1]) == sorted(plain)
    assert epochs[0] != epochs[1] and epochs[0] != plain


def test_a_language_model_is_not_bidirectional():
    with pytest.raises(errors.ConfigError, match=r"^--bidirectional: a "
                       r"language model reads left to right"):
        poetry.build_model(tiny_config("x", bidirectional=True), 10)


def serve(calls):
    answers = testing.run_export_calls(calls)
    return [{"error": a[testing.EXPORT_ERROR]} if testing.EXPORT_ERROR in a
            else a for a in answers]


def strings(items):
    """A bytes array `[N]` (np.array of no strings has no string dtype)."""
    if not items:
        return np.zeros((0,), "S1")
    return np.array([t.encode() if isinstance(t, str) else t for t in items],
                    dtype="S")


def generate_inputs(prompts, max_length=12, temperature=0.8, top_k=5, seed=3):
    return {"prompt": strings(prompts),
            "max_length": np.int32(max_length),
            "temperature": np.float32(temperature),
            "top_k": np.int32(top_k), "seed": np.int64(seed)}


def compose_inputs(acrostics, characters=5, lines=4):
    return {"acrostic": strings(acrostics),
            "characters": np.int32(characters), "lines": np.int32(lines),
            "temperature": np.float32(1.0), "top_k": np.int32(0),
            "seed": np.int64(5)}


HOSTILE_PROMPTS = {
    "empty-batch": [],
    "empty": [""],
    "unknown": ["☃☃ xyz"],
    "not-utf8": [b"\xff\xfe\xc3"],
    "too-long": ["春" * 3000],
}


@pytest.mark.slow
def test_export_stands_alone_and_answers_as_in_process(run):
    path = run.metrics["export_path"]
    poet = run.poet
    calls = [
        (path, "generate", generate_inputs(["春眠", ""])),
        (path, "score", {"text": strings(["春山，", "", "☃"])}),
        (path, "compose", compose_inputs(["春夏秋冬", ""], 7, 4)),
        (path, "compose", compose_inputs([""], 0, 4)),
        (path, "generate", generate_inputs(["春"], max_length=-3)),
        *[(path, "generate", generate_inputs(p))
          for p in HOSTILE_PROMPTS.values()],
        *[(path, "score", {"text": strings(p)})
          for p in HOSTILE_PROMPTS.values()],
    ]
    answers = serve(calls)
    generated, scored, composed, bad_form, none = answers[:5]
    expected = poet.generate(tf.constant(["春眠", ""]), 12, 0.8, 5, 3)
    np.testing.assert_array_equal(generated["text"],
                                  expected.numpy().astype("S"))
    np.testing.assert_allclose(
        scored["bpc"], poet.score(tf.constant(["春山，", "", "☃"])), rtol=1e-5)
    expected = poet.compose(tf.constant(["春夏秋冬", ""]), 7, 4, 1.0, 0, 5)
    np.testing.assert_array_equal(composed["text"],
                                  expected.numpy().astype("S"))
    for text, acrostic in zip(composed["text"], ["春夏秋冬", ""]):
        assert poetry.poem_form(text.decode(), 7, 4, acrostic)
    assert "characters must be >= 1" in str(bad_form["error"])
    assert none["text"].tolist() == [b"\xe6\x98\xa5"]  # The prompt alone.

    count = len(HOSTILE_PROMPTS)
    hostile = zip(HOSTILE_PROMPTS.items(), answers[5:5 + count],
                  answers[5 + count:])
    for (case, prompts), generated, scored in hostile:
        assert "error" not in generated, (case, generated)
        assert "error" not in scored, (case, scored)
        assert generated["text"].shape == (len(prompts),)
        assert scored["bpc"].shape == (len(prompts),)
        assert np.all(np.isfinite(scored["bpc"]))
        for text in generated["text"]:
            assert not any(t.encode() in text for t in RESERVED)
        # The same answers in process.
        inputs = tf.constant(strings(prompts))
        np.testing.assert_array_equal(
            generated["text"],
            poet.generate(inputs, 12, 0.8, 5, 3).numpy().astype("S"))
        np.testing.assert_allclose(scored["bpc"], poet.score(inputs),
                                   rtol=1e-5)
    # Invalid bytes are read as U+FFFD and kept.
    index = list(HOSTILE_PROMPTS).index("not-utf8")
    assert answers[5 + index]["text"][0].decode().startswith("\ufffd")


@pytest.mark.slow
def test_text_file_trains_windows_without_compose(tmp_path):
    text = "To be, or not to be, that is the question.\n" * 30
    path = testing.write_file(tmp_path / "text.txt", text)
    config = tiny_config(path, window=32, test_size=4,
                         export_dir=str(tmp_path / "export"))
    metrics = poetry.train_and_evaluate(config, str(tmp_path / "w"))
    assert "form_rate" not in metrics
    assert sorted(metrics["samples"]) == ["free"]
    # The last 4 windows (the last one short), no end markers.
    test = poems_lib.windows(text, 32)[-4:]
    assert metrics["test_characters"] == sum(map(len, test)) == 3 * 32 + 10
    assert all(len(t) <= 32 for t in metrics["samples"]["free"])
    loaded = tf.saved_model.load(metrics["export_path"])
    assert sorted(loaded.signatures) == ["generate", "score",
                                         "serving_default"]


def test_no_samples_asked_none_written(tmp_path, poems_file):
    poet = testing.untrained_poet()
    path = str(tmp_path / "samples.txt")
    assert poetry.write_samples(poet, tiny_config(poems_file, samples=0),
                                path) == {}
    assert not os.path.exists(path)
    found = poetry.write_samples(poet, tiny_config(poems_file, samples=1),
                                 path)
    assert found["form_rate"] == 1.0
    assert [len(v) for v in found["samples"].values()] == [1, 1, 1, 1]


def test_offline_without_data_says_how_to_provide_it(tmp_path, no_network):
    start = time.monotonic()
    with pytest.raises(sources.DataUnavailableError,
                       match=r"--data may also be a chinese-poetry "
                       r"JSON/JSONL file or folder, or a \.txt file"):
        poetry.train_and_evaluate(
            tiny_config(poetry.Config.data, tfds_data_dir=str(tmp_path)),
            str(tmp_path / "w"),
        )
    assert time.monotonic() - start < 10


def test_malformed_file_names_file_and_line(tmp_path):
    path = testing.write_file(tmp_path / "p.jsonl",
                              '{"paragraphs": ["春"]}\n{"title": 1}\n')
    with pytest.raises(poems_lib.MalformedTextError,
                       match=r"p\.jsonl:2: expected a poem object"):
        poetry.train_and_evaluate(tiny_config(path), str(tmp_path / "w"))


def test_default_preset_is_the_flag_defaults():
    values = testing.read_preset(FLAGS, "recipes/poetry/tang.flags", REPO)
    assert values == {name: FLAGS[name].default for name in values}
    every = testing.declared_settings(poetry.Config)
    assert every - {"data", "export_dir"} <= set(values)


@pytest.mark.slow
def test_the_program_refuses_positional_arguments():
    found = subprocess.run(
        [sys.executable, "-m", "zoo.recipes.poetry", "poems.json"],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )
    assert found.returncode == 1
    assert "Unexpected arguments: ['poems.json']" in found.stderr
    assert "--max_chars" in found.stderr  # The usage lists the flags.


@pytest.mark.slow
def test_the_program_trains_and_exits_cleanly(tmp_path, poems_file):
    workdir = tmp_path / "w"
    found = subprocess.run(
        [sys.executable, "-m", "zoo.recipes.poetry", f"--data={poems_file}",
         f"--workdir={workdir}", "--export_dir=", "--epochs=1", "--units=4",
         "--embedding_dim=4", "--test_size=6", "--samples=1",
         "--max_tokens=40"],
        capture_output=True, text=True, cwd=REPO, timeout=300,
    )
    assert found.returncode == 0, found.stderr[-2000:]
    with open(workdir / "metrics.json") as f:
        assert json.load(f)["config"]["units"] == 4
