"""The training harness shared by every recipe."""

from zoo.training.config import TextConfig
from zoo.training.config import TrainConfig
from zoo.training.config import setting
from zoo.training.config import settings
from zoo.training.distribute import distributed
from zoo.training.distribute import global_batch_size
from zoo.training.distribute import is_chief
from zoo.training.harness import Stopwatch
from zoo.training.harness import compile_classifier
from zoo.training.harness import evaluate_classifier
from zoo.training.harness import finish
from zoo.training.harness import finished_result
from zoo.training.harness import fit
from zoo.training.harness import make_optimizer
from zoo.training.harness import records_folder
from zoo.training.harness import set_seed
from zoo.training.harness import write_json
from zoo.training.selection import Selection
from zoo.training.task import Data
from zoo.training.task import Task
from zoo.training.task import run

__all__ = [
    "Data",
    "Selection",
    "Stopwatch",
    "Task",
    "TextConfig",
    "TrainConfig",
    "compile_classifier",
    "distributed",
    "evaluate_classifier",
    "finish",
    "finished_result",
    "fit",
    "global_batch_size",
    "is_chief",
    "make_optimizer",
    "records_folder",
    "run",
    "set_seed",
    "setting",
    "settings",
    "write_json",
]
