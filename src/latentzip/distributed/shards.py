"""Sharded inputs: a folder of shard files (or a glob), each loaded on a worker.

A shard is anything :func:`latentzip.data.load` reads (an idx(.gz) file, a ``.npy`` array, a
folder of PNGs) or a ``.csv`` file of integers (one record per line, training only). Shards
are taken in sorted name order, which fixes the record order of everything built from them;
name them with zero-padded numbers (``part-0000.npy``, ...).
"""

from __future__ import annotations

import glob
from pathlib import Path

import numpy as np

from latentzip.data import Dataset, load
from latentzip.errors import DataError

_FILE_SUFFIXES = (".npy", ".csv", ".gz", "-ubyte")


def find_shards(spec: str | Path) -> list[Path]:
    """The shard paths named by ``spec``: a folder of shards or a glob pattern, sorted.

    In a folder, the shards are its data files (``.npy``, ``.csv``, idx, ``.gz``) and its
    sub-folders (each a folder of PNGs). Paths are absolute so that workers can open them
    (they must see the same file system, e.g. a network share).

    Raises
    ------
    DataError
        When ``spec`` names no shard.
    """
    text = str(spec)
    if glob.has_magic(text):
        found = [Path(p) for p in glob.glob(text)]
    else:
        folder = Path(text)
        if not folder.is_dir():
            raise DataError(f"{folder}: not a folder of shards or a glob pattern")
        found = [p for p in folder.iterdir() if p.is_dir() or _is_shard_file(p)]
    shards = sorted(
        (p.resolve() for p in found if not p.name.startswith(".")), key=lambda p: p.name
    )
    if not shards:
        raise DataError(f"{text}: no shards found (expected idx, .npy, .csv files or PNG folders)")
    names = [p.name for p in shards]
    if len(set(names)) != len(names):
        raise DataError(f"{text}: shard names must be unique, got {names}")
    return shards


def _is_shard_file(path: Path) -> bool:
    name = path.name.lower()
    return path.is_file() and (name.endswith(_FILE_SUFFIXES) or "idx" in name)


def load_shard(path: str | Path) -> Dataset:
    """Read one shard (on a worker): records ``(n, D)`` and their shape."""
    path = Path(path)
    if path.suffix.lower() != ".csv":
        return load(path)
    try:
        data = np.loadtxt(path, delimiter=",", dtype=np.int64, ndmin=2)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a CSV file of integers ({exc})") from exc
    if data.size == 0:
        raise DataError(f"{path}: empty CSV shard")
    if data.min() < 0:
        raise DataError(f"{path}: negative values; symbols must be 0, 1, 2, ...")
    return Dataset(data, (data.shape[1],), int(data.max()) + 1)
