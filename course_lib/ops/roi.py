"""Region-of-interest pooling in plain torch: ROI max pooling (Girshick 2015, Fast R-CNN) and ROI Align
(He et al. 2017, Mask R-CNN), with torchvision's conventions (``torchvision.ops.roi_pool`` / ``roi_align``).

Both are vectorized over boxes and bins, and autograd does the backward pass:

- **ROI Align** is linear in the feature map, and its bilinear sampling is separable: averaging the samples of
  bin ``(i, j)`` is ``sum_{h, w} A_y[i, h] x[h, w] A_x[j, w]``, so each box's output is ``A_y @ x @ A_x.T`` with a
  ``(P_h, H)`` row-weight matrix and a ``(P_w, W)`` column-weight matrix built from the sample positions. The
  batch is read as one tall ``(B*H, C*W)`` image, so a whole set of boxes is two matrix products.
- **ROI max pooling** takes the maximum over the integer cells of each bin. The cells are ranked once (a
  stable sort: rank 0 is the largest value, ties go to the first cell in row-major order, as in torchvision's
  kernel), so a bin's argmax is its cell of smallest rank. The minimum over a rectangle is the minimum over the
  four overlapping power-of-two rectangles that cover it, so one table of such minima (a 2-D sparse table,
  ``log2`` levels per axis) answers every bin with four lookups. The output reads the input at the argmax, so
  the gradient flows to that one cell (Fast R-CNN's backward, Sec. 2.3), as in torchvision.

Boxes are ``Tensor[K, 5]`` (batch index, x1, y1, x2, y2) or a list of ``Tensor[L, 4]``, one per image, in
input-image coordinates; ``spatial_scale`` maps them onto the feature map. Boxes are not differentiated.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

BoxesArg = Tensor | Sequence[Tensor]


def _pair(output_size: int | tuple[int, int]) -> tuple[int, int]:
    ph, pw = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
    if ph < 1 or pw < 1:
        raise ValueError(f"output_size must be positive, got {output_size}")
    return int(ph), int(pw)


def as_rois(boxes: BoxesArg, like: Tensor) -> Tensor:
    """``Tensor[K, 5]`` (batch index, x1, y1, x2, y2) from either box format, in ``like``'s dtype and device."""
    if isinstance(boxes, Tensor):
        if boxes.dim() != 2 or boxes.shape[1] != 5:
            raise ValueError(f"boxes as a tensor must be Tensor[K, 5], got shape {tuple(boxes.shape)}")
        rois = boxes
    else:
        if len(boxes) == 0 or any(b.dim() != 2 or b.shape[1] != 4 for b in boxes):
            raise ValueError(
                f"boxes as a list must hold one Tensor[L, 4] per image, got {[tuple(b.shape) for b in boxes]}"
            )
        rois = torch.cat(
            [torch.cat([torch.full_like(b[:, :1], i), b], 1) for i, b in enumerate(boxes)]
        )  # one per image
    return rois.detach().to(device=like.device, dtype=like.dtype)


def _check(x: Tensor) -> None:
    if x.dim() != 4:
        raise ValueError(f"expected a feature map (B, C, H, W), got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"expected a floating-point feature map, got {x.dtype}")


# ---------------------------------------------------------------------------------------------- ROI Align


def _align_weights(
    lo: Tensor, hi: Tensor, bins: int, size: int, spatial_scale: float, sampling_ratio: int, aligned: bool
) -> Tensor:
    """Averaged 1-D bilinear weights of each bin's samples along one axis: ``Tensor[K]`` x2 -> ``Tensor[K, bins, size]``.

    Row ``(k, i)`` holds ``(1/g) sum_s tent(y_s - h)`` over the ``g`` sample positions ``y_s`` of bin ``i``,
    with torchvision's boundary rules: a sample outside ``[-1, size]`` counts zero; inside, it is clamped to
    ``[0, size - 1]`` first (so the border cell takes all its weight).
    """
    offset = 0.5 if aligned else 0.0  # the half-pixel shift of Mask R-CNN's ROI Align
    start, end = lo * spatial_scale - offset, hi * spatial_scale - offset
    length = end - start
    if not aligned:
        length = length.clamp(min=1.0)  # legacy: malformed boxes become 1 cell wide
    bin_size = length / bins  # (K,)
    if sampling_ratio > 0:
        grid = torch.full_like(lo, sampling_ratio, dtype=torch.long)
    else:
        grid = torch.ceil(bin_size).long().clamp(min=0)  # adaptive: about one sample per cell
    n_samples = int(grid.max()) if grid.numel() else 0  # host read: the largest grid sets the sample tensor's size
    bin_size, g = bin_size.view(-1, 1, 1), grid.view(-1, 1, 1)
    i = torch.arange(bins, device=lo.device, dtype=lo.dtype).view(1, -1, 1)
    s = torch.arange(n_samples, device=lo.device).view(1, 1, -1)
    y = (
        start.view(-1, 1, 1) + i * bin_size + (s + 0.5).to(lo.dtype) * bin_size / g.clamp(min=1).to(lo.dtype)
    )  # (K, bins, S)
    inside = (s < g) & (y >= -1.0) & (y <= size)
    y = y.clamp(min=0.0)
    low = y.floor().clamp(max=size - 1)
    y = torch.where(low >= size - 1, low, y)  # past the last cell: its value, no interpolation
    frac = y - low
    low = low.long()
    high = (low + 1).clamp(max=size - 1)
    w = (
        torch.stack([1.0 - frac, frac], -1) * inside.unsqueeze(-1) / g.clamp(min=1).unsqueeze(-1).to(lo.dtype)
    )  # (K, bins, S, 2)
    index = torch.stack([low, high], -1)
    out = torch.zeros(lo.shape[0], bins, size, device=lo.device, dtype=lo.dtype)
    return out.scatter_add_(2, index.flatten(2), w.flatten(2))


def roi_align(
    x: Tensor,
    boxes: BoxesArg,
    output_size: int | tuple[int, int],
    spatial_scale: float = 1.0,
    sampling_ratio: int = -1,
    aligned: bool = False,
) -> Tensor:
    """ROI Align (He et al. 2017, Mask R-CNN): each box's bins are the average of bilinearly sampled points.

    No rounding of box coordinates: bin ``(i, j)`` of a box covers ``1/P`` of it exactly, and its value is the
    mean of ``g_h x g_w`` samples on a regular grid inside the bin, each interpolated bilinearly from the four
    nearest cells. Equal to ``torchvision.ops.roi_align`` (tests pin it).

    Args:
        x: ``Tensor[B, C, H, W]`` feature map.
        boxes: ``Tensor[K, 5]`` (batch index, x1, y1, x2, y2) or a list of ``B`` ``Tensor[L, 4]``.
        output_size: ``P`` or ``(P_h, P_w)`` bins per box.
        spatial_scale: feature-map cells per input pixel (``1/16`` for a stride-16 backbone).
        sampling_ratio: ``g`` samples per bin along each axis if > 0; otherwise adaptive,
            ``ceil(box size / P)`` per box (one read of the largest ``g`` back to the host).
        aligned: subtract half a cell from the scaled box, so that its corners are read as pixel edges (cell
            ``i`` spans ``[i, i + 1)``, its value sits at its centre ``i + 0.5``): the exact alignment Mask R-CNN
            asks for. ``False`` keeps the legacy behaviour, which also widens boxes to at least one cell.

    Returns:
        ``Tensor[K, C, P_h, P_w]``. Cost: two matrix products, ``K P_h B H C W`` multiply-adds, and a
        ``(K, P_h, C, W)`` intermediate.
    """
    _check(x)
    rois = as_rois(boxes, x)
    ph, pw = _pair(output_size)
    b, c, h, w = x.shape
    k = rois.shape[0]
    a_y = _align_weights(rois[:, 2], rois[:, 4], ph, h, spatial_scale, sampling_ratio, aligned)  # (K, Ph, H)
    a_x = _align_weights(rois[:, 1], rois[:, 3], pw, w, spatial_scale, sampling_ratio, aligned)  # (K, Pw, W)
    image = (rois[:, 0].long().view(k, 1) == torch.arange(b, device=x.device)).to(x.dtype)  # (K, B) one-hot
    a_tall = (a_y.unsqueeze(2) * image.view(k, 1, b, 1)).reshape(k * ph, b * h)  # rows of the tall image
    tall = x.permute(0, 2, 1, 3).reshape(b * h, c * w)  # the batch stacked along H: (B*H, C*W)
    rows = (a_tall @ tall).view(k, ph * c, w)  # (K, Ph*C, W): interpolated along y
    out = rows @ a_x.transpose(1, 2)  # (K, Ph*C, Pw): then along x
    return out.view(k, ph, c, pw).permute(0, 2, 1, 3).contiguous()  # (K, C, Ph, Pw)


# ------------------------------------------------------------------------------------------ ROI max pooling


def _round_half_away(v: Tensor) -> Tensor:
    """C's ``round``: halves go away from zero (``torch.round`` rounds them to even)."""
    t = torch.trunc(v)
    return t + torch.sign(v) * ((v - t).abs() >= 0.5).to(v.dtype)


def _pool_bins(lo: Tensor, hi: Tensor, bins: int, size: int, spatial_scale: float) -> tuple[Tensor, Tensor]:
    """Integer cell range ``[start, end)`` of each bin along one axis (Fast R-CNN's quantization): two ``Tensor[K, bins]``."""
    start = _round_half_away(lo * spatial_scale).long()
    end = _round_half_away(hi * spatial_scale).long()
    length = (end - start + 1).clamp(min=1)  # inclusive end; malformed boxes become 1 cell
    bin_size = (length.to(lo.dtype) / bins).view(-1, 1)
    i = torch.arange(bins, device=lo.device, dtype=lo.dtype).view(1, -1)
    first = torch.floor(i * bin_size).long() + start.view(-1, 1)
    last = torch.ceil((i + 1) * bin_size).long() + start.view(-1, 1)
    return first.clamp(0, size), last.clamp(0, size)


def _floor_log2(n: Tensor) -> Tensor:
    """``floor(log2(n))`` of positive integers, exact."""
    e = torch.log2(n.double()).floor().long()
    return e + ((1 << (e + 1)) <= n).long() - ((1 << e) > n).long()


def _rank_table(rank: Tensor, levels_h: int, levels_w: int) -> Tensor:
    """2-D sparse table of minima: entry ``(a, b, n, h, w, c)`` is ``rank[n, h : h + 2**a, w : w + 2**b, c].min()``.

    ``rank`` is ``Tensor[B, H, W, C]`` (channels last, so that a lookup copies one contiguous row of ``C``).
    Level ``(a, b)`` is the minimum of two shifted copies of level ``(a - 1, b)`` or ``(a, b - 1)``; entries
    whose window passes the border are never looked up. Returns ``Tensor[levels_h * levels_w * B * H * W, C]``.
    """
    n, h, w, c = rank.shape
    table = rank.new_zeros(levels_h, levels_w, n, h, w, c)
    table[0, 0] = rank
    for a in range(levels_h):
        if a:
            s = 1 << (a - 1)
            table[a, 0, :, : h - s] = torch.minimum(table[a - 1, 0, :, : h - s], table[a - 1, 0, :, s:])
        for b in range(1, levels_w):
            s = 1 << (b - 1)
            table[a, b, :, :, : w - s] = torch.minimum(table[a, b - 1, :, :, : w - s], table[a, b - 1, :, :, s:])
    return table.view(-1, c)


def roi_pool(x: Tensor, boxes: BoxesArg, output_size: int | tuple[int, int], spatial_scale: float = 1.0) -> Tensor:
    """ROI max pooling (Girshick 2015, Fast R-CNN): each box, snapped to the cell grid, is split into
    ``P_h x P_w`` bins of whole cells, and each bin keeps its maximum.

    Coordinates are rounded to cells (``round(x * spatial_scale)``), bin ``i`` spans cells
    ``[floor(i L / P), ceil((i + 1) L / P))`` of the box's ``L = x2 - x1 + 1`` cells, clipped to the map; an empty
    bin gives 0. The gradient goes to the argmax cell of each bin (the first one on ties). Equal to
    ``torchvision.ops.roi_pool`` (tests pin it).

    Args:
        x: ``Tensor[B, C, H, W]`` feature map.
        boxes: ``Tensor[K, 5]`` (batch index, x1, y1, x2, y2) or a list of ``B`` ``Tensor[L, 4]``.
        output_size: ``P`` or ``(P_h, P_w)`` bins per box.
        spatial_scale: feature-map cells per input pixel.

    Returns:
        ``Tensor[K, C, P_h, P_w]``. Memory: a table of ``log2`` levels per axis of the largest bin, times the map
        (the level count is read back to the host once).
    """
    _check(x)
    rois = as_rois(boxes, x)
    ph, pw = _pair(output_size)
    b, c, h, w = x.shape
    k = rois.shape[0]
    if k == 0:
        return x.new_zeros(0, c, ph, pw)
    y0, y1 = _pool_bins(rois[:, 2], rois[:, 4], ph, h, spatial_scale)  # (K, Ph)
    x0, x1 = _pool_bins(rois[:, 1], rois[:, 3], pw, w, spatial_scale)  # (K, Pw)
    with torch.no_grad():
        # rank the cells of each channel plane (0 = largest; ties by position): a bin's argmax is its smallest rank
        order = torch.sort(
            x.detach().flatten(2), dim=2, descending=True, stable=True
        ).indices  # (B, C, H*W): rank -> cell
        small = torch.int16 if h * w <= 2**15 else torch.int32  # the table is read 4 times: keep it small
        ranks = torch.arange(h * w, device=x.device, dtype=small).expand(b, c, h * w)
        rank = torch.empty_like(order, dtype=small).scatter_(2, order, ranks)  # cell -> rank
        lh, lw = _floor_log2((y1 - y0).clamp(min=1)), _floor_log2((x1 - x0).clamp(min=1))  # level of each bin
        levels_h, levels_w = int(lh.max()) + 1, int(lw.max()) + 1
        table = _rank_table(rank.view(b, c, h, w).permute(0, 2, 3, 1), levels_h, levels_w)
        # the four power-of-two rectangles covering bin (i, j): corners (top|bottom, left|right), (K, Ph, Pw)
        top, bottom = y0.clamp(max=h - 1), (y1 - (1 << lh)).clamp(0, h - 1)
        left, right = x0.clamp(max=w - 1), (x1 - (1 << lw)).clamp(0, w - 1)
        level = lh.unsqueeze(2) * levels_w + lw.unsqueeze(1)
        image = rois[:, 0].long()
        base = (level * b + image.view(k, 1, 1)) * h  # first row of (level, image) in the table
        best = None
        for rows in (top, bottom):
            for cols in (left, right):
                q = ((base + rows.unsqueeze(2)) * w + cols.unsqueeze(1)).flatten()  # (K*Ph*Pw,) table rows
                r = table.index_select(0, q)  # (K*Ph*Pw, C)
                best = r if best is None else torch.minimum(best, r)
        plane = (image.view(k, 1) * c + torch.arange(c, device=x.device)).view(k, 1, 1, c) * (h * w)
        best = best.view(k, ph, pw, c) + plane  # flat index of each bin's best rank in the (B, C, H*W) ranking
        empty = ((y1 <= y0).unsqueeze(2) | (x1 <= x0).unsqueeze(1)).unsqueeze(3)  # (K, Ph, Pw, 1)
    by_rank = x.flatten(2).gather(2, order)  # (B, C, H*W): values sorted, differentiable
    out = by_rank.flatten().gather(0, best.flatten()).view(k, ph, pw, c)  # the argmax's value: its gradient goes there
    return out.masked_fill(empty, 0.0).permute(0, 3, 1, 2).contiguous()  # (K, C, Ph, Pw)
