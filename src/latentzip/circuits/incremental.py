"""Incremental conditionals P(x_v | variables coded before v) for HCLT coding.

Variables are coded in depth-first pre-order of the tree. Two messages per variable, per
record, carry everything needed:

* ``out[v]`` = P(Z_v | evidence outside v's subtree): fixed once v is reached, because the
  subtree is contiguous in pre-order, so no evidence outside it arrives while it is coded;
* ``up[v]``  = P(x_v | Z_v) times the messages of v's children whose subtrees are complete.

Coding v: ``out[v] = normalise((out[p] * up[p]) @ edges[v])`` for its parent p, then
P(x_v | x_<v) = ``leaves[v] @ out[v]``. After x_v is known, ``up[v]`` is its leaf column,
and every subtree that ends at v is folded into its parent's ``up``. Only messages on the path
that x_v changes are recomputed: each variable costs O(K^2 + K*C) amortised, against a full
O(D * K^2) marginal pass per variable in :func:`reference.naive_conditionals`.

The kernels are sequential loops compiled by numba without fast-math, one record per thread,
so every number depends only on that record: not on the batch, thread count, or SIMD width.
"""

from __future__ import annotations

import numba
import numpy as np

from latentzip.circuits.circuit import Circuit


@numba.njit(parallel=True, cache=True)
def _predict(v, p, prior, edges, leaves_t, n_valid, out, up, probs):
    # edges[v, a, j] = P(Z_v = j | Z_p = a); leaves_t[v, j, c] = P(X_v = c | Z_v = j).
    # Inner loops run over contiguous, independent outputs (they vectorise); every sum is
    # accumulated in the same fixed order, whatever the batch or the machine.
    n, _, k = out.shape
    for r in numba.prange(n):
        o = out[r, v]
        if p < 0:
            for j in range(k):
                o[j] = prior[j]
        else:
            for j in range(k):
                o[j] = 0.0
            for a in range(k):
                w = out[r, p, a] * up[r, p, a]
                for j in range(k):
                    o[j] += w * edges[v, a, j]
        s = 0.0
        for j in range(k):
            s += o[j]
        for j in range(k):
            o[j] /= s
        row = probs[r]
        for c in range(row.shape[0]):
            row[c] = 0.0
        for j in range(k):
            oj = o[j]
            for c in range(n_valid):
                row[c] += oj * leaves_t[v, j, c]


@numba.njit(parallel=True, cache=True)
def _observe(v, values, close, parent, edges_t, leaves_t, up, scratch):
    # edges_t[w, j, a] = P(Z_w = j | Z_parent = a): the message to the parent is a sum over j.
    n, _, k = up.shape
    for r in numba.prange(n):
        x = values[r]
        for j in range(k):
            up[r, v, j] = leaves_t[v, j, x]
        m = scratch[r]
        for i in range(close.shape[0]):
            w = close[i]
            p = parent[w]
            for a in range(k):
                m[a] = 0.0
            for j in range(k):
                uj = up[r, w, j]
                for a in range(k):
                    m[a] += edges_t[w, j, a] * uj
            s = 0.0
            for a in range(k):
                up[r, p, a] *= m[a]
                s += up[r, p, a]
            for a in range(k):
                up[r, p, a] /= s


class IncrementalConditionals:
    """Walks the variables of ``circuit`` in coding order for a batch of ``n`` records.

    Call :meth:`predict` for position t, then :meth:`observe` with the values of that
    variable, for t = 0 .. D-1 in order.

    Examples
    --------
    >>> import numpy as np
    >>> from latentzip.circuits import em
    >>> from latentzip.circuits.structure import Tree
    >>> rng = np.random.default_rng(0)
    >>> x = rng.integers(0, 3, (4, 5))
    >>> tree = Tree.from_parent(np.array([-1, 0, 0, 1, 1]))
    >>> cats = np.full(5, 3)
    >>> c = em.initial_circuit(tree, em.value_counts(x, cats), cats, 2, rng)
    >>> walk = IncrementalConditionals(c, len(x))
    >>> p = walk.predict(0)
    >>> bool(np.allclose(p.sum(1), 1))
    True
    """

    def __init__(self, circuit: Circuit, n: int):
        tree = circuit.tree
        self.circuit = circuit
        self.order = tree.order
        d, k = circuit.n_variables, circuit.n_latents
        self._out = np.zeros((n, d, k))
        self._up = np.ones((n, d, k))
        self._probs = np.zeros((n, circuit.leaves.shape[1]))
        self._scratch = np.empty((n, k))  # per-record message buffer of the kernels
        self._prior = np.ascontiguousarray(circuit.prior, dtype=np.float64)
        self._edges = np.ascontiguousarray(circuit.edges, dtype=np.float64)
        self._edges_t = np.ascontiguousarray(self._edges.transpose(0, 2, 1))
        self._leaves_t = np.ascontiguousarray(circuit.leaves.transpose(0, 2, 1), dtype=np.float64)
        self._close = _closing_lists(tree.parent, tree.order, tree.subtree_end())
        self._next = 0

    def predict(self, t: int) -> np.ndarray:
        """P(x_v = c | x_<v) for v = order[t], shape (n, C); a view, valid until the next call."""
        if t != self._next:
            raise RuntimeError(f"positions must be visited in order: expected {self._next}")
        v = int(self.order[t])
        p = int(self.circuit.tree.parent[v])
        _predict(
            v,
            p,
            self._prior,
            self._edges,
            self._leaves_t,
            int(self.circuit.n_categories[v]),
            self._out,
            self._up,
            self._probs,
        )
        return self._probs

    def observe(self, t: int, values: np.ndarray) -> None:
        """Condition on x_v = ``values`` (n,) for v = order[t]."""
        v = int(self.order[t])
        _observe(
            v,
            np.ascontiguousarray(values, dtype=np.int64),
            self._close[t],
            self.circuit.tree.parent,
            self._edges_t,
            self._leaves_t,
            self._up,
            self._scratch,
        )
        self._next = t + 1

    def conditionals(self, x: np.ndarray) -> np.ndarray:
        """All conditionals for known records ``x`` (n, D): (n, D, C) in coding order."""
        out = np.empty((x.shape[0], len(self.order), self._probs.shape[1]))
        for t, v in enumerate(self.order):
            out[:, t] = self.predict(t)
            self.observe(t, x[:, v])
        return out


def _closing_lists(parent: np.ndarray, order: np.ndarray, end: np.ndarray) -> list[np.ndarray]:
    """For each position t: variables whose subtrees end at t, deepest first (root excluded)."""
    lists: list[list[int]] = [[] for _ in order]
    for t in range(len(order) - 1, -1, -1):
        v = int(order[t])
        if parent[v] >= 0:
            lists[int(end[t]) - 1].append(v)
    return [
        np.asarray(sorted(ls, key=lambda w: -_depth(parent, w)), dtype=np.int64) for ls in lists
    ]


def _depth(parent: np.ndarray, v: int) -> int:
    d = 0
    while parent[v] >= 0:
        v, d = int(parent[v]), d + 1
    return d
