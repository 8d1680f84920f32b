"""Detection box helpers (ops.boxes) against torchvision's detection internals (BoxCoder, AnchorGenerator,
Matcher, batched_nms), and mAP (metrics.detection) on a hand-made case whose AP is computed by hand."""

from __future__ import annotations

import math

import pytest
import torch
from torchvision.models.detection._utils import BoxCoder, Matcher
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.image_list import ImageList
from torchvision.ops import batched_nms, box_iou, nms

from course_lib.metrics import detection_map
from course_lib.ops import (
    BACKGROUND,
    IGNORED,
    anchor_grid,
    base_anchors,
    decode_boxes,
    encode_boxes,
    match_anchors,
    non_max_suppression,
)


def _boxes(g: torch.Generator, n: int, extent: float = 100.0) -> torch.Tensor:
    lo = torch.rand(n, 2, generator=g) * extent
    return torch.cat([lo, lo + 2 + torch.rand(n, 2, generator=g) * extent / 2], 1)


@pytest.mark.parametrize("weights", [(1.0, 1.0, 1.0, 1.0), (10.0, 10.0, 5.0, 5.0)])
@pytest.mark.parametrize("seed", [0, 1])
def test_box_coding_matches_torchvision_box_coder(seed, weights, device):
    g = torch.Generator().manual_seed(seed)
    anchors, gt = _boxes(g, 50).to(device), _boxes(g, 50).to(device)
    coder = BoxCoder(weights)
    deltas = encode_boxes(gt, anchors, weights)
    torch.testing.assert_close(deltas, coder.encode_single(gt, anchors))
    codes = torch.randn(50, 4, generator=g).to(device) * 2
    codes[0, 2:] = 20.0  # past the clip: exp(log(1000 / 16)) at most
    torch.testing.assert_close(decode_boxes(codes, anchors, weights), coder.decode_single(codes, anchors))
    torch.testing.assert_close(decode_boxes(deltas, anchors, weights), gt, atol=1e-4, rtol=1e-5)  # round trip
    assert decode_boxes(codes.view(5, 10, 4), anchors.view(5, 10, 4), weights).shape == (5, 10, 4)  # any leading shape


@pytest.mark.parametrize("image", [(80, 112), (83, 115)])
def test_anchors_equal_torchvision_anchor_generator(image, device):
    sizes, ratios = (32, 64, 128), (0.5, 1.0, 2.0)
    feature = torch.zeros(2, 8, 5, 7, device=device)
    ref = AnchorGenerator((sizes,), (ratios,))(
        ImageList(torch.zeros(2, 3, *image, device=device), [image] * 2), [feature]
    )
    ours = anchor_grid((5, 7), image, sizes, ratios, device=device)
    assert ours.shape == (5 * 7 * 9, 4) and ours.device.type == device.type
    assert torch.equal(ours, ref[0])
    base = base_anchors(sizes, ratios)  # ratio = h / w at constant area, ratios outer, sizes inner
    w, h = base[:, 2] - base[:, 0], base[:, 3] - base[:, 1]
    assert (h[6:] > w[6:]).all() and (h[:3] < w[:3]).all() and torch.equal(h[3:6], w[3:6])


@pytest.mark.parametrize("keep_best", [True, False])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matching_equals_torchvision_matcher(seed, keep_best, device):
    g = torch.Generator().manual_seed(seed)
    anchors = anchor_grid((6, 6), (96, 96), (16, 32), (0.5, 1.0, 2.0), device=device)
    gt = _boxes(g, 6, 80.0).to(device)
    gt[0] = torch.tensor([40.0, 40.0, 43.0, 44.0], device=device)  # tiny: only a low-quality best match
    ref = Matcher(0.7, 0.3, allow_low_quality_matches=keep_best)(box_iou(gt, anchors))
    ours = match_anchors(anchors, gt, 0.7, 0.3, keep_best)
    assert torch.equal(ours, ref)
    assert {BACKGROUND, IGNORED} <= set(ours.tolist())
    iou = box_iou(gt, anchors)
    best_anchors = (iou == iou.max(1, keepdim=True).values).any(0)
    assert (ours[best_anchors] >= 0).all() == keep_best  # every box's best anchor is kept (the tiny box's too)
    empty = match_anchors(anchors, gt[:0])
    assert (empty == BACKGROUND).all() and empty.shape == (len(anchors),)


def test_nms_wraps_torchvision(device):
    g = torch.Generator().manual_seed(3)
    boxes, scores = _boxes(g, 80, 60.0).to(device), torch.rand(80, generator=g).to(device)
    labels = torch.randint(0, 3, (80,), generator=g).to(device)
    assert torch.equal(non_max_suppression(boxes, scores, 0.4), nms(boxes, scores, 0.4))
    assert torch.equal(non_max_suppression(boxes, scores, 0.4, labels), batched_nms(boxes, scores, labels, 0.4))


def _hand_case(last_box: list[float]):
    """Two images, three ground-truth boxes of one class; four detections ranked TP, FP, TP, (last_box)."""
    targets = [
        {"boxes": torch.tensor([[0.0, 0, 10, 10], [20, 20, 40, 40]]), "labels": torch.tensor([1, 1])},
        {"boxes": torch.tensor([[5.0, 5, 25, 25]]), "labels": torch.tensor([1])},
    ]
    preds = [
        {
            "boxes": torch.tensor([[0.0, 0, 10, 10], [50, 50, 60, 60], last_box]),  # TP .9, FP .8 (no overlap), .6
            "scores": torch.tensor([0.9, 0.8, 0.6]),
            "labels": torch.tensor([1, 1, 1]),
        },
        {
            "boxes": torch.tensor([[5.0, 5, 25, 25]]),
            "scores": torch.tensor([0.7]),
            "labels": torch.tensor([1]),
        },  # TP .7
    ]
    return preds, targets


def test_map_of_a_hand_made_case():
    # Ranked by score: TP (.9), FP (.8), TP (.7), TP (.6) for 3 boxes. Precision / recall after each:
    # 1/1 @ 1/3, 1/2 @ 1/3, 2/3 @ 2/3, 3/4 @ 1. Made monotone (max to the right): 1 up to recall 1/3, then 3/4.
    # COCO reads it at the 101 recalls 0, .01, ..., 1: the 34 points r <= .33 give 1, the 67 points r >= .34 give
    # 3/4: AP = (34 + 67 * 3/4) / 101 = 84.25 / 101 (the area under the curve, VOC 2010's AP, is 1/3 + 2/3 * 3/4 = 5/6).
    # All true positives overlap exactly (IoU 1), so AP is the same at every IoU threshold: mAP@[.5:.95] = mAP@.5.
    preds, targets = _hand_case([20.0, 20, 40, 40])
    out = detection_map(preds, targets)
    assert out["map_50"] == pytest.approx(84.25 / 101, abs=1e-6)
    assert out["map"] == pytest.approx(84.25 / 101, abs=1e-6) and out["mar_100"] == pytest.approx(1.0)

    # The last detection now has IoU 400 / 640 = 0.625 with its box: a TP at IoU .5, .55, .6, an FP at .65 ... .95.
    # As an FP: TP, FP, TP, FP -> recall stops at 2/3; precision 1 up to 1/3, then 2/3 up to 2/3, none beyond:
    # AP = (34 * 1 + 33 * 2/3) / 101 = 56 / 101. mAP@[.5:.95] averages 3 thresholds at 84.25/101 and 7 at 56/101.
    preds, targets = _hand_case([20.0, 20, 40, 52])
    out = detection_map(preds, targets, class_metrics=True)
    assert out["map_50"] == pytest.approx(84.25 / 101, abs=1e-6)
    assert out["map_75"] == pytest.approx(56 / 101, abs=1e-6)
    assert out["map"] == pytest.approx((3 * 84.25 + 7 * 56) / 1010, abs=1e-6)
    assert out["classes"] == [1] and out["map_per_class"] == [pytest.approx(out["map"])]


def test_map_rejects_malformed_inputs():
    preds, targets = _hand_case([20.0, 20, 40, 40])
    with pytest.raises(ValueError, match="one prediction dict per target"):
        detection_map(preds[:1], targets)
    with pytest.raises(ValueError, match="lacks"):
        detection_map([{"boxes": torch.zeros(0, 4), "labels": torch.zeros(0)}] * 2, targets)
    assert math.isclose(detection_map(preds, targets)["map"], 84.25 / 101, abs_tol=1e-6)
