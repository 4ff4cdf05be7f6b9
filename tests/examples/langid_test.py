"""Tests for examples/langid.py: a recipe written on zoo, end to end."""

import importlib.util
import os

import numpy as np
import pytest

from zoo import testing

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PATH = os.path.join(REPO, "examples", "langid.py")

ENGLISH = ["In the beginning God created the heaven and the earth.",
           "And God said, Let there be light: and there was light.",
           "And the evening and the morning were the first day.",
           "And God saw the light, that it was good."]
SPANISH = ["En el principio creó Dios los cielos y la tierra.",
           "Y dijo Dios: Sea la luz: y fué la luz.",
           "Y fué la tarde y la mañana un día.",
           "Y vió Dios que la luz era buena."]


def _langid():
    spec = importlib.util.spec_from_file_location("langid", PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_whole_recipe_is_under_100_lines():
    with open(PATH, encoding="utf-8") as f:
        assert len(f.readlines()) < 100


def test_trains_and_exports_a_model_that_loads_without_zoo(tmp_path):
    langid = _langid()
    path = tmp_path / "pairs.tsv"
    rows = [f"{e}\t{s}" for e, s in zip(ENGLISH, SPANISH)] * 6
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    config = langid.Config(data=str(path), export_dir=str(tmp_path / "export"),
                           test_size=4, epochs=2, units=4, batch_size=8)
    metrics = langid.training.run(langid.LanguageId(), config,
                                  str(tmp_path / "work"))
    assert metrics["data"].startswith(str(path))
    assert metrics["class_names"] == ["en", "es"]
    assert 0.0 <= metrics["test_accuracy"] <= 1.0
    assert metrics["selection"]["monitor"] == "val_accuracy"
    texts = np.array([t.encode() for t in (ENGLISH[0], SPANISH[0], "")])
    served = testing.run_export_test(
        metrics["export_path"], "serving_default", {"text": texts})
    assert served["probabilities"].shape == (3, 2)
    np.testing.assert_allclose(served["probabilities"].sum(-1), 1.0, atol=1e-6)
    assert set(served["labels"].tolist()) <= {b"en", b"es"}


def test_without_data_says_what_to_give(tmp_path):
    langid = _langid()
    with pytest.raises(ValueError, match=r"--data: give a file of "
                       r"`first<TAB>second` lines"):
        langid.training.run(langid.LanguageId(), langid.Config(),
                            str(tmp_path))
