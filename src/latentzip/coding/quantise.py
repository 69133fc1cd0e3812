"""Probabilities -> integer frequencies, the one function encoder and decoder share.

Written as plain sequential loops compiled by numba (no fast-math), so the result depends only
on the input row: not on the batch it sits in, the number of threads, or SIMD width. Every
valid symbol gets at least frequency 1, so any in-range symbol stays encodable.
"""

from __future__ import annotations

import numba
import numpy as np

PRECISION = 24  # bits; matches constriction's default ANS coder (frequencies sum to 2**24)


@numba.njit(parallel=True, cache=True)
def _quantise(probs, n_valid, total, out):
    n, _ = probs.shape
    for r in numba.prange(n):
        s = 0.0
        for c in range(n_valid):
            s += probs[r, c]
        scale = (total - n_valid) / s
        used = 0
        best = 0
        for c in range(n_valid):
            f = 1 + int(probs[r, c] * scale)  # int() floors: the product is >= 0
            out[r, c] = f
            used += f
            if probs[r, c] > probs[r, best]:
                best = c
        out[r, best] = out[r, best] + (total - used)
        for c in range(n_valid, out.shape[1]):
            out[r, c] = 0


def quantise(
    probs: np.ndarray,
    n_valid: int | None = None,
    precision: int = PRECISION,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Integer frequencies summing to ``2**precision`` per row, each valid symbol >= 1.

    Parameters
    ----------
    probs : ndarray (N, C), float64, non-negative, any positive row sum
    n_valid : symbols ``0 .. n_valid - 1`` are codable; later columns get frequency 0.
    out : optional (N, C) int64 or float32 array to write into (float32 holds the integers
        exactly, since they are at most ``2**24``); the coders pass float32 to constriction.

    Returns
    -------
    ndarray (N, C): ``out`` if given, else a new int64 array.
    """
    probs = np.ascontiguousarray(probs, dtype=np.float64)
    n_valid = probs.shape[1] if n_valid is None else int(n_valid)
    if not 1 <= n_valid <= probs.shape[1] or n_valid >= 2**precision:
        raise ValueError(f"n_valid={n_valid} does not fit {probs.shape[1]} columns")
    if out is None:
        out = np.empty(probs.shape, dtype=np.int64)
    elif out.shape != probs.shape or out.dtype not in (np.int64, np.float32) or precision > 24:
        raise ValueError("out must be int64 or float32 (precision <= 24) with the shape of probs")
    _quantise(probs, n_valid, 2**precision, out)
    return out


class QuantisingWalker:
    """A walker over floating-point conditionals made into a :class:`~.protocol.Walker`.

    ``walker.predict(t)`` gives probabilities (n, C) (any positive row sums);
    ``n_valid[t]`` is the alphabet size of the variable at position ``t``.
    """

    def __init__(self, walker, n_valid: np.ndarray):
        self.walker, self.n_valid = walker, np.asarray(n_valid)
        self._out: np.ndarray | None = None

    def predict(self, t: int) -> np.ndarray:
        probs = self.walker.predict(t)
        if self._out is None or self._out.shape != probs.shape:
            self._out = np.empty(probs.shape, dtype=np.int64)
        return quantise(probs, int(self.n_valid[t]), out=self._out)

    def observe(self, t: int, values: np.ndarray) -> None:
        self.walker.observe(t, values)


def from_counts(hist: np.ndarray, precision: int = PRECISION) -> np.ndarray:
    """Integer frequencies summing to ``2**precision``, each symbol >= 1, from counts (C,).

    Exact integer arithmetic (``1 + count * (total - C) // sum``, the remainder to the most
    frequent symbol), so encoder and decoder agree on every platform.

    >>> from_counts(np.array([3, 0, 1]), precision=4).tolist()
    [11, 1, 4]
    """
    h = np.asarray(hist, np.int64)
    total, c = 2**precision, len(h)
    f = 1 + (h * (total - c)) // max(int(h.sum()), 1)
    f[int(np.argmax(h))] += total - int(f.sum())
    return f
