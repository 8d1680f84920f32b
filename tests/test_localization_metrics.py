"""Weak-localization metrics on hand-made maps; box IoU against torchvision's box_iou."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchvision.ops import box_iou

from course_lib.metrics import best_box_iou, pointing_game, positive_mass_share, weak_localization
from course_lib.ops import boxes_to_masks, class_box_masks, map_to_box


def test_boxes_to_masks():
    m = boxes_to_masks(torch.tensor([[1.0, 2.0, 4.0, 3.0]]), (5, 6))
    expected = torch.zeros(1, 5, 6, dtype=torch.bool)
    expected[0, 2, 1:4] = True  # rows 2, columns 1..3 (exclusive ends)
    assert torch.equal(m, expected)


def test_pointing_game_hand_made(device):
    maps = torch.zeros(3, 4, 4, device=device)
    maps[0, 1, 1] = 5.0  # peak inside the target
    maps[1, 3, 3] = 5.0  # peak outside
    maps[2] = -1.0  # flat map: the first pixel (raster order) is the peak
    targets = torch.zeros(3, 4, 4, dtype=torch.bool, device=device)
    targets[:, 0:2, 0:2] = True
    assert pointing_game(maps, targets).tolist() == [True, False, True]
    with pytest.raises(ValueError, match=r"expected maps and targets of the same shape \(P, H, W\)"):
        pointing_game(maps, targets[:, :2])


def test_positive_mass_share_hand_made():
    maps = torch.tensor([[[1.0, 3.0], [-2.0, 0.0]], [[-1.0, -1.0], [-1.0, -1.0]]])
    targets = torch.tensor([[[False, True], [True, True]], [[True, False], [False, False]]])
    share = positive_mass_share(maps, targets)
    torch.testing.assert_close(share, torch.tensor([0.75, 0.0]))  # 3 of 4 units inside; no positive mass -> 0


def test_map_to_box_and_iou():
    maps = torch.zeros(2, 8, 8)
    maps[0, 2:5, 3:7] = 1.0  # a bright rectangle: its box is x 3..7, y 2..5
    maps[1, 6, 1] = 1.0
    boxes = map_to_box(maps, threshold=0.5)
    assert boxes.tolist() == [[3.0, 2.0, 7.0, 5.0], [1.0, 6.0, 2.0, 7.0]]
    gt = torch.tensor([[[3.0, 2.0, 7.0, 5.0], [0.0, 0.0, 8.0, 8.0]], [[0.0, 0.0, 2.0, 7.0], [0.0, 0.0, 0.0, 0.0]]])
    valid = torch.tensor([[True, True], [True, False]])
    iou = best_box_iou(boxes, gt, valid)
    torch.testing.assert_close(iou, torch.tensor([1.0, 1.0 / 14.0]))
    # against torchvision directly, on random boxes
    g = torch.Generator().manual_seed(0)
    xy = torch.rand(10, 3, 2, generator=g) * 20
    gt = torch.cat([xy, xy + 1 + torch.rand(10, 3, 2, generator=g) * 10], -1)
    pred = gt[:, 0] + torch.randn(10, 4, generator=g)
    ref = torch.stack([box_iou(pred[i : i + 1], gt[i]).amax() for i in range(10)])
    torch.testing.assert_close(best_box_iou(pred, gt, torch.ones(10, 3, dtype=torch.bool)), ref)


def test_best_box_iou_is_the_diagonal_of_torchvisions_all_pairs(device):
    """Only the paired IoUs: for every candidate slot k, ``best_box_iou`` with slot k alone valid equals the diagonal
    of ``torchvision.ops.box_iou(pred, boxes[:, k])`` (the P x P all-against-all it no longer computes)."""
    g = torch.Generator().manual_seed(1)
    p, k = 300, 4  # more pairs than the old chunk of 256
    xy = torch.rand(p, k, 2, generator=g) * 30
    gt = torch.cat([xy, xy + 1 + torch.rand(p, k, 2, generator=g) * 12], -1).to(device)
    pred = gt[:, 0] + 3 * torch.randn(p, 4, generator=g).to(device)
    pred = torch.cat([pred[:, :2].minimum(pred[:, 2:]), pred[:, :2].maximum(pred[:, 2:])], 1)  # x1 <= x2, y1 <= y2
    for slot in range(k):
        only = torch.zeros(p, k, dtype=torch.bool, device=device)
        only[:, slot] = True
        diagonal = box_iou(pred, gt[:, slot]).diagonal()
        torch.testing.assert_close(best_box_iou(pred, gt, only), diagonal)
    valid = torch.rand(p, k, generator=g).to(device) < 0.6
    full = torch.stack([box_iou(pred, gt[:, s]).diagonal() for s in range(k)], 1)
    torch.testing.assert_close(best_box_iou(pred, gt, valid), torch.where(valid, full, 0.0).amax(1))
    assert best_box_iou(pred, gt[:, :0], valid[:, :0]).tolist() == [0.0] * p  # no candidate: 0
    with pytest.raises(
        ValueError, match=r"expected pred \(P, 4\) and boxes \(P, K, 4\), got \(300, 4\), \(299, 4, 4\)"
    ):
        best_box_iou(pred, gt[1:], valid[1:])
    with pytest.raises(ValueError, match=r"expected valid \(P, K\) = \(300, 4\), got \(300, 3\)"):
        best_box_iou(pred, gt, valid[:, :3])


def test_class_box_masks_and_weak_localization(device):
    boxes = torch.tensor([[[0.0, 0.0, 4.0, 4.0], [4.0, 4.0, 8.0, 8.0]]], device=device)
    digits = torch.tensor([[2, 5]], device=device)
    masks = class_box_masks(boxes, digits, 10, (8, 8))
    assert masks.shape == (1, 10, 8, 8) and masks[0, 2, :4, :4].all() and not masks[0, 2, 4:, 4:].any()
    assert masks.flatten(2).any(2).nonzero()[:, 1].tolist() == [2, 5]
    maps = torch.full((1, 10, 8, 8), -1.0, device=device)
    maps[0, 2, :4, :4] = 1.0  # class 2: right place, all its mass in its box
    maps[0, 5, :4, :4] = 1.0  # class 5: wrong place
    out = weak_localization(maps, boxes, digits, (8, 8))
    assert out["pairs"] == 2
    assert out["pointing"] == 0.5 and out["mass_in_box"] == 0.5 and out["corloc"] == 0.5
    assert out["iou"] == pytest.approx(0.5)  # IoU 1 and 0


def test_map_to_box_cam_recipe_keeps_the_largest_component(device):
    # the CAM paper's box (Zhou et al. 2016, section 3): 20% of the (normalized) max, the largest connected component
    maps = torch.zeros(2, 10, 12, device=device)
    maps[0, 1:4, 1:5] = 1.0  # 12 pixels, the peak region
    maps[0, 7:9, 8:12] = 0.5  # 8 pixels: above 20%, but a smaller component
    maps[1, 2:8, 2:3] = 0.3  # a long thin component (6 pixels) ...
    maps[1, 0, 11] = 1.0  # ... and the single brightest pixel
    all_pixels = map_to_box(maps, 0.2)
    cam = map_to_box(maps, 0.2, largest_component=True)
    assert all_pixels.tolist() == [[1.0, 1.0, 12.0, 9.0], [2.0, 0.0, 12.0, 8.0]]
    assert cam.tolist() == [[1.0, 1.0, 5.0, 4.0], [2.0, 2.0, 3.0, 8.0]]
    # the components of 8-connectivity: a diagonal touch joins them
    diag = torch.zeros(1, 5, 5, device=device)
    diag[0, 0, 0] = diag[0, 1, 1] = diag[0, 2, 2] = 1.0
    assert map_to_box(diag, 0.5, largest_component=True).tolist() == [[0.0, 0.0, 3.0, 3.0]]
    # relative to the max (the paper's words) or to the min-max range: the same when the minimum is 0
    shifted = maps - 1.0  # every value negative but the peak's 0: relative to max, only the peak remains
    torch.testing.assert_close(map_to_box(maps, 0.2, relative_to="max"), all_pixels)
    torch.testing.assert_close(map_to_box(shifted, 0.2), all_pixels)
    assert map_to_box(shifted, 0.2, relative_to="max").tolist() == [[1.0, 1.0, 5.0, 4.0], [11.0, 0.0, 12.0, 1.0]]
    with pytest.raises(ValueError, match="relative_to 'range' or 'max'"):
        map_to_box(maps, 0.2, relative_to="mean")
    # on maps with one component, the recipe is the plain thresholded box
    g = torch.Generator().manual_seed(0)
    blob = torch.zeros(3, 9, 9)
    for i in range(3):
        blob[i, 2 + i : 6, 1 : 5 + i] = torch.rand(4 - i, 4 + i, generator=g) + 0.5
    torch.testing.assert_close(map_to_box(blob, 0.2, largest_component=True), map_to_box(blob, 0.2))


def test_range_threshold_is_the_cam_code_normalization():
    # zhoubolei/CAM normalizes each map (cam - np.min(cam), then cam / np.max(cam)) before its 20% threshold
    g = torch.Generator().manual_seed(3)
    maps = torch.randn(6, 7, 9, generator=g) - 2.0  # logits, mostly negative
    cams = maps.numpy()
    expected = []
    for cam in cams:
        cam = cam - np.min(cam)
        cam = cam / np.max(cam)
        ys, xs = np.nonzero(cam >= 0.2)
        expected.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
    assert map_to_box(maps, 0.2, relative_to="range").tolist() == np.array(expected, dtype=float).tolist()


def test_weak_localization_boxes_ignore_a_constant_offset(device):
    # with the CAM code's normalization a map's box does not depend on where zero lies (logits or probabilities)
    g = torch.Generator().manual_seed(4)
    maps = torch.rand(3, 2, 4, 4, generator=g).to(device)
    boxes = torch.tensor([[[0, 0, 4, 4], [4, 4, 8, 8]]] * 3, dtype=torch.float, device=device)
    digits = torch.tensor([[0, 1]] * 3, device=device)
    a = weak_localization(maps, boxes, digits, (8, 8))
    b = weak_localization(maps - 5.0, boxes, digits, (8, 8))
    assert a["iou"] == pytest.approx(b["iou"]) and a["corloc"] == pytest.approx(b["corloc"])
