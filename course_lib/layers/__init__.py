"""Layers whose implementation is the lesson, each pinned by tests against a reference.

Pure functions plus thin ``nn.Module`` wrappers (the torchvision ops style); each docstring
cites the paper and the lecture that introduce it.
"""

__all__: list[str] = []
