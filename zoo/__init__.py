"""zoo: masked recurrent building blocks and recipes for Keras 3."""

__version__ = "0.1.0"
