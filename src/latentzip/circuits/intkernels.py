"""Integer incremental inference for HCLT coding: numba kernels (see :mod:`.quantised`).

Per record, two messages per variable (as in :mod:`.incremental`, in fixed point):
``out[v]`` ~ P(Z_v | evidence outside v's subtree) and ``up[v]`` ~ P(x_v | Z_v) times the
messages of v's closed child subtrees, each a vector renormalised by shifts to 16 bits
(:func:`latentzip.coding.fixedpoint.renorm_into`). Variables are coded in depth-first
pre-order, so only the variables on the path from the root to the current one have live
messages: they are kept in one slot per tree depth (a stack), not one per variable, and a
block's state fits in the cache (42 slots for MNIST instead of 784)::

    predict v:  t = renorm(out[p] * up[p]);  out[v] = renorm(t @ E[v]);  w = exact(out[v])
                F(c) = mixture of the cumulative leaf tables of v with weights w
    observe x:  up[v] = leaf[v, :, x] + 1;  for each subtree closing at v, deepest first:
                up[parent] = renorm(up[parent] * renorm(E[w] @ up[w]))

Every quantity is an exact function of the record's own symbols, so the kernels may run over
records, blocks and threads in any order: bytes never depend on it. One rANS stream per block
of records, symbols variable-major (for each variable, the block's records in order).
"""

from __future__ import annotations

import numba
import numpy as np

from latentzip.coding import rans
from latentzip.coding.fixedpoint import cdf_at, exact_weights, renorm_into, search
from latentzip.coding.quantise import PRECISION


@numba.njit(cache=True, inline="always")
def _weights(v, p, dv, prior, edges, out, up, small, acc, w):
    # out[slot of v] from the parent's two messages (slot dv - 1), or the prior at the root;
    # then the weights. Stored messages fit 16 bits: products of two zero-extended uint32
    # are single vector multiplies; sums run in uint64.
    k = prior.shape[0]
    if p < 0:
        for j in range(k):
            out[dv, j] = prior[j]
    else:
        for a in range(k):
            acc[a] = np.uint64(out[dv - 1, a]) * np.uint64(up[dv - 1, a])
        renorm_into(acc, small)
        for j in range(k):
            acc[j] = np.uint64(0)
        for a in range(k):
            ta = np.uint64(small[a])
            row = edges[v, a]
            for j in range(k):
                acc[j] += ta * np.uint64(row[j])
        renorm_into(acc, out[dv])
    return exact_weights(out[dv], w)


@numba.njit(cache=True, inline="always")
def _observe(v, x, dv, close_ptr, close_idx, depth, leaf_row, leaf_msg, edges, cumleaf, up,
             small, acc):  # fmt: skip
    k = up.shape[1]
    first = close_ptr[v]
    row_v = leaf_row[v]
    if row_v >= 0:
        # a leaf closes at once: its message to the parent depends on x alone (a table)
        for a in range(k):
            acc[a] = np.uint64(up[dv - 1, a]) * np.uint64(leaf_msg[row_v, x, a])
        renorm_into(acc, up[dv - 1])
        first += 1
    else:
        for j in range(k):
            acc[j] = np.uint64(cumleaf[v, x + 1, j] - cumleaf[v, x, j]) + np.uint64(1)
        renorm_into(acc, up[dv])
    for i in range(first, close_ptr[v + 1]):  # the other subtrees ending at v, deepest first
        c = close_idx[i]
        dc = depth[c]
        for a in range(k):
            s = np.uint64(0)
            row = edges[c, a]
            for j in range(k):
                s += np.uint64(row[j]) * np.uint64(up[dc, j])
            acc[a] = s
        renorm_into(acc, small)
        for a in range(k):
            acc[a] = np.uint64(up[dc - 1, a]) * np.uint64(small[a])
        renorm_into(acc, up[dc - 1])


@numba.njit(cache=True)
def leaf_messages(leaves_idx, n_cat, edges, cumleaf, out):
    """``out[i, x]``: the message leaf ``leaves_idx[i]`` sends its parent after x, the same
    integers :func:`_observe` would compute (K renormalised to 16 bits)."""
    k = edges.shape[1]
    up = np.empty(k, np.uint32)
    small = np.empty(k, np.uint32)
    acc = np.empty(k, np.uint64)
    for i in range(len(leaves_idx)):
        c = leaves_idx[i]
        for x in range(n_cat[c]):
            for j in range(k):
                acc[j] = np.uint64(cumleaf[c, x + 1, j] - cumleaf[c, x, j]) + np.uint64(1)
            renorm_into(acc, up)
            for a in range(k):
                s = np.uint64(0)
                for j in range(k):
                    s += np.uint64(edges[c, a, j]) * np.uint64(up[j])
                acc[a] = s
            renorm_into(acc, small)
            for a in range(k):
                out[i, x, a] = small[a]


@numba.njit(parallel=True, cache=True)
def walker_predict(v, p, dv, n_sym, prior, edges, cumleaf, out, up, freqs):
    """Frequency tables (n, C) int64 of variable v for every record (the generic path);
    ``out``/``up`` (n, depth slots, K)."""
    n, _, k = out.shape
    for r in numba.prange(n):
        small = np.empty(k, np.uint32)
        acc = np.empty(k, np.uint64)
        w = np.empty(k, np.uint64)
        _weights(v, p, dv, prior, edges, out[r], up[r], small, acc, w)
        prev = np.int64(0)
        for c in range(n_sym):
            nxt = cdf_at(w, cumleaf[v], c + 1, n_sym)
            freqs[r, c] = nxt - prev
            prev = nxt
        for c in range(n_sym, freqs.shape[1]):
            freqs[r, c] = 0


@numba.njit(parallel=True, cache=True)
def walker_observe(v, values, close_ptr, close_idx, depth, leaf_row, leaf_msg, edges, cumleaf,
                   up):  # fmt: skip
    n, _, k = up.shape
    for r in numba.prange(n):
        small = np.empty(k, np.uint32)
        acc = np.empty(k, np.uint64)
        _observe(v, values[r], depth[v], close_ptr, close_idx, depth, leaf_row, leaf_msg, edges,
                 cumleaf, up[r], small, acc)  # fmt: skip


@numba.njit(parallel=True, cache=True)
def encode_blocks(x, block, order, parent, depth, n_cat, close_ptr, close_idx, leaf_row,
                  leaf_msg, modes, prior, edges, cumleaf):  # fmt: skip
    """rANS streams of blocks of ``block`` records of ``x`` (n, D): (words (B, W), lengths (B,))."""
    n, d = x.shape
    k = prior.shape[0]
    slots = depth.max() + 1
    n_blocks = (n + block - 1) // block
    coded = 0
    for v in range(d):
        coded += n_cat[v] > 1
    words = np.zeros((n_blocks, block * coded + 2), np.uint32)
    lengths = np.zeros(n_blocks, np.int64)
    for b in numba.prange(n_blocks):
        lo, hi = b * block, min(n, (b + 1) * block)
        m = hi - lo
        out = np.empty((m, slots, k), np.uint32)
        up = np.empty((m, slots, k), np.uint32)
        starts = np.empty(m * coded, np.int64)
        freqs = np.empty(m * coded, np.int64)
        small = np.empty(k, np.uint32)
        acc = np.empty(k, np.uint64)
        w = np.empty(k, np.uint64)
        s = 0
        for t in range(d):
            v = order[t]
            dv = depth[v]
            for i in range(m):
                xv = x[lo + i, v]
                _weights(v, parent[v], dv, prior, edges, out[i], up[i], small, acc, w)
                if n_cat[v] > 1:
                    f0 = cdf_at(w, cumleaf[v], xv, n_cat[v])
                    starts[s] = f0
                    freqs[s] = cdf_at(w, cumleaf[v], xv + 1, n_cat[v]) - f0
                    s += 1
                _observe(v, xv, dv, close_ptr, close_idx, depth, leaf_row, leaf_msg, edges, cumleaf,
                         up[i], small, acc)  # fmt: skip
        lengths[b] = rans.encode_into(starts, freqs, 0, s, PRECISION, words[b], 0)
    return words, lengths


@numba.njit(parallel=True, cache=True)
def decode_blocks(words, offsets, sizes, order, parent, depth, n_cat, close_ptr, close_idx,
                  leaf_row, leaf_msg, modes, prior, edges, cumleaf, x, status):  # fmt: skip
    """Decode streams ``words[offsets[b]:offsets[b+1]]`` of ``sizes[b]`` records into ``x``."""
    d = x.shape[1]
    k = prior.shape[0]
    slots = depth.max() + 1
    first = np.zeros(len(sizes) + 1, np.int64)
    for b in range(len(sizes)):
        first[b + 1] = first[b] + sizes[b]
    for b in numba.prange(len(sizes)):
        m, lo = sizes[b], first[b]
        stream = words[offsets[b] : offsets[b + 1]]
        state, pos, st = rans.decoder_init(stream)
        out = np.empty((m, slots, k), np.uint32)
        up = np.empty((m, slots, k), np.uint32)
        small = np.empty(k, np.uint32)
        acc = np.empty(k, np.uint64)
        w = np.empty(k, np.uint64)
        for t in range(d):
            if st != rans.OK:
                break
            v = order[t]
            dv = depth[v]
            for i in range(m):
                xv = 0
                best = _weights(v, parent[v], dv, prior, edges, out[i], up[i], small, acc, w)
                if n_cat[v] > 1:
                    q = rans.decoder_peek(state, PRECISION)
                    xv, f0, f1 = search(w, cumleaf[v], q, n_cat[v], modes[v, best])
                    state, pos, st = rans.decoder_advance(state, pos, stream, f0, f1 - f0,
                                                          PRECISION)  # fmt: skip
                    if st != rans.OK:
                        break
                x[lo + i, v] = xv
                _observe(v, xv, dv, close_ptr, close_idx, depth, leaf_row, leaf_msg, edges, cumleaf,
                         up[i], small, acc)  # fmt: skip
        if st == rans.OK and not rans.decoder_is_empty(state, pos):
            st = rans.ERR_LEFTOVER
        status[b] = st


# ----------------------------------------------------------------------------- mixtures
@numba.njit(parallel=True, cache=True)
def walker_weights(v, p, dv, prior, edges, out, up, weights):
    """The latent weights (n, K) of variable v (exactly 2**16 per row), out updated."""
    n, _, k = out.shape
    for r in numba.prange(n):
        small = np.empty(k, np.uint32)
        acc = np.empty(k, np.uint64)
        _weights(v, p, dv, prior, edges, out[r], up[r], small, acc, weights[r])


@numba.njit(parallel=True, cache=True)
def mixed_freqs(weights, cum, n_sym, freqs):
    """Frequency tables (n, C) of the mixtures of the rows of ``cum`` (C+1, J) with
    ``weights`` (n, J) summing to 2**16."""
    for r in numba.prange(weights.shape[0]):
        prev = np.int64(0)
        for c in range(n_sym):
            nxt = cdf_at(weights[r], cum, c + 1, n_sym)
            freqs[r, c] = nxt - prev
            prev = nxt
        for c in range(n_sym, freqs.shape[1]):
            freqs[r, c] = 0


@numba.njit(parallel=True, cache=True)
def symbol_freqs(weights, cum, values, n_sym, out):
    """The frequency (n,) of each record's value under its mixture of ``cum`` rows."""
    for r in numba.prange(weights.shape[0]):
        x = values[r]
        out[r] = cdf_at(weights[r], cum, x + 1, n_sym) - cdf_at(weights[r], cum, x, n_sym)
