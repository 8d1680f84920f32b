"""Tiny Shakespeare (Karpathy's char-rnn selection, public domain), shipped in ``data/tinyshakespeare/``."""

from __future__ import annotations

from pathlib import Path

from .files import read_shipped


def load_shakespeare(root: str | Path | None = None) -> str:
    """The 1,115,394 characters of Tiny Shakespeare as one string (checksum-verified).

    Raises:
        MissingDataError: the file is missing or corrupted (the message says how to restore it).
    """
    return read_shipped("tinyshakespeare/input.txt", root).decode("utf-8")
