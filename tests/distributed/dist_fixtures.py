"""Fixtures for the distributed tests: sharded digits on disk and a loopback LocalCluster.

Test modules import the fixtures they use (a ``conftest.py`` here would shadow the one in
``tests/`` that other test modules import by name).
"""

from __future__ import annotations

import gzip
import itertools
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from latentzip.data import load_digits

# uneven shards in three formats; 500 and 1100 are multiples of the test block size (100)
BOUNDS = (0, 500, 1100, 1797)


def digits_images() -> np.ndarray:
    """scikit-learn's digits stretched to 0..240, as 8-bit images (1797, 8, 8)."""
    return (load_digits().data.reshape(-1, 8, 8) * 15).astype(np.uint8)


def idx_bytes(images: np.ndarray) -> bytes:
    dims = b"".join(int(s).to_bytes(4, "big") for s in images.shape)
    return bytes([0, 0, 8, images.ndim]) + dims + images.tobytes()


def write_shards(root: Path, images: np.ndarray, bounds=BOUNDS) -> Path:
    """Shards ``part-0.idx.gz``, ``part-1.npy``, ``part-2/`` (PNGs), ... under ``root/shards``."""
    folder = root / "shards"
    folder.mkdir(parents=True)
    for i, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        part = images[lo:hi]
        kind = i % 3
        if kind == 0:
            (folder / f"part-{i}.idx.gz").write_bytes(gzip.compress(idx_bytes(part), mtime=0))
        elif kind == 1:
            np.save(folder / f"part-{i}.npy", part)
        else:
            (folder / f"part-{i}").mkdir()
            for j, im in enumerate(part):
                Image.fromarray(im, mode="L").save(folder / f"part-{i}" / f"{j:04d}.png")
    return folder


@pytest.fixture(scope="session")
def images() -> np.ndarray:
    return digits_images()


@pytest.fixture(scope="session")
def shard_writer():
    """:func:`write_shards`, for tests that shard other data."""
    return write_shards


@pytest.fixture
def shards(tmp_path, images) -> Path:
    return write_shards(tmp_path, images)


@pytest.fixture(scope="module")
def client():
    from latentzip.distributed import connect

    with connect(workers=2) as c:
        yield c
