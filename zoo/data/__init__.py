"""Data sources and tf.data pipelines."""
