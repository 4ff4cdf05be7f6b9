"""bench.inference: exports found, inputs built, percentiles, a quick run."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from absl import app
from absl import flags

from bench import inference
from zoo import testing
from zoo.testing import exports

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# What each recipe's tiny export offers to time: the translator greedy and
# beam search (width 5), the poetry model (of poems) also compose.
TIMED = {
    "mnist_rnn": ["serving_default"],
    "sentiment": ["serving_default"],
    "tagger": ["serving_default", "tag_text"],
    "translate": ["translate_greedy", "serving_default"],
    "poetry": ["serving_default", "score", "compose"],
}


# The portable runtimes, where the export extra is installed.
PORTABLE = () if testing.missing_export_extra() else ("onnxruntime",
                                                      "litert")


@pytest.fixture(scope="module")
def export_root(tmp_path_factory):
    """One tiny (untrained) export of every recipe (`zoo.testing.exports`),
    with its ONNX and LiteRT models where the converters are."""
    root = tmp_path_factory.mktemp("exports")
    exports.export_all(root, formats=("onnx", "litert") if PORTABLE else ())
    return root


@pytest.fixture(scope="module")
def loaded(export_root):
    return {recipe: tf.saved_model.load(str(export_root / recipe / "1"))
            for recipe in inference.RECIPES}


def parsed_flags(*args):
    """The benchmark's flags, defined in a registry of their own."""
    flag_values = flags.FlagValues()
    inference.define_flags(flag_values)
    flag_values(["bench.inference", *args])
    return flag_values


def test_percentile_interpolates_between_ranks():
    values = [4.0, 1.0, 3.0, 2.0]  # Any order.
    assert inference.percentile(values, 0) == 1.0
    assert inference.percentile(values, 50) == 2.5
    assert inference.percentile(values, 99) == pytest.approx(3.97)
    assert inference.percentile(values, 100) == 4.0
    assert inference.percentile([7.0], 99) == 7.0
    hundred = list(range(1, 101))
    assert inference.percentile(hundred, 50) == 50.5
    assert inference.percentile(hundred, 99) == pytest.approx(99.01)
    for q in (0, 25, 50, 90, 99, 100):
        assert inference.percentile(values, q) == pytest.approx(
            np.percentile(values, q))


@pytest.mark.parametrize("values, q, message", [
    ([], 50, "Received no values"),
    ([1.0], 101, "invalid percentile 101"),
    ([1.0], -1, "invalid percentile -1"),
])
def test_percentile_rejects_bad_arguments(values, q, message):
    with pytest.raises(ValueError, match=message):
        inference.percentile(values, q)


def test_summary_is_latency_in_ms_and_median_examples_per_second():
    assert inference.examples_per_second(256, 0.5) == 512.0
    found = inference.summarize([0.003, 0.001, 0.002], [0.5, 0.25, 1.0],
                                batch=256)
    assert found["p50_ms"] == pytest.approx(2.0)
    assert found["p99_ms"] == pytest.approx(2.98)
    # 512, 1024 and 256 examples/s: the median, not the mean (597).
    assert found["examples_per_second"] == pytest.approx(512.0)
    assert inference.summarize([1.0], [2.0, 4.0], batch=8)[
        "examples_per_second"] == pytest.approx(3.0)


def test_table_shows_one_row_per_signature_and_runtime():
    results = [dict(recipe="translate", signature="serving_default",
                    what="beam search", runtime="litert",
                    size_bytes=2_345_678, load_seconds=0.126, p50_ms=1.234,
                    p99_ms=5.678, examples_per_second=901.7)]
    assert inference.table(results) == (
        "| recipe | signature | runtime | MB | load s | p50 ms | p99 ms | "
        "batch-256 examples/s |\n"
        "|---|---|---|---|---|---|---|---|\n"
        "| translate | serving_default (beam search) | litert | 2.35 | 0.13 "
        "| 1.23 | 5.68 | 902 |")


def test_find_exports_takes_each_recipes_latest_version(tmp_path):
    for folder in ("mnist_rnn/2", "mnist_rnn/10", "mnist_rnn/9",
                   "mnist_rnn/.partial-12", "translate/1", "tagger",
                   ".cache/1"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "README.md").write_text("The default export root.")
    found = inference.find_exports(str(tmp_path))
    # In the recipes' order; tagger has no version yet and is skipped.
    assert found == {"mnist_rnn": str(tmp_path / "mnist_rnn" / "10"),
                     "translate": str(tmp_path / "translate" / "1")}


@pytest.mark.parametrize("folders, message", [
    ((), r"No recipe exports under --export_root=.*: expected "
         r"<recipe>/<version>/ folders"),
    (("poetry",), "No recipe exports under"),
    (("mnist_rnn/1", "speech/1"),
     r"Unknown recipe folder .*speech: expected folders named after "
     r"recipes, one of mnist_rnn, sentiment, tagger, translate, poetry$"),
    (("1", "2"), r"Unknown recipe folder .*1: .* looks like one recipe's "
                 r"folder of versions: pass the folder above it"),
])
def test_find_exports_rejects_roots_without_recipe_exports(
        tmp_path, folders, message):
    for folder in folders:
        (tmp_path / folder).mkdir(parents=True)
    with pytest.raises(ValueError, match=message):
        inference.find_exports(str(tmp_path))


def test_find_exports_rejects_a_missing_root(tmp_path):
    with pytest.raises(ValueError, match=r"--export_root=.*nowhere is not "
                                         r"a folder"):
        inference.find_exports(str(tmp_path / "nowhere"))


@pytest.mark.parametrize("recipe", inference.RECIPES)
def test_inputs_fit_every_timed_signature(recipe, loaded):
    model = loaded[recipe]
    assert inference.signatures_to_time(recipe, model, "path") == TIMED[recipe]
    for name in TIMED[recipe]:
        fn = model.signatures[name]
        specs = inference.input_specs(fn)
        assert set(specs) == set(fn.structured_input_signature[1])
        for batch in (1, 256):
            inputs = inference.build_inputs(recipe, name, specs, batch)
            assert set(inputs) == set(specs)
            for key, spec in specs.items():
                assert spec.is_compatible_with(inputs[key]), (key, spec)
                if spec.shape.rank:
                    assert inputs[key].shape[0] == batch
        outputs = fn(**inference.build_inputs(recipe, name, specs, 3))
        assert all(v.shape[0] == 3 for v in outputs.values())


def test_inputs_are_the_fixed_texts_and_settings(loaded):
    def inputs(recipe, name, batch, offset=0):
        fn = loaded[recipe].signatures[name]
        return {k: v.numpy() for k, v in inference.build_inputs(
            recipe, name, inference.input_specs(fn), batch, offset).items()}

    images = inputs("mnist_rnn", "serving_default", 256)["images"]
    assert images.dtype == np.uint8 and images.shape == (256, 28, 28)
    float_images = inputs("mnist_rnn", "serving_float", 2)["images"]
    assert float_images.dtype == np.float32 and float_images.max() <= 1.0
    # Batches repeat the sentences; batch-1 calls take them in turn.
    text = inputs("sentiment", "serving_default", 10)["text"]
    assert [t.decode() for t in text] == [*inference.ENGLISH,
                                          *inference.ENGLISH[:2]]
    assert inputs("translate", "serving_default", 1, offset=9)["text"][
        0].decode() == inference.ENGLISH[1]
    # Words and punctuation, padded with "" to the longest sentence.
    tokens = inputs("tagger", "serving_default", 2, offset=3)["tokens"]
    assert tokens.tolist() == [
        [b"Where", b"is", b"the", b"nearest", b"train", b"station", b"?",
         b""],
        [b"She", b"gave", b"him", b"the", b"book", b"yesterday",
         b"afternoon", b"."],
    ]
    assert inference.words("I wouldn't, would you?") == [
        "I", "wouldn't", ",", "would", "you", "?"]
    generate = inputs("poetry", "serving_default", 2)
    assert generate["prompt"][1].decode() == inference.PROMPTS[1]
    assert (generate["max_length"], generate["temperature"],
            generate["top_k"], generate["seed"]) == (64, 0.8, 0, 0)
    assert inputs("poetry", "score", 1)["text"][0].decode() == (
        inference.POEMS[0])
    compose = inputs("poetry", "compose", 4)
    assert compose["acrostic"][0].decode() == "春夏秋冬"
    assert (compose["characters"], compose["lines"]) == (5, 4)


def test_an_input_no_recipe_has_is_rejected():
    spec = tf.TensorSpec([None, 16000], tf.float32, name="audio")
    with pytest.raises(ValueError, match=r"No input is known for `audio` "
                       r"\(float32 \(None, 16000\)\) of the sentiment "
                       r"signature serving_default"):
        inference.build_input("sentiment", "serving_default", "audio", spec, 1)


def test_an_export_without_serving_default_is_rejected(tmp_path):
    module = tf.Module()
    module.predict = tf.function(
        lambda x: {"y": x + 1.0},
        input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
    path = str(tmp_path / "sentiment" / "1")
    tf.saved_model.save(module, path, signatures={"predict": module.predict})
    with pytest.raises(ValueError, match=r"sentiment/1 has no serving_default "
                                         r"signature; it has predict$"):
        inference.measure(inference.find_exports(str(tmp_path)), 1, 1, 0)


def test_measure_times_every_signature(export_root):
    exports = inference.find_exports(str(export_root))
    results = inference.measure(
        {r: exports[r] for r in ("mnist_rnn", "translate")},
        calls=2, repeats=1, warmup=0, runtimes=("tensorflow",))
    assert [(r["recipe"], r["signature"], r["what"]) for r in results] == [
        ("mnist_rnn", "serving_default", "uint8 images"),
        ("translate", "translate_greedy", "greedy"),
        ("translate", "serving_default", "beam search"),
    ]
    for r in results:
        assert r["version"] == 1 and r["runtime"] == "tensorflow"
        assert r["p99_ms"] >= r["p50_ms"] > 0 and r["examples_per_second"] > 0
        assert r["size_bytes"] > 0 and r["load_seconds"] > 0
    assert results[0]["inputs"] == {"images": "uint8 (None, 28, 28)"}


@pytest.mark.skipif(not PORTABLE, reason=testing.missing_export_extra()
                    or "installed")
@pytest.mark.parametrize("recipe", inference.RECIPES)
def test_portable_models_are_timed_in_each_runtime(export_root, recipe):
    path = inference.find_exports(str(export_root))[recipe]
    results = inference.measure({recipe: path}, calls=2, repeats=1, warmup=1,
                                runtimes=PORTABLE)
    assert [(r["runtime"], r["signature"]) for r in results] == [
        (runtime, name) for runtime in PORTABLE
        for name in inference.PORTABLE[recipe]]
    suffix = {"onnxruntime": ".onnx", "litert": ".tflite"}
    for r in results:
        files = [n for n in os.listdir(path) if n.endswith(suffix[r["runtime"]])]
        assert r["size_bytes"] == sum(
            os.path.getsize(os.path.join(path, n)) for n in files)
        assert r["p99_ms"] >= r["p50_ms"] > 0 and r["examples_per_second"] > 0
        assert r["load_seconds"] > 0


def test_portable_inputs_are_the_fixed_texts_as_ids():
    vocabulary = ["where", "is", "the"]
    tokenizers = {"ids": {"max_tokens": 10, "max_length": 4,
                          "vocabulary": vocabulary}}
    found = inference.portable_inputs("sentiment", tokenizers, 2, offset=3)
    # "Where is the nearest ..." and "She gave him the ...", as ids.
    assert found["ids"].tolist() == [[2, 3, 4, 1], [1, 1, 1, 4]]
    images = inference.portable_inputs("mnist_rnn", {}, 3)["images"]
    assert images.dtype == np.uint8 and images.shape == (3, 28, 28)
    prompts = inference.portable_inputs("poetry", {"characters": {
        "max_tokens": 10, "max_length": 9, "split": "character",
        "lowercase": False, "vocabulary": ["<s>", "</s>", "床", "光"]}}, 1)
    assert prompts["prompt_ids"] == [[4, 1, 1, 1, 5]]  # 床前明月光


def test_an_unknown_runtime_is_refused():
    with pytest.raises(ValueError, match="--runtimes: unknown runtime "
                                         "'tflite', expected some of "
                                         "tensorflow, onnxruntime, litert"):
        inference.available_runtimes(["tensorflow", "tflite"])


def test_main_refuses_positional_arguments():
    with pytest.raises(app.UsageError,
                       match=r"Unexpected arguments: \['saved_models'\]"):
        inference.main(["bench.inference", "saved_models"])


def test_main_reports_a_root_without_exports(tmp_path):
    flag_values = parsed_flags(f"--export_root={tmp_path}")
    with pytest.raises(app.UsageError,
                       match="No recipe exports under --export_root="):
        inference.main(["bench.inference"], flag_values)


@pytest.mark.slow
def test_quick_run_writes_a_table_and_json(export_root, tmp_path):
    output = tmp_path / "results" / "inference.json"
    found = subprocess.run(
        [sys.executable, "-m", "bench.inference", "--quick",
         f"--export_root={export_root}", f"--output={output}"],
        capture_output=True, text=True, cwd=REPO, timeout=300,
    )
    assert found.returncode == 0, found.stderr[-3000:]
    assert ("| recipe | signature | runtime | MB | load s | p50 ms | p99 ms | "
            "batch-256 examples/s |" in found.stdout)
    assert ("| translate | serving_default (beam search) | tensorflow |"
            in found.stdout)
    with open(output) as f:
        payload = json.load(f)
    assert payload["quick"] is True
    assert (payload["calls"], payload["repeats"], payload["warmup"]) == (
        inference.QUICK_CALLS, inference.QUICK_REPEATS, inference.QUICK_WARMUP)
    assert (payload["latency_batch"], payload["throughput_batch"]) == (1, 256)
    assert payload["settings"] == inference.SETTINGS
    assert payload["exports"] == {
        r: str(export_root / r / "1") for r in inference.RECIPES}
    assert payload["runtimes"] == ["tensorflow", *PORTABLE]
    rows = [(r["recipe"], r["runtime"], r["signature"])
            for r in payload["results"]]
    assert rows == [
        row for recipe in inference.RECIPES for row in
        [(recipe, "tensorflow", s) for s in TIMED[recipe]]
        + [(recipe, runtime, s) for runtime in PORTABLE
           for s in inference.PORTABLE[recipe]]]
    for r in payload["results"]:
        assert set(r) == {"recipe", "version", "signature", "what", "inputs",
                          "runtime", "size_bytes", "load_seconds",
                          "p50_ms", "p99_ms", "examples_per_second"}
        assert r["p99_ms"] >= r["p50_ms"] > 0 and r["examples_per_second"] > 0


def test_importing_defines_no_flags():
    # The other benchmarks have flags of the same names (--quick, ...).
    assert not flags.FLAGS.flags_by_module_dict().get(inference.__name__)
    values = flags.FlagValues()
    inference.define_flags(values)
    values(["inference"])
    assert (values.quick, values.calls, values.repeats, values.output) == (False, 100, 10, 'bench/results/inference.json')
    assert values.runtimes == ["tensorflow", "onnxruntime", "litert"]
