"""Fixed-point arithmetic that turns mixtures of integer tables into exact rANS frequencies.

Everything that reaches the coder is computed here in unsigned integers, so it is the same on
every CPU, compiler, batch and thread count. The pieces:

* messages are vectors of non-negative integers rescaled by shifts (:func:`renorm`) so that
  their largest entry lies in ``[2**(MSG_BITS-1), 2**MSG_BITS)``: exact, no division;
* mixing weights are such a vector made to sum to exactly ``2**WEIGHT_BITS``
  (:func:`exact_weights`): one integer division, the remainder to the largest entry;
* a mixture of cumulative tables ``cum[j, c]`` (each ending at ``2**LEAF_BITS``) with those
  weights, ``G(c) = sum_j w_j cum[j, c]``, ends at ``2**(WEIGHT_BITS + LEAF_BITS)``, and
  ``F(c) = floor(G(c) * (2**PRECISION - C) / 2**(WEIGHT_BITS + LEAF_BITS)) + c``
  (:func:`cdf_at`) is a cumulative frequency table over C symbols that starts at 0, ends at
  exactly ``2**PRECISION`` and gives every symbol at least 1: any in-range symbol stays
  codable, whatever the model says.

Encoding a symbol x needs F(x) and F(x+1), O(J); decoding finds x by binary search on F,
O(J log C) (:func:`search`), so no table of all C frequencies is ever built.
"""

from __future__ import annotations

import numba
import numpy as np

from latentzip.coding.quantise import PRECISION

MSG_BITS = 16
WEIGHT_BITS = 16
LEAF_BITS = 20
_MIX_SHIFT = WEIGHT_BITS + LEAF_BITS  # G < 2**36; G * 2**24 < 2**60 fits in 64 bits


@numba.njit(cache=True, inline="always")
def bit_length(x):
    """Number of bits of a non-negative uint64 (0 for 0), by binary search."""
    n = 0
    for s in (32, 16, 8, 4, 2, 1):
        if x >= (np.uint64(1) << np.uint64(s)):
            x >>= np.uint64(s)
            n += s
    return n + (1 if x > 0 else 0)


@numba.njit(cache=True, inline="always")
def renorm(vec):
    """Rescale ``vec`` (uint64, in place) by a power of two so its maximum has MSG_BITS bits.

    An all-zero vector (only for values a model gives no mass) becomes all ones.
    """
    top = np.uint64(0)  # the OR of all entries has the bit length of their maximum
    for a in range(vec.shape[0]):
        top |= vec[a]
    if top == 0:
        for a in range(vec.shape[0]):
            vec[a] = np.uint64(1)
        return
    shift = bit_length(top) - MSG_BITS
    if shift > 0:
        s = np.uint64(shift)
        for a in range(vec.shape[0]):
            vec[a] >>= s
    elif shift < 0:
        s = np.uint64(-shift)
        for a in range(vec.shape[0]):
            vec[a] <<= s


@numba.njit(cache=True, inline="always")
def renorm_into(vec, dst):
    """:func:`renorm` of uint64 ``vec`` written to ``dst`` (uint32: the result fits 16 bits)."""
    bits = np.uint64(0)  # the OR of all entries has the bit length of their maximum
    for a in range(vec.shape[0]):
        bits |= vec[a]
    if bits == 0:
        for a in range(vec.shape[0]):
            dst[a] = 1
        return
    shift = bit_length(bits) - MSG_BITS
    if shift >= 0:
        s = np.uint64(shift)
        for a in range(vec.shape[0]):
            dst[a] = vec[a] >> s
    else:
        s = np.uint64(-shift)
        for a in range(vec.shape[0]):
            dst[a] = vec[a] << s


@numba.njit(cache=True, inline="always")
def exact_weights(vec, out):
    """``out`` (uint64) = ``vec`` (renormed, not all zero) scaled to sum exactly 2**WEIGHT_BITS;
    returns the index of the largest entry."""
    total = np.uint64(0)
    best = 0
    for a in range(vec.shape[0]):
        total += vec[a]
        if vec[a] > vec[best]:
            best = a
    # floor(2**48 / total): a float division (exactly rounded) corrected to the integer floor,
    # cheaper than a 64-bit integer division on many CPUs and the same result everywhere
    top = np.uint64(1) << np.uint64(WEIGHT_BITS + 32)
    recip = np.uint64(np.float64(top) / np.float64(total))
    while recip * total > top:
        recip -= np.uint64(1)
    while (recip + np.uint64(1)) * total <= top:
        recip += np.uint64(1)
    used = np.uint64(0)
    for a in range(vec.shape[0]):
        out[a] = (vec[a] * recip) >> np.uint64(32)
        used += out[a]
    out[best] += (np.uint64(1) << np.uint64(WEIGHT_BITS)) - used
    return best


@numba.njit(cache=True, inline="always")
def cdf_at(weights, cum, c, n_symbols):
    """F(c) for the mixture of cumulative tables ``cum[c, j]`` (C+1, J) with ``weights`` (J,)."""
    g = np.uint64(0)
    row = cum[c]
    for j in range(weights.shape[0]):
        g += weights[j] * np.uint64(row[j])
    span = np.uint64((1 << PRECISION) - n_symbols)
    return np.int64((g * span) >> np.uint64(_MIX_SHIFT)) + c


@numba.njit(cache=True, inline="always")
def search(weights, cum, quantile, n_symbols, guess=-1):
    """The symbol c with F(c) <= quantile < F(c+1), and F(c), F(c+1).

    ``guess`` (e.g. the most likely value) is tried first: when it is right, two evaluations
    of F replace a binary search; when not, it narrows the search. The answer is the same.
    """
    lo, hi = 0, n_symbols  # F(lo) <= quantile < F(hi)
    f_lo, f_hi = np.int64(0), np.int64(1 << PRECISION)
    if 0 <= guess < n_symbols:
        f_g = cdf_at(weights, cum, guess, n_symbols) if guess > 0 else np.int64(0)
        if f_g <= quantile:
            lo, f_lo = guess, f_g
            f_next = cdf_at(weights, cum, guess + 1, n_symbols)
            if quantile < f_next:
                return guess, f_g, f_next
            lo, f_lo = guess + 1, f_next
        else:
            hi, f_hi = guess, f_g
    while hi - lo > 1:
        mid = (lo + hi) >> 1
        f_mid = cdf_at(weights, cum, mid, n_symbols)
        if f_mid <= quantile:
            lo, f_lo = mid, f_mid
        else:
            hi, f_hi = mid, f_mid
    return lo, f_lo, f_hi


# numpy twins of the kernels above, vectorised over rows (exact: no floating point)
def bit_lengths(x: np.ndarray) -> np.ndarray:
    """Bits of each non-negative integer (exact, no floating point)."""
    y, n = x.astype(np.uint64), np.zeros(x.shape, np.int64)
    for s in (32, 16, 8, 4, 2, 1):
        big = y >= (np.uint64(1) << np.uint64(s))
        n[big] += s
        y[big] >>= np.uint64(s)
    return n + (y > 0)


def renorm_rows(v: np.ndarray) -> np.ndarray:
    """Rows of ``v`` (n, K) rescaled by powers of two to a maximum of MSG_BITS bits."""
    v = v.astype(np.uint64)
    top = v.max(axis=1)
    shift = bit_lengths(top) - MSG_BITS
    out = np.where(
        (shift > 0)[:, None],
        v >> np.maximum(shift, 0).astype(np.uint64)[:, None],
        v << np.maximum(-shift, 0).astype(np.uint64)[:, None],
    )
    out[top == 0] = 1
    return out


def exact_rows(v: np.ndarray) -> np.ndarray:
    """Rows summing to exactly 2**WEIGHT_BITS (reciprocal, floor, remainder to the largest)."""
    total = v.sum(axis=1)
    recip = (np.uint64(1) << np.uint64(WEIGHT_BITS + 32)) // total
    w = (v * recip[:, None]) >> np.uint64(32)
    best = np.argmax(v, axis=1)
    w[np.arange(len(v)), best] += (np.uint64(1) << np.uint64(WEIGHT_BITS)) - w.sum(axis=1)
    return w


def quantise_rows(p: np.ndarray, bits: int, floor: int = 0) -> np.ndarray:
    """Distributions (..., n) float -> integers summing to exactly ``2**bits`` per row.

    ``floor(p * (2**bits - n * floor)) + floor`` elementwise (IEEE multiply and floor: the same
    on every machine), then the remainder to each row's largest entry. ``floor=1`` keeps every
    entry positive. The input must be finite, non-negative, rows summing to about one.
    """
    p = np.asarray(p, dtype=np.float64)
    n = p.shape[-1]
    total = 2**bits
    q = np.floor(p * float(total - n * floor)).astype(np.int64) + floor
    q = np.minimum(q, total)
    deficit = total - q.sum(-1, keepdims=True)  # integer sums: exact in any order
    best = np.argmax(p, axis=-1)[..., None]
    np.put_along_axis(q, best, np.take_along_axis(q, best, -1) + deficit, -1)
    if (q < 0).any():
        raise ValueError("rows do not sum to one")
    return q
