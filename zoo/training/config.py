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
    batch_size: int = 128
    learning_rate: float = 1e-3
    lr_decay: float = 1.0
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
