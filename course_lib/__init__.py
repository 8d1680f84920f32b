"""course_lib: the models, layers, datasets and training loops of the deep-learning course.

Importing it has no side effects: no prints, no downloads, no global device.
Sub-packages by kind (as torchvision): ``engine``, ``data``, ``ops``, ``layers``, ``models``, ``metrics``,
``methods``, ``viz``, ``tools``; see ``course_lib/README.md`` for the concept index.
"""

from .config import Config, checkpoint_dir, data_dir, get_device, profile, profile_name, seed_everything
from .engine import History, evaluate, fit, fit_or_load, predict

__all__ = [
    "Config",
    "History",
    "checkpoint_dir",
    "data_dir",
    "evaluate",
    "fit",
    "fit_or_load",
    "get_device",
    "predict",
    "profile",
    "profile_name",
    "seed_everything",
]

__version__ = "0.1.0"
