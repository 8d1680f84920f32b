"""Sliding windows, integral images (ops.windows), the threshold cascade (methods.cascade) and proposals
(methods.proposals) against naive references."""

import pytest
import torch
from torchvision.ops import roi_align

from course_lib.methods import cascade_keep, fit_cascade, propose
from course_lib.ops import (
    box_features,
    box_sums,
    crop_boxes,
    integral_image,
    num_windows,
    sliding_windows,
    square_boxes,
    window_boxes,
)


@pytest.mark.parametrize(("h", "w", "k", "s"), [(48, 48, 28, 2), (60, 60, 28, 4), (17, 23, 5, 3), (8, 8, 8, 1)])
def test_window_count_formula(h, w, k, s, device):
    expected = ((h - k) // s + 1) * ((w - k) // s + 1)
    assert num_windows(h, w, k, s) == expected
    assert len(window_boxes(h, w, k, s, device=device)) == expected
    assert sliding_windows(torch.zeros(2, 1, h, w, device=device), k, s).shape == (2, expected, 1, k, k)


def test_window_count_examples_and_errors():
    assert num_windows(48, 48, 28, 2) == 121 and num_windows(60, 60, 28, 2) == 289
    with pytest.raises(ValueError, match="window"):
        num_windows(10, 10, 12, 1)
    with pytest.raises(ValueError, match="window"):
        num_windows(10, 10, 3, 0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_window_crops_equal_slicing(seed, device):
    x = torch.rand(3, 2, 19, 23, generator=torch.Generator().manual_seed(seed)).to(device)
    k, s = 7, 3
    wins, boxes = sliding_windows(x, k, s), window_boxes(19, 23, k, s, device=device)
    for j in range(0, len(boxes), 5):
        x1, y1, x2, y2 = (int(v) for v in boxes[j])
        assert torch.equal(wins[:, j], x[:, :, y1:y2, x1:x2])
    # the same windows through roi_align: a box on integer edges of side out_size is the slice
    crops = crop_boxes(x, boxes.unsqueeze(0).expand(3, -1, -1), k)
    torch.testing.assert_close(crops.view(3, len(boxes), 2, k, k), wins, atol=1e-6, rtol=0)


def test_crop_boxes_matches_torchvision_roi_align(device):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 1, 30, 30, generator=g).to(device)
    xy = torch.rand(2, 4, 2, generator=g) * 15
    boxes = torch.cat([xy, xy + 5 + torch.rand(2, 4, 2, generator=g) * 10], -1).to(device)  # (2, 4, 4) float boxes
    ours = crop_boxes(x, boxes, 12)
    rois = torch.cat([torch.arange(2, device=device).repeat_interleave(4)[:, None].float(), boxes.view(-1, 4)], 1)
    ref = roi_align(x, rois, 12, spatial_scale=1.0, sampling_ratio=-1, aligned=True)
    torch.testing.assert_close(ours, ref)
    torch.testing.assert_close(crop_boxes(x, list(boxes), 12), ref)
    torch.testing.assert_close(crop_boxes(x, rois, 12), ref)
    with pytest.raises(ValueError, match="boxes"):
        crop_boxes(x, boxes[:1], 12)


def test_crop_boxes_moves_every_kind_of_boxes_to_the_images_device(monkeypatch):
    """Boxes made on the CPU for images elsewhere (here the meta device): roi_align must get them on the images' device."""
    import course_lib.ops.windows as windows

    seen = []

    def spy(x, boxes, *args, **kwargs):
        seen.append({b.device.type for b in boxes} if isinstance(boxes, list) else {boxes.device.type})
        return roi_align(x, boxes, *args, **kwargs)

    monkeypatch.setattr(windows, "roi_align", spy)
    x = torch.zeros(2, 1, 16, 16, device="meta")
    boxes = torch.tensor([[[0.0, 0, 8, 8]], [[4.0, 4, 12, 12]]])  # (2, 1, 4) on the CPU
    rois = torch.tensor([[0.0, 0, 0, 8, 8], [1.0, 4, 4, 12, 12]])
    for b in (boxes, list(boxes), rois):
        assert crop_boxes(x, b, 8).shape == (2, 1, 8, 8)
    assert seen == [{"meta"}] * 3


def test_square_boxes():
    b = torch.tensor([[10.0, 20.0, 20.0, 26.0]])
    torch.testing.assert_close(square_boxes(b, margin=2), torch.tensor([[8.0, 16.0, 22.0, 30.0]]))
    torch.testing.assert_close(square_boxes(b, min_side=20), torch.tensor([[5.0, 13.0, 25.0, 33.0]]))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_integral_image_box_sums_equal_naive_sums(seed, device):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(2, 3, 13, 16, generator=g, dtype=torch.float64).to(device)
    ii = integral_image(x)
    assert ii.shape == (2, 3, 14, 17)
    torch.testing.assert_close(ii[..., -1, -1], x.sum((2, 3)))
    x1, y1 = torch.randint(0, 16, (40,), generator=g), torch.randint(0, 13, (40,), generator=g)
    x2, y2 = x1 + torch.randint(0, 17, (40,), generator=g), y1 + torch.randint(0, 14, (40,), generator=g)
    boxes = torch.stack([x1, y1, x2, y2], 1).to(device)  # some reach past the image: clamped
    sums = box_sums(ii, boxes)
    naive = torch.stack([x[:, :, int(b[1]) : int(b[3]), int(b[0]) : int(b[2])].sum((2, 3)) for b in boxes], -1)
    torch.testing.assert_close(sums, naive)
    per_image = box_sums(ii, boxes.unsqueeze(0).expand(2, -1, -1))
    torch.testing.assert_close(per_image, naive)


def test_integral_image_sums_are_exact_where_float32_is_not(device):
    """A 1024x1024 image of integers up to 255: totals reach ~1.3e8 > 2**24, where float32 no longer holds every
    integer; float64 box sums still equal the exact (int64) ones, small boxes near the far corner included."""
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (1, 1, 1024, 1024), generator=g).float().to(device)  # float32 input, as the images
    ii = integral_image(x)
    assert ii.dtype == torch.float64
    exact = torch.nn.functional.pad(x.long().cumsum(2).cumsum(3), (1, 0, 1, 0))  # the same table in int64
    assert torch.equal(ii.long(), exact)
    x1, y1 = torch.randint(900, 1020, (200,), generator=g), torch.randint(900, 1020, (200,), generator=g)
    boxes = torch.stack([x1, y1, x1 + 3, y1 + 2], 1).to(device)  # 3x2 boxes: sums < 6 * 255 from totals ~1e8
    naive = torch.stack([x[0, 0, int(b[1]) : int(b[3]), int(b[0]) : int(b[2])].long().sum() for b in boxes])
    assert torch.equal(box_sums(ii, boxes)[0, 0].long(), naive)
    ii32 = torch.nn.functional.pad(x.cumsum(2).cumsum(3), (1, 0, 1, 0))  # what float32 accumulation gives
    assert not torch.equal(box_sums(ii32, boxes)[0, 0].long(), naive)  # (the test can tell the two apart)


def test_box_features_by_hand(device):
    x = torch.zeros(1, 1, 20, 20, device=device)
    x[0, 0, 8:12, 8:12] = 1.0  # a 4x4 blob in the middle
    boxes = torch.tensor([[4, 4, 16, 16], [0, 0, 8, 8], [6, 6, 10, 10]], device=device)
    f = box_features(integral_image(x), boxes, ring=2)[0]
    assert f.shape == (3, 3) and f.dtype == torch.float64  # from the float64 integral image
    exact = {"device": device, "dtype": torch.float64}
    torch.testing.assert_close(f[0], torch.tensor([16 / 144, 16 / 36 - 16 / 144, 16 / 144], **exact))
    torch.testing.assert_close(f[1], torch.tensor([0.0, 0.0, -4 / 64], **exact))  # its ring touches the blob's corner
    # the box [6, 10) holds 4 ink pixels; its ring of width 2 ([4, 12)) holds the other 12: isolation (4 - 12) / 16
    torch.testing.assert_close(f[2, 2], torch.tensor(-0.5, **exact))


def test_cascade_keeps_the_requested_share_of_objects():
    g = torch.Generator().manual_seed(0)
    pos = torch.randn(1000, 3, generator=g) + 2
    th = fit_cascade(pos, keep=0.95)
    alive = cascade_keep(pos, th)
    assert alive.shape == (3, 1000)
    assert bool((alive[1:] <= alive[:-1]).all())  # each stage only removes windows
    for stage in range(3):
        assert alive[stage].float().mean().item() == pytest.approx(0.95 ** (stage + 1), abs=0.01)
    neg = torch.randn(1000, 3, generator=g)
    assert alive[-1].float().mean() > 10 * cascade_keep(neg, th)[-1].float().mean()
    with pytest.raises(ValueError, match="keep"):
        fit_cascade(pos, keep=0.0)


def test_proposals_find_isolated_blobs(device):
    x = torch.zeros(2, 1, 48, 48, device=device)
    x[0, 0, 5:25, 10:28] = 1.0
    x[1, 0, 24:44, 20:36] = 1.0
    x[:, 0, 40:44, 2:6] = 0.5  # a small fragment
    boxes, scores = propose(x, sizes=(20, 28), stride=2, k=3)
    assert boxes.shape == (2, 3, 4) and scores.shape == (2, 3)
    assert bool((scores[:, :-1] >= scores[:, 1:]).all())
    for i, blob in enumerate([(10, 5, 28, 25), (20, 24, 36, 44)]):
        x1, y1, x2, y2 = boxes[i, 0].tolist()
        assert (
            x1 <= blob[0] and y1 <= blob[1] and x2 >= blob[2] and y2 >= blob[3]
        )  # the best proposal encloses the blob
