"""zoo.testing.exports: every recipe's tiny export, built by its own Task."""

import os

import numpy as np
import pytest
import tensorflow as tf

from zoo import recipes
from zoo import testing
from zoo import training
from zoo.testing import exports


def test_docstring_examples():
    testing.run_docstring_examples(exports)


def test_every_recipe_has_tiny_settings_and_an_exporter():
    assert tuple(exports.TINY) == exports.RECIPES
    assert tuple(exports.EXPORTERS) == exports.RECIPES
    assert exports.EXPORTERS["poetry"].__name__ == "export_poetry"


def test_an_unknown_recipe_is_refused():
    for call in (exports.build, lambda r: exports.write_data(r, "unused")):
        with pytest.raises(ValueError, match=r"Received an unknown recipe "
                           r"'speech', expected one of mnist_rnn, sentiment, "
                           r"tagger, translate, poetry$"):
            call("speech")


def test_a_tiny_model_serves_in_process(tmp_path):
    tiny = exports.build("sentiment", tmp_path)
    # Built by the recipe's Task from the tiny corpus it wrote.
    assert os.listdir(tmp_path / "sentiment_work" / "data")
    assert tiny.model.count_params() < 1000
    fn, specs = tiny.endpoints["serving_default"]
    assert [s.name for s in specs] == ["text"]
    found = fn(tf.constant(list(exports.ENGLISH[:3])))
    assert found["probabilities"].shape == (3, len(exports.CLASS_NAMES))
    assert set(found["labels"].numpy()) <= {n.encode()
                                            for n in exports.CLASS_NAMES}


@pytest.mark.slow
def test_export_all_writes_serving_layout_folders(tmp_path):
    found = exports.export_all(tmp_path, recipes=("mnist_rnn", "sentiment"))
    assert found == {r: os.path.join(str(tmp_path), r, "1")
                     for r in ("mnist_rnn", "sentiment")}
    # The next export of a recipe is its next version.
    assert exports.EXPORTERS["mnist_rnn"](str(tmp_path / "mnist_rnn")) == (
        str(tmp_path / "mnist_rnn" / "2"))
    outputs = testing.run_export_test(
        found["sentiment"], "serving_default",
        {"text": np.array([t.encode() for t in exports.ENGLISH[:2]])})
    assert outputs["probabilities"].shape == (2, 2)
    signatures = tf.saved_model.load(found["mnist_rnn"]).signatures
    assert sorted(signatures) == ["serving_default", "serving_float"]


@pytest.mark.skipif(bool(testing.missing_export_extra()),
                    reason=testing.missing_export_extra() or "installed")
def test_export_all_writes_the_portable_formats_asked_for(tmp_path):
    path = exports.export_all(tmp_path, recipes=("mnist_rnn",),
                              formats=("onnx",))["mnist_rnn"]
    assert {"model.onnx", "portable.json", "labels.txt"} <= set(
        os.listdir(path))
    assert not os.path.exists(os.path.join(path, "model.tflite"))


MODELS = {"mnist_rnn": "Functional", "sentiment": "TextClassifier",
          "tagger": "SequenceTagger", "translate": "EncoderDecoder",
          "poetry": "CharLM"}


# The functions of each recipe's portable models.
PORTABLE = {"mnist_rnn": ["model"], "sentiment": ["model"],
            "tagger": ["model"], "translate": ["encode", "next", "greedy"],
            "poetry": ["states", "next", "greedy"]}


@pytest.mark.parametrize("recipe", exports.RECIPES)
def test_each_tiny_model_is_built_by_the_recipes_task(recipe, tmp_path):
    tiny = exports.build(recipe, tmp_path)
    assert "serving_default" in tiny.endpoints
    assert sorted(tiny.portable.functions) == sorted(PORTABLE[recipe])
    assert 0 < tiny.model.count_params() < 20_000
    # The recipe's own model (its build hook), with the tiny settings.
    assert type(tiny.model).__name__ == MODELS[recipe]
    names = {s.name for s in training.settings(recipes.task(recipe).Config)}
    assert set(exports.TINY[recipe]) <= names



def _output_dtypes(endpoints):
    """`{signature: {output: dtype}}` of in-process endpoints."""
    found = {}
    for name, (fn, specs) in endpoints.items():
        concrete = tf.function(fn, input_signature=specs).get_concrete_function()
        found[name] = {key: value.dtype for key, value
                       in concrete.structured_outputs.items()}
    return found


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
@pytest.mark.parametrize("recipe", exports.RECIPES)
def test_a_mixed_precision_model_serves_the_same_dtypes(recipe, policy,
                                                        tmp_path):
    want = exports.build(recipe, tmp_path / "float32")
    got = exports.build(recipe, tmp_path / policy, precision=policy)
    assert {layer.compute_dtype for layer in got.model.layers
            if layer.compute_dtype in ("bfloat16", "float16")} == {
                policy.split("_")[1]}
    assert {w.dtype for w in got.model.weights} <= {"float32", "int64",
                                                    "string"}
    assert _output_dtypes(got.endpoints) == _output_dtypes(want.endpoints)
