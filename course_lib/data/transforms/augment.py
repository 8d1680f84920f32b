"""Batch-level, device-side distortions: each image gets its own random affine or elastic warp.

torchvision's ``transforms.v2`` draw one set of parameters per call, so on a batch tensor every image gets the same
warp; looping over images in Python is slow on a GPU. Here the parameters are drawn per image and the whole batch is
warped at once: ``affine`` through the spatial transformer's own grid generator and sampler
(:func:`course_lib.ops.spatial.transform`, one ``affine_grid``/``grid_sample`` path for the package), ``elastic`` by
sampling a smoothed displacement field. ``affine`` matches ``torchvision.transforms.v2.functional.affine`` (pinned
by tests).

Lecture: STA211 "Deep learning history": LeNet-5 trained with distortions
(LeCun et al. 1998, 0.95% -> 0.8% test error); elastic distortions: Simard et al. 2003.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ...ops.spatial import transform


def _as_batch(value: float | Tensor, b: int, like: Tensor) -> Tensor:
    t = torch.as_tensor(value, dtype=like.dtype, device=like.device)
    return t.expand(b) if t.dim() == 0 else t


def affine(
    x: Tensor,
    angle: float | Tensor = 0.0,
    translate: tuple[float, float] | Tensor = (0.0, 0.0),
    scale: float | Tensor = 1.0,
    padding_mode: str = "border",
    shear: float | Tensor = 0.0,
    squeeze: float | Tensor = 1.0,
) -> Tensor:
    """Rotate, scale, translate, shear and squeeze each image of a batch about its centre (bilinear).

    The forward map of a point ``p`` (pixels from the centre, x right, y down) is
    ``p -> scale * R(angle) @ Sh(shear) @ Q(squeeze) @ p + translate`` with the horizontal shear
    ``Sh = [[1, tan(shear)], [0, 1]]`` and the squeeze ``Q = diag(squeeze, 1 / squeeze)``
    (LeCun et al. 1998's "squeezing": horizontal compression and vertical elongation, or the reverse).

    Args:
        x: images ``Tensor[B, C, H, W]``.
        angle: counter-clockwise rotation in degrees, a number or ``Tensor[B]``.
        translate: shift ``(dx, dy)`` in pixels (right, down), or ``Tensor[B, 2]``.
        scale: zoom factor, a number or ``Tensor[B]``.
        padding_mode: ``grid_sample``'s fill for pixels coming from outside; ``"border"``
            repeats the (background) border, which suits normalized digits.
        shear: horizontal shear in degrees (a row ``y`` pixels below the centre moves
            ``y * tan(shear)`` pixels right), a number or ``Tensor[B]``; torchvision's
            ``shear=[-shear, 0]``.
        squeeze: horizontal stretch factor, the vertical one is its inverse (``< 1``: narrower
            and taller), a number or ``Tensor[B]``.

    Returns:
        ``Tensor[B, C, H, W]``, the same convention as torchvision's ``v2.functional.affine``.
    """
    if x.dim() != 4:
        raise ValueError(f"expected images (B, C, H, W), got shape {tuple(x.shape)}")
    b, _, h, w = x.shape
    angle = _as_batch(angle, b, x) * (math.pi / 180.0)
    scale = _as_batch(scale, b, x)
    t = torch.as_tensor(translate, dtype=x.dtype, device=x.device)
    t = t.expand(b, 2) if t.dim() == 1 else t
    k = torch.tan(_as_batch(shear, b, x) * (math.pi / 180.0))
    q = _as_batch(squeeze, b, x)
    cos, sin = torch.cos(angle), torch.sin(angle)
    # Output -> input map in pixel units about the centre: in = Q^-1 Sh^-1 R(angle)^-1 (out - t) / scale,
    # written for grid_sample's normalized coordinates (x right, y down, in [-1, 1]).
    # (y points down, so a counter-clockwise turn on screen is R^-1 = [[cos, sin], [-sin, cos]])
    a11, a12 = (cos + k * sin) / (q * scale), (sin - k * cos) / (q * scale) * (h / w)
    a21, a22 = -sin * q / scale * (w / h), cos * q / scale
    tx, ty = 2 * t[:, 0] / w, 2 * t[:, 1] / h
    theta = torch.stack(
        [
            torch.stack([a11, a12, -(a11 * tx + a12 * ty)], dim=1),
            torch.stack([a21, a22, -(a21 * tx + a22 * ty)], dim=1),
        ],
        dim=1,
    )  # (B, 2, 3)
    return transform(x, theta, padding_mode=padding_mode)  # the STN's grid generator and sampler


def _gaussian_kernel1d(sigma: float, device: torch.device, dtype: torch.dtype) -> Tensor:
    radius = max(1, math.ceil(3 * sigma))
    xs = torch.arange(-radius, radius + 1, device=device, dtype=dtype)
    k = torch.exp(-0.5 * (xs / sigma) ** 2)
    return k / k.sum()


def gaussian_blur_matrix(
    n: int, sigma: float, device: torch.device | None = None, dtype: torch.dtype = torch.float32
) -> Tensor:
    """The ``(n, n)`` matrix of a 1-D Gaussian blur with reflect padding: ``blur(v) = M @ v``.

    Blurring is linear, so the matrix is the blur applied to the identity. Two small matrix
    products ``M_h @ X @ M_w.T`` then smooth a batch of ``(H, W)`` fields in one step, equal to
    the padded separable convolution (pinned by tests) and several times faster on a CPU.
    """
    k = _gaussian_kernel1d(sigma, torch.device("cpu") if device is None else device, dtype)
    r = min(len(k) // 2, n - 1)  # reflect padding needs r < n
    if r < len(k) // 2:  # a field smaller than the kernel: truncate and renormalize the kernel
        k = k[len(k) // 2 - r : len(k) // 2 + r + 1]
        k = k / k.sum()
    eye = torch.eye(n, device=k.device, dtype=dtype).unsqueeze(1)  # (n, 1, n): row i is e_i
    cols = F.conv1d(F.pad(eye, (r, r), mode="reflect"), k.view(1, 1, -1)).squeeze(1)  # row i = blur(e_i)
    return cols.T.contiguous()


def elastic(
    x: Tensor,
    alpha: float = 34.0,
    sigma: float = 4.0,
    generator: torch.Generator | None = None,
    padding_mode: str = "border",
) -> Tensor:
    """Elastic distortion (Simard et al. 2003), a different random field for each image.

    A uniform random displacement in [-1, 1] per pixel is smoothed by a Gaussian of width
    ``sigma`` (pixels) and scaled by ``alpha`` (pixels), then the image is resampled there.

    Args:
        x: images ``Tensor[B, C, H, W]``.
        alpha: displacement strength in pixels (0 gives back ``x``).
        sigma: smoothness of the field in pixels.
        generator: optional generator (on ``x``'s device) for reproducible fields.
    """
    if x.dim() != 4:
        raise ValueError(f"expected images (B, C, H, W), got shape {tuple(x.shape)}")
    if sigma <= 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    b, _, h, w = x.shape
    noise = torch.rand(b * 2, h, w, generator=generator, device=x.device, dtype=x.dtype) * 2 - 1
    blur_h = gaussian_blur_matrix(h, sigma, x.device, x.dtype)  # (H, H)
    blur_w = gaussian_blur_matrix(w, sigma, x.device, x.dtype)  # (W, W)
    disp = (blur_h @ noise @ blur_w.T).view(b, 2, h, w) * alpha  # separable Gaussian smoothing, in pixels
    ys, xs = torch.meshgrid(
        torch.linspace(-1 + 1 / h, 1 - 1 / h, h, device=x.device, dtype=x.dtype),
        torch.linspace(-1 + 1 / w, 1 - 1 / w, w, device=x.device, dtype=x.dtype),
        indexing="ij",
    )
    grid = torch.stack([xs + disp[:, 0] * 2 / w, ys + disp[:, 1] * 2 / h], dim=-1)  # (B, H, W, 2)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode=padding_mode, align_corners=False)


class RandomDistortion:
    """Random affine (and optionally elastic) distortions drawn per image, for ``DeviceLoader(transform=...)``.

    Args:
        degrees: rotation drawn uniformly in ``[-degrees, degrees]``.
        translate: shift drawn uniformly in ``[-translate, translate]`` times the image size.
        scale: zoom drawn uniformly in ``[scale[0], scale[1]]``.
        elastic_alpha: strength of an elastic warp applied after the affine one (0: none).
        elastic_sigma: smoothness of the elastic field.
        seed: seed of the parameter draws (``None``: torch's global generator).
        shear: horizontal shear drawn uniformly in ``[-shear, shear]`` degrees (0: none).
        squeeze: horizontal factor drawn uniformly in ``[1 - squeeze, 1 + squeeze]``, the vertical
            one its inverse (0: none). With ``degrees=0`` and no elastic warp, ``translate``,
            ``scale``, ``squeeze`` and ``shear`` are LeCun et al. (1998)'s distortions.

    Shear and squeeze are drawn only when non-zero, so the other draws of a seed are unchanged.
    """

    def __init__(
        self,
        degrees: float = 10.0,
        translate: float = 0.1,
        scale: tuple[float, float] = (0.9, 1.1),
        elastic_alpha: float = 0.0,
        elastic_sigma: float = 4.0,
        seed: int | None = None,
        shear: float = 0.0,
        squeeze: float = 0.0,
    ) -> None:
        if degrees < 0 or translate < 0 or elastic_alpha < 0 or shear < 0:
            raise ValueError("degrees, translate, elastic_alpha and shear must be >= 0")
        if not 0 <= squeeze < 1:
            raise ValueError(f"squeeze must be in [0, 1), got {squeeze}")
        if not 0 < scale[0] <= scale[1]:
            raise ValueError(f"scale must be (low, high) with 0 < low <= high, got {scale}")
        self.degrees, self.translate, self.scale = degrees, translate, scale
        self.elastic_alpha, self.elastic_sigma = elastic_alpha, elastic_sigma
        self.seed = seed
        self.shear, self.squeeze = shear, squeeze
        self._generators: dict[torch.device, torch.Generator] = {}

    def _generator(self, device: torch.device) -> torch.Generator | None:
        if self.seed is None:
            return None
        if device not in self._generators:
            self._generators[device] = torch.Generator(device=device).manual_seed(self.seed)
        return self._generators[device]

    def __call__(self, x: Tensor) -> Tensor:
        b, _, h, w = x.shape
        g = self._generator(x.device)

        def uniform(lo: float, hi: float, *shape: int) -> Tensor:
            return torch.rand(*shape, generator=g, device=x.device, dtype=x.dtype) * (hi - lo) + lo

        angle = uniform(-self.degrees, self.degrees, b)
        shift = uniform(-self.translate, self.translate, b, 2) * torch.tensor([w, h], device=x.device, dtype=x.dtype)
        zoom = uniform(self.scale[0], self.scale[1], b)
        shear = uniform(-self.shear, self.shear, b) if self.shear > 0 else 0.0
        squeeze = uniform(1 - self.squeeze, 1 + self.squeeze, b) if self.squeeze > 0 else 1.0
        out = affine(x, angle, shift, zoom, shear=shear, squeeze=squeeze)
        if self.elastic_alpha > 0:
            out = elastic(out, self.elastic_alpha, self.elastic_sigma, generator=g)
        return out

    def __repr__(self) -> str:
        return (
            f"RandomDistortion(degrees={self.degrees}, translate={self.translate}, scale={self.scale}, "
            f"elastic_alpha={self.elastic_alpha}, elastic_sigma={self.elastic_sigma}"
            + (f", shear={self.shear}" if self.shear else "")
            + (f", squeeze={self.squeeze}" if self.squeeze else "")
            + ")"
        )
