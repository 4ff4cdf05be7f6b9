"""zoo.testing.exports: every recipe's tiny export, built by its own code."""

import os

import numpy as np
import pytest
import tensorflow as tf

from zoo import testing
from zoo.testing import exports


def test_docstring_examples():
    testing.run_docstring_examples(exports)


def test_every_recipe_has_a_builder_and_an_exporter():
    assert tuple(exports.BUILDERS) == exports.RECIPES
    assert tuple(exports.EXPORTERS) == exports.RECIPES
    assert exports.EXPORTERS["poetry"].__name__ == "export_poetry"


def test_an_unknown_recipe_is_refused():
    with pytest.raises(ValueError, match=r"Received an unknown recipe "
                       r"'speech', expected one of mnist_rnn, sentiment, "
                       r"tagger, translate, poetry$"):
        exports.build("speech")


def test_a_tiny_model_serves_in_process():
    tiny = exports.build("sentiment")
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
