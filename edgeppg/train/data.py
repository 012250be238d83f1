"""Arrays -> batches: checking a training dict, seeded epoch orders (sharded like DistributedSampler),
and seeded label-budget subsets.

A training dict holds equal-length numpy arrays: "x" (N, C, T) float32 plus whatever the objective reads.
Every order here is a pure function of (seed, epoch, rank, world), so a resumed run sees the same
batches as an uninterrupted one without saving sampler state.
"""

from __future__ import annotations

import numpy as np
import torch

from edgeppg.errors import EdgePPGError


def check_arrays(train: dict[str, np.ndarray]) -> int:
    """Number of rows; one clear error when "x" is missing/misshapen or lengths differ."""
    if "x" not in train:
        raise EdgePPGError(f"training arrays need an 'x' entry (N, C, T); got keys {sorted(train)}")
    x = np.asarray(train["x"])
    if x.ndim != 3:
        raise EdgePPGError(f"training 'x' must be (N, C, T), got shape {x.shape}")
    n = x.shape[0]
    bad = {k: len(v) for k, v in train.items() if len(v) != n}
    if bad:
        raise EdgePPGError(f"training arrays must all have {n} rows (like 'x'); these differ: {bad}")
    if n < 2:
        raise EdgePPGError(f"need at least 2 training windows, got {n}")
    return n


def epoch_order(n: int, seed: int, epoch: int, rank: int = 0, world: int = 1) -> np.ndarray:
    """This rank's shuffled indices for one epoch.

    Like torch's DistributedSampler: one permutation per epoch shared by all ranks, padded by wrapping so
    every rank gets the same count (equal step counts keep DDP's collectives in lock-step), then strided.
    """
    perm = np.random.default_rng([seed, epoch]).permutation(n)
    per_rank = -(-n // world)
    if per_rank * world > n:
        perm = np.concatenate([perm, perm[: per_rank * world - n]])
    return perm[rank::world]


def batches(order: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Split an order into batches; a trailing batch of 1 is dropped (BatchNorm cannot train on it)."""
    out = [order[i: i + batch_size] for i in range(0, len(order), batch_size)]
    if len(out) > 1 and len(out[-1]) < 2:
        out.pop()
    return out


def to_batch(train: dict[str, np.ndarray], idx: np.ndarray, device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
    """Rows `idx` of every array as tensors (float64 -> float32; ints and bools kept)."""
    out = {}
    for k, v in train.items():
        a = np.asarray(v)[idx]
        if a.dtype == np.float64:
            a = a.astype(np.float32)
        out[k] = torch.from_numpy(np.ascontiguousarray(a)).to(device)
    return out


def stratified_subset(labels: np.ndarray, n: int | None, seed: int) -> np.ndarray:
    """Sorted indices of a seeded, class-stratified subset of `n` rows (all rows when n is None or >= len).

    Each class keeps its share (largest-remainder rounding, at least one per class when n allows), so a
    100-label budget still contains the rare classes.
    """
    labels = np.asarray(labels)
    total = len(labels)
    if n is None or n >= total:
        return np.arange(total)
    if n < 1:
        raise EdgePPGError(f"--labels must be >= 1, got {n}")
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    quota = counts / total * n
    take = np.floor(quota).astype(int)
    if n >= len(classes):
        take = np.maximum(take, 1)
    take = np.minimum(take, counts)
    # largest remainders first; then trim/top up deterministically to exactly n
    order = np.argsort(-(quota - np.floor(quota)), kind="stable")
    i = 0
    while take.sum() < n:
        c = order[i % len(order)]
        if take[c] < counts[c]:
            take[c] += 1
        i += 1
    while take.sum() > n:
        c = int(np.argmax(take))
        take[c] -= 1
    picked = [rng.permutation(np.flatnonzero(labels == c))[:k] for c, k in zip(classes, take)]
    return np.sort(np.concatenate(picked))
