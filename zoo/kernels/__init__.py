"""zoo's compiled CPU kernels, built from source on the user's machine.

`build` compiles and loads them (once per TensorFlow version, cached);
`rnn` is the recurrent loop `zoo.layers.Recurrent` takes in training when
it can (its `use_kernel` argument). Nothing here ever enters an exported
model: exports trace the layers with `training=False`, which runs the
TensorFlow loop.
"""

from zoo.kernels import build
from zoo.kernels import rnn

__all__ = ["build", "rnn"]
