"""What a client needs to serve zoo models outside TensorFlow.

Plain Python (no TensorFlow, no NumPy), importable on its own:

* `zoo.portable.text`: the text layers' preprocessing (`TextToIds`,
  `TokensToIds`, `TokensToCharIds`) written down exactly: raw strings to
  the ids a model's numeric core takes.
"""
