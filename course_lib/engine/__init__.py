"""The one training loop of the course: ``fit`` (on ``train_step``), ``evaluate``, ``predict``, ``eval_mode``,
checkpoints (``fit_or_load``), per-step records, feature hooks, fine-tuning.
"""

from ..utils import eval_mode, train_mode
from .checkpoints import (
    cache_log,
    checkpoint_key,
    checkpoint_path,
    config_key,
    fit_key,
    fit_or_load,
    load_checkpoint,
    save_checkpoint,
)
from .evaluate import evaluate, predict
from .finetune import freeze, param_groups, replace_head, set_trainable, trainable_parameters, unfreeze
from .fingerprint import callable_key, describe, loader_key, module_key, tensor_digest
from .hooks import extract_features
from .loop import fit, synchronize, train_step
from .records import History, accuracy_counts, no_metric, running_mean
from .schedules import one_cycle

__all__ = [
    "History",
    "accuracy_counts",
    "cache_log",
    "callable_key",
    "checkpoint_key",
    "checkpoint_path",
    "config_key",
    "describe",
    "eval_mode",
    "evaluate",
    "extract_features",
    "fit",
    "fit_key",
    "fit_or_load",
    "freeze",
    "load_checkpoint",
    "loader_key",
    "module_key",
    "no_metric",
    "one_cycle",
    "param_groups",
    "predict",
    "replace_head",
    "running_mean",
    "save_checkpoint",
    "set_trainable",
    "synchronize",
    "tensor_digest",
    "train_mode",
    "train_step",
    "trainable_parameters",
    "unfreeze",
]
