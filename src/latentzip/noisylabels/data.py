"""Images and labels for noisy-label training: MNIST-style folders and seeded splits.

The clean validation split (10% of the training records by default) is cut before any noise
is added; only the remaining training labels are corrupted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from latentzip.data.loaders import load_labels
from latentzip.errors import DataError
from latentzip.noisylabels.noise import Noise

__all__ = ["NoisySplit", "load_folder", "make_split"]

FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


def load_folder(folder: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(train_images, train_labels, test_images, test_labels)`` from an MNIST-style folder.

    Images come back as uint8 ``(n, H, W)``, labels as int64 ``(n,)``.
    """
    from latentzip.data import load

    folder = Path(folder)
    missing = [f for f in FILES if not (folder / f).exists()]
    if missing:
        raise DataError(f"{folder}: missing {', '.join(missing)}")
    out = []
    for images, labels in ((FILES[0], FILES[1]), (FILES[2], FILES[3])):
        ds, y = load(folder / images), load_labels(folder / labels)
        if ds.n_records != len(y):
            raise DataError(f"{folder}: {ds.n_records} images but {len(y)} labels")
        out += [ds.data.reshape((ds.n_records, *ds.shape)), y]
    return out[0], out[1], out[2], out[3]


@dataclass(frozen=True)
class NoisySplit:
    """Float images in ``[0, 1]`` shaped ``(n, *image_shape)`` and int64 labels.

    ``y_train`` is noisy, ``y_train_clean`` the truth it was drawn from; validation and test
    labels are clean.
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    y_train_clean: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    n_classes: int
    noise: Noise

    @property
    def clean(self) -> torch.Tensor:
        """``(n_train,)`` bool: which training labels are still correct."""
        return self.y_train == self.y_train_clean

    @property
    def actual_noise_rate(self) -> float:
        return 1.0 - float(self.clean.double().mean())


def make_split(
    images: np.ndarray,
    labels: np.ndarray,
    test_images: np.ndarray,
    test_labels: np.ndarray,
    noise: Noise,
    seed: int = 0,
    val_fraction: float = 0.1,
    n_train: int | None = None,
    n_test: int | None = None,
) -> NoisySplit:
    """Subsample, cut the clean validation split, then corrupt the rest; all seeded.

    ``n_train`` records (all by default) are drawn at random from ``images``; the first
    ``val_fraction`` of them become the clean validation split. ``n_test`` keeps the first
    test records (all by default).
    """
    labels, test_labels = np.asarray(labels, np.int64), np.asarray(test_labels, np.int64)
    if len(images) != len(labels) or len(test_images) != len(test_labels):
        raise DataError("images and labels differ in length")
    n_classes = int(max(labels.max(), test_labels.max())) + 1
    n = len(images) if n_train is None else min(n_train, len(images))
    order = np.random.default_rng(seed).permutation(len(images))[:n]
    n_val = round(val_fraction * n)
    if n_val < 1 or n_val >= n:
        raise DataError(f"cannot cut a {val_fraction:.0%} validation split from {n} records")
    val, train = order[:n_val], order[n_val:]
    noisy = noise.apply(labels[train], n_classes, seed=seed + 1)
    n_test = len(test_images) if n_test is None else min(n_test, len(test_images))

    def x(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32) / 255.0)

    return NoisySplit(
        x(images[train]),
        torch.from_numpy(noisy),
        torch.from_numpy(labels[train]),
        x(images[val]),
        torch.from_numpy(labels[val]),
        x(test_images[:n_test]),
        torch.from_numpy(test_labels[:n_test]),
        n_classes,
        noise,
    )
