"""Visual-semantic alignment (Karpathy & Fei-Fei 2015, *Deep visual-semantic alignments for generating image
descriptions*, sec. 3.1): image regions and caption words in one space, an image-sentence score built from them.

RCP209, *Open questions* (image captioning: "Karpathy, CVPR15"). Each region ``i`` of image ``k`` is a vector
``v_i = W_m CNN(region) + b_m`` and each word ``t`` of sentence ``l`` a vector ``s_t`` (a bidirectional RNN over the
sentence, eq. 2-6); the dot product ``v_i^T s_t`` is their similarity. The image-sentence score keeps, for every
word, its best region (eq. 8)::

    S_kl = sum_{t in g_l} max_{i in g_k} v_i^T s_t

and the ranking objective (eq. 9) asks each true pair ``(k, k)`` to score at least a margin above every other
sentence of the batch for its image, and above every other image for its sentence::

    C = sum_k [ sum_{l != k} max(0, S_kl - S_kk + 1) + sum_{l != k} max(0, S_lk - S_kk + 1) ]

(the paper's sums include ``l = k``, a constant 2 per image; here they are left out, and the loss is averaged over
the batch). The argmax region of each word is its alignment: where in the image the word is grounded.

tests/test_alignment.py pins the score and the loss against loops over the paper's formulas.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ...data.vocab import PAD


def alignment_scores(regions: Tensor, words: Tensor, word_mask: Tensor | None = None) -> Tensor:
    """Eq. 8: ``S[k, l] = sum_t max_i <regions[k, i], words[l, t]>`` over the words of sentence ``l``.

    Args:
        regions: ``Tensor[K, R, H]`` the ``R`` region vectors of ``K`` images.
        words: ``Tensor[M, T, H]`` the word vectors of ``M`` sentences.
        word_mask: ``Tensor[M, T]`` bool, the real words (default: all).

    Returns:
        ``Tensor[K, M]``, image ``k`` against sentence ``l``.
    """
    if regions.dim() != 3 or words.dim() != 3 or regions.shape[2] != words.shape[2]:
        raise ValueError(
            f"expected regions (K, R, H) and words (M, T, H), got {tuple(regions.shape)}, {tuple(words.shape)}"
        )
    dots = torch.einsum("krh,mth->kmtr", regions, words)  # (K, M, T, R)
    best = dots.amax(3)  # (K, M, T): each word's best region
    if word_mask is not None:
        if word_mask.shape != words.shape[:2]:
            raise ValueError(f"word_mask must be {tuple(words.shape[:2])}, got {tuple(word_mask.shape)}")
        best = best * word_mask.to(best.dtype)
    return best.sum(2)


def alignment_ranking_loss(scores: Tensor, margin: float = 1.0, same: Tensor | None = None) -> Tensor:
    """Eq. 9 on a square ``scores Tensor[B, B]`` (image ``k``, sentence ``l``; the true pairs on the diagonal),
    averaged over the ``B`` images.

    ``same``: ``Tensor[B, B]`` bool, pairs that are true as well (two images with the same caption); they are left
    out of the hinges with the diagonal.
    """
    if scores.dim() != 2 or scores.shape[0] != scores.shape[1]:
        raise ValueError(f"expected a square (B, B) score matrix, got {tuple(scores.shape)}")
    true = scores.diagonal()
    keep = ~torch.eye(len(scores), dtype=torch.bool, device=scores.device)
    if same is not None:
        keep = keep & ~same
    rank_sentences = (scores - true[:, None] + margin).clamp(min=0)  # S_kl - S_kk + 1: other sentences, image k
    rank_images = (scores - true[None, :] + margin).clamp(min=0)  # S_lk - S_kk + 1: other images, sentence k
    return ((rank_sentences + rank_images) * keep).sum() / len(scores)


class AlignmentModel(nn.Module):
    """Regions and words in one ``dim``-d space (Karpathy & Fei-Fei 2015, sec. 3.1, at the course's scale).

    The regions are the cells of a CNN grid (``encoder``: any module ``Tensor[B, C, H, W] -> Tensor[B, D, h, w]``,
    e.g. a pretrained, frozen :class:`~course_lib.models.sequence.ConvEncoder`), each projected by ``W_m``; the paper
    uses the top detections of an R-CNN. The words: an embedding, a ReLU layer ``e_t``, a bidirectional ReLU RNN, and
    ``s_t = ReLU(W_d (h_t^f + h_t^b) + b_d)`` (eq. 2-6).

    ``forward(images, captions Tensor[B, T]) -> S Tensor[B, B]`` (eq. 8; padding is ``PAD``).
    """

    def __init__(self, vocab_size: int, encoder: nn.Module, feature_dim: int = 64, dim: int = 64) -> None:
        super().__init__()
        self.encoder = encoder
        self.region = nn.Linear(feature_dim, dim)  # W_m, b_m
        self.embed = nn.Embedding(vocab_size, dim, padding_idx=PAD)  # W_w
        self.e = nn.Linear(dim, dim)  # W_e, b_e
        self.rnn = nn.RNN(dim, dim, nonlinearity="relu", batch_first=True, bidirectional=True)
        self.d = nn.Linear(dim, dim)  # W_d, b_d

    def regions(self, images: Tensor) -> Tensor:
        """``Tensor[B, L, dim]``: the grid's ``L = h * w`` cells (row-major), projected."""
        return self.region(self.encoder(images).flatten(2).transpose(1, 2))

    def words(self, captions: Tensor) -> Tensor:
        """``Tensor[B, T, dim]``: ``s_t`` of every position (zero on padding)."""
        e = torch.relu(self.e(self.embed(captions)))  # (B, T, dim)
        lengths = (captions != PAD).sum(1).clamp(min=1).cpu()
        packed = pack_padded_sequence(e, lengths, batch_first=True, enforce_sorted=False)
        h = pad_packed_sequence(self.rnn(packed)[0], batch_first=True, total_length=captions.shape[1])[0]
        h_f, h_b = h.chunk(2, -1)  # (B, T, dim) each
        return torch.relu(self.d(h_f + h_b)) * (captions != PAD)[..., None]

    def forward(self, images: Tensor, captions: Tensor) -> Tensor:
        return alignment_scores(self.regions(images), self.words(captions), captions != PAD)
