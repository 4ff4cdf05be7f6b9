"""What the task models share: a functional Keras model whose config is
its constructor's arguments (the pattern of keras-hub's backbones)."""

import keras


class ConfiguredModel(keras.Model):
    """A functional `keras.Model` whose `get_config` is the arguments it
    was built with, so `from_config` (and a `.keras` file) rebuilds it.

    A subclass makes its layers, calls `super().__init__(inputs=...,
    outputs=..., **kwargs)`, then `self.set_config(name=value, ...)` with
    its constructor's arguments: each becomes an attribute of its name. A
    layer (or a dict of layers) among them is serialized in the config, and
    the subclass's `__init__` deserializes a dict it receives for it.
    """

    def set_config(self, **arguments):
        """Keeps each argument as an attribute; `get_config` returns them."""
        for name, value in arguments.items():
            setattr(self, name, value)
        self._config_names = tuple(arguments)

    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable}
        for name in self._config_names:
            value = getattr(self, name)
            if isinstance(value, keras.layers.Layer):
                value = keras.saving.serialize_keras_object(value)
            elif isinstance(value, dict):
                value = {key: keras.saving.serialize_keras_object(layer)
                         for key, layer in value.items()}
            config[name] = value
        return config


def deserialize(value):
    """A layer from its serialized config (a dict), or `value` as given."""
    if isinstance(value, dict):
        return keras.saving.deserialize_keras_object(value)
    return value
