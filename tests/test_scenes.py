"""Multi-digit scenes: labels agree with boxes and masks, determinism, bounds, the veto labels."""

from __future__ import annotations

import pytest
import torch

from course_lib.data import DigitScenes, make_digit_scenes, veto_labels


def fake_mnist(m: int = 200, seed: int = 0):
    """Digit-like patches (a blob in the central 20x20, value 1) with balanced labels; no file needed."""
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(m, 1, 28, 28)
    x[:, :, 6:22, 9:19] = torch.rand(m, 1, 16, 10, generator=g) * 0.3 + 0.7
    return x, torch.arange(m) % 10


@pytest.fixture(scope="module")
def scenes() -> DigitScenes:
    x, y = fake_mnist()
    return make_digit_scenes(x, y, 300, canvas=48, max_digits=3, seed=3)


def test_shapes_and_bounds(scenes):
    n, s = 300, 48
    assert scenes.images.shape == (n, 1, s, s) and scenes.labels.shape == (n, 10)
    assert scenes.digits.shape == (n, 3) and scenes.boxes.shape == (n, 3, 4) and scenes.instances.shape == (n, s, s)
    assert scenes.images.min() >= 0 and scenes.images.max() <= 1
    on = scenes.digits >= 0
    b = scenes.boxes[on]
    assert (b[:, 0] >= 0).all() and (b[:, 1] >= 0).all() and (b[:, 2] <= s).all() and (b[:, 3] <= s).all()
    assert (b[:, 2] > b[:, 0]).all() and (b[:, 3] > b[:, 1]).all()
    assert (scenes.boxes[~on] == 0).all() and (scenes.source[~on] == -1).all()
    assert on[:, 0].all(), "every scene has at least one digit"
    assert on.sum(1).float().mean() > 1.7  # 1 to 3 digits, almost none dropped


def test_labels_agree_with_boxes_and_masks(scenes):
    present = torch.zeros(len(scenes), 10, dtype=torch.bool)
    for i, row in enumerate(scenes.digits.tolist()):  # a plain loop as the reference
        for c in row:
            if c >= 0:
                present[i, c] = True
    assert torch.equal(scenes.labels.bool(), present)
    masks = scenes.class_masks()  # (N, C, S, S)
    assert torch.equal(masks.flatten(2).any(2), present), "a class has pixels iff it is labelled"
    inst = scenes.instance_masks()  # (N, K, S, S)
    assert not (inst.sum(1) > 1).any(), "each pixel belongs to at most one digit"
    ys, xs = torch.arange(48).view(48, 1), torch.arange(48).view(1, 48)
    b = scenes.boxes[..., None, None]
    inside = (xs >= b[..., 0, :, :]) & (xs < b[..., 2, :, :]) & (ys >= b[..., 1, :, :]) & (ys < b[..., 3, :, :])
    assert not (inst & ~inside).any(), "every mask pixel lies in its digit's box"
    assert torch.equal(inst.flatten(2).any(2), scenes.digits >= 0)


def test_digits_do_not_overlap_much(scenes):
    b = scenes.boxes
    on = scenes.digits >= 0
    x1 = torch.maximum(b[:, :, None, 0], b[:, None, :, 0])
    x2 = torch.minimum(b[:, :, None, 2], b[:, None, :, 2])
    y1 = torch.maximum(b[:, :, None, 1], b[:, None, :, 1])
    y2 = torch.minimum(b[:, :, None, 3], b[:, None, :, 3])
    inter = (x2 - x1).clamp(min=0) * (y2 - y1).clamp(min=0)
    pair = on[:, :, None] & on[:, None, :] & ~torch.eye(3, dtype=torch.bool)
    assert inter[pair].max() <= 2 * 20  # squares may overlap by `overlap`=2 pixels


def test_determinism_and_device(device):
    x, y = fake_mnist()
    a = make_digit_scenes(x.to(device), y.to(device), 50, seed=7)
    b = make_digit_scenes(x.to(device), y.to(device), 50, seed=7)
    c = make_digit_scenes(x.to(device), y.to(device), 50, seed=8)
    assert a.images.device.type == device.type
    assert torch.equal(a.images, b.images) and torch.equal(a.boxes, b.boxes) and torch.equal(a.instances, b.instances)
    assert not torch.equal(a.images, c.images)
    if device.type != "cpu":  # the draws happen on the CPU generator: same scenes on every device
        cpu = make_digit_scenes(x, y, 50, seed=7)
        torch.testing.assert_close(a.images.cpu(), cpu.images, atol=1e-5, rtol=0)
        assert torch.equal(a.digits.cpu(), cpu.digits)


def test_sources_are_of_the_right_class(scenes):
    _, y = fake_mnist()
    on = scenes.digits >= 0
    assert torch.equal(y[scenes.source[on]], scenes.digits[on])


def test_partner_scenes_and_veto_labels():
    x, y = fake_mnist()
    s = make_digit_scenes(x, y, 400, partner_prob=1.0, seed=1)
    first, second = s.digits[:, 0], s.digits[:, 1]
    placed = second >= 0
    assert placed.float().mean() > 0.95 and torch.equal(second[placed], (first[placed] + 5) % 10)
    digits = torch.tensor([[3, 8, -1], [3, 4, -1], [8, -1, -1], [-1, -1, -1]])
    v = veto_labels(digits)
    assert v[0].sum() == 0  # 3 and its partner 8 cancel out
    assert v[1].nonzero().flatten().tolist() == [3, 4] and v[2].nonzero().flatten().tolist() == [8] and v[3].sum() == 0


def test_subset_and_errors(scenes):
    sub = scenes[:5]
    assert len(sub) == 5 and torch.equal(sub.boxes, scenes.boxes[:5])
    x, y = fake_mnist()
    with pytest.raises(ValueError, match="normalize"):
        make_digit_scenes(x - 0.5, y, 5)
    with pytest.raises(ValueError, match="min_digits"):
        make_digit_scenes(x, y, 5, min_digits=3, max_digits=2)
    with pytest.raises(ValueError, match="every class"):
        make_digit_scenes(x, y % 5, 5)


@pytest.mark.parametrize("name", ["cluttered", "scenes", "rts"])
def test_every_canvas_generator_checks_its_digits_the_same_way(name):
    from course_lib.data import make_cluttered_mnist, make_rts_cluttered_mnist

    make = {"cluttered": make_cluttered_mnist, "scenes": make_digit_scenes, "rts": make_rts_cluttered_mnist}[name]
    x, y = fake_mnist(40)
    assert len(make(x, y, 4)) == 4
    for bad_x, bad_y, match in [
        (x[:, :, :20], y, r"\(M, 1, 28, 28\)"),  # not MNIST-shaped
        (x * 2 - 1, y, r"\[0, 1\]"),  # normalized digits
        (x, y[:10], "same length"),
        (x[:0], y[:0], "at least one"),  # no digit at all
    ]:
        with pytest.raises(ValueError, match=match):
            make(bad_x, bad_y, 4)
    with pytest.raises(ValueError, match="n must be >= 1"):
        make(x, y, 0)
    with pytest.raises(ValueError, match="fragment"):
        make(x, y, 4, fragment=30)


def test_digits_of_several_sizes_share_a_canvas():
    """``digit_size=(low, high)``: each digit's side uniform in [low, high]; boxes, masks and overlaps stay exact."""
    x, y = fake_mnist()
    s, lo, hi = 64, 10, 30
    sc = make_digit_scenes(x, y, 400, canvas=s, digit_size=(lo, hi), max_digits=4, overlap=0, seed=1)
    assert sc.images.shape == (400, 1, s, s) and sc.instances.shape == (400, s, s)
    on = sc.digits >= 0
    b = sc.boxes[on]
    assert (b >= 0).all() and (b <= s).all()
    h = b[:, 3] - b[:, 1]  # the fake digit's ink spans 16/24 of the resized side
    assert h.min() <= 16 / 24 * (lo + 3) and h.max() >= 16 / 24 * (hi - 3), "small and large digits both occur"
    inst = sc.instance_masks()
    ys, xs = torch.arange(s).view(s, 1), torch.arange(s).view(1, s)
    bb = sc.boxes[..., None, None]
    inside = (xs >= bb[..., 0, :, :]) & (xs < bb[..., 2, :, :]) & (ys >= bb[..., 1, :, :]) & (ys < bb[..., 3, :, :])
    assert not (inst & ~inside).any() and torch.equal(inst.flatten(2).any(2), on)
    x1 = torch.maximum(sc.boxes[:, :, None, 0], sc.boxes[:, None, :, 0])
    x2 = torch.minimum(sc.boxes[:, :, None, 2], sc.boxes[:, None, :, 2])
    y1 = torch.maximum(sc.boxes[:, :, None, 1], sc.boxes[:, None, :, 1])
    y2 = torch.minimum(sc.boxes[:, :, None, 3], sc.boxes[:, None, :, 3])
    pair = on[:, :, None] & on[:, None, :] & ~torch.eye(4, dtype=torch.bool)
    assert ((x2 - x1).clamp(min=0) * (y2 - y1).clamp(min=0))[pair].max() == 0, "overlap=0: no two boxes intersect"
    again = make_digit_scenes(x, y, 400, canvas=s, digit_size=(lo, hi), max_digits=4, overlap=0, seed=1)
    assert torch.equal(again.images, sc.images)
    fixed = make_digit_scenes(x, y, 50, seed=2)
    assert torch.equal(make_digit_scenes(x, y, 50, digit_size=(20, 20), seed=2).images, fixed.images)
    with pytest.raises(ValueError, match="digit_size"):
        make_digit_scenes(x, y, 5, digit_size=(20, 10))
    with pytest.raises(ValueError, match="digit_size"):
        make_digit_scenes(x, y, 5, canvas=48, digit_size=(10, 60))
