"""Spatial prediction of motion residuals: an element moves much like its neighbours.

The M moving elements (joints, or the Gaussians of a .ply sequence) are put in levels by their
index, element j in level ``j.bit_length()`` (levels 0 | 1 | 2-3 | 4-7 | ...), and an element
of level l > 0 is predicted from its ``K`` nearest elements of the levels below it::

    residual r_t (M, d) --level 0: as it is--> ; level l: r_t[j] - round(mean r_t[neighbours of j])

Nearest is measured on the segment's first decoded frame of positions (grid integers, squared
distance, ties to the lower index) in exact integer arithmetic, so the decoder finds the same
neighbours on any machine; it decodes level by level. On the 128 px DualGS fits this takes
the joint motion from about 31 to 20 KB per 30 frames. Beyond ``SPATIAL_MAX`` elements the
neighbour search (quadratic) does not pay and residuals are coded as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SPATIAL_MAX", "Levels", "levels_of", "morton_order"]

SPATIAL_MAX = 8192
NEIGHBOURS = 3
_COORD_BITS = 20  # coordinates are shifted into this range: squared distances stay exact
_ROWS = 256
_MORTON_BITS = 21  # per axis: three interleaved fit in an int64


@dataclass(frozen=True)
class Levels:
    """``members[l]``: element indices of level l (ascending); ``neighbours[l]``: (n_l, K)
    indices of their nearest elements of lower levels (``neighbours[0]`` is empty)."""

    members: tuple[np.ndarray, ...]
    neighbours: tuple[np.ndarray, ...]

    def predict(self, r: np.ndarray, level: int) -> np.ndarray:
        """Prediction (n_l, d) of level ``level``'s residuals from ``r`` (M, d), of which the
        rows of lower levels must be filled: the neighbours' mean, rounded half up."""
        nb = self.neighbours[level]
        if level == 0 or nb.shape[1] == 0:
            return np.zeros((len(self.members[level]), r.shape[1]), np.int64)
        k = nb.shape[1]
        return (r[nb].sum(axis=1) + k // 2) // k


def levels_of(positions: np.ndarray, k: int = NEIGHBOURS) -> Levels | None:
    """The levels and neighbours of elements at grid ``positions`` (M, 3) int64, or None
    beyond ``SPATIAL_MAX`` elements (or for a single element)."""
    p = np.asarray(positions, np.int64)
    m = len(p)
    if m < 2 or m > SPATIAL_MAX:
        return None
    p = p - p.min(axis=0)
    shift = max(0, int(p.max()).bit_length() - _COORD_BITS)
    p = p >> shift
    members, neighbours = [np.arange(1)], [np.empty((1, 0), np.int64)]
    level = 1
    while 2 ** (level - 1) < m:
        lo, hi = 2 ** (level - 1), min(m, 2**level)
        cand = p[:lo]
        kk = min(k, lo)
        rows = []
        for s in range(lo, hi, _ROWS):
            d = ((p[s : min(hi, s + _ROWS), None, :] - cand[None, :, :]) ** 2).sum(axis=2)
            rows.append(np.argsort(d, axis=1, kind="stable")[:, :kk])
        members.append(np.arange(lo, hi))
        neighbours.append(np.concatenate(rows))
        level += 1
    return Levels(tuple(members), tuple(neighbours))


def morton_order(positions: np.ndarray) -> np.ndarray:
    """The permutation that sorts grid ``positions`` (M, 3) along a Z-order (Morton) curve.

    Elements next to each other in this order are mostly next to each other in space, so
    coding each one's values as a difference from the one before is cheap (the encoder's
    choice: the decoder never needs it). Stable: equal positions keep their order.
    """
    p = np.asarray(positions, np.int64)
    if len(p) == 0:
        return np.zeros(0, np.int64)
    p = p - p.min(axis=0)
    p = p >> max(0, int(p.max()).bit_length() - _MORTON_BITS)
    code = np.zeros(len(p), np.int64)
    for b in range(_MORTON_BITS):
        for axis in range(3):
            code |= ((p[:, axis] >> b) & 1) << (3 * b + axis)
    return np.argsort(code, kind="stable")
