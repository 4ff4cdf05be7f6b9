r"""Row-by-row MNIST: each image is 28 time steps of 28 pixels (many-to-one).

    python -m zoo.recipes.mnist_rnn                      # default preset
    python -m zoo.recipes.mnist_rnn --flagfile=recipes/mnist_rnn/gru.flags \
        --data=PATH/TO/mnist

Trains, evaluates on the test split, writes `<workdir>/metrics.json` and
exports a SavedModel to `<export_dir>/<version>/` whose `serving_default`
takes uint8 images `[N, 28, 28]` (`serving_float` takes float images in
[0, 1]) and returns `probabilities [N, 10]` and `classes [N]`.
`--export_formats=saved_model,onnx,litert` also writes `model.onnx` and
`model.tflite` beside it: the same uint8 images in, the same
`probabilities` and `classes` out (`portable_core`).
"""


import dataclasses

import keras
import tensorflow as tf

from zoo import export
from zoo import layers
from zoo import training
from zoo.data import mnist
from zoo.data import pipeline
from zoo.training import flags as zoo_flags


@dataclasses.dataclass
class Config(training.TrainConfig):
    """Settings of this recipe, one flag each; the defaults are its default
    preset (`recipes/mnist_rnn/lstm.flags` holds the same values)."""

    WORKDIR = "workdirs/mnist_rnn"

    data: str = "mnist"
    export_dir: str = "saved_models/mnist_rnn"
    epochs: int = 30
    batch_size: int = 128
    learning_rate: float = 0.002
    lr_decay: float = 0.5
    lr_patience: int = 2
    patience: int = 5
    clipnorm: float = 1.0
    cell: str = "lstm"
    units: int = 128
    layers: int = 1
    dropout: float = 0.1
    recurrent_dropout: float = 0.1


def build_model(config):
    """Images `[batch, 28, 28]` in [0, 1] -> class probabilities `[batch, 10]`."""
    images = keras.Input(shape=mnist.IMAGE_SHAPE, name="images")
    # Rows are time steps: [batch, 28 rows, 28 pixels] is already
    # [batch, time, features].
    features = layers.StackedRNN(
        config.cell,
        units=config.units,
        num_layers=config.layers,
        bidirectional=config.bidirectional,
        residual=config.residual,
        dropout=config.dropout,
        recurrent_dropout=config.recurrent_dropout,
        seed=config.seed,
        name="encoder",
    )(images)
    probabilities = keras.layers.Dense(
        mnist.NUM_CLASSES, activation="softmax", name="classifier",
        dtype="float32",  # Whatever the dtype policy.
    )(features)
    return keras.Model(images, probabilities, name="mnist_rnn")


def to_float(images):
    """uint8 pixels -> float32 in [0, 1]."""
    return tf.image.convert_image_dtype(images, tf.float32)


def serving_endpoints(model):
    """`serving_default` (uint8 images) and `serving_float` ([0, 1] floats).

    `serving_float` refuses NaN or infinite pixels and pixels outside
    [0, 1] (uint8 pixels, 0-255, go to `serving_default`).
    """
    shape = [None, *mnist.IMAGE_SHAPE]

    def outputs(images):
        probabilities = model(images, training=False)
        return {
            "probabilities": probabilities,
            "classes": tf.argmax(probabilities, axis=-1),
        }

    def serve_float(images):
        images = tf.debugging.assert_all_finite(
            images, "serving_float: `images` must be finite pixels in [0, 1]",
        )
        in_range = tf.debugging.Assert(
            tf.reduce_all((images >= 0.0) & (images <= 1.0)),
            ["serving_float: `images` must be pixels in [0, 1] (uint8 "
             "pixels, 0-255, go to serving_default); got min and max",
             tf.reduce_min(images), tf.reduce_max(images)],
        )
        with tf.control_dependencies([in_range]):
            return outputs(tf.identity(images))

    return {
        "serving_default": (
            lambda images: outputs(to_float(images)),
            [tf.TensorSpec(shape, tf.uint8, name="images")],
        ),
        "serving_float": (
            serve_float,
            [tf.TensorSpec(shape, tf.float32, name="images")],
        ),
    }


def portable_core(model):
    """The portable models' function (`zoo.export.Portable`): uint8
    images `[N, 28, 28]` -> `probabilities [N, 10]`, `classes [N]`, as
    `serving_default` (without its shape check: the runtimes check the
    shape themselves)."""

    def core(images):
        probabilities = model(to_float(images), training=False)
        return {"probabilities": probabilities,
                "classes": tf.argmax(probabilities, axis=-1)}

    return export.Portable(
        functions={"model": (core, [tf.TensorSpec(
            [None, *mnist.IMAGE_SHAPE], tf.uint8, name="images")])},
        description={
            "recipe": "mnist_rnn",
            "preprocessing": "none: images are uint8 pixels, 0 black to "
                             "255 white, one row of 28 per time step, top "
                             "to bottom, as serving_default takes them",
            "outputs": {"probabilities": "of the classes in labels.txt, "
                                         "in order",
                        "classes": "the most probable class (its digit)"},
        },
        files={"labels.txt": "".join(f"{d}\n"
                                     for d in range(mnist.NUM_CLASSES))},
    )


class MnistRNN(training.Task):
    """Row-by-row MNIST as a `zoo.training.Task`."""

    Config = Config
    # The epoch whose weights are tested and exported: the best validation
    # accuracy (ties: the lower validation loss).
    selection = training.Selection("val_accuracy", "max")

    def data(self, config, workdir):
        streams = mnist.stream(config.data,
                               tfds_data_dir=config.tfds_data_dir or None)
        return training.Data(
            streams.train, streams.test, streams.train_size,
            streams.test_size, streams.source,
            extra={"data_is_fallback": streams.is_fallback},
        )

    def batches(self, config, examples, batch_size, training):
        return pipeline.batches(examples, batch_size, shuffle=training,
                                seed=config.seed, map_fn=to_float)

    def build(self, config):
        return build_model(config)

    def endpoints(self, model, config):
        return serving_endpoints(model)

    def portable(self, model, config):
        return portable_core(model)


def train_and_evaluate(config, workdir, callbacks=()):
    """`zoo.training.run(MnistRNN(), ...)`: trains, evaluates and exports;
    returns the metrics written to `<workdir>/metrics.json`."""
    return training.run(MnistRNN(), config, workdir, callbacks)


if __name__ == "__main__":
    zoo_flags.run(Config, train_and_evaluate)
