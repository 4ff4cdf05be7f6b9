"""Masked recurrent layers built from `zoo.cells`, and their companions."""

from zoo.layers.bidirectional import Bidirectional
from zoo.layers.pooling import SequencePooling
from zoo.layers.recurrent import Recurrent
from zoo.layers.stacked import StackedRNN
from zoo.layers.text import PaddingMonitor
from zoo.layers.text import TextToIds

__all__ = [
    "Bidirectional",
    "PaddingMonitor",
    "Recurrent",
    "SequencePooling",
    "StackedRNN",
    "TextToIds",
]
