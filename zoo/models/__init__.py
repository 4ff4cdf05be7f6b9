"""Task models built from the blocks, and the objects that drive them.

Each model is a Keras model with `get_config` and a `.keras` round trip;
what decoding needs (`encode`, `next`) and what serving needs (`tag`,
`ids`, `classify`) are methods:

* `TextClassifier`: strings -> class probabilities (sentiment);
* `SequenceTagger`: tokens -> tag potentials, with a CRF or a softmax;
* `EncoderDecoder`: teacher-forced translation; `Translator` drives it
  from strings, greedy or by beam search;
* `CharLM`: a character language model; `Generator` generates and scores
  strings with it, and `Poet` also writes regular poems, the form a
  constraint on the sampler.
"""

from zoo.models import char_lm
from zoo.models import classifier
from zoo.models import poem_forms
from zoo.models import seq2seq
from zoo.models import tagger
from zoo.models.char_lm import CharLM
from zoo.models.char_lm import Generator
from zoo.models.classifier import TextClassifier
from zoo.models.poem_forms import Poet
from zoo.models.seq2seq import EncoderDecoder
from zoo.models.seq2seq import Translator
from zoo.models.tagger import SequenceTagger

__all__ = [
    "CharLM",
    "EncoderDecoder",
    "Generator",
    "Poet",
    "SequenceTagger",
    "TextClassifier",
    "Translator",
    "char_lm",
    "classifier",
    "poem_forms",
    "seq2seq",
    "tagger",
]
