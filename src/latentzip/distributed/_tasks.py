"""Small helpers shared by the distributed modules (not public)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path

from latentzip.distributed.shards import find_shards


def shard_paths(shards: str | Path | Sequence[str | Path]) -> list[Path]:
    """A folder / glob through :func:`find_shards`, or an explicit list of shard paths."""
    if isinstance(shards, str | Path):
        return find_shards(shards)
    paths = [Path(p).resolve() for p in shards]
    if not paths:
        from latentzip.errors import DataError

        raise DataError("no shards given")
    return paths


def identity(x):
    return x


def add(a, b):
    """Sum of two statistics: numbers, arrays, or tuples of them (element-wise)."""
    if isinstance(a, tuple):
        return tuple(add(p, q) for p, q in zip(a, b, strict=True))
    return a + b


def tree_sum(client, futures: list):
    """Pairwise sum of ``futures`` on the workers; one future of the total.

    The pairing depends only on the order of ``futures``, never on which worker finishes
    first, so floating-point totals are the same on every run and every cluster.
    """
    level = list(futures)
    while len(level) > 1:
        pairs = [
            client.submit(add, a, b, pure=False)
            for a, b in zip(level[::2], level[1::2], strict=False)
        ]
        level = pairs + ([level[-1]] if len(level) % 2 else [])
    return level[0]


@contextmanager
def quiet_large_graphs():
    """Models travel inside task graphs (recomputable if a worker dies): allow large ones."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*[Ll]arge graph.*")
        yield


def ship(client, obj):
    """A future holding ``obj`` that the scheduler can recompute if every copy is lost."""
    with quiet_large_graphs():
        return client.submit(identity, obj, pure=False)
