"""The numeric precision of a run: float32, or mixed precision.

Under a mixed policy (`keras.mixed_precision`), layers compute in bfloat16
or float16 and keep their variables in float32; the zoo's models compute
what needs the range or the resolution in float32 whatever the policy:
losses, softmax normalisation, the CRF, attention weights, beam-search
scores and sampling probabilities. `--precision=auto` picks bfloat16 where
the hardware multiplies it natively, float32 elsewhere:

>>> policy, why = precision.choose("auto")
>>> with precision.applied("auto"):
...     model = task.build(config)   # Layers take the policy when made.
"""

import contextlib
import functools

import keras
from absl import logging

PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")

# CPU flags (Linux /proc/cpuinfo names) of native bfloat16 matrix products.
BFLOAT16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")

# GPUs multiply bfloat16 on tensor cores from compute capability 8.0
# (Ampere).
BFLOAT16_GPU = (8, 0)


@functools.cache
def cpu_flags(cpuinfo="/proc/cpuinfo"):
    """The CPU's feature flags, read from `cpuinfo`; empty where it cannot
    be read (not Linux)."""
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as lines:
            for line in lines:
                name, _, value = line.partition(":")
                if name.strip() == "flags":
                    return frozenset(value.split())
    except OSError:
        pass
    return frozenset()


def gpu_capabilities():
    """The compute capability `(major, minor)` of each visible GPU."""
    import tensorflow as tf

    found = []
    for gpu in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(gpu)
        found.append(tuple(details.get("compute_capability", (0, 0))))
    return found


def choose(precision, flags=None, gpus=None):
    """`(policy, why)`: the Keras dtype policy `precision` means here.

    Args:
        precision: One of `PRECISIONS`. `auto` is `mixed_bfloat16` where
            every GPU, or with none the CPU, multiplies bfloat16 natively
            (AVX512_BF16 or AMX; a GPU of compute capability 8.0 or more),
            and `float32` elsewhere: an emulated bfloat16 product is slower
            than a float32 one.
        flags: The CPU's flags (default: `cpu_flags()`).
        gpus: The GPUs' compute capabilities (default: `gpu_capabilities()`).

    Raises:
        ValueError: An unknown `precision`.
    """
    if precision not in PRECISIONS:
        raise ValueError(
            f"Received an invalid value for argument `precision`, expected "
            f"one of {', '.join(PRECISIONS)}, got {precision!r}"
        )
    if precision != "auto":
        return precision, "asked for with --precision"
    gpus = gpu_capabilities() if gpus is None else gpus
    if gpus:
        slowest = min(gpus)
        if slowest >= BFLOAT16_GPU:
            return "mixed_bfloat16", (
                "every GPU multiplies bfloat16 on tensor cores (compute "
                f"capability {slowest[0]}.{slowest[1]})")
        return "float32", (
            f"a GPU of compute capability {slowest[0]}.{slowest[1]} has no "
            "bfloat16 tensor cores (8.0 or more); --precision=mixed_float16 "
            "uses its float16 ones")
    flags = cpu_flags() if flags is None else flags
    native = [flag for flag in BFLOAT16_CPU_FLAGS if flag in flags]
    if native:
        return "mixed_bfloat16", (
            f"this CPU multiplies bfloat16 natively ({', '.join(native)})")
    return "float32", (
        "this CPU has no native bfloat16 products (AVX512_BF16 or AMX): it "
        "would emulate them, slower than float32")


@contextlib.contextmanager
def applied(precision, flags=None, gpus=None):
    """Keras' global dtype policy is `choose(precision)`'s for the block
    (logged with the reason), and what it was before after it. Yields the
    policy's name."""
    policy, why = choose(precision, flags, gpus)
    logging.info("Precision: %s (%s).", policy, why)
    if policy == "mixed_float16" and not (
            gpu_capabilities() if gpus is None else gpus):
        logging.warning(
            "Precision: float16 on a CPU is emulated and slower than "
            "float32; mixed_float16 is for GPUs.")
    with policy_scope(policy):
        yield policy


@contextlib.contextmanager
def policy_scope(policy):
    """Keras' global dtype policy is `policy` (a name such as
    "mixed_bfloat16") for the block, and what it was before after it,
    also on error. Layers take the policy when they are made."""
    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(before)


def float32_copy(model):
    """`model` made again under the float32 policy, with its weights (a
    mixed precision model's variables are float32 already): what the
    portable exports convert, since ONNX Runtime and LiteRT's builtin ops
    lack bfloat16 and float16 arithmetic. `model` itself if it computes
    in float32, or if it is not a `zoo.models.base.ConfiguredModel` (which
    `from_config` makes again whole; sentiment's n-gram product is not)."""
    from zoo.models import base

    if (model.dtype_policy.compute_dtype == "float32"
            or not isinstance(model, base.ConfiguredModel)):
        return model
    with policy_scope("float32"):
        copy = model.__class__.from_config(model.get_config())
    copy.set_weights(model.get_weights())
    return copy
