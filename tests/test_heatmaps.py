"""CenterNet's heatmap ops (ops.heatmaps) and the two-scale heatmap detector (models.vision.heatmap): targets and
radii against brute force, peak extraction against a loop over neighbourhoods, decode(encode(boxes)) on a hand-made
case, the focal loss against a loop over cells of Zhou et al.'s eq. (1), and a tiny overfit."""

from __future__ import annotations

import math

import pytest
import torch
from torchvision.ops import box_iou

from course_lib.engine import fit
from course_lib.models.vision import HeatmapDetector
from course_lib.ops import (
    centre_loss,
    centre_targets,
    decode_centres,
    gaussian_radius,
    heatmap_focal_loss,
    heatmap_peaks,
)


@pytest.mark.parametrize("min_overlap", [0.3, 0.5, 0.7])
def test_gaussian_radius_is_the_shift_at_which_iou_reaches_min_overlap(min_overlap):
    g = torch.Generator().manual_seed(0)
    wh = 1 + 30 * torch.rand(200, 2, generator=g, dtype=torch.float64)
    r = gaussian_radius(wh[:, 0], wh[:, 1], min_overlap)
    box = torch.cat([torch.zeros_like(wh), wh], 1)
    iou = lambda shift: box_iou(box, box + shift.unsqueeze(1)).diagonal()  # IoU of each box and itself shifted (s, s)
    torch.testing.assert_close(iou(r), torch.full_like(r, min_overlap))
    assert (iou(r * 0.99) > min_overlap).all() and (iou(r * 1.01) < min_overlap).all()
    with pytest.raises(ValueError, match="min_overlap"):
        gaussian_radius(wh[:, 0], wh[:, 1], 1.0)


def test_centre_targets_against_a_loop_over_objects(device):
    g = torch.Generator().manual_seed(1)
    n, k, c, (h, w), stride = 3, 4, 5, (7, 9), 4
    lo = torch.rand(n, k, 2, generator=g) * torch.tensor([w * stride - 10.0, h * stride - 10.0])
    boxes = torch.cat([lo, lo + 3 + 12 * torch.rand(n, k, 2, generator=g)], 2)
    labels = torch.randint(0, c, (n, k), generator=g)
    labels[0, 1] = labels[2, 3] = -1  # empty slots
    t = centre_targets(boxes.to(device), labels.to(device), c, (h, w), stride).cpu()
    assert t.shape == (n, c + 5, h, w)
    heat = torch.zeros(n, c, h, w)
    for i in range(n):
        for j in range(k):
            if labels[i, j] < 0:
                continue
            x1, y1, x2, y2 = (boxes[i, j] / stride).tolist()
            cx, cy, bw, bh = (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1
            ix, iy = math.floor(cx), math.floor(cy)
            sigma = (2 * float(gaussian_radius(torch.tensor(bw), torch.tensor(bh))) + 1) / 6
            for yy in range(h):
                for xx in range(w):
                    v = math.exp(-((xx - ix) ** 2 + (yy - iy) ** 2) / (2 * sigma**2))
                    heat[i, labels[i, j], yy, xx] = max(heat[i, labels[i, j], yy, xx], v)
            assert t[i, c + 4, iy, ix] == 1
            torch.testing.assert_close(t[i, c : c + 4, iy, ix], torch.tensor([bw, bh, cx - ix, cy - iy]))
    torch.testing.assert_close(t[:, :c], heat)
    assert int(t[:, c + 4].sum()) == int((labels >= 0).sum())  # one centre cell per object (no collision here)
    assert (t[:, :c] == 1).sum() == (labels >= 0).sum()
    with pytest.raises(ValueError, match="Tensor\\[N, K, 4\\]"):
        centre_targets(boxes[0], labels[0], c, (h, w), stride)


def test_heatmap_peaks_against_brute_force(device):
    g = torch.Generator().manual_seed(2)
    heat = torch.rand(2, 3, 6, 7, generator=g)
    heat[0, 1, 2:4, 2:4] = 2.0  # a plateau: every cell of it is a peak
    scores, classes, ys, xs = (t.cpu() for t in heatmap_peaks(heat.to(device), k=12))
    for b in range(2):
        brute = []
        for c in range(3):
            for y in range(6):
                for x in range(7):
                    window = heat[b, c, max(y - 1, 0) : y + 2, max(x - 1, 0) : x + 2]
                    if heat[b, c, y, x] >= window.max():
                        brute.append((float(heat[b, c, y, x]), c, y, x))
        brute.sort(reverse=True)
        assert len(brute) >= 12
        assert torch.allclose(scores[b], torch.tensor([s for s, *_ in brute[:12]]))
        got = {(int(c), int(y), int(x)) for c, y, x in zip(classes[b], ys[b], xs[b])}
        assert got == {(c, y, x) for _, c, y, x in brute[:12]}
        assert (heat[b, classes[b], ys[b], xs[b]] == scores[b]).all()
    with pytest.raises(ValueError, match="odd"):
        heatmap_peaks(heat, kernel=2)


def test_decode_inverts_encode_on_a_hand_made_scene(device):
    boxes = torch.tensor([[[4.0, 6.0, 14.0, 20.0], [30.0, 8.0, 58.0, 40.0], [0.0, 0.0, 0.0, 0.0]]], device=device)
    labels = torch.tensor([[7, 2, -1]], device=device)
    t = centre_targets(boxes, labels, 10, (16, 16), 4)
    # centre of box 0: (9, 13) px -> cell (2, 3), offset (0.25, 0.25); size (10, 14) px -> (2.5, 3.5) cells
    assert t[0, 7, 3, 2] == 1 and t[0, 2, 6, 11] == 1
    torch.testing.assert_close(t[0, 10:14, 3, 2], torch.tensor([2.5, 3.5, 0.25, 0.25], device=device))
    got, scores, classes = decode_centres(t[:, :10], t[:, 10:12], t[:, 12:14], stride=4, k=2)
    torch.testing.assert_close(got[0], boxes[0, [1, 0]] if classes[0, 0] == 2 else boxes[0, :2])
    assert sorted(classes[0].tolist()) == [2, 7] and (scores == 1).all()


def _naive_focal(logits, target, alpha=2.0, beta=4.0):
    total, n_pos = 0.0, 0
    for z, y in zip(logits.flatten().tolist(), target.flatten().tolist()):
        p = 1 / (1 + math.exp(-z))
        if y == 1:
            total += (1 - p) ** alpha * math.log(p)
            n_pos += 1
        else:
            total += (1 - y) ** beta * p**alpha * math.log(1 - p)
    return -total / max(n_pos, 1)


def test_focal_loss_against_a_loop_over_cells(device):
    g = torch.Generator().manual_seed(3)
    boxes = torch.tensor([[[2.0, 2.0, 12.0, 14.0], [14.0, 10.0, 30.0, 30.0]], [[5.0, 5.0, 25.0, 20.0], [0, 0, 0, 0]]])
    target = centre_targets(boxes, torch.tensor([[0, 2], [1, -1]]), 3, (8, 8), 4)[:, :3]
    logits = 3 * torch.randn(2, 3, 8, 8, generator=g, dtype=torch.float64)
    got = heatmap_focal_loss(logits.to(device), target.double().to(device))
    assert got.item() == pytest.approx(_naive_focal(logits, target), rel=1e-9)
    no_objects = torch.zeros(1, 3, 4, 4, dtype=torch.float64)  # N = 0: the sum is divided by 1
    corner = logits[:1, :, :4, :4]
    assert heatmap_focal_loss(corner, no_objects).item() == pytest.approx(_naive_focal(corner, no_objects))
    full = torch.cat([logits.float(), torch.randn(2, 4, 8, 8, generator=g)], 1)
    t5 = centre_targets(boxes, torch.tensor([[0, 2], [1, -1]]), 3, (8, 8), 4)
    mask = t5[:, -1:]
    l1 = ((full[:, 3:] - t5[:, 3:7]).abs() * mask).sum((0, 2, 3)) / 3
    expected = _naive_focal(logits, target) + 0.1 * float(l1[:2].sum()) + float(l1[2:].sum())
    assert centre_loss(full, t5).item() == pytest.approx(expected, rel=1e-5)


def test_detector_shapes_scale_assignment_and_detections(device):
    model = HeatmapDetector(n_classes=10, width=8, split=16).to(device)
    out = model(torch.rand(2, 1, 48, 48, device=device))
    assert out.shape == (2, 2, 14, 12, 12)
    boxes = torch.tensor([[[2.0, 2.0, 12.0, 12.0], [20.0, 20.0, 44.0, 42.0]]], device=device)
    per_scale = model.scale_labels(boxes, torch.tensor([[3, 5]], device=device))
    assert per_scale.tolist() == [[[3, -1]], [[-1, 5]]]  # the 10-px digit to the small head, the 24-px one to the large
    t = model.targets(boxes, torch.tensor([[3, 5]], device=device), (48, 48))
    assert t.shape == (1, 2, 15, 12, 12) and t[0, 0, 3].max() == 1 and t[0, 0, 5].max() < 1 and t[0, 1, 5].max() == 1
    dets = model.detections(out, k=5)
    assert len(dets) == 2 and all(d["boxes"].shape[1] == 4 and len(d["scores"]) <= 10 for d in dets)
    assert HeatmapDetector(split=None)(torch.rand(1, 1, 32, 32)).shape == (1, 1, 14, 8, 8)


def test_tiny_overfit_lowers_the_loss(device):
    torch.manual_seed(0)
    model = HeatmapDetector(n_classes=3, width=8, split=16).to(device)
    boxes = torch.tensor([[[2.0, 2.0, 12.0, 13.0], [8.0, 14.0, 30.0, 30.0]], [[10.0, 4.0, 20.0, 14.0], [0, 0, 0, 0]]])
    labels = torch.tensor([[0, 2], [1, -1]])
    x = torch.zeros(2, 1, 32, 32)
    for i in range(2):
        for j in range(2):
            if labels[i, j] >= 0:
                x1, y1, x2, y2 = boxes[i, j].int().tolist()
                x[i, 0, y1:y2, x1:x2] = 0.3 + 0.3 * labels[i, j]  # a filled box, its class as its brightness
    x, y = x.to(device), model.targets(boxes, labels, (32, 32)).to(device)
    first = HeatmapDetector.loss(model(x), y).item()
    history = fit(
        model, [(x, y)], steps=150, lr=1e-2, loss_fn=HeatmapDetector.loss, metric=lambda o, t: None, progress=False
    )
    model.eval()
    with torch.no_grad():
        last = HeatmapDetector.loss(model(x), y).item()
    assert last < 0.3 * first, (first, last, history.last("train_loss"))
