"""The integer arithmetic of :mod:`.intkernels`, restated in plain numpy: slow, for tests.

Vectorised over records with numpy's uint64, step for step the kernels' ``renorm``,
``exact_weights`` and mixed cumulative tables. Tests hold the kernels (and with them every
file) to this: same frequencies, same bytes.
"""

from __future__ import annotations

import numpy as np

from latentzip.coding.fixedpoint import LEAF_BITS, WEIGHT_BITS, exact_rows, renorm_rows
from latentzip.coding.quantise import PRECISION

_U = np.uint64


def mixed_cdf(w: np.ndarray, cum: np.ndarray, n_sym: int) -> np.ndarray:
    """F(c) for c = 0..n_sym: (n, n_sym + 1) int64 from weights (n, K) and cum (C+1, K)."""
    g = (w[:, None, :] * cum[None, : n_sym + 1, :].astype(np.uint64)).sum(axis=2)
    span = _U((1 << PRECISION) - n_sym)
    return ((g * span) >> _U(WEIGHT_BITS + LEAF_BITS)).astype(np.int64) + np.arange(n_sym + 1)


class ReferenceWalker:
    """Same interface and same integers as :class:`~.quantised.QuantisedWalker`."""

    def __init__(self, model, n: int):
        self.model = model
        a = model._kernel_args()
        self.order, self.parent, self.cats = a.order, a.parent, a.n_categories
        self.ptr, self.idx = a.close_ptr, a.close_idx
        self.prior, self.edges, self.cum = a.prior, a.edges.astype(np.uint64), a.cum
        self.leaf_row, self.leaf_cum = a.leaf_row, a.leaf_cum
        d, k = model.n_variables, model.n_latents
        self.out = np.zeros((n, d, k), np.uint64)
        self.up = np.ones((n, d, k), np.uint64)
        self.width = model.leaves.shape[2]

    def predict(self, t: int) -> np.ndarray:
        v = int(self.order[t])
        p = int(self.parent[v])
        n = len(self.out)
        row = int(self.leaf_row[v])
        if row >= 0:  # a leaf: weights over the parent's states, the edge folded in its table
            w = exact_rows(renorm_rows(self.out[:, p] * self.up[:, p]))
            table = self.leaf_cum[row]
        else:
            if p < 0:
                self.out[:, v] = self.prior.astype(np.uint64)[None, :]
            else:
                tmp = renorm_rows(self.out[:, p] * self.up[:, p])
                self.out[:, v] = renorm_rows((tmp[:, :, None] * self.edges[v][None]).sum(axis=1))
            w = exact_rows(self.out[:, v])
            table = self.cum[v]
        f = mixed_cdf(w, table, int(self.cats[v]))
        freqs = np.zeros((n, self.width), np.int64)
        freqs[:, : int(self.cats[v])] = np.diff(f, axis=1)
        return freqs

    def observe(self, t: int, values: np.ndarray) -> None:
        v = int(self.order[t])
        x = np.asarray(values, dtype=np.int64)
        leaf = self.cum[v][x + 1].astype(np.int64) - self.cum[v][x].astype(np.int64)
        self.up[:, v] = renorm_rows(leaf.astype(np.uint64) + _U(1))
        for c in self.idx[self.ptr[v] : self.ptr[v + 1]]:
            p = int(self.parent[c])
            m = renorm_rows((self.edges[c][None] * self.up[:, c][:, None, :]).sum(axis=2))
            self.up[:, p] = renorm_rows(self.up[:, p] * m)


class ReferenceModel:
    """A quantised circuit whose coder is the numpy reference (no fused kernel): the records
    pipeline's generic path with :class:`ReferenceWalker`."""

    def __init__(self, model):
        self.model = model

    def __getattr__(self, name):
        if name in ("encode_blocks", "decode_blocks"):
            raise AttributeError(name)
        return getattr(self.model, name)

    def walker(self, n: int) -> ReferenceWalker:
        return ReferenceWalker(self.model, n)
