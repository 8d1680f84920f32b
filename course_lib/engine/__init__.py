"""The one training loop of the course: ``fit``, ``evaluate``, ``predict``, checkpoints, hooks, fine-tuning.
"""

from .checkpoints import checkpoint_path, config_key, fit_or_load, load_checkpoint, save_checkpoint
from .finetune import freeze, param_groups, replace_head, set_trainable, trainable_parameters, unfreeze
from .hooks import extract_features
from .loop import History, evaluate, fit, predict, synchronize, train_one_epoch
from .records import ErrorCurve, iterations_to_target, running_mean, train_iterations

__all__ = [
    "ErrorCurve",
    "History",
    "checkpoint_path",
    "config_key",
    "evaluate",
    "extract_features",
    "fit",
    "fit_or_load",
    "freeze",
    "iterations_to_target",
    "load_checkpoint",
    "param_groups",
    "predict",
    "replace_head",
    "running_mean",
    "save_checkpoint",
    "set_trainable",
    "synchronize",
    "train_iterations",
    "train_one_epoch",
    "trainable_parameters",
    "unfreeze",
]
