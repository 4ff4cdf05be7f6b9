"""SavedModel export: TensorFlow Serving layout, written atomically.

`export_saved_model` writes `<export_root>/<version>/` where `version` is
the next integer. The SavedModel is first written to a hidden
`.partial-*` folder beside it (a name TensorFlow Serving never loads) and
renamed into place, so a crash never leaves a half-written version.

A loaded signature checks its inputs' dtypes but not their shapes, so every
endpoint first checks each input against its spec's shape: a text `[1, 1]`
where `[N]` is expected is refused with an error naming the input and both
shapes, rather than reaching the model.
"""

import functools
import os
import shutil

import keras
import tensorflow as tf
from absl import logging


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


def export_saved_model(model, endpoints, export_root, track=()):
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

    Returns:
        The path of the new version folder.
    """
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
