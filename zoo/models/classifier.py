"""A many-to-one text classifier: raw strings in, class probabilities out."""

import keras
import tensorflow as tf

from zoo import layers
from zoo import ngrams
from zoo import utils
from zoo.models import base

POOLING = ("last", "mean", "max", "attention")


@keras.saving.register_keras_serializable(package="zoo")
class TextClassifier(base.ConfiguredModel):
    """Strings `[batch]` -> class probabilities `[batch, num_classes]`.

    Tokenization lives in the model (`tokenizers`, `zoo.layers.TextToIds`
    with their vocabularies), so the model serves raw text. Token ids are
    embedded (a token pair's embedding, with `bigram_ids`, is added to its
    second token's), a (bi)directional recurrent encoder reads them, and
    its outputs are pooled into one vector (`pooling`: the last state, or
    `zoo.layers.SequencePooling`'s mean, max or attention) for a softmax.
    Padding never counts: the embeddings' mask follows every token.

    Args:
        tokenizers: A dict of `zoo.layers.TextToIds`: `ids` (tokens) and
            optionally `bigram_ids` (token pairs, aligned with `ids`).
        num_classes: Number of classes.
        embedding_dim: Embedding width.
        cell, units, num_layers, bidirectional, residual, dropout,
            recurrent_dropout: The encoder's (`zoo.layers.StackedRNN`).
        pooling: One of `POOLING`.
        embedding_dropout: Dropout of the embeddings.
        output_dropout: Dropout of the pooled vector.
        seed: Seed of the encoder's initializers and dropout.

    Call arguments:
        inputs: Strings `[batch]`.
        training: Dropout on or off.

    Example:

    >>> ids = layers.TextToIds(20, max_length=8)
    >>> _ = ids.adapt(["a good film", "a bad film"])
    >>> model = TextClassifier({"ids": ids}, 2, embedding_dim=4, units=3)
    >>> model(keras.ops.convert_to_tensor(["a good one"])).shape
    TensorShape([1, 2])
    """

    def __init__(self, tokenizers, num_classes, embedding_dim=128,
                 cell="lstm", units=64, num_layers=1, bidirectional=True,
                 residual=False, dropout=0.0, recurrent_dropout=0.0,
                 pooling="max", embedding_dropout=0.0, output_dropout=0.0,
                 seed=None, **kwargs):
        tokenizers = {name: base.deserialize(layer)  # Dicts: from a config.
                      for name, layer in tokenizers.items()}
        if set(tokenizers) not in ({"ids"}, {"ids", "bigram_ids"}):
            raise ValueError(
                "Received tokenizers named " + ", ".join(sorted(tokenizers))
                + "; expected `ids` and optionally `bigram_ids`")
        utils.check_choice("pooling", pooling, POOLING)
        # === Layers ===
        self.tokenizers = tokenizers
        self.embeddings = {
            name: keras.layers.Embedding(
                layer.max_tokens, embedding_dim, mask_zero=True,
                name="embedding" if name == "ids" else "bigram_embedding")
            for name, layer in tokenizers.items()}
        self.add_bigrams = (keras.layers.Add(name="add_bigrams")
                            if "bigram_ids" in tokenizers else None)
        self.embedding_dropout_layer = keras.layers.Dropout(
            embedding_dropout, name="embedding_dropout")
        self.encoder = layers.StackedRNN(
            cell, units=units, num_layers=num_layers,
            bidirectional=bidirectional, residual=residual, dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            return_sequences=pooling != "last", seed=seed, name="encoder")
        self.pooling_layer = (None if pooling == "last" else
                              layers.SequencePooling(pooling, name="pooling"))
        self.output_dropout_layer = keras.layers.Dropout(output_dropout,
                                                         name="dropout")
        # float32 whatever the dtype policy: a softmax over a few classes.
        self.probabilities = keras.layers.Dense(
            num_classes, activation="softmax", name="probabilities",
            dtype="float32")
        # === Functional model ===
        text = keras.Input(shape=(), dtype="string", name="text")
        outputs = self.classify(self.ids(text))
        super().__init__(inputs=text, outputs=outputs, **kwargs)
        self.set_config(
            tokenizers=tokenizers, num_classes=num_classes,
            embedding_dim=embedding_dim, cell=cell, units=units,
            num_layers=num_layers, bidirectional=bidirectional,
            residual=residual, dropout=dropout,
            recurrent_dropout=recurrent_dropout, pooling=pooling,
            embedding_dropout=embedding_dropout,
            output_dropout=output_dropout, seed=seed)

    def ids(self, text):
        """Strings `[N]` -> the dict of id tensors `[N, T]` (0 = padding)
        that `classify` takes."""
        return {name: layer(text) for name, layer in self.tokenizers.items()}

    def classify(self, ids, training=None):
        """Id tensors (`ids`' dict) -> class probabilities `[N, C]`."""
        x = self.embeddings["ids"](ids["ids"])
        if "bigram_ids" in ids:
            # Pair ids are 0 exactly where token ids are: the masks agree.
            x = self.add_bigrams(
                [x, self.embeddings["bigram_ids"](ids["bigram_ids"])])
        x = self.encoder(self.embedding_dropout_layer(x, training=training),
                         training=training)
        if self.pooling_layer is not None:
            x = self.pooling_layer(x)
        x = self.output_dropout_layer(x, training=training)
        return self.probabilities(x)

    def ngram_features(self, texts, chunk=1024):
        """The token (and token-pair) ids of the list of strings `texts` as
        one binary sparse matrix `[len(texts), sum of vocabulary sizes]`
        (`zoo.ngrams.multi_hot`): the features of a linear model that
        `with_ngrams` can put beside the network."""
        import scipy.sparse

        blocks = []
        for layer in self.tokenizers.values():
            blocks.append(scipy.sparse.vstack([
                ngrams.multi_hot(layer(tf.constant(texts[i:i + chunk]))
                                 .numpy(), layer.max_tokens)
                for i in range(0, len(texts), chunk)]))
        return scipy.sparse.hstack(blocks).tocsr()

    def with_ngrams(self, kernel, bias, weight, scale=1.0):
        """Strings -> the product of this network's class probabilities and
        a linear model's over `ngram_features` (`zoo.layers.MultiHotDense`
        with `kernel` and `bias`), `weight` the linear model's share and
        `scale` the product's calibration (`zoo.layers.ProductOfExperts`).
        A `keras.Model` sharing this model's layers, with this model's two
        steps: `ids(text)` and `classify(ids)` (of the product)."""
        text = keras.Input(shape=(), dtype="string", name="text")
        ids = self.ids(text)
        bag = layers.MultiHotDense(
            [layer.max_tokens for layer in self.tokenizers.values()],
            kernel.shape[1], activation="softmax", name="ngrams",
            dtype="float32")
        linear = bag(list(ids.values()))
        bag.set_weights([kernel, bias])
        product = layers.ProductOfExperts(
            [scale * (1.0 - weight), scale * weight], name="product",
            dtype="float32",
        )
        probabilities = product([self.classify(ids), linear])
        combined = keras.Model(text, probabilities,
                               name="text_classifier_ngrams")

        def classify(ids, training=None):
            # The bag's vocabularies are in the tokenizers' order.
            return product([self.classify(ids, training=training),
                            bag([ids[name] for name in self.tokenizers])])

        # Like this model's: strings -> ids -> probabilities, in two steps
        # (a portable export serves the second).
        combined.ids, combined.classify = self.ids, classify
        return combined

