"""How a number column (integer, decimal, datetime) becomes a bin and a residual.

A value ``v`` is first mapped to a small integer ``q``::

    x = v - prev                  prev: the anchor (raw), or the previous row's value (delta)
    q = x / step                  step: the gcd of the training x (prices in 5 cents, F from C)
    q = rank of q in dictionary   when the training q are few enough to list

then ``q`` falls in one of the quantile ``edges`` (the circuit's symbol) and ``q - edge`` is
the residual, uniform over the bin's width. A value that does not map (not on the step, not
in the dictionary, outside the bins) is kept as text by the caller, and delta chains go on
through it: ``prev`` is every present value, so one odd value costs one cell. Deltas restart
from the anchor at every block of rows.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numba
import numpy as np

from latentzip.coding.fields import Fields
from latentzip.errors import ModelError

VALUE_LIMIT = 2**60  # larger magnitudes stay text: differences and products fit in int64
DELTA_GAIN = 0.8  # delta coding must take under 80% of the raw bits (raw relates better)
MAX_DICTIONARY = 2**16


@dataclass(frozen=True)
class NumberCoding:
    delta: bool
    anchor: int
    step: int
    dictionary: tuple[int, ...]  # ascending; empty: q is used as it is
    edges: tuple[int, ...]  # ascending lower bounds of the bins over q
    top: int  # one past the last bin

    @property
    def widths(self) -> np.ndarray:
        return np.diff(np.append(np.asarray(self.edges, np.int64), self.top))

    def to_json(self) -> dict:
        d = {"delta": self.delta, "anchor": self.anchor, "step": self.step,
             "edges": _gaps(self.edges), "top": self.top}  # fmt: skip
        if self.dictionary:
            d["dictionary"] = _gaps(self.dictionary)
        return d

    @classmethod
    def from_json(cls, f: Fields) -> NumberCoding:
        lim = 2 * VALUE_LIMIT
        edges = _ungaps(f.ints("edges", -lim, lim, max_len=2**16), "edges")
        dictionary = _ungaps(f.ints("dictionary", -lim, lim, MAX_DICTIONARY, default=[]), "dict")
        top = f.int("top", -lim, lim + 1)
        if not edges or top <= edges[-1]:
            raise ModelError("table column: a number column needs bins below its top")
        if dictionary and (edges[0] < 0 or top > len(dictionary)):
            raise ModelError("table column: bins reach beyond the dictionary")
        anchor = f.int("anchor", -VALUE_LIMIT, VALUE_LIMIT)
        return cls(f.bool("delta"), anchor, f.int("step", 1, VALUE_LIMIT), dictionary, edges, top)

    # ------------------------------------------------------------------ coding
    def encode(self, values: np.ndarray, present: np.ndarray, block: int):
        """(bin, offset, inside) of each row: inside rows are present and map."""
        d = np.asarray(self.dictionary, np.int64)
        q, inside = _forward(values, present, self.delta, self.anchor, self.step, d,
                             self.edges[0], self.top, block)  # fmt: skip
        edges = np.asarray(self.edges, np.int64)
        b = np.clip(np.searchsorted(edges, q, side="right") - 1, 0, len(edges) - 1)
        return np.where(inside, b, 0), np.where(inside, q - edges[b], 0), inside

    def decode(self, bins, offsets, inside, known, known_mask, block: int):
        """Values of the inside rows from their bins and offsets; ``known`` values of the
        other present rows carry the delta chain. None if the input is inconsistent."""
        q = np.asarray(self.edges, np.int64)[bins] + offsets
        d = np.asarray(self.dictionary, np.int64)
        out, ok = _backward(q, inside, known, known_mask, self.delta, self.anchor, self.step,
                            d, block)  # fmt: skip
        return out if ok else None


def fit_number(present: np.ndarray, n_bins: int, max_dictionary: int) -> NumberCoding:
    """The cheapest coding of a column's present values (estimated bits), raw or delta."""
    anchor = int(present[0])
    raw = _fit_mode(present - anchor, False, anchor, n_bins, max_dictionary)
    if len(present) > 1:
        delta = _fit_mode(np.diff(present, prepend=anchor), True, anchor, n_bins, max_dictionary)
        if delta[1] < DELTA_GAIN * raw[1]:
            return delta[0]
    return raw[0]


def _fit_mode(x, delta, anchor, n_bins, max_dictionary) -> tuple[NumberCoding, float]:
    step = int(np.gcd.reduce(np.abs(x))) or 1
    q = x // step
    uniq = np.unique(q)
    edges, top, bits = _bins(q, n_bins)
    best = (NumberCoding(delta, anchor, step, (), edges, top), bits)
    if len(uniq) <= max_dictionary and uniq[-1] - uniq[0] + 1 > len(uniq):  # gaps to skip
        rank = np.searchsorted(uniq, q)
        edges, top, bits = _bins(rank, n_bins)
        gaps = np.diff(uniq)
        bits += len(uniq) * (2 + math.log2(1 + float(gaps.mean()) if len(gaps) else 1))
        if bits < best[1]:
            best = (NumberCoding(delta, anchor, step, tuple(int(u) for u in uniq), edges, top),
                    bits)  # fmt: skip
    return best


def _bins(q: np.ndarray, n_bins: int) -> tuple[tuple[int, ...], int, float]:
    """(edges, top, estimated bits) of quantile bins over ``q``."""
    uniq, counts = np.unique(q, return_counts=True)
    if len(uniq) <= n_bins:
        edges = uniq
    else:
        cum = np.cumsum(counts)
        cuts = np.searchsorted(cum, np.arange(1, n_bins) * cum[-1] / n_bins, side="right")
        edges = np.unique(np.concatenate([[uniq[0]], uniq[np.minimum(cuts, len(uniq) - 1)]]))
    top = int(uniq[-1]) + 1
    b = np.searchsorted(edges, q, side="right") - 1
    widths = np.append(edges[1:], top) - edges
    p = np.bincount(b, minlength=len(edges)) / len(q)
    bits = -np.sum(p[p > 0] * np.log2(p[p > 0])) * len(q) + np.log2(widths[b]).sum()
    return tuple(int(e) for e in edges), top, float(bits)


def _gaps(values: tuple[int, ...]) -> list[int]:
    return [values[0], *(b - a for a, b in itertools.pairwise(values))] if values else []


def _ungaps(gaps: list[int], what: str) -> tuple[int, ...]:
    if any(g <= 0 for g in gaps[1:]):
        raise ModelError(f"table column: {what} must ascend strictly")
    out = tuple(itertools.accumulate(gaps))
    if out and max(abs(out[0]), abs(out[-1])) > 2 * VALUE_LIMIT:
        raise ModelError(f"table column: {what} out of range")
    return out


@numba.njit(cache=True)
def _forward(values, present, delta, anchor, step, dictionary, lo, top, block):
    n = len(values)
    out = np.zeros(n, np.int64)
    inside = np.zeros(n, np.bool_)
    prev = anchor
    for i in range(n):
        if delta and i % block == 0:
            prev = anchor
        v = values[i]
        if not present[i] or v < -VALUE_LIMIT or v > VALUE_LIMIT:
            continue
        x = v - prev
        if delta:
            prev = v  # every present value carries the chain, mapped or not
        if x % step != 0:
            continue
        q = x // step
        if len(dictionary):
            k = np.searchsorted(dictionary, q)
            if k >= len(dictionary) or dictionary[k] != q:
                continue
            q = k
        if lo <= q < top:
            out[i] = q
            inside[i] = True
    return out, inside


@numba.njit(cache=True)
def _backward(q, inside, known, known_mask, delta, anchor, step, dictionary, block):
    n = len(q)
    out = np.zeros(n, np.int64)
    prev = anchor
    bound = VALUE_LIMIT // step + 1
    for i in range(n):
        if delta and i % block == 0:
            prev = anchor
        if inside[i]:
            x = q[i]
            if len(dictionary):
                if x < 0 or x >= len(dictionary):
                    return out, False
                x = dictionary[x]
            if x < -2 * bound or x > 2 * bound:
                return out, False
            v = prev + x * step
            if v < -VALUE_LIMIT or v > VALUE_LIMIT:
                return out, False
            out[i] = v
            if delta:
                prev = v
        elif known_mask[i] and delta:
            prev = known[i]
    return out, True
