"""R-CNN, Fast R-CNN, the RPN and Faster R-CNN (models.vision.fast_rcnn, .rpn) and their batched box helpers
(ops.boxes), against torchvision's detection internals (box_iou, Matcher, the balanced sampler, fastrcnn_loss,
postprocess_detections, the RPN's output layout), and a tiny overfit through the engine's ``fit``."""

from __future__ import annotations

import functools

import pytest
import torch
from torchvision.models.detection._utils import BalancedPositiveNegativeSampler, BoxCoder, Matcher
from torchvision.models.detection.roi_heads import RoIHeads, fastrcnn_loss
from torchvision.models.detection.rpn import concat_box_prediction_layers
from torchvision.ops import box_iou, clip_boxes_to_image, nms

from course_lib.data import DeviceLoader, detection_targets, target_dicts
from course_lib.engine import fit
from course_lib.layers import RoIAlign, RoIPool
from course_lib.methods import propose
from course_lib.metrics import detection_map
from course_lib.metrics.detection import proposal_recall, small_object_map
from course_lib.models.vision.fast_rcnn import (
    BOX_WEIGHTS,
    RCNN,
    Backbone,
    BoxHead,
    FasterRCNN,
    FastRCNN,
    detections_of,
    fast_rcnn_loss,
    postprocess_detections,
)
from course_lib.models.vision.rpn import RPN
from course_lib.ops import BACKGROUND, IGNORED, decode_boxes, encode_boxes, match_anchors
from course_lib.ops.boxes import batched_box_iou, batched_nms_top_k, clip_boxes, match_batched, sample_balanced


def _boxes(g: torch.Generator, *shape: int, extent: float = 60.0) -> torch.Tensor:
    lo = torch.rand(*shape, 2, generator=g) * extent
    return torch.cat([lo, lo + 2 + torch.rand(*shape, 2, generator=g) * extent / 2], -1)


def _scene(device, n: int = 4, size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """Blobs of ink in known boxes: images ``(n, 1, S, S)`` and padded targets ``(n, 3, 5)`` (the last slot empty)."""
    g = torch.Generator().manual_seed(0)
    images = torch.zeros(n, 1, size, size)
    targets = torch.full((n, 3, 5), -1.0)
    for i in range(n):
        for j, (x, y, s) in enumerate([(6 + 3 * i, 8, 14), (36, 30 + 2 * i, 20)]):
            images[i, 0, y : y + s, x : x + s // 2 + 2 * j] = 0.5 + 0.5 * torch.rand(s, s // 2 + 2 * j, generator=g)
            targets[i, j] = torch.tensor([float(j + i % 2), x, y, x + s // 2 + 2 * j, y + s])
    targets[:, 2, 1:] = 0.0
    return images.to(device), targets.to(device)


def test_batched_iou_and_matching_equal_torchvision_per_image(device):
    g = torch.Generator().manual_seed(0)
    anchors, gt = _boxes(g, 3, 40).to(device), _boxes(g, 3, 5).to(device)
    valid = torch.tensor([[1, 1, 1, 0, 0], [1, 0, 1, 1, 1], [0, 0, 0, 0, 0]], dtype=torch.bool, device=device)
    iou = batched_box_iou(anchors, gt)
    for b in range(3):
        torch.testing.assert_close(iou[b], box_iou(anchors[b], gt[b]))
    matches = match_batched(iou, valid, 0.5, 0.3, keep_best=True)
    for b in range(3):
        ref = match_anchors(anchors[b], gt[b][valid[b]], 0.5, 0.3, keep_best=True)
        slots = valid[b].nonzero().squeeze(1)  # the valid slots, in order: index i of the valid boxes is slot slots[i]
        expected = torch.where(ref >= 0, slots[ref.clamp(min=0)] if len(slots) else ref, ref)
        assert torch.equal(matches[b], expected)
        if valid[b].any():
            m = Matcher(0.5, 0.3, allow_low_quality_matches=True)(box_iou(gt[b][valid[b]], anchors[b]))
            assert torch.equal(ref, m)
    assert (matches[2] == BACKGROUND).all()  # no box: every anchor is background


@pytest.mark.parametrize("per_image, fraction", [(16, 0.25), (64, 0.5), (8, 1.0)])
def test_sampling_fractions_equal_torchvision_sampler(per_image, fraction, device):
    g = torch.Generator().manual_seed(1)
    matches = torch.randint(-2, 3, (4, 200), generator=g)  # IGNORED, BACKGROUND, boxes 0..2
    matches[1, :] = BACKGROUND  # no positive: all negatives
    matches[2, 5:] = IGNORED  # few candidates at all
    matches = matches.to(device)
    pos, neg = sample_balanced(matches, per_image, fraction)
    ref_pos, ref_neg = BalancedPositiveNegativeSampler(per_image, fraction)(
        [(m >= 0).long() - (m == IGNORED).long() for m in matches]
    )
    for b in range(4):
        assert int(pos[b].sum()) == int(ref_pos[b].sum()) and int(neg[b].sum()) == int(ref_neg[b].sum())
        assert (matches[b][pos[b]] >= 0).all() and (matches[b][neg[b]] == BACKGROUND).all()
    assert int(pos[0].sum()) == int(per_image * fraction) and int((pos | neg)[0].sum()) == per_image
    assert int(pos[1].sum()) == 0 and int(neg[1].sum()) == per_image  # negatives fill the batch
    draws = torch.stack([sample_balanced(matches[:1], per_image, fraction)[0][0] for _ in range(50)])
    assert (draws.float().mean(0)[matches[0] >= 0] > 0).float().mean() > 0.5  # random: many positives get drawn


def test_nms_top_k_equals_per_image_nms(device):
    g = torch.Generator().manual_seed(2)
    boxes, scores = _boxes(g, 3, 50).to(device), torch.rand(3, 50, generator=g).to(device)
    top, top_scores = batched_nms_top_k(boxes, scores, 10, 0.5)
    assert top.shape == (3, 10, 4) and top_scores.shape == (3, 10)
    for b in range(3):
        keep = nms(boxes[b], scores[b], 0.5)
        n = min(10, len(keep))
        torch.testing.assert_close(top[b, :n], boxes[b][keep[:n]])
        assert (top[b, n:] == boxes[b][keep[0]]).all()  # padded with the best box


def test_clip_equals_torchvision(device):
    g = torch.Generator().manual_seed(7)
    boxes = (_boxes(g, 40, extent=80.0) - 10).to(device)
    torch.testing.assert_close(clip_boxes(boxes, (48, 64)), clip_boxes_to_image(boxes, (48, 64)))
    with pytest.raises(ValueError, match="4 coordinates"):
        clip_boxes(boxes[:, :3], (48, 64))


def test_backbone_stride_and_bad_arguments(device):
    x = torch.zeros(2, 1, 32, 32, device=device)
    assert Backbone((8, 16, 24), stride=4).to(device)(x).shape == (2, 24, 8, 8)
    assert Backbone((8, 16, 24), stride=8).to(device)(x).shape == (2, 24, 4, 4)
    with pytest.raises(ValueError, match=r"need positive channels and a stride 2\*\*k"):
        Backbone((8, 16), stride=8)
    with pytest.raises(ValueError, match=r"need positive channels and a stride 2\*\*k"):
        Backbone((8, 16), stride=3)


def test_decode_inverts_encode_with_the_box_head_weights(device):
    g = torch.Generator().manual_seed(3)
    rois, gt = _boxes(g, 30).to(device), _boxes(g, 30).to(device)
    t = encode_boxes(gt, rois, BOX_WEIGHTS)
    torch.testing.assert_close(t, BoxCoder(BOX_WEIGHTS).encode_single(gt, rois))
    torch.testing.assert_close(decode_boxes(t, rois, BOX_WEIGHTS), gt, atol=1e-4, rtol=1e-5)


def test_fast_rcnn_loss_equals_torchvision(device):
    g = torch.Generator().manual_seed(4)
    logits, deltas = torch.randn(12, 4, generator=g).to(device), torch.randn(12, 4, 4, generator=g).to(device)
    labels, targets = torch.randint(0, 4, (12,), generator=g).to(device), torch.randn(12, 4, generator=g).to(device)
    ours = fast_rcnn_loss(logits, deltas, labels, targets)
    ref = fastrcnn_loss(logits, deltas.flatten(1), [labels[:5], labels[5:]], [targets[:5], targets[5:]])
    for a, b in zip(ours, ref):
        torch.testing.assert_close(a, b)


def test_postprocess_equals_torchvision_roi_heads(device):
    g = torch.Generator().manual_seed(5)
    rois = torch.cat([torch.tensor([0] * 20 + [1] * 15).view(-1, 1).float(), _boxes(g, 35)], 1).to(device)
    logits, deltas = (3 * torch.randn(35, 5, generator=g)).to(device), torch.randn(35, 5, 4, generator=g).to(device)
    ours = postprocess_detections(logits, deltas, rois, (64, 64), 2, 0.05, 0.5, 7)
    heads = RoIHeads(None, None, None, 0.5, 0.5, 512, 0.25, None, 0.05, 0.5, 7)
    proposals = [rois[:20, 1:], rois[20:, 1:]]
    boxes, scores, labels = heads.postprocess_detections(logits, deltas.flatten(1), proposals, [(64, 64)] * 2)
    for d, b, s, lb in zip(ours, boxes, scores, labels):
        torch.testing.assert_close(d["scores"], s)
        torch.testing.assert_close(d["boxes"], b)
        assert torch.equal(d["labels"], lb - 1)  # torchvision's label 0 is background


def test_rpn_layout_shapes_and_losses(device):
    rpn = RPN(8, sizes=(12, 20), aspect_ratios=(1.0, 2.0), post_nms_top_n=10).to(device)
    feats = torch.randn(2, 8, 8, 8, device=device)
    logits, deltas = rpn.head(feats)
    t = torch.relu(rpn.conv(feats))
    ref_logits, ref_deltas = concat_box_prediction_layers([rpn.cls_logits(t)], [rpn.bbox_pred(t)])
    torch.testing.assert_close(logits.reshape(-1, 1), ref_logits)  # (B, H*W*A): torchvision's anchor order
    torch.testing.assert_close(deltas.reshape(-1, 4), ref_deltas)
    assert rpn.anchors((8, 8), (64, 64), device).shape == (8 * 8 * rpn.num_anchors, 4)
    _, targets = _scene(device, 2)
    boxes, losses = rpn(feats, (64, 64), targets)
    assert boxes.shape == (2, 10, 4) and len(losses) == 2 and all(torch.isfinite(v) for v in losses)
    assert boxes.min() >= 0 and boxes.max() <= 64  # clipped to the image
    boxes, losses = rpn(feats, (64, 64))
    assert losses == [] and boxes.shape == (2, 10, 4)
    with pytest.raises(ValueError, match="targets"):
        rpn(feats, (64, 64), targets[..., :4])


def _models(device):
    prop = functools.partial(propose, sizes=(14, 20), stride=4, k=8)
    head = lambda: BoxHead(16, 3, output_size=2, hidden=32)
    return {
        "fast_pool": FastRCNN(Backbone((8, 16), stride=4), head(), RoIPool(2, 1 / 4), prop),
        "fast_align": FastRCNN(Backbone((8, 16), stride=4), head(), RoIAlign(2, 1 / 4, 2, aligned=True), prop),
        "rcnn": RCNN(Backbone((8, 16), stride=4), head(), prop, crop=8),
        "faster": FasterRCNN(
            Backbone((8, 16), stride=4), head(), RoIAlign(2, 1 / 4, 2, aligned=True), RPN(16, post_nms_top_n=8)
        ),
    }


@pytest.mark.parametrize("name", ["fast_pool", "fast_align", "rcnn", "faster"])
def test_detector_shapes(name, device):
    model = _models(device)[name].to(device)
    images, targets = _scene(device, 3)
    losses = model(images, targets)
    assert losses.shape == ((4,) if name == "faster" else (2,)) and torch.isfinite(losses).all()
    dets = detections_of(model, images, batch_size=2)
    assert len(dets) == 3
    for d in dets:
        assert d["boxes"].shape[1:] == (4,) and d["scores"].shape == d["labels"].shape == d["boxes"].shape[:1]
        assert d["boxes"].device.type == device.type and len(d["boxes"]) <= model.detections_per_image
        assert ((d["labels"] >= 0) & (d["labels"] < 3)).all()
    with pytest.raises(ValueError, match="images"):
        model(images[0])


def test_rcnn_checks_crop_against_the_head():
    with pytest.raises(ValueError, match="crop"):
        RCNN(Backbone((8, 16), stride=4), BoxHead(16, 3, output_size=2), propose, crop=6)


@pytest.mark.parametrize("name", ["fast_align", "faster"])
def test_loss_decreases_on_a_tiny_overfit(name, device):
    torch.manual_seed(0)
    model = _models(device)[name]
    images, targets = _scene(device, 4)
    loader = DeviceLoader(images, targets, 4, device=device)
    h = fit(
        model,
        loader,
        steps=100,
        lr=5e-3,
        loss_fn=lambda losses, y: losses.sum(),
        metric=lambda o, y: None,
        forward_targets=True,
        record_steps=True,
        progress=False,
        device=device,
    )
    first, last = sum(h.step_loss[:5]) / 5, sum(h.step_loss[-5:]) / 5
    assert last < 0.7 * first, (first, last)
    if name == "fast_align":  # memorized: the training scenes are detected
        assert detection_map(detections_of(model, images), target_dicts(targets))["map_50"] > 0.5


def test_targets_and_small_object_map():
    digits = torch.tensor([[3, -1], [1, 2]])
    boxes = torch.tensor([[[0, 0, 10, 12], [0, 0, 0, 0]], [[5, 5, 15, 15], [20, 20, 50, 50]]]).float()
    t = detection_targets(digits, boxes)
    assert t.shape == (2, 2, 5)
    d = target_dicts(t)
    assert [len(x["boxes"]) for x in d] == [1, 2] and d[1]["labels"].tolist() == [1, 2]
    preds = [
        {"boxes": torch.tensor([[0.0, 0, 10, 12]]), "scores": torch.tensor([0.9]), "labels": torch.tensor([3])},
        {
            "boxes": torch.tensor([[20.0, 20, 50, 50], [5, 5, 15, 15]]),
            "scores": torch.tensor([0.9, 0.8]),
            "labels": torch.tensor([2, 0]),
        },
    ]
    # all objects: class 2 found, class 1 missed (its detection has class 0: a false positive of a class without boxes)
    assert detection_map(preds, d)["map_50"] == pytest.approx(2 / 3, abs=1e-3)
    small = small_object_map(preds, d, max_side=20)  # the 30-px box of class 2 is ignored, with its detection
    assert small["map_50"] == pytest.approx(0.5, abs=1e-3)
    with pytest.raises(ValueError, match="max_side must be positive"):
        small_object_map(preds, d, 0)
    with pytest.raises(ValueError, match=r"expected digits \(N, K\) and boxes \(N, K, 4\)"):
        detection_targets(digits, boxes[..., :3])
    with pytest.raises(ValueError, match=r"expected targets \(N, K, 5\).*got \(2, 2, 4\)"):
        target_dicts(t[..., 1:])  # the class column is missing


def test_nothing_shadows_the_detectors_detect_method():
    """``FastRCNN.detect`` scores one batch; the batched, eval-mode helper is ``detections_of`` (not ``detect``), and
    the target conversion lives with the data."""
    import course_lib.models.vision.fast_rcnn as fast_rcnn

    assert not {"detect", "detection_targets", "target_dicts"} & set(vars(fast_rcnn))
    assert callable(FastRCNN.detect) and callable(detections_of)


def test_proposal_recall_equals_brute_force():
    g = torch.Generator().manual_seed(6)
    proposals = _boxes(g, 3, 12)
    targets = torch.cat([torch.randint(-1, 3, (3, 4, 1), generator=g).float(), _boxes(g, 3, 4)], -1)
    targets[0, :2, 1:] = proposals[0, 5:7] + 0.5  # two boxes found by proposals 5 and 6
    ours = proposal_recall(proposals, targets, [1, 6, 12])
    for k, r in zip([1, 6, 12], ours):
        hit = [
            bool((box_iou(t[None, 1:], proposals[i, :k]) >= 0.5).any())
            for i in range(3)
            for t in targets[i]
            if t[0] >= 0
        ]
        assert r == pytest.approx(sum(hit) / len(hit))
    with pytest.raises(ValueError, match=r"expected proposals \(N, P, 4\) and targets \(N, K, 5\) with k <= P"):
        proposal_recall(proposals, targets, [13])
