"""End-to-end tests of zoo.recipes.translate on tiny data the tests write."""

import json
import os
import time

import keras
import numpy as np
import pytest
import tensorflow as tf
from absl import flags

from zoo import decoding
from zoo import models
from zoo import testing
from zoo.data import pairs
from zoo.data import sources
from zoo.portable import text as portable_text
from zoo.recipes import translate
from zoo.training import flags as zoo_flags

FLAGS = flags.FlagValues()
zoo_flags.define_flags(translate.Config, FLAGS)
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# English<TAB>Spanish, the Tatoeba/Anki layout.
PAIRS = [
    ("I am here.", "Estoy aquí."), ("You are here.", "Estás aquí."),
    ("He is here.", "Él está aquí."), ("We are here.", "Estamos aquí."),
    ("I am tired.", "Estoy cansado."), ("You are tired.", "Estás cansado."),
    ("He is tired.", "Él está cansado."), ("We are tired.", "Estamos cansados."),
    ("I eat bread.", "Como pan."), ("You eat bread.", "Comes pan."),
    ("He eats bread.", "Él come pan."), ("We eat bread.", "Comemos pan."),
    ("I drink water.", "Bebo agua."), ("You drink water.", "Bebes agua."),
    ("He drinks water.", "Él bebe agua."), ("We drink water.", "Bebemos agua."),
    ("The dog runs.", "El perro corre."), ("The cat runs.", "El gato corre."),
    ("The dog sleeps.", "El perro duerme."), ("The cat sleeps.", "El gato duerme."),
    ("The dog eats.", "El perro come."), ("The cat eats.", "El gato come."),
    ("Where is the dog?", "¿Dónde está el perro?"),
    ("Where is the cat?", "¿Dónde está el gato?"),
    ("I see the dog.", "Veo el perro."), ("I see the cat.", "Veo el gato."),
    ("Good morning!", "¡Buenos días!"), ("Good night!", "¡Buenas noches!"),
    ("Thank you.", "Gracias."), ("I love you.", "Te quiero."),
]
RESERVED = ("[UNK]", translate.START, translate.END)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# Trainable weights: 2 embeddings, a bidirectional encoder LSTM (2 x 3),
# a decoder LSTM (3) and the logits (2); with attention, the attentional
# layer (2) and the score's own: bahdanau 2 projections (3) and a scale,
# luong_general a projection.
WEIGHTS = {"none": 13, "bahdanau": 19, "luong_dot": 15, "luong_general": 16}
# Runs that export (the others pass export_dir="", to keep the file fast).
EXPORTED = ("bahdanau", "none")
# The run that also writes the portable models (where the converters are).
PORTABLE = "bahdanau"


def write_pairs(path, rows=PAIRS):
    return testing.write_file(path, "".join(f"{s}\t{t}\n" for s, t in rows))


def tiny_config(data, **overrides):
    values = dict(
        data=data, export_dir="", epochs=1, batch_size=8, units=3,
        embedding_dim=4, attention_units=3, source_tokens=60,
        target_tokens=60, min_count=1, max_length=8, test_size=4,
        validation_fraction=0.2, beam_width=2, heatmaps=2, dropout=0.0,
        embedding_dropout=0.0, output_dropout=0.0,
        learning_rate=1e-2,
    )
    values.update(overrides)
    return translate.Config(**values)


@pytest.fixture(scope="module")
def pairs_file(tmp_path_factory):
    return write_pairs(tmp_path_factory.mktemp("pairs") / "pairs.tsv")


class Scramble(keras.callbacks.Callback):
    """Gives the model random weights when training ends.

    After one epoch every translation ends at once (the end token, in
    every target, is the likeliest first word); random weights translate
    into long, varied token sequences, so the evaluation, the heat maps
    and the export have tokens and attention weights to check. It runs
    after `WeightRecorder` has seen the trained weights.
    """

    def on_train_end(self, logs=None):
        testing.randomize_weights(self.model, seed=1, scale=1.0)


class Run:
    """One `train_and_evaluate` run and what the tests read from it."""

    def __init__(self, config, metrics, workdir, recorder, seq2seq):
        self.config = config
        self.metrics = metrics
        self.workdir = workdir
        self.recorder = recorder
        # The run's translator: the weights it evaluated and exported.
        self.seq2seq = seq2seq


@pytest.fixture(scope="module")
def runs(pairs_file, tmp_path_factory):
    """`runs(attention)`: the run with that attention, trained once."""
    done = {}

    def get(attention):
        if attention in done:
            return done[attention]
        root = tmp_path_factory.mktemp(f"translate_{attention}")
        config = tiny_config(
            pairs_file, attention=attention,
            export_dir=str(root / "export") if attention in EXPORTED else "",
            export_formats=(
                "saved_model,onnx,litert" if attention == PORTABLE
                and not testing.missing_export_extra() else "saved_model"),
        )
        made = []

        class Recorded(models.Translator):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                made.append(self)

        recorder = testing.WeightRecorder()
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(models, "Translator", Recorded)
            metrics = translate.train_and_evaluate(
                config, str(root / "work"), [recorder, Scramble()]
            )
        done[attention] = Run(config, metrics, str(root / "work"), recorder,
                              made[0])
        return done[attention]

    return get


@pytest.mark.slow
@pytest.mark.parametrize("attention", translate.ATTENTION)
def test_end_to_end_moves_every_weight(runs, attention):
    run = runs(attention)
    metrics = run.metrics
    assert len(run.recorder.before) == WEIGHTS[attention]
    assert run.recorder.unmoved() == []
    with open(os.path.join(run.workdir, "metrics.json")) as f:
        assert json.load(f) == metrics
    for name in ("bleu_greedy", "bleu_beam", "chrf_greedy", "chrf_beam"):
        assert 0.0 <= metrics[name] <= 100.0, name
    assert metrics["wall_seconds"] > 0 and len(metrics["epoch_seconds"]) == 1
    # There was a validation split: the epoch was chosen by greedy BLEU.
    assert 0.0 <= metrics["validation_bleu_greedy"] <= 100.0
    assert metrics["selection"]["monitor"] == "val_bleu_greedy"
    assert metrics["best_epoch"] == 1
    assert ("export_path" in metrics) == (attention in EXPORTED)
    # The pairs were streamed from the records written as the file was read.
    assert os.listdir(os.path.join(run.workdir, "data")) == ["pairs.tfrecord"]

    with open(os.path.join(run.workdir, "translations.tsv"),
              encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t") for line in f]
    assert rows[0] == ["source", "reference", "greedy", "beam"]
    assert len(rows) == 1 + run.config.test_size
    assert all(len(row) == 4 for row in rows)
    assert {(s, t) for s, t, _, _ in rows[1:]} <= set(PAIRS)
    for _, _, greedy, beam in rows[1:]:
        assert not any(token in greedy.split() + beam.split()
                       for token in RESERVED)
    # The greedy column is what the run's translator says.
    found = run.seq2seq.translate(tf.constant([row[0] for row in rows[1:]]))
    assert [row[2] for row in rows[1:]] == [
        " ".join(t.decode().split()) for t in found.numpy()
    ]

    folder = os.path.join(run.workdir, "attention")
    if attention == "none":
        assert not os.path.exists(folder) and metrics["heatmaps"] == []
        return
    assert sorted(os.listdir(folder)) == ["0.png", "1.png"]
    assert metrics["heatmaps"] == [os.path.join(folder, "0.png"),
                                   os.path.join(folder, "1.png")]
    for path in metrics["heatmaps"]:
        with open(path, "rb") as f:
            assert f.read(8) == PNG_MAGIC


def serve(calls, timeout=180):
    """Answers of `(export_path, signature, texts)` calls without `zoo`.

    One process for all calls (see `testing.run_export_calls`); a call that
    raised answers `{"error": traceback}`.
    """
    answers = testing.run_export_calls(
        [(path, signature, {"text": text}) for path, signature, text in calls],
        timeout=timeout,
    )
    return [
        {"error": a[testing.EXPORT_ERROR]} if testing.EXPORT_ERROR in a else a
        for a in answers
    ]


def texts(*items):
    """A bytes array `[N]` (np.array of no strings has no string dtype)."""
    return np.array([t if isinstance(t, bytes) else t.encode() for t in items],
                    dtype="S") if items else np.zeros((0,), "S1")


GOOD = texts("I am here.", "The cat sleeps.", "Where is the dog?")
BAD = {
    "empty": texts(""),
    "zero-strings": texts(),
    "unknown": texts("Zzyzx ☃ 漢字 qwerty!"),
    "not-utf8": texts(b"\xff\xfe the dog \xc3"),
    "too-long": texts(" ".join(["dog"] * 50)),
    "mixed": texts("", "I am here.", b"\xc3", " ".join(["cat"] * 50)),
}


@pytest.fixture(scope="module")
def served(runs):
    """`served[attention][(signature, case)]` -> the export's answer."""
    calls, keys = [], []
    for attention in EXPORTED:
        path = runs(attention).metrics["export_path"]
        for signature in ("serving_default", "translate_greedy"):
            for case, inputs in [("good", GOOD), *BAD.items()]:
                calls.append((path, signature, inputs))
                keys.append((attention, signature, case))
    found = {attention: {} for attention in EXPORTED}
    for (attention, signature, case), answer in zip(keys, serve(calls)):
        found[attention][(signature, case)] = answer
    return found


def answer(served, attention, signature, case):
    found = served[attention][(signature, case)]
    assert "error" not in found, str(found["error"])
    return found


def check_greedy_outputs(found, inputs, config, attention):
    """The shapes and invariants of `translate_greedy`'s outputs."""
    n = len(inputs)
    expected = {"translation", "source_tokens", "output_tokens"}
    assert set(found) == expected | ({"attention"} if attention != "none"
                                     else set())
    source, output = found["source_tokens"], found["output_tokens"]
    assert found["translation"].shape == (n,)
    assert source.ndim == 2 and source.shape[0] == n
    assert 1 <= source.shape[1] <= config.max_length
    assert output.ndim == 2 and output.shape[0] == n
    assert output.shape[1] <= config.max_length + 1
    real_output = output != b""
    assert not np.isin(output, [t.encode() for t in RESERVED]).any()
    for i in range(n):
        # Tokens first, then "" padding.
        assert not np.any(np.diff(real_output[i].astype(int)) > 0)
        for t in found["translation"][i].decode("utf-8").split():
            assert t not in RESERVED
    if attention == "none":
        return
    weights = found["attention"]
    assert weights.shape == (n, output.shape[1], source.shape[1])
    assert np.all(np.isfinite(weights)) and np.all(weights >= 0)
    real_source = source != b""
    # A real output token spreads one unit of attention over the real
    # source tokens (none if the source is empty); padding gets none.
    expected_sums = real_output & real_source.any(-1, keepdims=True)
    np.testing.assert_allclose(weights.sum(-1), expected_sums.astype(float),
                               atol=1e-5)
    assert np.all(weights[np.broadcast_to(~real_source[:, None, :],
                                          weights.shape)] == 0)


@pytest.mark.slow
@pytest.mark.parametrize("attention", EXPORTED)
def test_export_translates_strings_without_zoo(runs, served, attention):
    run = runs(attention)
    seq2seq = run.seq2seq
    default = answer(served, attention, "serving_default", "good")
    assert set(default) == {"translation"}
    assert default["translation"].shape == (3,)
    # The same texts in process, with the run's translator.
    expected = seq2seq.translate(tf.constant(GOOD), run.config.beam_width)
    np.testing.assert_array_equal(default["translation"],
                                  expected.numpy().astype("S"))

    greedy = answer(served, attention, "translate_greedy", "good")
    check_greedy_outputs(greedy, GOOD, run.config, attention)
    explained = seq2seq.explain(tf.constant(GOOD))
    for key in ("translation", "source_tokens", "output_tokens"):
        np.testing.assert_array_equal(greedy[key],
                                      explained[key].numpy().astype("S"), key)
    np.testing.assert_array_equal(
        greedy["source_tokens"][:, :4],
        [[b"i", b"am", b"here", b"."], [b"the", b"cat", b"sleeps", b"."],
         [b"where", b"is", b"the", b"dog"]],
    )
    if attention != "none":
        np.testing.assert_allclose(greedy["attention"], explained["attention"],
                                   atol=1e-5)
        # Not a vacuous check: the translations have tokens to attend with.
        assert (greedy["output_tokens"] != b"").any()


@pytest.mark.slow
@pytest.mark.parametrize("attention", EXPORTED)
@pytest.mark.parametrize("case", sorted(BAD))
def test_export_answers_bad_input(runs, served, attention, case):
    config = runs(attention).config
    inputs = BAD[case]
    default = answer(served, attention, "serving_default", case)
    assert default["translation"].shape == (len(inputs),)
    for t in default["translation"]:
        assert not set(t.decode("utf-8").split()) & set(RESERVED)
    greedy = answer(served, attention, "translate_greedy", case)
    check_greedy_outputs(greedy, inputs, config, attention)
    source = greedy["source_tokens"]
    if case == "too-long":
        assert source.shape == (1, config.max_length)
        assert np.all(source == b"dog")
    if case == "empty":
        assert source.shape == (1, 1) and source[0, 0] == b""
    # No source, no translation: "" and no output tokens.
    for i, text in enumerate(inputs):
        if not text.strip():
            assert default["translation"][i] == b""
            assert greedy["translation"][i] == b""
            assert not greedy["output_tokens"][i].any()
    if case == "not-utf8":
        # Invalid bytes become U+FFFD, a token of its own.
        assert source[0, 0] == "\ufffd".encode()
    if case == "unknown":
        assert source[0, 0] == b"zzyzx"  # Lower-cased, then unknown.


# Decodes with the portable models in a process without zoo and without
# TensorFlow: greedy and beam search in the client loop, and the greedy
# loop inside the model, on both runtimes.
TRANSLATE_PORTABLE = """
folder, ids = str(inputs["folder"]), inputs["source_ids"]
for runtime, suffix in (("onnx", ".onnx"), ("litert", ".tflite")):
    for width in (1, int(inputs["beam_width"])):
        outputs[f"{runtime}:{width}"] = decoding.translate_ids(
            folder, ids, width, runtime)
    greedy = decoding.RUNTIMES[runtime](folder + "/greedy" + suffix)
    outputs[f"{runtime}:model"] = greedy(source_ids=ids)["output_ids"]
"""


def portable_sentences(ids, vocabulary):
    """Output ids -> strings, as the SavedModel makes them."""
    found = []
    for row in ids:
        words = []
        for i in row:
            if i in (0, translate.END_ID):
                break
            words.append(vocabulary[i])
        found.append(portable_text.detokenize(" ".join(words)))
    return found


@pytest.mark.slow
@pytest.mark.skipif(bool(testing.missing_export_extra()),
                    reason=testing.missing_export_extra() or "installed")
def test_portable_models_translate_as_the_saved_model(runs):
    run = runs(PORTABLE)
    path = run.metrics["export_path"]
    with open(os.path.join(path, "portable.json")) as f:
        described = json.load(f)
    assert sorted(described["models"]) == ["encode", "greedy", "next"]
    assert described["decoding"]["beam_width"] == run.config.beam_width
    with open(os.path.join(path, "tokenizers.json")) as f:
        source = portable_text.TextIds.from_config(json.load(f)["source_ids"])
    with open(os.path.join(path, "target_vocabulary.json")) as f:
        vocabulary = json.load(f)
    cases = [t for t in [*GOOD, *np.concatenate(list(BAD.values()))]]
    served = serve([(path, "serving_default", texts(*cases)),
                    (path, "translate_greedy", texts(*cases))])
    expected = {run.config.beam_width: served[0]["translation"],
                1: served[1]["translation"]}
    # Not vacuous: the scrambled weights translate into several words.
    assert max(len(t.split()) for t in expected[1]) >= 3
    source_ids = np.array(source(cases), np.int64)
    found = testing.run_portable_program(TRANSLATE_PORTABLE, {
        "folder": np.array(path), "source_ids": source_ids,
        "beam_width": np.array(run.config.beam_width)})
    for runtime in ("onnx", "litert"):
        for key, width in ((1, 1), (run.config.beam_width,) * 2,
                           ("model", 1)):
            sentences = portable_sentences(found[f"{runtime}:{key}"],
                                           vocabulary)
            assert [t.encode() for t in sentences] == list(expected[width]), (
                runtime, key)


# In-process checks on untrained models with random weights.
SOURCES = [p[0] for p in PAIRS]
TARGETS = [p[1] for p in PAIRS]


def untrained(attention="bahdanau", seed=1, **overrides):
    """A `Translator` of a model with random weights (long, varied
    outputs)."""
    keras.utils.set_random_seed(0)
    config = tiny_config("unused", attention=attention, **overrides)
    source, target = translate.make_vocabularies(config, SOURCES, TARGETS)
    model = translate.build_model(config, len(source.get_vocabulary()),
                                  len(target.get_vocabulary()))
    testing.randomize_weights(model, seed, scale=1.0)
    return models.Translator(model, source, target.get_vocabulary(),
                             config.max_length, config.length_penalty)


SAMPLE = ["I am here.", "Zzyzx!", "", "the dog runs . the cat sleeps ."]


@pytest.mark.parametrize("attention", ["none", "bahdanau"])
def test_beam_of_width_one_is_greedy_and_decoding_traces(attention):
    seq2seq = untrained(attention)
    ids = seq2seq.source_ids(tf.constant(SAMPLE))
    greedy = seq2seq.decode(ids)
    length = seq2seq.max_length + 1
    assert greedy.shape == (4, length)
    np.testing.assert_array_equal(seq2seq.decode(ids, beam_width=1), greedy)
    beam, _, _ = decoding.beam_search(
        seq2seq.next, tf.fill([4], translate.START_ID), seq2seq.model.encode(ids),
        length, translate.END_ID, beam_width=1, length_penalty=1.0,
    )
    # `decode` empties the output of the empty source (SAMPLE[2]) only.
    assert SAMPLE[2] == "" and not greedy[2].numpy().any()
    real = [0, 1, 3]
    np.testing.assert_array_equal(tf.gather(beam[:, 0], real),
                                  tf.gather(greedy, real))
    # Inside a tf.function with unknown shapes, as in the export.
    spec = [tf.TensorSpec([None, None], tf.int32)]
    traced = tf.function(seq2seq.decode, input_signature=spec)
    np.testing.assert_array_equal(traced(ids), greedy)
    traced_beam = tf.function(lambda x: seq2seq.decode(x, 3),
                              input_signature=spec)
    np.testing.assert_array_equal(traced_beam(ids), seq2seq.decode(ids, 3))
    np.testing.assert_array_equal(traced(tf.zeros([0, 1], tf.int32)),
                                  np.zeros((0, length)))


@pytest.mark.parametrize("favoured", [[0, 1, 2], [3]],
                         ids=["padding-unknown-start", "end"])
def test_translations_never_hold_reserved_tokens(favoured):
    seq2seq = untrained("luong_general")
    # Make the favoured ids far likelier than any word.
    bias = seq2seq.model.logits.bias
    bias.assign(tf.tensor_scatter_nd_update(
        bias, [[i] for i in favoured], [50.0] * len(favoured)
    ))
    ids = seq2seq.decode(seq2seq.source_ids(tf.constant(SAMPLE)))
    assert not np.isin(ids, [1, 2]).any()
    for beam_width in (1, 3):
        found = seq2seq.translate(tf.constant(SAMPLE), beam_width).numpy()
        if favoured == [3]:  # The end token first: empty translations.
            assert found.tolist() == [b""] * 4
        else:
            for text, t in zip(SAMPLE, found):
                words = t.decode().split()
                assert not set(words) & set(RESERVED)
                # Only the empty source has an empty translation.
                assert bool(words) == bool(text)
    explained = seq2seq.explain(tf.constant(SAMPLE))
    check_greedy_outputs(
        {k: v.numpy().astype("S") if v.dtype == tf.string else v.numpy()
         for k, v in explained.items()},
        SAMPLE, tiny_config("unused"), "luong_general",
    )


@pytest.mark.parametrize("attention", translate.ATTENTION[1:])
def test_explained_attention_is_what_each_token_was_chosen_with(
    attention, monkeypatch
):
    seq2seq = untrained(attention)
    layer = seq2seq.model.attention_layer
    steps = []

    def recording_call(query, value, value_mask=None):
        context, weights = type(layer).call(layer, query, value, value_mask)
        if len(query.shape) == 2:  # One decoding step: [batch, S].
            steps.append(np.asarray(weights))
        return [context, weights]

    monkeypatch.setattr(layer, "call", recording_call)
    text = tf.constant(SAMPLE)
    ids = seq2seq.decode(seq2seq.source_ids(text))  # Eager: steps recorded.
    used = np.stack(steps, axis=1)  # [steps, N, S] -> [N, steps, S].
    explained = seq2seq.explain(text)
    output = explained["output_tokens"].numpy()
    weights = explained["attention"].numpy()
    assert (output != b"").sum() > 4  # Long outputs: rows to compare.
    for i in range(len(SAMPLE)):
        n = int((output[i] != b"").sum())
        assert n == int(np.sum((ids[i] != 0) & (ids[i] != translate.END_ID)))
        np.testing.assert_allclose(weights[i, :n], used[i, :n], atol=1e-5)
        assert not weights[i, n:].any()


@pytest.mark.parametrize("attention", translate.ATTENTION)
def test_source_padding_changes_nothing(attention):
    seq2seq = untrained(attention)
    model = seq2seq.model
    source = np.array([[4, 5, 6, 0], [7, 8, 9, 10]], np.int32)
    target_in = np.array([[2, 5, 6, 7], [2, 8, 0, 0]], np.int32)
    real = target_in != 0
    plain = np.asarray(model([source, target_in]))
    padded = np.pad(source, [[0, 0], [0, 3]])
    np.testing.assert_allclose(
        np.asarray(model([padded, target_in]))[real], plain[real], atol=1e-6
    )
    # Padding the target changes no real position either.
    longer = np.asarray(model([source, np.pad(target_in, [[0, 0], [0, 2]])]))
    np.testing.assert_allclose(longer[:, :4][real], plain[real], atol=1e-6)
    # Nor does it change what the decoder says.
    np.testing.assert_array_equal(seq2seq.decode(tf.constant(padded)),
                                  seq2seq.decode(tf.constant(source)))


def test_offline_without_data_says_how_to_provide_it(tmp_path, no_network):
    start = time.monotonic()
    with pytest.raises(
        sources.DataUnavailableError,
        match=r"--data may also be a file of `source<TAB>target` lines",
    ):
        translate.train_and_evaluate(
            tiny_config(translate.Config.data,
                        tfds_data_dir=str(tmp_path)),
            str(tmp_path / "w"),
        )
    assert time.monotonic() - start < 10


@pytest.mark.parametrize(
    "line, message",
    [("lonely", r"pairs\.tsv:5: expected `source<TAB>target`"),
     (b"caf\xc3\tcafe", r"pairs\.tsv:5: not valid UTF-8")],
    ids=["one-column", "not-utf8"],
)
def test_malformed_line_names_file_and_line(tmp_path, line, message):
    good = "".join(f"{s}\t{t}\n" for s, t in PAIRS[:4]).encode()
    line = line if isinstance(line, bytes) else line.encode()
    path = testing.write_file(tmp_path / "pairs.tsv",
                              good + line + b"\n" + good)
    with pytest.raises(pairs.MalformedPairError, match=message):
        translate.train_and_evaluate(tiny_config(path), str(tmp_path / "w"))


def test_default_preset_is_the_flag_defaults():
    values = testing.read_preset(FLAGS, "recipes/translate/bahdanau.flags",
                                 REPO)
    assert values == {name: FLAGS[name].default for name in values}
    every = testing.declared_settings(translate.Config)
    assert every - {"data", "export_dir"} <= set(values)


@pytest.mark.parametrize("preset, attention",
                         [("luong", "luong_general"), ("none", "none")])
def test_other_presets_change_only_the_attention(preset, attention):
    default = testing.read_preset(FLAGS, "recipes/translate/bahdanau.flags",
                                  REPO)
    values = testing.read_preset(FLAGS, f"recipes/translate/{preset}.flags",
                                 REPO)
    assert values["attention"] == attention
    assert {k: v for k, v in values.items() if k != "attention"} == {
        k: v for k, v in default.items() if k != "attention"
    }


def test_without_bridge_the_decoder_starts_from_zeros():
    seq2seq = untrained("luong_dot", bridge=False)
    ids = seq2seq.source_ids(tf.constant(SAMPLE))
    for state in seq2seq.model.encode(ids)["states"]:
        np.testing.assert_array_equal(state, np.zeros(state.shape))
    # The source still reaches the decoder, through attention.
    other = seq2seq.source_ids(tf.constant(SAMPLE[::-1]))
    target_in = tf.fill([len(SAMPLE), 2], translate.START_ID)
    assert not np.allclose(seq2seq.model([ids, target_in]),
                           seq2seq.model([other, target_in]))


def test_no_attention_and_no_bridge_is_refused(tmp_path, pairs_file):
    with pytest.raises(ValueError, match="--attention=none needs --bridge: "
                       "without attention and without the encoder's final "
                       "states nothing of the source reaches the decoder"):
        translate.train_and_evaluate(
            tiny_config(pairs_file, attention="none", bridge=False),
            str(tmp_path),
        )


@pytest.mark.slow
def test_tfds_ted_hrlr_on_mock_data(tmp_path, monkeypatch):
    import tensorflow_datasets as tfds

    monkeypatch.setattr(sources, "network_available", lambda *a, **k: True)
    with tfds.testing.mock_data(num_examples=8):
        metrics = translate.train_and_evaluate(
            tiny_config(translate.Config.data, max_words=0,
                        tfds_data_dir=str(tmp_path)),
            str(tmp_path / "w"),
        )
    assert metrics["data"] == "tensorflow-datasets ted_hrlr_translate/pt_to_en"
    for name in ("bleu_greedy", "bleu_beam", "chrf_greedy", "chrf_beam"):
        assert 0.0 <= metrics[name] <= 100.0
    with open(tmp_path / "w" / "translations.tsv", encoding="utf-8") as f:
        assert len(f.read().splitlines()) == 1 + 8  # Header, 8 test pairs.
