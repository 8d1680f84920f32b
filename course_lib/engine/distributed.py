"""Several processes, one training: ``fit`` under ``torchrun`` with PyTorch's DistributedDataParallel.

The course writes no distributed layer of its own. Under ``torchrun --nproc_per_node=N`` (or ``--nnodes``
for several machines) each process is one *rank*; :func:`~course_lib.engine.fit` then

- joins the process group that ``torchrun``'s environment describes (NCCL on CUDA, gloo on CPU),
- wraps the model in :class:`torch.nn.parallel.DistributedDataParallel` (gradients are averaged across
  ranks during ``backward``),
- trains each rank on its own share of every global batch (:meth:`DeviceLoader.shard
  <course_lib.data.DeviceLoader.shard>`: the same shuffled order on every rank for the same seed, each
  sample once per epoch across ranks), and weights each rank's loss by ``N * n_r / n`` (``n_r`` of the global
  batch's ``n`` samples), so that N ranks with a global batch of B take the same optimizer steps as one process
  with batch B, even where B (or the last batch) does not split evenly over the ranks,
- sums the epoch's loss and metric totals over the ranks (one all-reduce per epoch), so every rank's
  :class:`~course_lib.engine.History` is the global one,

and :func:`~course_lib.engine.fit_or_load` saves checkpoints from rank 0 only (:func:`broadcast_object`
gives every rank rank 0's decisions). Outside ``torchrun`` (``WORLD_SIZE`` unset or 1) every function here is
a no-op.

Not synchronized: BatchNorm statistics (each rank normalizes its own share; use
``nn.SyncBatchNorm.convert_sync_batchnorm`` where that matters) and per-step records (rank-local).
"""

from __future__ import annotations

import os
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import Tensor, nn

from ..config import get_device

T = TypeVar("T")


def world_size() -> int:
    """Number of ranks of the current process group (1 outside ``torchrun``)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    """This process's rank (0 outside ``torchrun``)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank()
    return int(os.environ.get("RANK", "0"))


def is_main() -> bool:
    """Rank 0: the process that saves checkpoints and shows progress."""
    return rank() == 0


def setup(device: torch.device) -> bool:
    """Join ``torchrun``'s process group if there is one (NCCL on CUDA, gloo otherwise); True when distributed.

    ``torchrun`` sets ``WORLD_SIZE``, ``RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``; a group that the caller
    initialized already is used as it is.
    """
    if not dist.is_available():
        return False
    if dist.is_initialized():
        return dist.get_world_size() > 1
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return dist.get_world_size() > 1


def wrap(model: nn.Module, device: torch.device) -> nn.Module:
    """``model`` in DistributedDataParallel when distributed (it shares the parameters), else ``model`` itself."""
    if not (dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
        return model
    ids = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)


def shard(loader: Any) -> Any:
    """This rank's share of ``loader`` (a loader with ``shard(rank, world_size)``), or ``loader`` when not distributed.

    A shard with ``share_sizes(b) -> (n_r, n)`` (as :class:`~course_lib.data.DeviceLoader`'s) lets ``fit`` weight
    uneven shares exactly; without it every rank's loss has weight 1, exact only where the batches split evenly.

    Raises:
        ValueError: under ``torchrun`` with a loader that cannot be sharded.
    """
    n = world_size() if dist.is_available() and dist.is_initialized() else 1
    if n <= 1:
        return loader
    if not hasattr(loader, "shard"):
        raise ValueError(
            f"under torchrun, fit needs a loader with .shard(rank, world_size), such as course_lib.data.DeviceLoader; "
            f"got {type(loader).__name__}"
        )
    return loader.shard(rank(), n)


def all_reduce_sum(values: Tensor) -> Tensor:
    """Sum of ``values`` over the ranks (the tensor itself when not distributed)."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        values = values.clone()
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values


def all_reduce_mean(value: Tensor) -> Tensor:
    """Mean of ``value`` over the ranks (the tensor itself when not distributed)."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        return all_reduce_sum(value) / dist.get_world_size()
    return value


def all_reduce_totals(totals: Any) -> None:
    """Sum a pass's :class:`~course_lib.engine.records.DeviceTotals` over the ranks, in place (one all-reduce)."""
    if not (dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
        return
    count = totals.count if isinstance(totals.count, Tensor) else torch.full_like(totals.loss, totals.count)
    packed = torch.stack(
        [totals.loss, totals.metric, count.to(totals.loss.dtype), torch.full_like(totals.loss, totals.samples)]
    )
    loss, metric, count, samples = all_reduce_sum(packed).unbind()
    totals.loss, totals.metric, totals.count, totals.samples = loss, metric, count, int(samples.item())


def broadcast_object(obj: T, device: torch.device | str | None = None) -> T:
    """Rank 0's ``obj`` on every rank (``obj`` itself outside ``torchrun``): one decision that all ranks follow.

    Any picklable value (e.g. whether a checkpoint exists, seen by rank 0). Under ``torchrun`` it joins the process
    group first when no ``fit`` has yet (:func:`setup` on ``device``, default :func:`~course_lib.config.get_device`,
    as ``fit`` would), and every rank must call it, in the same order. See
    https://pytorch.org/docs/stable/distributed.html#torch.distributed.broadcast_object_list (it pickles ``obj``:
    use it for small values, never for tensors of weights).
    """
    if not dist.is_available():
        return obj
    if not dist.is_initialized():
        if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
            return obj
        setup(get_device() if device is None else torch.device(device))
    if dist.get_world_size() <= 1:
        return obj
    box = [obj if dist.get_rank() == 0 else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier() -> None:
    """Wait for every rank (no-op when not distributed)."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        dist.barrier()


__all__ = [
    "all_reduce_mean",
    "all_reduce_sum",
    "all_reduce_totals",
    "barrier",
    "broadcast_object",
    "is_main",
    "rank",
    "setup",
    "shard",
    "world_size",
    "wrap",
]
