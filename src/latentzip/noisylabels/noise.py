"""Synthetic label noise: symmetric and pair-flip transition matrices, seeded corruption.

``T[i, j]`` is the probability that a sample of true class ``i`` gets label ``j``
(Han et al., "Co-teaching", NeurIPS 2018, section 4):

* symmetric: ``1 - n`` on the diagonal, ``n / (C - 1)`` everywhere else;
* pair-flip: ``1 - n`` on the diagonal, ``n`` on ``i -> i + 1 (mod C)``.

>>> pair_flip(3, 0.45).round(2).tolist()
[[0.55, 0.45, 0.0], [0.0, 0.55, 0.45], [0.45, 0.0, 0.55]]
>>> noisy = Noise("symmetric", 0.5).apply(np.zeros(10_000, dtype=int), 10, seed=0)
>>> round(float((noisy != 0).mean()), 2)
0.5
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from latentzip.errors import DataError

__all__ = ["KINDS", "Noise", "corrupt", "pair_flip", "symmetric", "transition_matrix"]

KINDS = ("symmetric", "pairflip")


def _check(n_classes: int, rate: float) -> None:
    if n_classes < 2:
        raise DataError(f"label noise needs at least 2 classes, got {n_classes}")
    if not 0.0 <= rate < 1.0:
        raise DataError(f"noise rate must be in [0, 1), got {rate}")


def symmetric(n_classes: int, rate: float) -> np.ndarray:
    """``(C, C)`` matrix: ``1 - rate`` on the diagonal, ``rate / (C - 1)`` elsewhere."""
    _check(n_classes, rate)
    t = np.full((n_classes, n_classes), rate / (n_classes - 1))
    np.fill_diagonal(t, 1.0 - rate)
    return t


def pair_flip(n_classes: int, rate: float) -> np.ndarray:
    """``(C, C)`` matrix: ``1 - rate`` on the diagonal, ``rate`` on ``i -> i + 1 (mod C)``."""
    _check(n_classes, rate)
    eye = np.eye(n_classes)
    return (1.0 - rate) * eye + rate * np.roll(eye, 1, axis=1)


def transition_matrix(kind: str, n_classes: int, rate: float) -> np.ndarray:
    """``symmetric`` or ``pairflip`` transition matrix, shape ``(C, C)``, rows sum to one."""
    if kind == "symmetric":
        return symmetric(n_classes, rate)
    if kind == "pairflip":
        return pair_flip(n_classes, rate)
    raise DataError(f"unknown noise kind {kind!r}; expected one of {KINDS}")


def corrupt(labels: np.ndarray, transition: np.ndarray, seed: int) -> np.ndarray:
    """Draw a noisy label for each true label from its row of ``transition``.

    ``labels`` is ``(n,)`` integers in ``0 .. C-1``; the result has the same shape, int64,
    and depends only on ``labels``, ``transition`` and ``seed``.
    """
    labels = np.asarray(labels, dtype=np.int64)
    c = transition.shape[0]
    if labels.size and (labels.min() < 0 or labels.max() >= c):
        raise DataError(f"labels must be in 0..{c - 1}")
    cdf = np.cumsum(transition, axis=1)[labels]  # (n, C)
    u = np.random.default_rng(seed).random(labels.shape[0])
    return np.minimum((cdf <= u[:, None]).sum(axis=1), c - 1).astype(np.int64)


@dataclass(frozen=True)
class Noise:
    """A noise model: ``kind`` (``symmetric`` or ``pairflip``) at ``rate``."""

    kind: str
    rate: float

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise DataError(f"unknown noise kind {self.kind!r}; expected one of {KINDS}")
        _check(2, self.rate)

    @property
    def name(self) -> str:
        return f"{self.kind}{round(100 * self.rate)}"

    def matrix(self, n_classes: int) -> np.ndarray:
        return transition_matrix(self.kind, n_classes, self.rate)

    def apply(self, labels: np.ndarray, n_classes: int, seed: int) -> np.ndarray:
        return corrupt(labels, self.matrix(n_classes), seed)
