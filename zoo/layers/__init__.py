"""Masked recurrent layers built from `zoo.cells`, and their companions."""

from zoo.layers.attention import SequenceAttention
from zoo.layers.bidirectional import Bidirectional
from zoo.layers.crf import CRF
from zoo.layers.crf import CRFLoss
from zoo.layers.ngrams import MultiHotDense
from zoo.layers.ngrams import ProductOfExperts
from zoo.layers.pooling import SequencePooling
from zoo.layers.recurrent import Recurrent
from zoo.layers.stacked import StackedRNN
from zoo.layers.text import TextToIds
from zoo.layers.text import detokenize
from zoo.layers.text import normalize_unicode
from zoo.layers.tokens import CharCNN
from zoo.layers.tokens import TokensToCharIds
from zoo.layers.tokens import TokensToIds

__all__ = [
    "Bidirectional",
    "CRF",
    "CRFLoss",
    "CharCNN",
    "MultiHotDense",
    "ProductOfExperts",
    "Recurrent",
    "SequenceAttention",
    "SequencePooling",
    "StackedRNN",
    "TextToIds",
    "detokenize",
    "normalize_unicode",
    "TokensToCharIds",
    "TokensToIds",
]
