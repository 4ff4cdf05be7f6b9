"""Tests for zoo.decoding (the package): the `get()` registry and `names()`."""

import keras
import pytest

from zoo import decoding
from zoo.testing import run_docstring_examples


def test_names():
    assert decoding.names() == ["beam", "greedy", "sample"]


def test_get_by_name():
    assert type(decoding.get("greedy")) is decoding.GreedySearch
    decoder = decoding.get("Beam", beam_width=2, length_penalty=0.6)
    assert type(decoder) is decoding.BeamSearch
    assert decoder.get_config() == {"beam_width": 2, "length_penalty": 0.6}
    assert decoding.get("beam").get_config() == {
        "beam_width": 4, "length_penalty": 0.0
    }
    # A fresh decoder each time.
    assert decoding.get("beam") is not decoding.get("beam")


def test_get_by_config():
    decoder = decoding.get(
        {"class_name": "BeamSearch", "config": {"beam_width": 3}}
    )
    assert decoder.get_config() == {"beam_width": 3, "length_penalty": 0.0}
    assert type(decoding.get({"class_name": "GreedySearch"})) is (
        decoding.GreedySearch
    )
    # What Keras' serializer writes round-trips too.
    original = decoding.BeamSearch(beam_width=5, length_penalty=1.0)
    config = keras.saving.serialize_keras_object(original)
    assert decoding.get(config).get_config() == original.get_config()
    restored = keras.saving.deserialize_keras_object(config)
    assert restored.get_config() == original.get_config()


def test_get_instance_is_returned_as_is():
    decoder = decoding.BeamSearch(beam_width=2)
    assert decoding.get(decoder) is decoder
    greedy = decoding.GreedySearch()
    assert decoding.get(greedy) is greedy


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(
        ValueError, match=r"Unknown decoder 'sampling'. Known decoders: "
                          r"beam, greedy, sample$"
    ):
        decoding.get("sampling")
    with pytest.raises(
        ValueError, match=r"Unknown decoder class 'TopK'. Known classes: "
                          r"BeamSearch, GreedySearch, Sampler$"
    ):
        decoding.get({"class_name": "TopK", "config": {}})


def test_arguments_only_with_a_name():
    with pytest.raises(
        ValueError, match=r"got a decoder instance and \['beam_width'\]"
    ):
        decoding.get(decoding.BeamSearch(), beam_width=2)
    with pytest.raises(
        ValueError, match=r"got a config dict and \['beam_width'\]"
    ):
        decoding.get({"class_name": "BeamSearch", "config": {}}, beam_width=2)


def test_invalid_identifier_and_arguments():
    with pytest.raises(
        ValueError, match=r"Received an invalid value for argument "
                          r"`identifier`, expected a decoder name, config "
                          r"dict or decoder instance, got 3"
    ):
        decoding.get(3)
    with pytest.raises(
        ValueError, match=r"argument `beam_width`, expected a positive "
                          r"integer, got 0"
    ):
        decoding.get("beam", beam_width=0)
    with pytest.raises(TypeError, match=r"unexpected keyword argument "
                                      r"'beam_width'"):
        decoding.get("greedy", beam_width=2)


def test_docstring_examples():
    run_docstring_examples(decoding, recurse=False)
    run_docstring_examples(decoding.get)
