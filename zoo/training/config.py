"""The settings every recipe shares, as a dataclass built from flags."""

import dataclasses


@dataclasses.dataclass
class TrainConfig:
    """Settings shared by every recipe; recipes subclass it to add theirs.

    Field names equal flag names (see `zoo.training.flags`).
    """

    data: str = ""
    tfds_data_dir: str = ""
    export_dir: str = ""
    epochs: int = 10
    steps_per_epoch: int = 0
    batch_size: int = 128
    learning_rate: float = 1e-3
    lr_decay: float = 1.0
    lr_patience: int = 1
    patience: int = 0
    clipnorm: float = 0.0
    cell: str = "lstm"
    units: int = 128
    layers: int = 1
    bidirectional: bool = False
    residual: bool = False
    dropout: float = 0.0
    recurrent_dropout: float = 0.0
    validation_fraction: float = 0.1
    seed: int = 0
    strategy: str = "default"


def recipe_config(name, defaults, base=TrainConfig):
    """A dataclass like `base` whose defaults are a recipe's defaults.

    Keys of `defaults` that are fields of `base` change those fields'
    defaults; other keys (except `workdir`, which is not part of a config)
    become new fields typed by their values. So `Config()` in code means
    what the bare command means.
    """
    known = {f.name for f in dataclasses.fields(base)}
    fields = [
        (key, type(value), dataclasses.field(default=value))
        for key, value in defaults.items()
        if key != "workdir"
    ]
    unknown = [f for f in fields if f[0] not in known]
    cls = dataclasses.make_dataclass(name, fields, bases=(base,))
    cls.__doc__ = (
        f"Settings of a recipe: `{base.__name__}` fields with the recipe's "
        "defaults" + (", plus " + ", ".join(f[0] for f in unknown) if unknown
                      else "") + "."
    )
    return cls
