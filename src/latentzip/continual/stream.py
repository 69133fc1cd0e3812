"""Class-incremental streams: the classes arrive in tasks, no task labels, no replay."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from latentzip.errors import DataError

FOLDERS = {"mnist": "mnist", "fashion": "fashion-mnist"}


def class_split(n_classes: int = 10, n_tasks: int = 5) -> tuple[tuple[int, ...], ...]:
    """Classes in order, ``n_classes / n_tasks`` per task: 10, 5 -> (0, 1), (2, 3), ..."""
    if n_classes % n_tasks:
        raise DataError(f"{n_classes} classes do not split into {n_tasks} equal tasks")
    per = n_classes // n_tasks
    return tuple(tuple(range(t * per, (t + 1) * per)) for t in range(n_tasks))


@dataclass(frozen=True)
class ClassIncrementalStream:
    """A labelled training set cut into tasks by class.

    Attributes
    ----------
    y : ndarray of shape (n,), int
        Labels of the training set.
    tasks : tuple of tuple of int
        The classes of each task, in arrival order.
    seed : int
        Seed of the order of the samples inside a task.
    """

    y: np.ndarray
    tasks: tuple[tuple[int, ...], ...]
    seed: int = 0

    def __post_init__(self) -> None:
        flat = [c for t in self.tasks for c in t]
        if len(set(flat)) != len(flat):
            raise DataError(f"a class appears in more than one task: {self.tasks}")
        missing = sorted(set(flat) - set(np.unique(self.y).tolist()))
        if missing:
            raise DataError(f"classes {missing} have no training samples")

    @property
    def n_tasks(self) -> int:
        return len(self.tasks)

    def task_rows(self, t: int) -> np.ndarray:
        """Row indices of task ``t``, shuffled (seeded)."""
        rows = np.flatnonzero(np.isin(self.y, self.tasks[t]))
        return np.random.default_rng((self.seed, t)).permutation(rows)

    def __iter__(self) -> Iterator[np.ndarray]:
        for t in range(self.n_tasks):
            yield self.task_rows(t)


@dataclass(frozen=True)
class LabelledImages:
    """Images ``(n, 28, 28)`` uint8 and labels ``(n,)`` int64."""

    images: np.ndarray
    labels: np.ndarray


def load_labelled(root: str | Path, dataset: str, split: str) -> LabelledImages:
    """MNIST or Fashion-MNIST (``dataset`` in mnist, fashion; ``split`` in train, test)."""
    from latentzip.data import load_idx, load_labels

    if dataset not in FOLDERS:
        raise DataError(f"unknown dataset {dataset!r}: choose from {sorted(FOLDERS)}")
    prefix = {"train": "train", "test": "t10k"}[split]
    folder = Path(root) / FOLDERS[dataset]
    images = load_idx(folder / f"{prefix}-images-idx3-ubyte.gz")
    labels = load_labels(folder / f"{prefix}-labels-idx1-ubyte.gz")
    if images.n_records != labels.shape[0]:
        raise DataError(f"{folder}: {images.n_records} images but {labels.shape[0]} labels")
    return LabelledImages(images.data.reshape(-1, *images.shape), labels)


def subsample(rows: Sequence[int] | np.ndarray, n: int | None, seed: int) -> np.ndarray:
    """At most ``n`` of ``rows`` (all when ``n`` is None), stratification left to chance."""
    rows = np.asarray(rows)
    if n is None or n >= rows.size:
        return rows
    return np.sort(np.random.default_rng(seed).choice(rows, n, replace=False))
