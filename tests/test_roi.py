"""ROI max pooling and ROI Align (ops.roi, layers.roi) pinned against torchvision's compiled kernels: outputs and
gradients on random boxes (tiny, partly outside the map, several images, both box formats), float64 gradcheck."""

from __future__ import annotations

import pytest
import torch
import torchvision.ops as tvo

from course_lib.layers import RoIAlign, RoIPool
from course_lib.ops import as_rois, roi_align, roi_pool

SCALE = 0.5  # feature cells per image pixel


def _rois(g: torch.Generator, n_images: int, h: int, w: int, n: int = 60) -> torch.Tensor:
    """``Tensor[n, 5]`` boxes in image pixels: a third smaller than one cell, a third partly outside the map, the
    rest inside, plus zero-size ones; each on a random image of the batch."""
    size = torch.tensor([w, h, w, h]) / SCALE
    k = n // 3
    tiny = torch.rand(k, 2, generator=g) * size[:2] * 0.9
    tiny = torch.cat([tiny, tiny + torch.rand(k, 2, generator=g) * 0.9 / SCALE], 1)  # under one cell wide
    lo = (torch.rand(k, 2, generator=g) * 1.6 - 0.3) * size[:2]
    outside = torch.cat([lo, lo + (0.2 + torch.rand(k, 2, generator=g)) * size[:2] * 0.7], 1)  # may cross the border
    a, b = torch.rand(n - 2 * k, 2, generator=g) * size[:2], torch.rand(n - 2 * k, 2, generator=g) * size[:2]
    inside = torch.cat([torch.minimum(a, b), torch.maximum(a, b)], 1)
    inside[:2, 2:] = inside[:2, :2]  # zero width and height
    boxes = torch.cat([tiny, outside, inside])
    assert ((boxes[:, 2:] - boxes[:, :2]) * SCALE < 1).any() and ((boxes[:, 2:] > size[2:]) | (boxes[:, :2] < 0)).any()
    return torch.cat([torch.randint(0, n_images, (n, 1), generator=g).float(), boxes], 1)


def _case(seed: int, device: torch.device, dtype: torch.dtype = torch.float32, shape=(3, 4, 11, 13)):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(*shape, generator=g, dtype=dtype)
    rois = _rois(g, shape[0], shape[2], shape[3]).to(dtype)
    return x.to(device).requires_grad_(), rois.to(device)


def _as_list(rois: torch.Tensor, n_images: int) -> list[torch.Tensor]:
    return [rois[rois[:, 0] == i, 1:] for i in range(n_images)]


def _grad(out: torch.Tensor, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    return torch.autograd.grad((out * weights).sum(), x)[0]


@pytest.mark.parametrize("fmt", ["tensor", "list"])
@pytest.mark.parametrize("sampling_ratio", [2, -1])
@pytest.mark.parametrize("aligned", [True, False])
@pytest.mark.parametrize("seed", [0, 1])
def test_roi_align_matches_torchvision(seed, aligned, sampling_ratio, fmt, device):
    x, rois = _case(seed, device)
    boxes = rois if fmt == "tensor" else _as_list(rois, x.shape[0])
    for size in [(3, 4), 2]:
        ours = roi_align(x, boxes, size, SCALE, sampling_ratio, aligned)
        ref = tvo.roi_align(x, boxes, size, SCALE, sampling_ratio, aligned)
        torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-5)
        w = torch.randn_like(ref)
        torch.testing.assert_close(_grad(ours, x, w), _grad(ref, x, w), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("fmt", ["tensor", "list"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_roi_pool_matches_torchvision(seed, fmt, device):
    x, rois = _case(seed, device)
    boxes = rois if fmt == "tensor" else _as_list(rois, x.shape[0])
    for size in [(3, 4), 2, 5]:
        ours, ref = roi_pool(x, boxes, size, SCALE), tvo.roi_pool(x, boxes, size, SCALE)
        torch.testing.assert_close(ours, ref, atol=0, rtol=0)  # the same cell is read: exactly equal
        w = torch.randn_like(ref)
        torch.testing.assert_close(_grad(ours, x, w), _grad(ref, x, w), atol=1e-5, rtol=1e-5)


def test_roi_pool_ties_send_the_gradient_to_the_first_cell_as_torchvision(device):
    """ReLU maps are full of equal values (zeros): the argmax is the first cell in row-major order, in both."""
    x, rois = _case(3, device)
    x = (x.detach().round() * (x.detach() > 0.5)).requires_grad_()  # few distinct values, many ties
    ours, ref = roi_pool(x, rois, 3, SCALE), tvo.roi_pool(x, rois, 3, SCALE)
    torch.testing.assert_close(ours, ref, atol=0, rtol=0)
    w = torch.randn_like(ref)
    torch.testing.assert_close(_grad(ours, x, w), _grad(ref, x, w), atol=1e-5, rtol=1e-5)


def test_scale_one_large_output_and_non_contiguous_input(device):
    g = torch.Generator().manual_seed(4)
    x = torch.randn(2, 9, 7, 3, generator=g).to(device).permute(0, 3, 2, 1)  # (2, 3, 7, 9), not contiguous
    rois = torch.tensor([[0, 0.0, 0.0, 8.0, 6.0], [1, 2.3, 1.7, 5.1, 6.9], [1, -3.0, -2.0, 12.0, 4.4]], device=device)
    torch.testing.assert_close(roi_pool(x, rois, (8, 10)), tvo.roi_pool(x, rois, (8, 10)), atol=0, rtol=0)
    torch.testing.assert_close(
        roi_align(x, rois, (8, 10), 1.0, 0, True), tvo.roi_align(x, rois, (8, 10), 1.0, 0, True), atol=1e-5, rtol=1e-5
    )


def test_inverted_boxes_and_half_way_corners(device):
    """x2 < x1 (legacy: one cell; aligned: a negative bin size) and corners at k + 0.5 (C rounds them away from 0)."""
    g = torch.Generator().manual_seed(7)
    x = torch.randn(2, 3, 9, 10, generator=g).to(device)
    rois = torch.cat([torch.randint(0, 2, (100, 1), generator=g).float(), torch.rand(100, 4, generator=g) * 14 - 2], 1)
    rois = torch.cat([rois, torch.tensor([[0, 0.5, 1.5, 2.5, 3.5], [1, 4.5, 0.5, 8.5, 7.5]])]).to(device)
    assert (rois[:, 3] < rois[:, 1]).any()
    for scale in (1.0, 0.5):
        torch.testing.assert_close(roi_pool(x, rois, 3, scale), tvo.roi_pool(x, rois, 3, scale), atol=0, rtol=0)
    for sampling_ratio, aligned in [(-1, False), (2, True), (2, False)]:  # torchvision fails on (-1, True) here
        ref = tvo.roi_align(x, rois, 3, 1.0, sampling_ratio, aligned)
        torch.testing.assert_close(roi_align(x, rois, 3, 1.0, sampling_ratio, aligned), ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("op", ["pool", "align"])
def test_no_boxes_gives_an_empty_output(op, device):
    x = torch.randn(2, 3, 5, 5, device=device)
    empty = torch.zeros(0, 5, device=device)
    out = roi_pool(x, empty, 2) if op == "pool" else roi_align(x, empty, 2)
    assert out.shape == (0, 3, 2, 2)


def test_float64_gradcheck(device):
    x, rois = _case(5, device, torch.float64, shape=(2, 2, 5, 6))
    rois = rois[::6]  # a few boxes of each kind
    assert torch.autograd.gradcheck(lambda t: roi_align(t, rois, (2, 3), SCALE, 2, True), (x,))
    assert torch.autograd.gradcheck(lambda t: roi_align(t, rois, 2, SCALE, -1, False), (x,))
    assert torch.autograd.gradcheck(lambda t: roi_pool(t, rois, (2, 3), SCALE), (x,))


def test_modules_wrap_the_functions(device):
    x, rois = _case(6, device)
    align, pool = RoIAlign((3, 4), SCALE, 2, aligned=True), RoIPool(2, SCALE)
    torch.testing.assert_close(align(x, rois), roi_align(x, rois, (3, 4), SCALE, 2, True), atol=0, rtol=0)
    torch.testing.assert_close(pool(x, rois), roi_pool(x, rois, 2, SCALE), atol=0, rtol=0)
    assert repr(align) == "RoIAlign(output_size=(3, 4), spatial_scale=0.5, sampling_ratio=2, aligned=True)"
    assert repr(pool) == "RoIPool(output_size=2, spatial_scale=0.5)"


def test_bad_inputs_raise_value_errors():
    x = torch.randn(1, 2, 4, 4)
    with pytest.raises(ValueError, match="Tensor\\[K, 5\\]"):
        roi_align(x, torch.zeros(3, 4), 2)
    with pytest.raises(ValueError, match="Tensor\\[L, 4\\]"):
        roi_pool(x, [torch.zeros(3, 5)], 2)
    with pytest.raises(ValueError, match="B, C, H, W"):
        roi_pool(x[0], torch.zeros(1, 5), 2)
    with pytest.raises(ValueError, match="positive"):
        roi_align(x, torch.zeros(1, 5), (0, 2))
    rois = as_rois([torch.ones(2, 4), torch.zeros(1, 4)], x)
    assert rois[:, 0].tolist() == [0, 0, 1] and rois.dtype == x.dtype


def test_benchmark_script_runs():
    from course_lib.tools import bench_roi

    out = bench_roi.main(["--boxes", "20", "--size", "12", "--channels", "4", "--repeats", "1", "--device", "cpu"])
    assert set(out) == {"roi_pool", "roi_align", "roi_align_adaptive"}
    assert all(v["course_ms"] > 0 and v["torchvision_ms"] > 0 and v["ratio"] > 0 for v in out.values())
