"""Sequence models: a character language model, an encoder-decoder with and without attention, image captioners."""

from .captioning import ConvEncoder, ShowAndTell, ShowAttendTell, attention_penalty, captioning_loss
from .char_lm import CELLS, CharLM, TruncatedBPTT, WindowMLP, make_recurrent
from .ngram import CharNGram
from .seq2seq import AdditiveAttention, Seq2Seq

__all__ = [
    "CELLS",
    "AdditiveAttention",
    "CharLM",
    "CharNGram",
    "ConvEncoder",
    "Seq2Seq",
    "ShowAndTell",
    "ShowAttendTell",
    "TruncatedBPTT",
    "WindowMLP",
    "attention_penalty",
    "captioning_loss",
    "make_recurrent",
]
