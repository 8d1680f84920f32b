"""Sequence models: a character language model, an encoder-decoder with and without attention."""

from .char_lm import CELLS, CharLM, WindowMLP, make_recurrent
from .seq2seq import AdditiveAttention, Seq2Seq

__all__ = ["CELLS", "AdditiveAttention", "CharLM", "Seq2Seq", "WindowMLP", "make_recurrent"]
