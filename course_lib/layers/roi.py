"""``nn.Module`` wrappers of the course's ROI ops (:mod:`course_lib.ops.roi`), as ``torchvision.ops.RoIPool`` /
``RoIAlign`` wrap theirs: ROI max pooling (Girshick 2015, Fast R-CNN) and ROI Align (He et al. 2017, Mask R-CNN).
"""

from __future__ import annotations

from torch import Tensor, nn

from ..ops.roi import BoxesArg, roi_align, roi_pool


class RoIPool(nn.Module):
    """ROI max pooling (Fast R-CNN): ``(Tensor[B, C, H, W], boxes) -> Tensor[K, C, P_h, P_w]``.

    See :func:`~course_lib.ops.roi_pool`.
    """

    def __init__(self, output_size: int | tuple[int, int], spatial_scale: float = 1.0) -> None:
        super().__init__()
        self.output_size, self.spatial_scale = output_size, spatial_scale

    def forward(self, x: Tensor, boxes: BoxesArg) -> Tensor:
        return roi_pool(x, boxes, self.output_size, self.spatial_scale)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}, spatial_scale={self.spatial_scale}"


class RoIAlign(nn.Module):
    """ROI Align (Mask R-CNN): ``(Tensor[B, C, H, W], boxes) -> Tensor[K, C, P_h, P_w]``.

    See :func:`~course_lib.ops.roi_align`.
    """

    def __init__(
        self,
        output_size: int | tuple[int, int],
        spatial_scale: float = 1.0,
        sampling_ratio: int = -1,
        aligned: bool = False,
    ) -> None:
        super().__init__()
        self.output_size, self.spatial_scale = output_size, spatial_scale
        self.sampling_ratio, self.aligned = sampling_ratio, aligned

    def forward(self, x: Tensor, boxes: BoxesArg) -> Tensor:
        return roi_align(x, boxes, self.output_size, self.spatial_scale, self.sampling_ratio, self.aligned)

    def extra_repr(self) -> str:
        return (
            f"output_size={self.output_size}, spatial_scale={self.spatial_scale}, "
            f"sampling_ratio={self.sampling_ratio}, aligned={self.aligned}"
        )
