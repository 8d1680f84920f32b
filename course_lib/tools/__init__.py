"""Tools around the course: model summaries, the benchmark, the student edition."""

from .summary import LayerRow, Summary, summary

__all__ = [
    "LayerRow",
    "Summary",
    "summary",
]
