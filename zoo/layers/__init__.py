"""Masked recurrent layers built from `zoo.cells`."""

from zoo.layers.bidirectional import Bidirectional
from zoo.layers.recurrent import Recurrent
from zoo.layers.stacked import StackedRNN

__all__ = ["Bidirectional", "Recurrent", "StackedRNN"]
