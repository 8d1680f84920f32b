"""Plots the notebooks share; each returns its Figure so it can be restyled or saved for slides."""

from .curves import bar_table, plot_confusion, plot_history
from .images import show_filters, show_images
from .maps import show_cam

__all__ = [
    "bar_table",
    "plot_confusion",
    "plot_history",
    "show_cam",
    "show_filters",
    "show_images",
]
