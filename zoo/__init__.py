"""zoo: masked recurrent building blocks and recipes for Keras 3."""

import os

# Quiet TensorFlow's C++ log when zoo is imported before TensorFlow: a
# normal run shows none of its info, warnings and error-level notes (a
# missing CUDA driver on a CPU machine, oneDNN falling back to Eigen);
# failures still raise in Python. TF_CPP_MIN_LOG_LEVEL=0 shows it all.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

__version__ = "0.1.0"
