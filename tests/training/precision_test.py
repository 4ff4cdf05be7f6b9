"""zoo.training.precision: what each --precision means here, and its scope."""

import logging

import keras
import pytest

from zoo.training import precision

ZEN4 = frozenset({"avx512f", "avx512_bf16", "avx512_vnni"})
SAPPHIRE_RAPIDS = frozenset({"avx512f", "amx_tile", "amx_bf16"})
OLDER = frozenset({"avx2", "avx512f"})


@pytest.mark.parametrize("flags", [ZEN4, SAPPHIRE_RAPIDS])
def test_auto_is_bfloat16_on_a_cpu_with_native_products(flags):
    policy, why = precision.choose("auto", flags=flags, gpus=[])
    assert policy == "mixed_bfloat16"
    assert "natively" in why and ("avx512_bf16" in why or "amx_bf16" in why)


def test_auto_is_float32_on_a_cpu_that_would_emulate_bfloat16():
    policy, why = precision.choose("auto", flags=OLDER, gpus=[])
    assert policy == "float32"
    assert "emulate" in why


def test_auto_follows_the_gpus_not_the_cpu():
    assert precision.choose("auto", flags=OLDER, gpus=[(8, 0), (9, 0)])[0] \
        == "mixed_bfloat16"
    policy, why = precision.choose("auto", flags=ZEN4, gpus=[(8, 6), (7, 0)])
    assert policy == "float32"
    assert "7.0" in why and "mixed_float16" in why


@pytest.mark.parametrize("name", ["float32", "mixed_bfloat16",
                                  "mixed_float16"])
def test_a_named_precision_is_taken_as_asked(name):
    assert precision.choose(name, flags=OLDER, gpus=[]) == (
        name, "asked for with --precision")


def test_an_unknown_precision_is_refused():
    with pytest.raises(ValueError, match=r"`precision`, expected one of "
                       r"auto, float32, mixed_bfloat16, mixed_float16, got "
                       r"'bfloat16'"):
        precision.choose("bfloat16")


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx512_bf16 sse\n"
                       "processor\t: 1\nflags\t\t: fpu avx512_bf16 sse\n")
    assert precision.cpu_flags(str(cpuinfo)) == {"fpu", "avx512_bf16", "sse"}
    assert precision.cpu_flags(str(tmp_path / "missing")) == frozenset()


def test_applied_sets_the_policy_for_the_block_and_logs_why(caplog):
    before = keras.config.dtype_policy().name
    with caplog.at_level(logging.INFO, logger="absl"):
        with precision.applied("auto", flags=ZEN4, gpus=[]) as policy:
            assert policy == "mixed_bfloat16"
            layer = keras.layers.Dense(2)
            assert keras.config.dtype_policy().name == "mixed_bfloat16"
    assert (layer.compute_dtype, layer.variable_dtype) == ("bfloat16",
                                                          "float32")
    assert keras.config.dtype_policy().name == before
    assert ("Precision: mixed_bfloat16 (this CPU multiplies bfloat16 "
            "natively (avx512_bf16)).") in caplog.text


def test_applied_restores_the_policy_when_the_block_raises():
    before = keras.config.dtype_policy().name
    with pytest.raises(RuntimeError, match="inside"):
        with precision.applied("mixed_float16", gpus=[(7, 0)]):
            raise RuntimeError("inside")
    assert keras.config.dtype_policy().name == before


def test_float16_on_a_cpu_is_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="absl"):
        with precision.applied("mixed_float16", gpus=[]):
            pass
    assert "float16 on a CPU is emulated" in caplog.text


def test_policy_scope_restores_the_policy_after_an_error():
    with pytest.raises(RuntimeError):
        with precision.policy_scope("mixed_bfloat16"):
            assert keras.config.dtype_policy().name == "mixed_bfloat16"
            raise RuntimeError("inside")
    assert keras.config.dtype_policy().name == "float32"


def test_float32_copy_computes_in_float32_with_the_same_weights():
    import numpy as np

    from zoo import models

    with precision.policy_scope("mixed_bfloat16"):
        model = models.CharLM(12, embedding_dim=4, units=6, seed=0)
    copy = precision.float32_copy(model)
    assert model.compute_dtype == "bfloat16"
    assert copy is not model and type(copy) is models.CharLM
    assert {layer.compute_dtype for layer in copy.layers} == {"float32"}
    for a, b in zip(model.get_weights(), copy.get_weights()):
        np.testing.assert_array_equal(a, b)
    ids = np.array([[2, 5, 7, 0]])
    np.testing.assert_allclose(copy(ids), model(ids).numpy().astype("float32"),
                               atol=0.05)


def test_float32_copy_keeps_a_float32_model_or_one_it_cannot_make_again():
    from zoo import models

    model = models.CharLM(12, embedding_dim=4, units=6)
    assert precision.float32_copy(model) is model
    with precision.policy_scope("mixed_bfloat16"):
        plain = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    assert precision.float32_copy(plain) is plain
