"""A loader for datasets that fit on the device: no workers, no per-sample Python.

For MNIST-sized data the whole set lives on the device (GPU or CPU) and each batch is a
slice of it, so an epoch costs a ``randperm`` and one indexing op per batch. This is what
makes ``fit`` several times faster than a per-sample ``DataLoader`` (see ``course_lib.tools.bench``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator

import torch
from torch import Tensor

Batch = tuple[Tensor, Tensor]


class DeviceLoader:
    """Shuffled mini-batches sliced from tensors that live on one device.

    Args:
        x: inputs ``Tensor[N, ...]``.
        y: targets ``Tensor[N, ...]`` (same ``N``).
        batch_size: samples per batch.
        shuffle: a new random order every epoch (seeded by ``seed``).
        drop_last: drop the last incomplete batch.
        device: move ``x`` and ``y`` there once (default: where ``x`` is).
        transform: optional batch-level function ``x -> x`` applied on the device (augmentation).
        seed: seed of the shuffling generator; ``None`` draws one from torch's global generator,
            so ``seed_everything`` makes the order reproducible.

    Each epoch (each ``iter``) yields every sample exactly once (except dropped ones). Under ``torchrun``,
    :meth:`shard` gives each rank its share of every batch.
    """

    def __init__(
        self,
        x: Tensor,
        y: Tensor,
        batch_size: int = 128,
        shuffle: bool = True,
        drop_last: bool = False,
        device: str | torch.device | None = None,
        transform: Callable[[Tensor], Tensor] | None = None,
        seed: int | None = None,
    ) -> None:
        if len(x) != len(y):
            raise ValueError(f"x and y must have the same length, got {len(x)} and {len(y)}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if len(x) == 0:
            raise ValueError("cannot build a loader over an empty dataset")
        device = torch.device(device) if device is not None else x.device
        self.x, self.y = x.to(device), y.to(device)
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self.transform = transform
        if seed is None:
            seed = int(torch.randint(0, 2**62, (1,)).item())
        self.generator = torch.Generator().manual_seed(seed)
        self.rank, self.world_size = 0, 1

    def shard(self, rank: int, world_size: int) -> DeviceLoader:
        """Rank ``rank``'s share of every batch, for ``fit`` under ``torchrun`` (DistributedDataParallel).

        Every rank draws the same shuffled order (the same seed: ``seed_everything`` in every process) and
        takes every ``world_size``-th sample of each global batch, starting at ``rank``; across the ranks each
        sample is seen once per epoch, and ``world_size`` ranks take the same optimizer steps as one process
        with the same ``batch_size``. A last batch smaller than ``world_size`` is dropped (a rank without a
        sample would stall the others). The tensors are shared, not copied.
        """
        if not 0 <= rank < world_size:
            raise ValueError(f"need 0 <= rank < world_size, got rank={rank}, world_size={world_size}")
        if self.batch_size < world_size:
            raise ValueError(f"batch_size={self.batch_size} is smaller than world_size={world_size}: some rank "
                             f"would get no sample; use a global batch of at least one sample per rank")
        other = copy.copy(self)  # the generator is shared too: every epoch's order stays the same on every rank
        other.rank, other.world_size = rank, world_size
        return other

    @property
    def device(self) -> torch.device:
        return self.x.device

    def __len__(self) -> int:
        n = len(self.x)
        full, rest = divmod(n, self.batch_size)
        return full if self.drop_last or rest < self.world_size else full + 1

    @property
    def num_samples(self) -> int:
        """Samples yielded per epoch."""
        return len(self) * self.batch_size if self.drop_last else len(self.x)

    def __iter__(self) -> Iterator[Batch]:
        n = len(self.x)
        if self.shuffle:
            order = torch.randperm(n, generator=self.generator).to(self.device)
        else:
            order = None
        for b in range(len(self)):
            lo, hi = b * self.batch_size, min((b + 1) * self.batch_size, n)
            if order is None:
                share = slice(lo + self.rank, hi, self.world_size)  # a view; the whole batch with one rank
                xb, yb = self.x[share], self.y[share]
            else:
                idx = order[lo + self.rank : hi : self.world_size]  # this rank's share (all of it with one rank)
                xb, yb = self.x[idx], self.y[idx]
            if self.transform is not None:
                xb = self.transform(xb)
            yield xb, yb

    def __repr__(self) -> str:
        return (
            f"DeviceLoader(n={len(self.x)}, batch_size={self.batch_size}, shuffle={self.shuffle}, "
            f"device={self.device}, batches={len(self)})"
        )


def subset_per_class(
    y: Tensor, n_per_class: int, *, seed: int = 0, classes: list[int] | None = None
) -> Tensor:
    """Indices of a class-balanced random subset: ``n_per_class`` samples of each class.

    Args:
        y: integer labels ``Tensor[N]``.
        n_per_class: samples to draw per class.
        seed: seed of the draw (the same seed gives the same subset).
        classes: keep only these classes (default: every class present in ``y``).

    Returns:
        ``Tensor[n_per_class * n_classes]`` of indices into ``y`` (on ``y``'s device), grouped by
        class in the order of ``classes``.

    Raises:
        ValueError: if a class has fewer than ``n_per_class`` samples.
    """
    if n_per_class < 1:
        raise ValueError(f"n_per_class must be >= 1, got {n_per_class}")
    y_cpu = y.detach().cpu()
    classes = sorted(int(c) for c in y_cpu.unique()) if classes is None else list(classes)
    g = torch.Generator().manual_seed(seed)
    picked = []
    for c in classes:
        idx = (y_cpu == c).nonzero().flatten()
        if len(idx) < n_per_class:
            raise ValueError(f"class {c} has {len(idx)} samples, fewer than n_per_class={n_per_class}")
        picked.append(idx[torch.randperm(len(idx), generator=g)[:n_per_class]])
    return torch.cat(picked).to(y.device)
