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
        sample is seen once per epoch. A global batch the ranks cannot split evenly (15 samples on 2 ranks: 8
        and 7) is fine: :meth:`share_sizes` tells ``fit`` how many samples this rank has of how many, and ``fit``
        weights each rank's loss so that ``world_size`` ranks take exactly the optimizer steps of one process
        with the same ``batch_size``, the last partial batch included.

        A last batch smaller than ``world_size`` is kept too: a rank that has no sample of it yields the whole
        (small) global batch as a stand-in, which :meth:`share_sizes` reports as 0 samples, so ``fit`` gives it
        a loss weight of 0 and counts nothing (every rank must take part in DistributedDataParallel's gradient
        all-reduce; a stand-in of real samples runs through every layer as a real batch does). The tensors are
        shared, not copied.

        Raises:
            ValueError: ``rank`` outside ``[0, world_size)``, or ``batch_size < world_size`` (every batch would
                leave a rank without a sample).
        """
        if not 0 <= rank < world_size:
            raise ValueError(f"need 0 <= rank < world_size, got rank={rank}, world_size={world_size}")
        if self.batch_size < world_size:
            raise ValueError(
                f"batch_size={self.batch_size} is smaller than world_size={world_size}: some rank "
                f"would get no sample; use a global batch of at least one sample per rank"
            )
        other = copy.copy(self)  # the generator is shared too: every epoch's order stays the same on every rank
        other.rank, other.world_size = rank, world_size
        return other

    @property
    def device(self) -> torch.device:
        return self.x.device

    def __len__(self) -> int:
        full, rest = divmod(len(self.x), self.batch_size)
        return full if self.drop_last or rest == 0 else full + 1

    def share_sizes(self, b: int) -> tuple[int, int]:
        """``(n_r, n)`` of the ``b``-th batch of an epoch: the samples this rank trains on, and the global batch's.

        ``n_r`` is 0 for a rank that has no sample of a last batch smaller than ``world_size`` (it yields a
        stand-in, see :meth:`shard`); without :meth:`shard`, ``n_r == n``. Plain integers, known without looking
        at the data: ``fit`` multiplies rank ``r``'s mean loss by ``world_size * n_r / n`` before ``backward``,
        and DistributedDataParallel's average of the gradients over the ranks is then the gradient of the
        global batch's mean loss (see the ``DistributedDataParallel`` notes on gradient averaging,
        https://pytorch.org/docs/stable/notes/ddp.html).

        Raises:
            ValueError: ``b`` is not a batch index of an epoch (``0 <= b < len(self)``).
        """
        if not 0 <= b < len(self):
            raise ValueError(
                f"batch index {b} is out of range: an epoch has {len(self)} batches (0 to {len(self) - 1})"
            )
        lo, hi = b * self.batch_size, min((b + 1) * self.batch_size, len(self.x))
        return len(range(lo + self.rank, hi, self.world_size)), hi - lo

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
            start, step = lo + self.rank, self.world_size  # this rank's share (all of the batch with one rank)
            if start >= hi:  # no sample of a last batch smaller than world_size: the whole batch stands in (weight 0)
                start, step = lo, 1
            if order is None:
                share = slice(start, hi, step)  # a view
                xb, yb = self.x[share], self.y[share]
            else:
                idx = order[start:hi:step]
                xb, yb = self.x[idx], self.y[idx]
            if self.transform is not None:
                xb = self.transform(xb)
            yield xb, yb

    def __repr__(self) -> str:
        return (
            f"DeviceLoader(n={len(self.x)}, batch_size={self.batch_size}, shuffle={self.shuffle}, "
            f"device={self.device}, batches={len(self)})"
        )


def subset_per_class(y: Tensor, n_per_class: int, *, seed: int = 0, classes: list[int] | None = None) -> Tensor:
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
