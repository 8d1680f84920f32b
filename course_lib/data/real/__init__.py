"""Real datasets shipped in the repository (MNIST, Tiny Shakespeare) or inside packages (scikit-learn digits, easy-VQA)."""

from .digits import load_digits
from .easy_vqa import EasyVQA, load_easy_vqa
from .files import SHIPPED, MissingDataError, read_shipped
from .mnist import MNIST_FILES, MNIST_MEAN, MNIST_STD, load_mnist
from .text import CharCorpus, CharVocab, char_streams, char_windows, load_shakespeare, shakespeare_corpus

__all__ = [
    "MNIST_FILES",
    "MNIST_MEAN",
    "MNIST_STD",
    "SHIPPED",
    "CharCorpus",
    "CharVocab",
    "EasyVQA",
    "MissingDataError",
    "char_streams",
    "char_windows",
    "load_digits",
    "load_easy_vqa",
    "load_mnist",
    "load_shakespeare",
    "read_shipped",
    "shakespeare_corpus",
]
