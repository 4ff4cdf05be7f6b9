"""Recipe settings, declared once: a dataclass whose fields are the flags.

A recipe's `Config` subclasses `TrainConfig`. Each field is one setting of
the recipe and one flag of its command line (`zoo.training.flags` makes the
flags from the fields): its name is the flag's name, its annotation the
flag's type (`str`, `int`, `float` or `bool`), its default what the bare
command does. A new field is declared with `setting(default, help, ...)`,
which also gives the flag's help and bounds; a field of `TrainConfig` that a
recipe redeclares with a plain default keeps the help and bounds declared
here:

    @dataclasses.dataclass
    class Config(training.TrainConfig):
        WORKDIR = "workdirs/langid"     # Default --workdir (not a field).
        epochs: int = 20                # TrainConfig's setting, new default.
        max_chars: int = training.setting(
            200, "Characters kept per line.", lower=1)

`Config()` in code means what the bare command means, and a field without a
flag, or a flag without a field, cannot happen.
"""

import dataclasses
import typing

TYPES = (str, int, float, bool)


def setting(default, help,  # noqa: A002 (the flag's help)
            *, lower=None, upper=None, choices=None):
    """A `Config` field that is also a flag.

    Args:
        default: The bare command's value.
        help: The flag's help: what the setting does, in a sentence or two.
        lower, upper: Bounds of an `int` or `float` setting (inclusive).
        choices: The values a `str` setting may take: a sequence, or a
            function returning one (called when the flags are defined).
    """
    return dataclasses.field(
        default=default,
        metadata={"help": help, "lower": lower, "upper": upper,
                  "choices": choices},
    )


Setting = typing.NamedTuple("Setting", [
    ("name", str), ("type", type), ("default", object), ("help", str),
    ("lower", object), ("upper", object), ("choices", tuple),
])
Setting.__doc__ = "One field of a `Config`, with its help and bounds."


def settings(config_class):
    """The fields of `config_class` (a `TrainConfig` dataclass) as
    `Setting`s, in field order: help, bounds and choices are the field's
    own or, for a redeclared field, those of the base class declaring it.

    Raises:
        TypeError: A field has no help (it was declared with a plain
            default, and no base class declares it with `setting`), or a
            type a flag cannot have.
    """
    found = []
    for field in dataclasses.fields(config_class):
        metadata = _declared(config_class, field.name)
        where = f"{config_class.__name__}.{field.name}"
        if metadata is None:
            raise TypeError(
                f"{where} has no help: declare it with "
                "zoo.training.setting(default, help)"
            )
        if field.type not in TYPES:
            raise TypeError(
                f"{where} is a {field.type!r}; a setting is one of "
                f"{', '.join(t.__name__ for t in TYPES)}"
            )
        choices = metadata["choices"]
        if callable(choices):
            choices = choices()
        found.append(Setting(
            field.name, field.type, field.default, metadata["help"],
            metadata["lower"], metadata["upper"],
            tuple(choices) if choices is not None else None,
        ))
    return found


def _declared(config_class, name):
    """The metadata of the nearest class in the MRO that declares `name`
    with `setting`, or None."""
    for cls in config_class.__mro__:
        fields = getattr(cls, "__dataclass_fields__", {})
        if name in fields and "help" in fields[name].metadata:
            return fields[name].metadata
    return None


def _cells():
    from zoo import cells

    return cells.names()


def _precisions():
    from zoo.training import precision

    return precision.PRECISIONS


def _strategies():
    from zoo.training import distribute

    return distribute.STRATEGIES


@dataclasses.dataclass
class TrainConfig:
    """Settings shared by every recipe; a recipe's `Config` subclasses it
    (see the module docstring). `WORKDIR` is the default `--workdir`: the
    workdir is where a run lives, not one of its settings."""

    WORKDIR: typing.ClassVar[str] = ""

    data: str = setting(
        "", "A tensorflow-datasets name, or a path to local files in the "
        "recipe's format.")
    tfds_data_dir: str = setting(
        "", "tensorflow-datasets data folder (empty: tfds' own).")
    export_dir: str = setting(
        "", "SavedModel export root; each run writes the next integer "
        "version below it. Empty: no export.")
    export_formats: str = setting(
        "saved_model", "What each export version holds, comma-separated: "
        "saved_model (always written), onnx (model.onnx, ONNX Runtime), "
        "litert (model.tflite, LiteRT); the portable models take ids or "
        "pixels, see portable.json. onnx needs pip install '.[export]'.")
    epochs: int = setting(
        10, "Most training epochs (training stops sooner after --patience "
        "epochs without improvement).", lower=0)
    steps_per_epoch: int = setting(
        0, "Optimizer steps between two validations, over the training data "
        "repeated (0 = one pass over the training data): a budget in steps, "
        "the same on any corpus.", lower=0)
    batch_size: int = setting(
        128, "Examples per batch and replica.", lower=1)
    learning_rate: float = setting(
        1e-3, "Initial Adam learning rate.", lower=0.0)
    lr_decay: float = setting(
        1.0, "The learning rate is multiplied by this each time the "
        "validation metric has not improved for --lr_patience epochs "
        "(1 = constant).", lower=0.0, upper=1.0)
    lr_patience: int = setting(
        1, "Epochs without improvement of the validation metric before each "
        "cut of the learning rate.", lower=1)
    patience: int = setting(
        0, "Stop after this many epochs without improvement of the "
        "validation metric; the best epoch's weights are tested and exported "
        "(0 = train all --epochs).", lower=0)
    clipnorm: float = setting(
        0.0, "Clip gradients to this global norm (0 = no clipping).",
        lower=0.0)
    cell: str = setting("lstm", "Recurrent cell.", choices=_cells)
    units: int = setting(128, "Units per layer.", lower=1)
    layers: int = setting(1, "Stacked recurrent layers.", lower=1)
    bidirectional: bool = setting(False, "Bidirectional layers.")
    residual: bool = setting(False, "Residual connections between layers.")
    dropout: float = setting(
        0.0, "Input dropout of each recurrent layer.", lower=0.0, upper=0.99)
    recurrent_dropout: float = setting(
        0.0, "Recurrent dropout of each recurrent layer.", lower=0.0,
        upper=0.99)
    validation_fraction: float = setting(
        0.1, "Share of the training data held out for validation.",
        lower=0.0, upper=0.5)
    seed: int = setting(0, "Random seed.")
    strategy: str = setting(
        "default", "tf.distribute strategy: default (one device), mirrored "
        "(this machine's GPUs), multi_worker (a cluster from TF_CONFIG) or "
        "tpu. --batch_size is per replica.", choices=_strategies)
    precision: str = setting(
        "float32", "Numeric precision: float32, mixed_bfloat16 or "
        "mixed_float16 (layers compute in 16 bits, variables, losses and "
        "probabilities stay float32), or auto: mixed_bfloat16 where the "
        "CPU or GPU multiplies bfloat16 natively, float32 elsewhere.",
        choices=_precisions)


@dataclasses.dataclass
class TextConfig(TrainConfig):
    """`TrainConfig` and the settings of every recipe that embeds tokens
    (words or characters); a text recipe's `Config` subclasses it."""

    embedding_dim: int = setting(256, "Token embedding width.", lower=1)
    embedding_dropout: float = setting(
        0.0, "Dropout of the token embeddings.", lower=0.0, upper=0.99)
    output_dropout: float = setting(
        0.0, "Dropout before the output layer.", lower=0.0, upper=0.99)
    bucket: bool = setting(True, "Batch sequences of similar length together.")
