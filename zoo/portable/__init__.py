"""What a client needs to serve zoo models outside TensorFlow.

Importable on their own, without TensorFlow (a client may copy the files):

* `zoo.portable.text` (plain Python, no NumPy): the text layers'
  preprocessing (`TextToIds`, `TokensToIds`, `TokensToCharIds`) written
  down exactly: raw strings to the ids a model's numeric core takes, and
  `detokenize` (a translation's words to its sentence).
* `zoo.portable.decoding` (NumPy): the decoding loops (greedy, beam search,
  sampling) over the translator's and the language model's portable step
  functions, run by ONNX Runtime or LiteRT (`translate_ids`,
  `generate_ids`).
"""
