"""A recipe as a task: the hooks where tasks differ, and the one driver.

A recipe subclasses `Task` and writes what is its own: where its data
comes from (`data`), what it learns from the training split before the
model exists (`adapt`: vocabularies), how examples become batches
(`batches`), the model (`build`) and what it serves (`endpoints`).
`run(task, config, workdir)` owns the rest, the same for every recipe:

1. `workdir` is held for the run (`zoo.training.lock`: a second run on
   it stops with a `zoo.errors.WorkdirError`); a finished run in it is
   returned as it is; the seed is set;
2. `task.data(config, workdir)`; a validation split is carved from the
   training data (`config.validation_fraction`, unless `data` gives one);
3. `task.adapt(config, train)`; `task.build(config)`; `task.compile`;
4. `zoo.training.fit`: every epoch ends with `task.selection` on the
   validation split; the best epoch's weights are kept, across a resume;
   with `task.padding`, the padded share of the training batches is
   counted as they stream and logged (`padded_fraction`);
5. `task.after_fit` (may return another model, and entries for the
   metrics), `task.evaluate` on the test batches, `task.baseline`;
   `metrics.json` also gets every epoch's seconds (`epoch_seconds`);
6. the export of `task.endpoints(model, config)` (with `task.track`
   layers; and `task.portable(model, config)` in the portable formats of
   `config.export_formats`, checked before training) and
   `<workdir>/metrics.json` (with the policy that ran: `precision`).

The dtype policy (`config.precision`, see `zoo.training.precision`; it
holds from `build` to the export), the strategy (`config.strategy`) and
its scope, the global batch size and which process writes are `run`'s
business, not the task's: `batches` receives the global batch size.
"""

import dataclasses

from absl import logging

from zoo import errors
from zoo import export
from zoo import progress
from zoo.data import pipeline
from zoo.training import callbacks as zoo_callbacks
from zoo.training import distribute
from zoo.training import harness
from zoo.training import lock
from zoo.training import precision
from zoo.training.config import TrainConfig


@dataclasses.dataclass
class Data:
    """What `Task.data` returns.

    Attributes:
        train, test: `tf.data.Dataset`s of examples (unbatched).
        train_size, test_size: Their numbers of examples.
        source: What was read, for the log and `metrics.json` (`data`).
        validation: A validation split of its own (a dev file), or None to
            carve one from `train`.
        extra: More entries for `metrics.json` (class names and the like).
    """

    train: object
    test: object
    train_size: int
    test_size: int
    source: str
    validation: object = None
    extra: dict = dataclasses.field(default_factory=dict)


class Task:
    """One recipe's own parts; `run` does the rest (see the module docstring).

    Class attributes:
        Config: The recipe's settings (a `TrainConfig` dataclass).
        selection: The validation metric that picks the best epoch (a
            `zoo.training.Selection`; a key of the epoch logs). `run` reads
            it after `data`, which may set it on `self` when it depends on
            the corpus (a tagger's tag set, say).
        baseline_name: What `baseline` fits, for the log and `metrics.json`
            when it cannot fit the data.
    """

    Config = TrainConfig
    selection = harness.DEFAULT_SELECTION
    baseline_name = "baseline"

    def data(self, config, workdir):
        """The corpus: a `Data`. Required."""
        raise NotImplementedError(
            f"{type(self).__name__}.data(config, workdir) must return the "
            "corpus (zoo.training.Data)")

    def adapt(self, config, train):
        """Learns what the model needs from the training examples before it
        is built (vocabularies), kept on `self`. Default: nothing."""

    def batches(self, config, examples, batch_size, training):
        """`examples` -> a dataset of `(inputs, targets)` batches of
        `batch_size`; shuffled when `training`. Required."""
        raise NotImplementedError(
            f"{type(self).__name__}.batches(config, examples, batch_size, "
            "training) must batch the examples")

    def padding(self, config):
        """`lengths_fn(*batch) -> (lengths [N], width)` of a training batch
        (its rows' real positions and the width they are padded to), for
        the padded share of the positions every epoch logs and
        `metrics.json` keeps (`padded_fraction`); or None (the default):
        not counted. See `zoo.data.pipeline.PaddingCounter`."""
        return None

    def test_batches(self, config, test, batch_size):
        """What `evaluate` gets of the test split. Default: `batches`, their
        number known (`zoo.data.pipeline.sized`)."""
        return pipeline.sized(
            self.batches(config, test, batch_size, training=False))

    def build(self, config):
        """The model. Required."""
        raise NotImplementedError(
            f"{type(self).__name__}.build(config) must return the model")

    def compile(self, model, config):
        """Compiles `model`. Default: a classifier of probabilities (Adam,
        cross-entropy, accuracy)."""
        harness.compile_classifier(model, config)

    def callbacks(self, model, config):
        """Keras callbacks of this task for `fit`. Default: none."""
        return []

    def validate(self, model, config, validation, validation_batches):
        """`fn(model) -> {name: value}`, called after every epoch, for
        metrics Keras' validation pass cannot compute (the selection metric,
        say); or None (the default). `validation` is the validation split,
        `validation_batches` what `batches` made of it."""
        return None

    def after_fit(self, model, config, train, validation, history):
        """`(model, extra)` once training is done: the model to test and
        export (default: `model`) and entries for `metrics.json`.
        `history` holds this run's per-epoch logs (`fit`'s `history`)."""
        return model, {}

    def evaluate(self, model, config, test_batches):
        """Test metrics, named `test_*`. Default: accuracy and loss."""
        return harness.evaluate_classifier(model, test_batches)

    def baseline(self, config, train, test):
        """A classical model's test metrics on the same splits (see
        `zoo.baselines`), or None (the default). A `ValueError` (data it
        cannot fit: one class only, say) is a warning and
        `{"name": baseline_name, "error"}` in `metrics.json`, not a failed
        run."""
        return None

    def endpoints(self, model, config):
        """`zoo.export.export_saved_model` endpoints. Required."""
        raise NotImplementedError(
            f"{type(self).__name__}.endpoints(model, config) must say what "
            "the export serves")

    def track(self, model):
        """Layers outside `model` that the endpoints use. Default: none."""
        return []

    def portable(self, model, config):
        """The numeric core for `--export_formats=onnx,litert`: a
        `zoo.export.Portable` (numbers in, numbers out; the files and
        description a client needs), or None (the default): this task has
        no portable export, and asking for one is refused before
        training."""
        return None


def run(task, config, workdir, callbacks=()):
    """Trains, evaluates and exports `task`; returns the metrics written.

    Args:
        task: A `Task`.
        config: A `task.Config`.
        workdir: Folder for checkpoints, logs and `metrics.json`; a rerun
            with the same folder resumes.
        callbacks: Extra Keras callbacks for `fit`.

    Returns:
        The dict written to `<workdir>/metrics.json`.

    Raises:
        zoo.errors.WorkdirError: Another live run holds `workdir`, or it
            holds a run with other settings.
    """
    return _run(config, workdir, task, tuple(callbacks))


@distribute.distributed  # The strategy of config.strategy, for the run.
def _run(config, workdir, task, callbacks):
    # One live run per workdir; a cluster's workers share the chief's.
    with lock.held(workdir, take=distribute.is_chief()):
        return _run_held(config, workdir, task, callbacks)


def _run_held(config, workdir, task, callbacks):
    stopwatch = harness.Stopwatch()
    finished = harness.finished_result(config, workdir)
    if finished is not None:
        return finished
    # Refused now rather than after training.
    formats = (export.check_formats(config.export_formats.split(","))
               if config.export_dir else ())
    if formats and type(task).portable is Task.portable:
        raise errors.ConfigError(
            f"--export_formats={config.export_formats}: "
            f"{type(task).__name__} has no portable export (onnx, litert); "
            "only saved_model")
    harness.set_seed(config.seed)
    data = task.data(config, workdir)
    logging.info("Data: %s (%d train, %d test)", data.source,
                 data.train_size, data.test_size)
    train, validation = data.train, data.validation
    if validation is None:
        train, validation, _ = pipeline.split_validation_stream(
            train, data.train_size, config.validation_fraction,
            seed=config.seed,
        )
    if type(task).adapt is not Task.adapt:  # A pass over the data.
        with progress.stretch("Fitting vocabularies on the training split"):
            task.adapt(config, train)
    else:
        task.adapt(config, train)
    batch_size = distribute.global_batch_size(config)

    def batches(examples, training=False):
        return task.batches(config, examples, batch_size, training)

    # Layers take the dtype policy when they are made; the policy holds
    # to the export, and is Keras' previous one after the run.
    with precision.applied(config.precision) as policy:
        model = task.build(config)
        task.compile(model, config)
        # Batch totals known from the first epoch (counted by a pass if need
        # be); epochs of --steps_per_epoch need none.
        validation_batches = (pipeline.sized(batches(validation))
                              if validation is not None else None)
        train_batches = batches(train, training=True)
        if not config.steps_per_epoch:
            train_batches = pipeline.sized(train_batches)
        own = task.callbacks(model, config)
        lengths = task.padding(config)
        if lengths is not None:
            counter = pipeline.PaddingCounter()
            train_batches = counter.counted(train_batches, lengths)
            own.append(zoo_callbacks.PaddingLogger(counter))
        fitted = harness.fit(
            model, train_batches, validation_batches,
            config, workdir, [*own, *callbacks],
            selection=task.selection,
            validate=(task.validate(model, config, validation,
                                    validation_batches)
                      if validation is not None else None),
        )
        history = fitted["history"]
        model, extra = task.after_fit(model, config, train, validation, history)
        if lengths is not None:
            extra["padded_fraction"] = history.get("padded_fraction", [])
        return harness.finish(
            model, task.test_batches(config, data.test, batch_size), fitted,
            config, workdir, stopwatch,
            task.endpoints(model, config),
            evaluate=lambda m, test: task.evaluate(m, config, test),
            track=task.track(model),
            # Converted in float32, whatever the policy (see float32_copy).
            portable=(task.portable(precision.float32_copy(model), config)
                      if formats else None),
            # Only the chief writes metrics.json: the others need no baseline.
            baseline=(_baseline(task, config, train, data.test)
                      if distribute.is_chief() else None),
            data=data.source, precision=policy,
            epoch_seconds=history.get("epoch_seconds", []),
            **data.extra, **extra,
        )


def _baseline(task, config, train, test):
    """`task.baseline`, or `{"name", "error"}` where it cannot fit the data."""
    if type(task).baseline is Task.baseline:
        return None
    try:
        with progress.stretch(f"Fitting the baseline ({task.baseline_name})"):
            return task.baseline(config, train, test)
    except ValueError as error:
        logging.warning("No baseline: %s", error)
        return {"name": task.baseline_name, "error": str(error)}
