"""Multimodal networks: visual question answering (a question encoder, an image encoder, a fusion) and
visual-semantic alignment (regions and words in one space)."""

from .alignment import AlignmentModel, alignment_ranking_loss, alignment_scores
from .vqa import (
    ImageEncoder,
    QuestionEncoder,
    QuestionOnly,
    VQAModel,
    pack_targets,
    vqa_accuracy_counts,
    vqa_loss,
)

__all__ = [
    "AlignmentModel",
    "ImageEncoder",
    "QuestionEncoder",
    "QuestionOnly",
    "VQAModel",
    "alignment_ranking_loss",
    "alignment_scores",
    "pack_targets",
    "vqa_accuracy_counts",
    "vqa_loss",
]
