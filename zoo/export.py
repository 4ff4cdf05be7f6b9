"""SavedModel export: TensorFlow Serving layout, written atomically.

`export_saved_model` writes `<export_root>/<version>/` where `version` is
the next integer. The SavedModel is first written to a hidden
`.partial-*` folder beside it (a name TensorFlow Serving never loads) and
renamed into place, so a crash never leaves a half-written version.

A loaded signature checks its inputs' dtypes but not their shapes, so every
endpoint first checks each input against its spec's shape: a text `[1, 1]`
where `[N]` is expected is refused with an error naming the input and both
shapes, rather than reaching the model.

Beside the SavedModel, a version can hold portable models for runtimes
without TensorFlow (`formats`, `Portable`): `<name>.onnx` (ONNX Runtime)
and `<name>.tflite` (LiteRT) of each numeric function, the files a client
needs (vocabularies, labels) and `portable.json`, which says what each
model takes and returns. They are written into the hidden folder before
its rename, so a version has all of its files or does not exist. The
converters (`tf2onnx`; LiteRT's is TensorFlow's own) come with
`pip install '.[export]'`.
"""

import dataclasses
import functools
import importlib.util
import json
import os
import shutil
import tempfile

import keras
import tensorflow as tf
from absl import logging

from zoo import errors


# What a version can hold: the SavedModel (always written) and portable
# models of the numeric core.
FORMATS = ("saved_model", "onnx", "litert")
PORTABLE_FORMATS = ("onnx", "litert")
SUFFIXES = {"onnx": ".onnx", "litert": ".tflite"}
# The ONNX operator set the models are written for (ONNX Runtime 1.17 or
# later runs it).
ONNX_OPSET = 17
# The batch size of the LiteRT models: the converter lowers a recurrent
# loop's tensor lists to builtin ops only when their element shapes are
# static, so the batch is fixed (a client runs rows one at a time).
LITERT_BATCH = 1
# The Python module each format's converter needs, from the `export` extra.
CONVERTERS = {"onnx": "tf2onnx"}


@dataclasses.dataclass
class Portable:
    """What a version's portable models are made of.

    Attributes:
        functions: Dict `name -> (fn, input_signature)` like the SavedModel
            endpoints', but numbers in and numbers out (ids, pixels,
            states): each becomes `<name>.onnx` and `<name>.tflite`.
        description: JSON-able entries for `portable.json` (how raw inputs
            become the functions' inputs, what the outputs mean).
        files: Dict `file name -> text` written beside the models
            (vocabularies, class names).
    """

    functions: dict
    description: dict = dataclasses.field(default_factory=dict)
    files: dict = dataclasses.field(default_factory=dict)


def check_formats(formats):
    """`formats` (names of `FORMATS`) as a tuple of the portable ones.

    Raises:
        zoo.errors.ConfigError: An unknown format, or a format whose
            converter is not installed (one line, with the install
            command).
    """
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise errors.ConfigError(
            f"Received an invalid value for argument `export_formats`, "
            f"expected some of {', '.join(FORMATS)}, got {unknown[0]!r}")
    portable = tuple(dict.fromkeys(f for f in formats if f != "saved_model"))
    for name in portable:
        module = CONVERTERS.get(name)
        if module and importlib.util.find_spec(module) is None:
            raise errors.ConfigError(
                f"--export_formats={name} needs {module}: pip install "
                "'.[export]' in zoo's checkout")
    return portable


def _tensor_specs(specs):
    """JSON of `tf.TensorSpec`s (a list, or a dict of name -> spec)."""
    if isinstance(specs, dict):
        specs = [tf.TensorSpec(specs[k].shape, specs[k].dtype, name=k)
                 for k in sorted(specs)]
    return [{"name": s.name, "dtype": s.dtype.name,
             "shape": [d if d is not None else -1 for d in s.shape.as_list()]}
            for s in specs]


def _litert(name, fn, input_signature, model):
    """The LiteRT flatbuffer of `fn`, with `model`'s variables as constants.

    Converted from a SavedModel of the one function: the converter freezes
    a SavedModel's variables, where from a concrete function it would keep
    them as resource variables that a plain interpreter leaves unset. The
    batch dimension is `LITERT_BATCH`.
    """
    input_signature = [
        tf.TensorSpec([LITERT_BATCH, *spec.shape[1:]], spec.dtype,
                      name=spec.name) for spec in input_signature]
    archive = keras.export.ExportArchive()
    if model is not None:
        archive.track(model)
    archive.add_endpoint(name, fn, input_signature=input_signature)
    with tempfile.TemporaryDirectory() as tmp:
        archive.write_out(tmp, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(
            tmp, signature_keys=[name])
        return converter.convert()


def write_portable(portable, folder, formats, model=None):
    """Writes `portable`'s models in each of `formats` (of
    `PORTABLE_FORMATS`), its files and `portable.json` into `folder`.
    `model`: what holds the functions' variables (LiteRT's converter
    tracks them through it).

    Returns:
        The description written to `portable.json`.
    """
    models = {}
    for name, (fn, input_signature) in portable.functions.items():
        function = tf.function(fn, input_signature=input_signature,
                               autograph=False)
        concrete = function.get_concrete_function()
        files = {}
        for form in formats:
            path = os.path.join(folder, name + SUFFIXES[form])
            if form == "onnx":
                import tf2onnx

                tf2onnx.convert.from_function(
                    function, input_signature=input_signature,
                    opset=ONNX_OPSET, output_path=path)
            else:
                with open(path, "wb") as f:
                    f.write(_litert(name, fn, input_signature, model))
            files[form] = os.path.basename(path)
        models[name] = {"files": files,
                        "inputs": _tensor_specs(input_signature),
                        "outputs": _tensor_specs(concrete.structured_outputs)}
        if "litert" in formats:
            models[name]["litert_batch"] = LITERT_BATCH
    for name, text in portable.files.items():
        with open(os.path.join(folder, name), "w", encoding="utf-8") as f:
            f.write(text)
    description = {"formats": list(formats), "models": models,
                   "files": sorted(portable.files), **portable.description}
    with open(os.path.join(folder, "portable.json"), "w",
              encoding="utf-8") as f:
        json.dump(description, f, indent=2, ensure_ascii=False)
        f.write("\n")
    return description


def versions(export_root):
    """The integer versions present under `export_root`, ascending."""
    if not os.path.isdir(export_root):
        return []
    return sorted(int(n) for n in os.listdir(export_root) if n.isdigit())


def _shape_checked(fn, input_signature):
    """`fn` whose inputs are first checked against their specs' shapes."""

    @functools.wraps(fn)  # Keeps `fn`'s argument names for the signature.
    def serve(*inputs):
        return fn(*(tf.ensure_shape(x, spec.shape)
                    for x, spec in zip(inputs, input_signature)))

    return serve


def export_saved_model(model, endpoints, export_root, track=(),
                       portable=None, formats=()):
    """Exports `model` with the given signatures as the next version.

    Args:
        model: The Keras model whose variables the endpoints use.
        endpoints: Dict `name -> (fn, input_signature)`; `fn` takes tensors
            matching `input_signature` (a list of `tf.TensorSpec`) and
            returns a dict of named outputs. One name should be
            `"serving_default"`.
        export_root: Folder of versions, created if needed.
        track: More layers whose variables or lookup tables the endpoints
            use besides the model's (e.g. text layers outside the model).
        portable: A `Portable`, written in each of `formats` (of
            `PORTABLE_FORMATS`) into the version beside the SavedModel.
        formats: The portable formats to write; none without `portable`.

    Returns:
        The path of the new version folder.
    """
    if formats and portable is None:
        raise ValueError(f"Portable formats ({', '.join(formats)}) need a "
                         "`portable` to write")
    archive = keras.export.ExportArchive()
    archive.track(model)
    for layer in track:
        archive.track(layer)
    for name, (fn, input_signature) in endpoints.items():
        archive.add_endpoint(name, _shape_checked(fn, input_signature),
                             input_signature=input_signature)
    os.makedirs(export_root, exist_ok=True)
    partial = os.path.join(export_root, f".partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        archive.write_out(partial, verbose=False)
        if formats:
            write_portable(portable, partial, formats, model)
        while True:
            version = (versions(export_root) or [0])[-1] + 1
            path = os.path.join(export_root, str(version))
            try:
                os.rename(partial, path)
                break
            except OSError:
                if not os.path.exists(path):
                    raise
                # Another process took this version first; take the next.
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    logging.info("Exported SavedModel to %s", path)
    return path
