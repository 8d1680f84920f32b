"""Siamese tracking: cross-correlation and SSD against naive loops (ops.correlation), the contrastive loss against
its formula (ops.losses), the embedding (models.vision.siamese), training pairs (data.siamese_pairs), tracking an
exactly translated digit (methods.tracking)."""

from __future__ import annotations

import pytest
import torch

from course_lib.data.siamese_pairs import sample_pairs
from course_lib.data.synthetic.moving_mnist import make_moving_mnist
from course_lib.methods.tracking import track
from course_lib.models.vision.siamese import SiameseEmbedding, SiamesePairs
from course_lib.ops.canvas import crop_patches
from course_lib.ops.correlation import cross_correlation, ssd_scores
from course_lib.ops.losses import contrastive_loss


def _naive(template, search, fn):
    b, _, h, w = template.shape
    out = torch.zeros(b, 1, search.shape[2] - h + 1, search.shape[3] - w + 1, dtype=search.dtype)
    for i in range(b):
        for u in range(out.shape[2]):
            for v in range(out.shape[3]):
                out[i, 0, u, v] = fn(template[i], search[i, :, u : u + h, v : v + w])
    return out


def test_cross_correlation_and_ssd_equal_naive_loops(device):
    g = torch.Generator().manual_seed(0)
    template, search = (
        torch.randn(2, 3, 3, 4, generator=g, dtype=torch.float64),
        torch.randn(2, 3, 7, 6, generator=g, dtype=torch.float64),
    )
    xcorr = cross_correlation(template.to(device), search.to(device)).cpu()
    torch.testing.assert_close(xcorr, _naive(template, search, lambda t, s: (t * s).sum()))
    ssd = ssd_scores(template.to(device), search.to(device)).cpu()
    torch.testing.assert_close(ssd, _naive(template, search, lambda t, s: -((t - s) ** 2).sum()))
    with pytest.raises(ValueError, match="expected"):
        cross_correlation(template, search[:, :2])


def test_the_contrastive_loss_against_its_formula():
    a = torch.tensor([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    b = torch.tensor([[3.0, 4.0], [0.3, 0.4], [0.6, 0.8]])  # distances 5, 0.5, 1
    same = torch.tensor([1, 0, 0])
    # positive: ½ 5² = 12.5; negative inside the margin 2: ½ (2 - 0.5)² = 1.125; negative at 1: ½ (2 - 1)² = 0.5
    assert contrastive_loss(a, b, same, margin=2.0).item() == pytest.approx((12.5 + 1.125 + 0.5) / 3)
    far = torch.tensor([[10.0, 0.0]], requires_grad=True)
    (grad,) = torch.autograd.grad(contrastive_loss(torch.zeros(1, 2), far, torch.tensor([0]), margin=2.0), far)
    assert (grad == 0).all()  # a negative beyond the margin costs nothing


def test_the_embedding_shapes_and_unit_descriptors(device):
    net = SiameseEmbedding(width=4, dim=8).to(device).eval()
    assert net(torch.randn(2, 1, 28, 28, device=device)).shape == (2, 8, 7, 7)  # 28 -> 26 -> 13 -> 11 -> 9 -> 7
    e = net.embed(torch.randn(3, 1, 28, 28, device=device))
    torch.testing.assert_close(e.norm(dim=1), torch.ones(3, device=device))


def test_crop_patches_pads_with_zeros():
    frames = torch.arange(25.0).view(1, 1, 5, 5)
    p = crop_patches(frames, torch.tensor([[0.0, 4.0]]), 3)
    torch.testing.assert_close(p[0, 0], torch.tensor([[0.0, 0.0, 0.0], [3.0, 4.0, 0.0], [8.0, 9.0, 0.0]]))
    with pytest.raises(ValueError, match=r"centres \(B, 2\).*\(1, 1, 5, 5\), \(2, 2\)"):
        crop_patches(frames, torch.zeros(2, 2), 3)  # one centre per frame


def _clips(n_distractors: int = 0):
    g = torch.Generator().manual_seed(0)
    x = torch.zeros(30, 1, 28, 28)
    x[:, :, 5:23, 8:20] = torch.rand(30, 1, 18, 12, generator=g)
    return make_moving_mnist(x, torch.arange(30) % 10, 3, frames=8, canvas=48, n_distractors=n_distractors, seed=0)


def test_pixel_template_matching_tracks_an_isolated_digit_exactly(device):
    clips = _clips()
    frames, truth = clips.clips.to(device), clips.target_boxes.float().to(device)
    for update in (False, True):
        boxes = track(frames, truth[:, 0], score="ssd", update=update)
        assert boxes.shape == (3, 8, 4)
        assert (boxes - truth).abs().max() <= 1.0  # the box centre is rounded to a pixel


def test_siamese_tracking_runs_with_the_embedding_stride(device):
    clips = _clips(n_distractors=1)
    net = SiameseEmbedding(width=4, dim=8).to(device).eval()
    with torch.no_grad():
        boxes = track(clips.clips.to(device), clips.target_boxes[:, 0].float().to(device), net, stride=net.stride)
    assert boxes.shape == (3, 8, 4) and torch.isfinite(boxes).all()
    torch.testing.assert_close(boxes[:, 0], clips.target_boxes[:, 0].float().to(device))
    with pytest.raises(ValueError, match="score"):
        track(clips.clips, clips.target_boxes[:, 0].float(), score="ncc")


def test_tracking_iou_and_the_success_plot_by_hand():
    from course_lib.metrics.tracking import success_auc, success_curve, tracking_iou

    gt = torch.tensor([[[0, 0, 10, 10]] * 3])
    pred = torch.tensor([[[0, 0, 10, 10], [0, 0, 10, 5], [20, 20, 30, 30]]])  # IoU 1, 0.5, 0
    iou = tracking_iou(pred, gt)
    torch.testing.assert_close(iou, torch.tensor([[1.0, 0.5, 0.0]]))
    _, success = success_curve(iou, torch.tensor([0.0, 0.4, 0.5, 0.9]))
    torch.testing.assert_close(success, torch.tensor([0.5, 0.5, 0.0, 0.0]))  # frames 1 and 2; IoU > threshold
    assert success_auc(iou) == pytest.approx(sum(0.5 > t for t in torch.linspace(0, 1, 21).tolist()) / 21 / 2)
    assert success_auc(iou, skip_first=False) > success_auc(iou)


def test_pair_descriptors_are_unit_vectors_and_pairs_are_labelled(device):
    clips = _clips(n_distractors=1)
    frames, boxes = clips.clips.to(device), clips.boxes.to(device)
    pairs, same = sample_pairs(frames, boxes, 40, seed=0)
    assert pairs.shape == (40, 2, 1, 28, 28) and set(same.tolist()) <= {0, 1} and 0 < same.sum() < 40
    centre = crop_patches(frames[:, 0], (boxes[:, 0, 0, :2] + boxes[:, 0, 0, 2:]).flip(-1).float() / 2, 28)
    assert any(torch.equal(pairs[j, 0], centre[k]) for j in range(40) for k in range(3))  # anchors: target patches
    net = SiamesePairs(SiameseEmbedding(width=4, dim=8)).to(device).eval()
    out = net(pairs)
    assert out.shape == (40, 2, 8 * 7 * 7)
    torch.testing.assert_close(out.norm(dim=-1), torch.ones(40, 2, device=device))
    with pytest.raises(ValueError, match=r"boxes \(N, T, K, 4\)"):
        sample_pairs(frames, boxes[:, :, 0], 4)  # the slot dimension is missing


def test_the_old_siamese_module_holds_the_networks_only():
    """One concept per file: the ops, the pairs and the tracker left models/vision/siamese.py; their packages
    export them."""
    import course_lib.data
    import course_lib.methods
    import course_lib.models.vision.siamese as siamese
    import course_lib.ops

    assert not {"contrastive_loss", "crop_patches", "cross_correlation", "ssd_scores", "sample_pairs", "track"} & set(
        vars(siamese)
    )
    assert course_lib.ops.contrastive_loss is contrastive_loss and course_lib.ops.cross_correlation is cross_correlation
    assert course_lib.data.sample_pairs is sample_pairs and course_lib.methods.track is track
