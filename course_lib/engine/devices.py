"""Where a batch runs: moving it to the device, mixed precision on CUDA, and waiting for the device before timing.

Used by the training loop (:mod:`course_lib.engine.loop`) and by the benchmarks.
"""

from __future__ import annotations

from contextlib import nullcontext

import torch
from torch import Tensor


def autocast(device: torch.device, amp: bool):
    """Mixed-precision autocast (bf16 where supported, else fp16) on CUDA when ``amp``; nothing otherwise."""
    if amp and device.type == "cuda":
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.autocast("cuda", dtype=dtype)
    return nullcontext()


def grad_scaler(device: torch.device, amp: bool) -> torch.amp.GradScaler | None:
    """A GradScaler when fp16 autocast needs loss scaling (CUDA without bf16), else ``None``."""
    if amp and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        return torch.amp.GradScaler("cuda")
    return None


def to_device(x: Tensor, y: Tensor, device: torch.device, channels_last: bool = False) -> tuple[Tensor, Tensor]:
    """Move a batch to ``device`` (no-op when it is there); images ``(B, C, H, W)`` to NHWC when ``channels_last``."""
    x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
    if channels_last and x.dim() == 4:
        x = x.contiguous(memory_format=torch.channels_last)
    return x, y


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA kernels run asynchronously), so timings are true; no-op elsewhere."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()
