"""A count-based character n-gram language model with Witten–Bell interpolation: the baseline a neural one must beat.

``p_k(c | h)`` with a history ``h`` of ``k`` characters is (Witten & Bell 1991; Chen & Goodman 1999, section 2.4)

    p_k(c | h) = (C(h c) + N1+(h .) p_{k-1}(c | h')) / (C(h) + N1+(h .))   if C(h) > 0, else p_{k-1}(c | h'),

where ``h'`` drops the oldest character, ``C`` counts in the training text, ``N1+(h .)`` is the number of distinct
characters seen after ``h``, and ``p_{-1}`` is uniform over the vocabulary. It is a proper distribution over the
next character for every history. Counting is vectorized: each n-gram is one integer in base ``V``.
"""

from __future__ import annotations

import numpy as np
from torch import Tensor


class CharNGram:
    """``CharNGram(order, vocab_size).count(train_ids)``; ``bits_per_character(ids)`` on another text.

    Args:
        order: ``n``: the model conditions on the ``n - 1`` previous characters.
        vocab_size: ``V``, ids are ``0 .. V-1``.
    """

    def __init__(self, order: int, vocab_size: int) -> None:
        if order < 1 or vocab_size < 2:
            raise ValueError(f"need order >= 1 and vocab_size >= 2, got order={order}, vocab_size={vocab_size}")
        if vocab_size**order >= 2**62:
            raise ValueError(f"vocab_size**order = {vocab_size}**{order} overflows the int64 n-gram codes")
        self.order, self.vocab_size = order, vocab_size
        self.tables: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

    def _codes(self, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(history codes, n-gram codes)`` of every position ``t >= k`` (histories of ``k`` characters)."""
        hist = np.zeros(len(ids) - k, dtype=np.int64)
        for j in range(k):
            hist = hist * self.vocab_size + ids[j : len(ids) - k + j]
        return hist, hist * self.vocab_size + ids[k:]

    def count(self, ids: Tensor | np.ndarray) -> CharNGram:
        """Count every n-gram of orders ``1 .. n`` in ``ids`` (``Tensor[N]`` or an array of character ids)."""
        ids = _as_array(ids, self.vocab_size)
        self.tables = []
        for k in range(self.order):
            hist, gram = self._codes(ids, k)
            grams, gram_counts = np.unique(gram, return_counts=True)
            hists, hist_counts = np.unique(hist, return_counts=True)
            _, distinct = np.unique(grams // self.vocab_size, return_counts=True)  # N1+(h .), same order as hists
            self.tables.append((grams, gram_counts, hists, hist_counts, distinct))
        return self

    @staticmethod
    def _lookup(keys: np.ndarray, values: np.ndarray, query: np.ndarray) -> np.ndarray:
        pos = np.searchsorted(keys, query).clip(max=len(keys) - 1)
        return np.where(keys[pos] == query, values[pos], 0)

    def log2_prob(self, ids: Tensor | np.ndarray) -> np.ndarray:
        """``log2 p(x_t | x_{t-n+1} .. x_{t-1})`` for every ``t >= n - 1`` of ``ids``: ``ndarray[N - n + 1]``."""
        if not self.tables:
            raise ValueError("count a training text first: CharNGram(...).count(train_ids)")
        ids = _as_array(ids, self.vocab_size)
        if len(ids) < self.order:
            raise ValueError(f"need at least order={self.order} ids, got {len(ids)}")
        p = np.full(len(ids) - self.order + 1, 1.0 / self.vocab_size)
        for k, (grams, gram_counts, hists, hist_counts, distinct) in enumerate(self.tables):
            hist, gram = self._codes(ids[self.order - 1 - k :], k)
            c_hc = self._lookup(grams, gram_counts, gram).astype(np.float64)
            c_h = self._lookup(hists, hist_counts, hist).astype(np.float64)
            n1 = self._lookup(hists, distinct, hist).astype(np.float64)
            p = np.where(c_h > 0, (c_hc + n1 * p) / np.maximum(c_h + n1, 1), p)
        return np.log2(p)

    def bits_per_character(self, ids: Tensor | np.ndarray) -> float:
        """Cross-entropy in bits of ``ids`` after its first ``n - 1`` characters (their contexts are incomplete)."""
        return float(-self.log2_prob(ids).mean())

    def __repr__(self) -> str:
        return f"CharNGram(order={self.order}, vocab_size={self.vocab_size}, fitted={bool(self.tables)})"


def _as_array(ids: Tensor | np.ndarray, vocab_size: int) -> np.ndarray:
    a = ids.detach().cpu().numpy() if isinstance(ids, Tensor) else np.asarray(ids)
    if a.ndim != 1 or (len(a) and (a.min() < 0 or a.max() >= vocab_size)):
        raise ValueError(f"ids must be a 1-d sequence of ids in [0, {vocab_size}), got shape {a.shape}")
    return a.astype(np.int64)
