"""Plots the notebooks share (each returns its Figure so it can be restyled or saved for slides), and the printed
per-layer table of a network (:func:`summary`)."""

from .curves import bar_table, plot_confusion, plot_history
from .images import show_filters, show_images
from .maps import show_cam
from .model_summary import LayerRow, Summary, summary

__all__ = [
    "LayerRow",
    "Summary",
    "bar_table",
    "plot_confusion",
    "plot_history",
    "show_cam",
    "show_filters",
    "show_images",
    "summary",
]
