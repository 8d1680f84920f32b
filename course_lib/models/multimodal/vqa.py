"""Visual question answering as classification over answers (RCP209, *Open questions*: VQA, many to one).

"Input: question & image, output: answer": a GRU encodes the question, a CNN the image, a fusion
(:mod:`course_lib.layers.fusion`: concatenation, element-wise product, MLB, MUTAN) combines the two vectors and a
linear layer scores the answers (Antol et al. 2015; Ben-younes et al. 2017, Fig. 2). :class:`QuestionOnly` is the
language-only baseline: the same question encoder and classifier, no image.

The engine's batches are ``(x, y)`` pairs, and a VQA sample has two inputs: ``pack_targets`` puts the answer after
the question's ids in ``y``, and the models take ``forward(images, packed)`` under ``fit(..., forward_targets=True)``
(as 07a's encoder-decoder reads its targets); they read only the question's columns. :func:`vqa_loss` and
:func:`vqa_accuracy_counts` read the answer column.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence

from ...data.vocab import PAD
from ...layers.fusion import make_fusion
from ..sequence.captioning import ConvEncoder


def pack_targets(questions: Tensor, answers: Tensor) -> Tensor:
    """``Tensor[N, L + 1]``: the question's ids, then the answer (for ``fit``'s ``y``)."""
    if questions.dim() != 2 or answers.shape != questions.shape[:1]:
        raise ValueError(
            f"expected questions (N, L) and answers (N,), got {tuple(questions.shape)}, {tuple(answers.shape)}"
        )
    return torch.cat([questions, answers[:, None]], 1)


def vqa_loss(logits: Tensor, packed: Tensor) -> Tensor:
    """Cross-entropy against the answer column of :func:`pack_targets`."""
    return F.cross_entropy(logits, packed[:, -1])


def vqa_accuracy_counts(logits: Tensor, packed: Tensor) -> tuple[Tensor, int]:
    """A ``fit`` metric: ``(answers right, batch size)``."""
    return (logits.argmax(1) == packed[:, -1]).sum(), len(packed)


class QuestionEncoder(nn.Module):
    """Word embeddings + GRU: question ids ``Tensor[B, L]`` (padding 0) -> the last hidden state ``Tensor[B, H]``."""

    def __init__(self, vocab_size: int, hidden_size: int = 64, embed_dim: int = 32) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD)
        self.gru = nn.GRU(embed_dim, hidden_size, batch_first=True)

    def forward(self, questions: Tensor) -> Tensor:
        lengths = (questions != PAD).sum(1).clamp(min=1).cpu()
        packed = pack_padded_sequence(self.embed(questions), lengths, batch_first=True, enforce_sorted=False)
        return self.gru(packed)[1][0]


class ImageEncoder(nn.Module):
    """A CNN grid (:class:`~course_lib.models.sequence.ConvEncoder`, or any module with its interface, e.g. one
    pretrained and frozen), flattened so that the layout is kept (relations need it) and max-pooled (what is present
    anywhere), then a linear layer, batch normalization and tanh: ``Tensor[B, C, S, S] -> Tensor[B, D]`` in (-1, 1),
    bounded as the GRU's question vector.

    The normalization (no affine part) keeps every image feature centred and spread over the batch: an image vector
    that is almost the same for every image lets the fusions' tanh projections saturate on a question-only solution.
    """

    def __init__(
        self, in_channels: int, image_size: int, dim: int = 128, encoder: nn.Module | None = None, feature_dim: int = 64
    ) -> None:
        super().__init__()
        self.conv = ConvEncoder(in_channels, dim=feature_dim) if encoder is None else encoder
        with torch.no_grad():
            grid = self.conv(torch.zeros(2, in_channels, image_size, image_size))
        self.fc = nn.Linear(grid[0].numel() + grid.shape[1], dim)
        self.norm = nn.BatchNorm1d(dim, affine=False)

    def forward(self, images: Tensor) -> Tensor:
        grid = self.conv(images)  # (B, D, h, w)
        features = torch.cat([grid.flatten(1), grid.amax((2, 3))], 1)  # where things are, and what is anywhere
        return torch.tanh(self.norm(self.fc(features)))


class VQAModel(nn.Module):
    """Question encoder (GRU) + image encoder (CNN) + fusion + answer classifier.

    Args:
        vocab_size, n_answers: the question vocabulary and the number of answers.
        question_len: ``L``, the question's columns of the packed targets (see the module docstring).
        fusion: ``"concat"``, ``"product"``, ``"mlb"`` or ``"mutan"`` (:func:`~course_lib.layers.make_fusion`).
        in_channels, image_size: the images'.
        dim: the fused vector's size; t, rank: MLB's joint dimension / MUTAN's ``t_q = t_v = t_o`` and rank.
        encoder: the image CNN's grid (default a new :class:`~course_lib.models.sequence.ConvEncoder`); MLB and
            MUTAN start from pretrained CNN features (ResNet-152), and a pretrained, frozen one can be passed here.
    """

    def __init__(
        self,
        vocab_size: int,
        n_answers: int,
        question_len: int,
        fusion: str = "mutan",
        *,
        in_channels: int = 3,
        image_size: int = 32,
        q_dim: int = 64,
        v_dim: int = 128,
        dim: int = 64,
        t: int = 64,
        rank: int | None = 5,
        encoder: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.question_len = question_len
        self.question = QuestionEncoder(vocab_size, q_dim)
        self.image = ImageEncoder(in_channels, image_size, v_dim, encoder)
        self.fusion = make_fusion(fusion, q_dim, v_dim, dim, rank=rank, t=t)
        self.classifier = nn.Linear(dim, n_answers)

    def forward(self, images: Tensor, packed: Tensor) -> Tensor:
        """``images Tensor[B, C, S, S]``, ``packed Tensor[B, L (+1)]`` -> answer logits ``Tensor[B, n_answers]``."""
        q = self.question(packed[:, : self.question_len])
        return self.classifier(self.fusion(q, self.image(images)))


class QuestionOnly(nn.Module):
    """The language-only baseline: ``forward(images, packed)`` ignores the image (Antol et al. 2015's "LSTM Q")."""

    def __init__(self, vocab_size: int, n_answers: int, question_len: int, q_dim: int = 64, dim: int = 64) -> None:
        super().__init__()
        self.question_len = question_len
        self.question = QuestionEncoder(vocab_size, q_dim)
        self.classifier = nn.Sequential(nn.Linear(q_dim, dim), nn.Tanh(), nn.Linear(dim, n_answers))

    def forward(self, images: Tensor, packed: Tensor) -> Tensor:
        return self.classifier(self.question(packed[:, : self.question_len]))
