"""Sequence models: a character language model, an encoder-decoder with and without attention, image captioners."""

from .captioning import ConvEncoder, ShowAndTell, ShowAttendTell, attention_penalty, captioning_loss
from .char_lm import CELLS, CharLM, WindowMLP, make_recurrent
from .seq2seq import AdditiveAttention, Seq2Seq

__all__ = [
    "CELLS",
    "AdditiveAttention",
    "CharLM",
    "ConvEncoder",
    "Seq2Seq",
    "ShowAndTell",
    "ShowAttendTell",
    "WindowMLP",
    "attention_penalty",
    "captioning_loss",
    "make_recurrent",
]
