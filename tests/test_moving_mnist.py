"""Moving MNIST: seeding, boxes hold each digit's ink, bouncing keeps everything inside the canvas."""

from __future__ import annotations

import pytest
import torch

from course_lib.data.synthetic.moving_mnist import bounce, make_moving_mnist


def fake_mnist(m: int = 60, seed: int = 0):
    """Digit-like patches of varying extent (value in [0.7, 1]) with balanced labels; no file needed."""
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(m, 1, 28, 28)
    for i in range(m):
        top, left = 3 + i % 5, 6 + i % 7
        x[i, :, top : top + 16, left : left + 10] = torch.rand(1, 16, 10, generator=g) * 0.3 + 0.7
    return x, torch.arange(m) % 10


def test_the_same_seed_gives_the_same_clips_and_another_seed_others(device):
    x, y = fake_mnist()
    x, y = x.to(device), y.to(device)
    a, b = (make_moving_mnist(x, y, 4, frames=6, n_distractors=2, seed=3) for _ in range(2))
    c = make_moving_mnist(x, y, 4, frames=6, n_distractors=2, seed=4)
    assert torch.equal(a.clips, b.clips) and torch.equal(a.boxes, b.boxes)
    assert not torch.equal(a.clips, c.clips)
    assert a.clips.shape == (4, 6, 1, 64, 64) and a.boxes.shape == (4, 6, 3, 4) and a.clips.device.type == device.type


def test_boxes_are_the_tight_boxes_of_each_digits_pixels():
    x, y = fake_mnist()
    clips = make_moving_mnist(x, y, 3, frames=8, n_distractors=1, seed=0)
    for i in range(3):
        for t in range(8):
            for k in range(2):  # each digit drawn alone at its corner: its ink lies exactly in its box
                alone = torch.zeros(64, 64)
                top, left = clips.corners[i, t, k].tolist()
                alone[top : top + 28, left : left + 28] = x[clips.source[i, k], 0]
                rows, cols = alone.nonzero().unbind(1)
                x1, y1, x2, y2 = clips.boxes[i, t, k].tolist()
                assert (x1, y1, x2, y2) == (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1)
                assert (clips.clips[i, t, 0][alone > 0] >= alone[alone > 0]).all()  # max-composited
    assert torch.equal(clips.target_boxes, clips.boxes[:, :, 0])
    assert (clips.labels[:, 0] != clips.labels[:, 1]).all()  # distractors of other classes


def test_bouncing_keeps_the_boxes_inside_the_canvas_and_reflects_the_motion():
    x, y = fake_mnist()
    clips = make_moving_mnist(x, y, 16, frames=60, canvas=48, speed=(3.0, 5.0), n_distractors=1, seed=1)
    b = clips.boxes
    assert (b[..., :2] >= 0).all() and (b[..., 2:] <= 48).all() and (b[..., 2:] > b[..., :2]).all()
    assert (clips.corners >= 0).all() and (clips.corners <= 20).all()
    step = clips.corners.diff(dim=1).float()  # the velocity changes sign at the walls (a bounce), magnitude kept
    assert ((step[:, 1:] * step[:, :-1]) < 0).any()
    pos = bounce(torch.tensor([1.0]), torch.tensor([3.0]), 8, 5.0)[0]
    torch.testing.assert_close(pos, torch.tensor([1.0, 4.0, 3.0, 0.0, 3.0, 4.0, 1.0, 2.0]))


def test_bad_arguments_raise():
    x, y = fake_mnist()
    with pytest.raises(ValueError, match="canvas > 28"):
        make_moving_mnist(x, y, 2, canvas=28)
    with pytest.raises(ValueError, match="other classes"):
        make_moving_mnist(x, torch.zeros_like(y), 2, n_distractors=1)


def test_clips_from_the_shipped_mnist():
    from course_lib.data.real import load_mnist

    x, y = load_mnist(train=False, normalize=False)
    clips = make_moving_mnist(x[:500], y[:500], 8, frames=10, n_distractors=2, seed=0)
    assert clips.clips.shape == (8, 10, 1, 64, 64) and 0 <= clips.clips.min() and clips.clips.max() <= 1
    b = clips.target_boxes
    width, height = (b[..., 2:] - b[..., :2]).unbind(-1)
    assert (height > 10).all() and (width > 1).all()  # MNIST digits are about 20 pixels tall
