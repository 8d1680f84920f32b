"""VQA models (course_lib.models.multimodal): shapes for every fusion, packed targets, the question-only baseline,
training through the engine."""

from __future__ import annotations

import pytest
import torch

from course_lib.data import DeviceLoader
from course_lib.engine import evaluate, fit
from course_lib.layers import FUSIONS
from course_lib.models.multimodal import QuestionOnly, VQAModel, pack_targets, vqa_accuracy_counts, vqa_loss
from course_lib.utils import count_parameters


def _batch(n=6, length=5, vocab=9):
    torch.manual_seed(0)
    q = torch.randint(3, vocab, (n, length))
    q[0, 3:] = 0  # padding
    return torch.rand(n, 3, 16, 16), q, torch.randint(0, 4, (n,))


@pytest.mark.parametrize("fusion", FUSIONS)
def test_shapes_and_packed_targets(fusion):
    images, q, a = _batch()
    model = VQAModel(9, 4, question_len=5, fusion=fusion, image_size=16, q_dim=8, v_dim=10, dim=7, t=6, rank=2)
    packed = pack_targets(q, a)
    assert packed.shape == (6, 6) and torch.equal(packed[:, -1], a)
    logits = model(images, packed)
    assert logits.shape == (6, 4)
    torch.testing.assert_close(model(images, q), logits)  # only the question's columns are read
    correct, count = vqa_accuracy_counts(logits, packed)
    assert count == 6 and int(correct) == int((logits.argmax(1) == a).sum())
    torch.testing.assert_close(vqa_loss(logits, packed), torch.nn.functional.cross_entropy(logits, a))


def test_padding_does_not_change_the_question_vector():
    images, q, _ = _batch()
    model = VQAModel(9, 4, question_len=5, image_size=16).eval()
    longer = torch.cat([q, torch.zeros(6, 3, dtype=torch.long)], 1)
    model_long = VQAModel(9, 4, question_len=8, image_size=16).eval()
    model_long.load_state_dict(model.state_dict())
    torch.testing.assert_close(model(images, q), model_long(images, longer))


def test_question_only_ignores_the_image():
    images, q, _ = _batch()
    model = QuestionOnly(9, 4, question_len=5)
    torch.testing.assert_close(model(images, q), model(torch.zeros_like(images), q))
    assert count_parameters(model) < count_parameters(VQAModel(9, 4, 5, image_size=16))


def test_trains_through_the_engine():
    torch.manual_seed(0)
    n = 256
    images = torch.rand(n, 3, 16, 16)
    q = torch.randint(3, 5, (n, 2))
    a = (images[:, 0].mean((1, 2)) > 0.5).long() ^ (q[:, 0] == 3).long()  # needs the question and the image
    images[:, 0] += (a * 2 - 1)[:, None, None] * (q[:, :1, None].float() - 3.5) * 0.5  # make it learnable
    y = pack_targets(q, a)
    model = VQAModel(6, 2, question_len=2, fusion="mutan", image_size=16, t=8, rank=2)
    fit(
        model,
        DeviceLoader(images, y, 32, seed=0),
        steps=60,
        lr=1e-2,
        loss_fn=vqa_loss,
        metric=vqa_accuracy_counts,
        forward_targets=True,
        progress=False,
    )
    _, acc = evaluate(
        model,
        DeviceLoader(images, y, 128, shuffle=False),
        loss_fn=vqa_loss,
        metric=vqa_accuracy_counts,
        forward_targets=True,
    )
    assert acc > 0.8


def test_a_given_encoder_is_used_and_can_be_frozen():
    from course_lib.engine.finetune import freeze
    from course_lib.models.sequence import ConvEncoder

    encoder = freeze(ConvEncoder(3, dim=12))
    model = VQAModel(9, 4, question_len=5, image_size=16, encoder=encoder)
    assert model.image.conv is encoder and model.image.fc.in_features == 12 * 2 * 2 + 12
    assert count_parameters(model) == count_parameters(
        VQAModel(9, 4, 5, image_size=16, encoder=ConvEncoder(3, dim=12))
    ) - sum(p.numel() for p in ConvEncoder(3, dim=12).parameters())
