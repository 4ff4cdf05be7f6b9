"""End-to-end tests of zoo.recipes.poetry on tiny data the tests write."""

import json
import os
import random
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf
from absl import flags

from zoo import metrics as zoo_metrics
from zoo import testing
from zoo.data import poems as poems_lib
from zoo.data import sources
from zoo.recipes import poetry
from zoo.training import flags as zoo_flags

FLAGS = flags.FlagValues()
zoo_flags.define_flags(poetry.Config, FLAGS)
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

ALPHABET = "春夏秋冬山水風月花鳥雲天人日"
RESERVED = ("[UNK]", poetry.BEGIN, poetry.END)


def random_poems(count, seed=0):
    """Regular 5x4 and 7x4 poems of random characters, as JSON records."""
    rng = random.Random(seed)
    records = []
    for _ in range(count):
        n = rng.choice([5, 7])
        lines = ["".join(rng.choice(ALPHABET) for _ in range(n))
                 for _ in range(4)]
        records.append({"title": "題", "author": "人", "paragraphs": [
            f"{lines[0]}，{lines[1]}。", f"{lines[2]}，{lines[3]}。"]})
    return records


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
    config = tiny_config(poems_file, export_dir=str(root / "export"))
    made = []

    class Recorded(poetry.Poet):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    recorder = testing.WeightRecorder()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(poetry, "Poet", Recorded)
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


@pytest.mark.slow
def test_test_bpc_is_the_model_loss_in_bits(run, poems_file):
    corpus = poems_lib.load(poems_file, test_size=run.config.test_size)
    poet = run.poet
    ids = poetry.sequences(poet.text_layer, corpus.test, poems=True)
    batches = poetry.shifted_batches(run.config, ids)
    loss = zoo_metrics.SequenceCrossentropy()
    nats = count = 0.0
    for inputs, targets in batches:
        real = float(tf.reduce_sum(tf.cast(targets != 0, tf.float32)))
        nats += float(loss(targets, poet.model(inputs))) * real
        count += real
    assert run.metrics["test_bpc"] == pytest.approx(
        nats / count / np.log(2), rel=1e-5)


def test_sequences_have_markers_and_batches_shift_by_one():
    layer = poetry.make_text_layer(tiny_config("x"), ["春山", "水"])
    ids = {t: i for i, t in enumerate(layer.get_vocabulary())}
    poems = poetry.sequences(layer, ["春山", "水x"], poems=True)
    assert poems == [[2, ids["春"], ids["山"], 3], [2, ids["水"], 1, 3]]
    windows = poetry.sequences(layer, ["春山"], poems=False)
    assert windows == [[2, ids["春"], ids["山"]]]
    config = tiny_config("x", bucket=False, batch_size=2)
    inputs, targets = next(iter(poetry.shifted_batches(config, poems)))
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
    listed = poetry.shifted_batches(
        config, poetry.sequences(layer, BATCHED_TEXTS, poems))
    assert _pairs(poetry.char_batches(config, layer, texts, poems)) == (
        _pairs(listed))


def test_shuffled_text_batches_hold_every_text_in_a_new_order():
    config = tiny_config("x", batch_size=3)
    layer = poetry.make_text_layer(config, BATCHED_TEXTS)
    texts = tf.data.Dataset.from_tensor_slices(BATCHED_TEXTS)
    batches = poetry.char_batches(config, layer, texts, True, shuffle=True)

    def rows(pairs):  # Each text's inputs, without padding.
        return [[i for i in row if i] for x, _ in pairs for row in x]

    epochs = [rows(_pairs(batches)) for _ in range(2)]
    plain = rows(_pairs(poetry.char_batches(config, layer, texts, True)))
    assert sorted(epochs[0]) == sorted(epochs[1]) == sorted(plain)
    assert epochs[0] != epochs[1] and epochs[0] != plain


def test_mean_targets_counts_the_ids_predicted():
    layer = poetry.make_text_layer(tiny_config("x"), ["春山", "水"])
    texts = tf.data.Dataset.from_tensor_slices(["春山", "水", "山"])
    # Poems: characters and the end marker; windows: the characters.
    for poems, expected in ((True, 7 / 3), (False, 4 / 3)):
        chunks = poetry.id_chunks(layer, texts, poems, chunk=2)
        assert poetry.mean_targets(chunks) == pytest.approx(expected)


def untrained(poems=True, seed=1, texts=None, **overrides):
    """A `Poet` of a model with random weights."""
    keras.utils.set_random_seed(0)
    config = tiny_config("unused", **overrides)
    texts = texts or ["".join(r["paragraphs"]) for r in random_poems(20)]
    layer = poetry.make_text_layer(config, texts)
    model = poetry.build_model(config, len(layer.get_vocabulary()))
    testing.randomize_weights(model, seed, scale=1.0)
    return poetry.Poet(model, layer, poems)


def test_padding_changes_neither_logits_nor_loss():
    poet = untrained()
    inputs = np.array([[2, 5, 6, 7], [2, 8, 0, 0]], np.int32)
    targets = np.array([[5, 6, 7, 3], [8, 3, 0, 0]], np.int32)
    plain = np.asarray(poet.model(inputs))
    padded = np.asarray(poet.model(np.pad(inputs, [[0, 0], [0, 3]])))
    real = inputs != 0
    np.testing.assert_allclose(padded[:, :4][real], plain[real], atol=1e-6)
    loss = zoo_metrics.SequenceCrossentropy()
    # The loss is the mean over real targets, however much padding.
    by_row = [float(loss(targets[i:i + 1, :n], plain[i:i + 1, :n]))
              for i, n in ((0, 4), (1, 2))]
    expected = (by_row[0] * 4 + by_row[1] * 2) / 6
    assert float(loss(targets, plain)) == pytest.approx(expected, rel=1e-6)
    assert float(loss(np.pad(targets, [[0, 0], [0, 3]]), padded)) == (
        pytest.approx(expected, rel=1e-6))


@pytest.mark.parametrize("characters, lines", [(5, 4), (7, 4), (5, 8), (7, 8)])
def test_compose_always_yields_the_form(characters, lines):
    poet = untrained()
    acrostics = ["", "春夏", "山水風月花鳥雲天人", "☃月"]  # Unknown: ☃.
    for seed in range(3):
        texts = poet.compose(tf.constant(acrostics), characters, lines,
                             temperature=3.0, seed=seed).numpy()
        for acrostic, text in zip(acrostics, texts):
            text = text.decode("utf-8")
            assert poetry.poem_form(text, characters, lines, acrostic), text


def test_compose_settings_and_tensors():
    poet = untrained()
    acrostic = tf.constant(["春", ""])
    eager = poet.compose(acrostic, 7, 4, temperature=0.9, top_k=3, seed=4)
    traced = tf.function(poet.compose)(
        acrostic, tf.constant(7), tf.constant(4), tf.constant(0.9),
        tf.constant(3), tf.constant(4, tf.int64))
    np.testing.assert_array_equal(traced, eager)
    greedy = poet.compose(acrostic, 5, 4, temperature=0.0, seed=1)
    np.testing.assert_array_equal(
        greedy, poet.compose(acrostic, 5, 4, temperature=0.0, seed=2))


@pytest.mark.parametrize("characters, lines, message", [
    (0, 4, r"`characters`, expected a positive integer, got 0"),
    (5, 2.5, r"`lines`, expected a positive integer, got 2.5"),
    (100, 8, r"a form of 8 lines of 100 characters: 808 characters with "
             r"punctuation, expected at most 512"),
])
def test_compose_rejects_bad_forms(characters, lines, message):
    with pytest.raises(ValueError, match=message):
        untrained().compose(tf.constant([""]), characters, lines)


def test_compose_takes_numpy_integers():
    text = untrained().compose(tf.constant([""]), np.int32(5), np.int64(4))
    assert poetry.poem_form(text.numpy()[0].decode(), 5, 4)


def test_compose_rejects_bad_tensor_forms():
    poet = untrained()
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="characters must be >= 1"):
        poet.compose(tf.constant([""]), tf.constant(0), tf.constant(4))
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="lines must be >= 1"):
        poet.compose(tf.constant([""]), tf.constant(5), tf.constant(-1))
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="a poem must have at most 512 characters"):
        poet.compose(tf.constant([""]), tf.constant(99), tf.constant(8))


@pytest.mark.parametrize("characters, lines", [(2**31 - 1, 4), (5, 2**31 - 1),
                                               (2**30, 2**30)])
def test_compose_rejects_tensor_forms_too_long_for_int32(characters, lines):
    # lines * (characters + 1) wraps around in int32 (once to a negative
    # length: an empty poem); it is checked in int64.
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="a poem must have at most 512 characters"):
        untrained().compose(tf.constant([""]), tf.constant(characters),
                            tf.constant(lines))


@pytest.fixture(scope="module")
def sampling_calls():
    """`{kind: (eager, traced)}` of an untrained poet's generate and
    compose, each traced once."""
    poet = untrained()
    return {kind: (getattr(poet, kind), tf.function(getattr(poet, kind)))
            for kind in ("generate", "compose")}


@pytest.mark.parametrize("kind", ["generate", "compose"])
@pytest.mark.parametrize("temperature, top_k, message", [
    (np.nan, 0, r"temperature must be a finite number >= 0 \(0 = greedy\) "
                r": Tensor had NaN values"),
    (np.inf, 0, r"temperature must be a finite number >= 0 \(0 = greedy\) "
                r": Tensor had Inf values"),
    (-np.inf, 0, r"temperature must be a finite number >= 0 .*Inf values"),
    (-0.5, 0, r"temperature must be >= 0 \(0 = greedy\)"),
    (1.0, -1, r"top_k must be >= 0 \(0 = all characters\)"),
])
def test_tensor_sampling_settings_are_checked(sampling_calls, kind,
                                              temperature, top_k, message):
    # A serving signature's settings are tensors, which zoo.decoding
    # uses as given: NaN once failed with "indices[0,0] = 78 is not in
    # [0, 78)", a negative temperature was greedy, a negative top_k none.
    settings = dict(temperature=tf.constant(temperature, tf.float32),
                    top_k=tf.constant(top_k), seed=tf.constant(1, tf.int64))
    for call in sampling_calls[kind]:  # Eager, then traced.
        with pytest.raises(tf.errors.InvalidArgumentError, match=message):
            call(tf.constant(["春"]), **settings)


def test_tensor_sampling_settings_at_their_limits_work():
    poet = untrained()
    for temperature, top_k in ((0.0, 0), (1e-38, 2**31 - 1), (1e30, 1)):
        settings = dict(temperature=tf.constant(temperature, tf.float32),
                        top_k=tf.constant(top_k), seed=tf.constant(1, tf.int64))
        text = poet.compose(tf.constant(["春"]), 5, 4, **settings)
        assert poetry.poem_form(text.numpy()[0].decode(), 5, 4, "春")
        assert poet.generate(tf.constant([""]), 5, **settings).shape == (1,)


def test_compose_needs_a_model_of_poems():
    message = (r"This model cannot compose poems: it was not trained on "
               r"poems, or its vocabulary lacks '，' or '。'")
    with pytest.raises(ValueError, match=message):
        untrained(poems=False).compose(tf.constant([""]))
    with pytest.raises(ValueError, match=message):
        untrained(texts=["春山，水", "月"]).compose(tf.constant([""]))


def test_generate_is_reproducible_and_keeps_the_prompt():
    poet = untrained()
    prompts = tf.constant(["春眠", "", "☃x春", "春" * 30])
    a = poet.generate(prompts, 20, temperature=1.5, seed=7).numpy()
    b = poet.generate(prompts, 20, temperature=1.5, seed=7).numpy()
    c = poet.generate(prompts, 20, temperature=1.5, seed=8).numpy()
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()
    for prompt, text in zip(prompts.numpy(), a):
        text, prompt = text.decode("utf-8"), prompt.decode("utf-8")
        assert text.startswith(prompt)  # Unknown characters as written.
        continuation = text[len(prompt):]
        assert len(continuation) <= 20
        assert not any(token in continuation for token in RESERVED)
    # Greedy continuations of one prompt agree whatever the seed.
    np.testing.assert_array_equal(
        poet.generate(prompts, 20, temperature=0.0, seed=1),
        poet.generate(prompts, 20, temperature=0.0, seed=2))


def test_generate_lengths_are_clipped():
    # Running text never ends early (it has no end marker in training).
    poet = untrained(poems=False)
    prompt = tf.constant(["春", ""] * 4)
    for length in (0, -5):
        assert poet.generate(prompt, length).numpy().tolist() == [
            "春".encode(), b""] * 4
    found = poet.generate(prompt, 7, temperature=3.0, seed=1).numpy()
    assert [len(t.decode()) for t in found] == [8, 7] * 4
    longest = poet.generate(prompt[:1], 10 ** 6, temperature=2.0).numpy()[0]
    assert len(longest.decode()) == 1 + poetry.MAX_GENERATE


def test_a_long_prompt_is_kept_whole_and_read_from_its_tail():
    poet = untrained()
    tail = "春山" * (poetry.MAX_TEXT // 2)
    long = "花鳥" * 200 + tail
    found = poet.generate(tf.constant([long, tail]), 10, temperature=0.0)
    found = [t.decode() for t in found.numpy()]
    assert found[0].startswith(long) and found[1].startswith(tail)
    assert found[0][len(long):] == found[1][len(tail):]


def test_the_prompt_conditions_the_continuation():
    poet = untrained()
    found = poet.generate(tf.constant(["春", "冬"] * 4), 12, temperature=0.0)
    texts = [t.decode()[1:] for t in found.numpy()]
    assert texts[0::2] == [texts[0]] * 4 and texts[1::2] == [texts[1]] * 4
    assert texts[0] != texts[1]


def test_score_is_bits_per_character():
    poet = untrained()
    texts = ["春山", "", "☃"]
    bpc = poet.score(tf.constant(texts)).numpy()
    bits, count = poet.bits(tf.constant(texts))
    np.testing.assert_array_equal(count, [3, 1, 2])  # With the end marker.
    # By hand: -log2 p of each next id under the model's softmax.
    ids = poetry.sequences(poet.text_layer, texts, poems=True)
    for i, sequence in enumerate(ids):
        logits = np.asarray(poet.model(np.array([sequence[:-1]], np.int32)))[0]
        log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        expected = -sum(log_p[t, y] for t, y in enumerate(sequence[1:]))
        assert bits[i].numpy() == pytest.approx(expected / np.log(2), rel=1e-4)
        per_character = expected / np.log(2) / len(sequence[1:])
        assert bpc[i] == pytest.approx(per_character, rel=1e-4)
    # Running text has no end marker: an empty text scores nothing (NaN).
    windows = untrained(poems=False)
    found = windows.score(tf.constant(["", "春"])).numpy()
    assert np.isnan(found[0]) and np.isfinite(found[1])
    assert np.isnan(windows.score(tf.constant([""])).numpy()).all()


def test_a_batch_of_no_texts_gets_empty_answers():
    none = tf.constant([], tf.string)
    for poet in (untrained(), untrained(poems=False)):
        assert poet.score(none).shape == (0,)
        assert poet.generate(none, 5).shape == (0,)
    assert untrained().compose(none).shape == (0,)


def test_poem_form_checks_everything():
    good = "春山水月花，夏風雲天人。秋日鳥春山，冬水月花風。"
    assert poetry.poem_form(good, 5, 4) and poetry.poem_form(good, 5, 4, "春夏")
    assert not poetry.poem_form(good, 5, 4, "夏")
    assert not poetry.poem_form(good, 7, 4)
    assert not poetry.poem_form(good[:-1] + "，", 5, 4)
    assert not poetry.poem_form("春山水月，" + good[5:], 5, 4)
    assert not poetry.poem_form(good.replace("花", "!", 1), 5, 4)


def test_a_language_model_is_not_bidirectional():
    with pytest.raises(ValueError, match=r"Received bidirectional=True; a "
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
    poet = untrained()
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
    every = set(poetry.Config.__annotations__) | {"workdir"}
    assert every - {"data", "workdir", "export_dir"} == set(values)


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
