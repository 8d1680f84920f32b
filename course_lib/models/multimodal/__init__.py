"""Multimodal networks: visual question answering (a question encoder, an image encoder, a fusion)."""

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
    "ImageEncoder",
    "QuestionEncoder",
    "QuestionOnly",
    "VQAModel",
    "pack_targets",
    "vqa_accuracy_counts",
    "vqa_loss",
]
