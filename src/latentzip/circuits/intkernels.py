"""Integer incremental inference for HCLT coding: numba kernels (see :mod:`.quantised`).

Per record, two messages per variable (as in :mod:`.incremental`, in fixed point):
``out[v]`` ~ P(Z_v | evidence outside v's subtree) and ``up[v]`` ~ P(x_v | Z_v) times the
messages of v's closed child subtrees, each a vector renormalised by shifts to 16 bits
(:func:`latentzip.coding.fixedpoint.renorm`). Variables are coded in depth-first pre-order,
so only the variables on the path from the root to the current one have live messages: they
are kept in one slot per tree depth (a stack), not one per variable::

    predict v:  t = renorm(out[p] * up[p]);  out[v] = renorm(t @ E[v]);  w = exact(out[v])
                F(c) = mixture of the cumulative leaf tables of v with weights w
    observe x:  up[v] = leaf[v, :, x] + 1;  for each subtree closing at v, deepest first:
                up[parent] = renorm(up[parent] * renorm(E[w] @ up[w]))

A leaf's message to its parent depends on its value alone, so it comes from a table.
State is stored records-last (``[slot, state, record]``): every step but the search for a
symbol runs as vector operations across the records of a block. Every quantity is an exact
function of the record's own symbols, so blocks, records and threads may run in any order
without changing a byte. One rANS stream per block, symbols variable-major.
"""

from __future__ import annotations

import numba
import numpy as np

from latentzip.coding import rans
from latentzip.coding.fixedpoint import MSG_BITS, WEIGHT_BITS, bit_length, cdf_at, search
from latentzip.coding.quantise import PRECISION

_ONE = np.uint64(1)


@numba.njit(cache=True, inline="always")
def _renorm(acc, dst, sh):
    """Columns of ``acc`` (K, m) uint64 scaled by powers of two to 16 bits, into ``dst``;
    ``sh`` (3, m) uint64 is scratch."""
    k, m = acc.shape
    bits, right, left = sh[0], sh[1], sh[2]
    for r in range(m):
        bits[r] = 0
    for a in range(k):
        for r in range(m):
            bits[r] |= acc[a, r]  # the OR has the bit length of the maximum
    for r in range(m):
        shift = bit_length(bits[r]) - MSG_BITS
        right[r] = np.uint64(max(shift, 0))
        left[r] = np.uint64(max(-shift, 0))
    for a in range(k):
        for r in range(m):
            dst[a, r] = (acc[a, r] >> right[r]) << left[r]
    for r in range(m):
        if bits[r] == 0:  # only for values a model gives no mass: any fixed choice decodes
            for a in range(k):
                dst[a, r] = 1


@numba.njit(cache=True, inline="always")
def _exact(vec, w, best, sh):
    """Columns of ``vec`` (K, m) made to sum exactly 2**16 into ``w``; ``best`` their argmax;
    ``sh`` (3, m) uint64 is scratch."""
    k, m = vec.shape
    total, top_value, recip = sh[0], sh[1], sh[2]
    for r in range(m):
        total[r] = 0
        top_value[r] = 0
        best[r] = 0
    for a in range(k):
        for r in range(m):
            value = np.uint64(vec[a, r])
            total[r] += value
            bigger = value > top_value[r]  # the first largest entry, as np.argmax
            top_value[r] = value if bigger else top_value[r]
            best[r] = a if bigger else best[r]
    top = _ONE << np.uint64(WEIGHT_BITS + 32)
    for r in range(m):
        # floor(2**48 / total): a float division (exactly rounded), corrected to the floor
        q = np.uint64(np.float64(top) / np.float64(total[r]))
        while q * total[r] > top:
            q -= _ONE
        while (q + _ONE) * total[r] <= top:
            q += _ONE
        recip[r] = q
    used = total  # no longer needed as the total
    for r in range(m):
        used[r] = 0
    for a in range(k):
        for r in range(m):
            w[a, r] = (np.uint64(vec[a, r]) * recip[r]) >> np.uint64(32)
            used[r] += w[a, r]
    for r in range(m):
        w[best[r], r] += (_ONE << np.uint64(WEIGHT_BITS)) - used[r]


@numba.njit(cache=True, inline="always")
def _through_edge(e, src, acc, down):
    """acc (K, m) = e.T @ src when ``down`` (parent states to child), else e @ src, exactly."""
    k, m = acc.shape
    for a in range(k):
        for r in range(m):
            acc[a, r] = 0
    for a in range(k):
        for j in range(k):
            e_aj = np.uint64(e[a, j])
            if down:
                for r in range(m):
                    acc[j, r] += e_aj * np.uint64(src[a, r])
            else:
                for r in range(m):
                    acc[a, r] += e_aj * np.uint64(src[j, r])


@numba.njit(cache=True, inline="always")
def _predict(v, p, dv, leaf_row, prior, edges, out, up, acc, small, shift, w, best):
    """Weights (K, m) for variable v for every record of the block, over the states of v, or
    for a leaf over its parent's states (its table folds in the edge: see ``leaf_tables``,
    no one needs the leaf's own message); out[dv] updated for the others."""
    k, m = acc.shape
    if leaf_row[v] >= 0:
        for a in range(k):
            for r in range(m):
                acc[a, r] = np.uint64(out[dv - 1, a, r]) * np.uint64(up[dv - 1, a, r])
        _renorm(acc, small, shift)
        _exact(small, w, best, shift)
        return
    if p < 0:
        for a in range(k):
            for r in range(m):
                out[dv, a, r] = prior[a]
    else:
        for a in range(k):
            for r in range(m):
                acc[a, r] = np.uint64(out[dv - 1, a, r]) * np.uint64(up[dv - 1, a, r])
        _renorm(acc, small, shift)
        _through_edge(edges[v], small, acc, True)
        _renorm(acc, out[dv], shift)
    _exact(out[dv], w, best, shift)


@numba.njit(cache=True, inline="always")
def _observe(v, x, dv, close_ptr, close_idx, depth, leaf_row, leaf_msg, edges, cum, up, acc,
             small, shift):  # fmt: skip
    """Condition every record of the block on its value ``x[r]`` of variable v."""
    k, m = acc.shape
    first = close_ptr[v]
    row_v = leaf_row[v]
    if row_v >= 0:
        # a leaf closes at once: its message to the parent depends on x alone (a table)
        for r in range(m):
            xr = x[r]
            for a in range(k):
                acc[a, r] = np.uint64(up[dv - 1, a, r]) * np.uint64(leaf_msg[row_v, xr, a])
        _renorm(acc, up[dv - 1], shift)
        first += 1
    else:
        for r in range(m):
            xr = x[r]
            for a in range(k):
                acc[a, r] = np.uint64(cum[v, xr + 1, a] - cum[v, xr, a]) + _ONE
        _renorm(acc, up[dv], shift)
    for i in range(first, close_ptr[v + 1]):  # the other subtrees ending at v, deepest first
        c = close_idx[i]
        dc = depth[c]
        _through_edge(edges[c], up[dc], acc, False)
        _renorm(acc, small, shift)
        for a in range(k):
            for r in range(m):
                acc[a, r] = np.uint64(up[dc - 1, a, r]) * np.uint64(small[a, r])
        _renorm(acc, up[dc - 1], shift)


@numba.njit(cache=True, inline="always")
def _table(v, leaf_row, leaf_cum, cum):
    """The cumulative tables the weights of v mix: its leaves, or for a leaf variable the
    edge-folded ones (over its parent's states)."""
    row = leaf_row[v]
    return leaf_cum[row] if row >= 0 else cum[v]


@numba.njit(cache=True)
def leaf_messages(leaves_idx, n_cat, edges, cum, out):
    """``out[i, x]``: the message leaf ``leaves_idx[i]`` sends its parent after value x, the
    same integers :func:`_observe` would compute without the table."""
    k = edges.shape[1]
    acc = np.empty((k, 1), np.uint64)
    up = np.empty((k, 1), np.uint32)
    small = np.empty((k, 1), np.uint32)
    shift = np.empty((3, 1), np.uint64)
    for i in range(len(leaves_idx)):
        c = leaves_idx[i]
        for x in range(n_cat[c]):
            for a in range(k):
                acc[a, 0] = np.uint64(cum[c, x + 1, a] - cum[c, x, a]) + _ONE
            _renorm(acc, up, shift)
            for a in range(k):
                s = np.uint64(0)
                for j in range(k):
                    s += np.uint64(edges[c, a, j]) * np.uint64(up[j, 0])
                acc[a, 0] = s
            _renorm(acc, small, shift)
            for a in range(k):
                out[i, x, a] = small[a, 0]


@numba.njit(cache=True, inline="always")
def _column(w, r, wr):
    for a in range(w.shape[0]):
        wr[a] = w[a, r]


@numba.njit(cache=True, inline="always")
def _scratch(k, m):
    """Work arrays of one pass over m records: acc, small, shift (``_observe``), w, best
    (``_predict``)."""
    acc = np.empty((k, m), np.uint64)
    small = np.empty((k, m), np.uint32)
    shift = np.empty((3, m), np.uint64)
    return acc, small, shift, np.empty((k, m), np.uint64), np.empty(m, np.int64)


# ----------------------------------------------------------------------------- walker
@numba.njit(cache=True)
def walker_predict(v, p, dv, n_sym, leaf_row, leaf_cum, prior, edges, cum, out, up, freqs):
    """Frequency tables (n, C) int64 of variable v for every record (the generic path);
    ``out``/``up`` (depth slots, K, n)."""
    k, n = prior.shape[0], out.shape[2]
    acc, small, shift, w, best = _scratch(k, n)
    wr = np.empty(k, np.uint64)
    _predict(v, p, dv, leaf_row, prior, edges, out, up, acc, small, shift, w, best)
    table = _table(v, leaf_row, leaf_cum, cum)
    for r in range(n):
        _column(w, r, wr)
        prev = np.int64(0)
        for c in range(n_sym):
            nxt = cdf_at(wr, table, c + 1, n_sym)
            freqs[r, c] = nxt - prev
            prev = nxt
        for c in range(n_sym, freqs.shape[1]):
            freqs[r, c] = 0


@numba.njit(cache=True)
def walker_weights(v, p, dv, leaf_row, prior, edges, out, up, weights):
    """The weights (n, K) of variable v (exactly 2**16 per row) over the rows of its table
    (:func:`_table`), out updated."""
    k, n = prior.shape[0], out.shape[2]
    acc, small, shift, w, best = _scratch(k, n)
    _predict(v, p, dv, leaf_row, prior, edges, out, up, acc, small, shift, w, best)
    for r in range(n):
        for a in range(k):
            weights[r, a] = w[a, r]


@numba.njit(cache=True)
def walker_observe(v, values, close_ptr, close_idx, depth, leaf_row, leaf_msg, edges, cum, up):
    k, n = edges.shape[1], up.shape[2]
    acc, small, shift, _, _ = _scratch(k, n)
    _observe(v, values, depth[v], close_ptr, close_idx, depth, leaf_row, leaf_msg, edges, cum,
             up, acc, small, shift)  # fmt: skip


# ----------------------------------------------------------------------------- blocks
@numba.njit(parallel=True, cache=True)
def encode_blocks(x, block, order, parent, depth, n_cat, close_ptr, close_idx, leaf_row,
                  leaf_msg, leaf_cum, modes, leaf_modes, prior, edges, cum):  # fmt: skip
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
        out = np.empty((slots, k, m), np.uint32)
        up = np.empty((slots, k, m), np.uint32)
        acc, small, shift, w, best = _scratch(k, m)
        wr = np.empty(k, np.uint64)
        xs = np.empty(m, np.int64)
        starts = np.empty(m * coded, np.int64)
        freqs = np.empty(m * coded, np.int64)
        s = 0
        for t in range(d):
            v = order[t]
            dv = depth[v]
            for r in range(m):
                xs[r] = x[lo + r, v]
            _predict(v, parent[v], dv, leaf_row, prior, edges, out, up, acc, small, shift, w, best)
            if n_cat[v] > 1:
                table = _table(v, leaf_row, leaf_cum, cum)
                for r in range(m):
                    _column(w, r, wr)
                    f0 = cdf_at(wr, table, xs[r], n_cat[v])
                    starts[s] = f0
                    freqs[s] = cdf_at(wr, table, xs[r] + 1, n_cat[v]) - f0
                    s += 1
            _observe(v, xs, dv, close_ptr, close_idx, depth, leaf_row, leaf_msg, edges, cum, up,
                     acc, small, shift)  # fmt: skip
        lengths[b] = rans.encode_into(starts, freqs, 0, s, PRECISION, words[b], 0)
    return words, lengths


@numba.njit(parallel=True, cache=True)
def decode_blocks(words, offsets, sizes, order, parent, depth, n_cat, close_ptr, close_idx,
                  leaf_row, leaf_msg, leaf_cum, modes, leaf_modes, prior, edges, cum, x,
                  status):  # fmt: skip
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
        out = np.empty((slots, k, m), np.uint32)
        up = np.empty((slots, k, m), np.uint32)
        acc, small, shift, w, best = _scratch(k, m)
        wr = np.empty(k, np.uint64)
        xs = np.zeros(m, np.int64)
        for t in range(d):
            if st != rans.OK:
                break
            v = order[t]
            dv = depth[v]
            _predict(v, parent[v], dv, leaf_row, prior, edges, out, up, acc, small, shift, w, best)
            if n_cat[v] > 1:
                row = leaf_row[v]
                table = _table(v, leaf_row, leaf_cum, cum)
                guesses = leaf_modes[row] if row >= 0 else modes[v]
                for r in range(m):
                    _column(w, r, wr)
                    q = rans.decoder_peek(state, PRECISION)
                    xs[r], f0, f1 = search(wr, table, q, n_cat[v], guesses[best[r]])
                    state, pos, st = rans.decoder_advance(state, pos, stream, f0, f1 - f0,
                                                          PRECISION)  # fmt: skip
                    if st != rans.OK:
                        break
            else:
                xs[:] = 0
            for r in range(m):
                x[lo + r, v] = xs[r]
            _observe(v, xs, dv, close_ptr, close_idx, depth, leaf_row, leaf_msg, edges, cum, up,
                     acc, small, shift)  # fmt: skip
        if st == rans.OK and not rans.decoder_is_empty(state, pos):
            st = rans.ERR_LEFTOVER
        status[b] = st


# ----------------------------------------------------------------------------- mixtures
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
