"""Resumable batch order for training: which items each step reads, as a pure function of ``(seed, step)``.

:class:`StepBatchSampler` yields ``[(epoch, index), …]`` keys from any step on (each process of a
multi-process run takes its own share of every epoch) and :class:`EpochIndexed` reads them from a seeded
:class:`~motionlcm_core.data.dataset.MotionTextDataset`, so a run resumed at step ``s`` sees the same
batches, crops and mirrorings as one that never stopped.
"""
from __future__ import annotations

from typing import Iterator

import torch

from motionlcm_core.data.dataset import MotionItem, MotionTextDataset

__all__ = ["StepBatchSampler", "EpochIndexed"]


class StepBatchSampler(torch.utils.data.Sampler):
    """Yields ``[(epoch, index), …]`` batches from ``start_step`` on; epoch order = randperm(seed, epoch).

    Each process (rank) takes every ``world``-th item of the epoch order. Infinite."""

    def __init__(self, n_items: int, batch_size: int, seed: int, start_step: int = 0,
                 rank: int = 0, world: int = 1) -> None:
        per_rank = n_items // world
        if per_rank < batch_size:
            raise ValueError(f"{n_items} items over {world} process(es) cannot fill a batch of {batch_size}; "
                             f"lower --batch-size")
        self.n, self.batch, self.seed = n_items, batch_size, seed
        self.start, self.rank, self.world = start_step, rank, world
        self.per_epoch = per_rank // batch_size

    def batch_at(self, step: int) -> list[tuple[int, int]]:
        epoch, k = divmod(step, self.per_epoch)
        gen = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
        order = torch.randperm(self.n, generator=gen)[self.rank::self.world]
        return [(epoch, int(i)) for i in order[k * self.batch:(k + 1) * self.batch]]

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        step = self.start
        while True:
            yield self.batch_at(step)
            step += 1

    def __len__(self) -> int:  # DataLoader asks; the stream is infinite
        return 2**62


class EpochIndexed(torch.utils.data.Dataset):
    """Reads ``(epoch, index)`` keys from a seeded :class:`MotionTextDataset` (same item for the same key)."""

    def __init__(self, dataset: MotionTextDataset) -> None:
        if getattr(dataset, "seed", None) is None:
            raise ValueError("the training dataset must be built with a seed for resumable data order")
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: tuple[int, int]) -> MotionItem:
        epoch, index = key
        self.dataset.set_epoch(epoch)
        return self.dataset[index]
