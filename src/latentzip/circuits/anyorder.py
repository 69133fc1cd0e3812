"""Conditionals of an HCLT in any coding order: O(depth * K^2) per variable.

:mod:`.incremental` needs the tree's own pre-order. When variables arrive in another order
(a mixture whose components have different trees), each record keeps, per variable v:

* ``up[v]``  = P(x_v, if observed | Z_v) times the messages of v's children (K);
* ``msg[v]`` = the message v sends its parent: sum_j P(Z_v = j | Z_parent) up[v, j] (K).

Observing x_v refreshes ``up`` and ``msg`` on the path from v to the root. Predicting u walks
the path from the root down: each ancestor's belief without the branch towards u, pushed
through the next edge, gives P(Z_u | evidence outside u's subtree); times ``up[u]`` it is
P(Z_u | all evidence). Both walks touch depth + 1 variables, each in O(K^2 + deg K), never the
O(D K^2) of a full pass (:class:`~latentzip.circuits.reference.NaiveConditionals`, the
reference it is tested against). Unobserved subtrees send all-ones messages.

One pair of kernels serves two arithmetics, chosen by the dtype of the arrays: float64 (the
float model, leaves (D, C, K)) and uint64 in fixed point (the coder: cumulative leaf tables
(D, C+1, K) with the observed leaf + 1, renormalised by shifts after every product, see
:mod:`latentzip.coding.fixedpoint`; the latent weights come out exact, 2**16 per row).
"""

from __future__ import annotations

import numba
import numpy as np
from numba import types
from numba.extending import overload

from latentzip.circuits.circuit import Circuit
from latentzip.coding.fixedpoint import exact_weights, renorm


# ----------------------------------------------------------------------------- arithmetic
def _leaf_factor(w, x, table, vec):
    """vec = P(x_w = x | Z_w) (the leaf + 1 in fixed point), or ones for an unobserved w."""


def _normalise(vec):
    """Rescale vec in place (to sum 1, or by a power of two); an all-zero vec becomes ones:
    only for values the model gives no mass, where any fixed choice decodes identically."""


def _finish(vec, out):
    """The belief vec as written out: itself in float, exact weights in fixed point."""


@overload(_leaf_factor, inline="always")
def _leaf_factor_impl(w, x, table, vec):
    if isinstance(table.dtype, types.Float):

        def leaf(w, x, table, vec):
            for a in range(vec.shape[0]):
                vec[a] = table[w, x, a] if x >= 0 else 1.0

        return leaf

    def leaf_cum(w, x, table, vec):
        if x >= 0:
            for a in range(vec.shape[0]):
                vec[a] = np.uint64(table[w, x + 1, a] - table[w, x, a]) + np.uint64(1)
        else:
            for a in range(vec.shape[0]):
                vec[a] = np.uint64(1)

    return leaf_cum


@overload(_normalise)
def _normalise_impl(vec):
    if isinstance(vec.dtype, types.Float):

        def normalise(vec):
            s = vec.sum()
            if s > 0:
                vec /= s
            else:
                vec[:] = 1.0

        return normalise

    def shift(vec):
        renorm(vec)

    return shift


@overload(_finish)
def _finish_impl(vec, out):
    if isinstance(vec.dtype, types.Float):

        def copy(vec, out):
            out[:] = vec

        return copy

    def exact(vec, out):
        exact_weights(vec, out)

    return exact


# ----------------------------------------------------------------------------- kernels
@numba.njit(cache=True, inline="always")
def _times(vec, other):
    for a in range(vec.shape[0]):
        vec[a] *= other[a]


@numba.njit(parallel=True, cache=True)
def observe(v, values, parent, child_ptr, child_idx, edges, table, obs, up, msg):
    """Condition every record r on x_v = values[r]; up and msg refreshed up to the root.
    edges[c, a, j] = P(Z_c = j | Z_parent = a); table: leaves or cumulative leaves."""
    n, _, k = up.shape
    for r in numba.prange(n):
        obs[r, v] = values[r]
        w = v
        while True:
            _leaf_factor(w, obs[r, w], table, up[r, w])
            _normalise(up[r, w])
            for i in range(child_ptr[w], child_ptr[w + 1]):
                _times(up[r, w], msg[r, child_idx[i]])
                _normalise(up[r, w])
            p = parent[w]
            if p < 0:
                break
            for a in range(k):
                msg[r, w, a] = 0
                for j in range(k):
                    msg[r, w, a] += edges[w, a, j] * up[r, w, j]
            _normalise(msg[r, w])
            w = p


@numba.njit(parallel=True, cache=True)
def beliefs(path, prior, edges, table, child_ptr, child_idx, obs, up, msg, out):
    """P(Z_u | evidence) (n, K) for u the last variable of ``path`` (root .. u): normalised
    in float, exact weights in fixed point. Each step down leaves out the branch it takes."""
    n, _, k = up.shape
    for r in numba.prange(n):
        down = np.empty(k, up.dtype)
        belief = np.empty(k, up.dtype)
        for a in range(k):
            down[a] = prior[a]
        for step in range(len(path) - 1):
            w, nxt = path[step], path[step + 1]
            _leaf_factor(w, obs[r, w], table, belief)
            _times(belief, down)
            _normalise(belief)
            for i in range(child_ptr[w], child_ptr[w + 1]):
                c = child_idx[i]
                if c != nxt:
                    _times(belief, msg[r, c])
                    _normalise(belief)
            for j in range(k):
                down[j] = 0
            for a in range(k):
                for j in range(k):
                    down[j] += belief[a] * edges[nxt, a, j]
            _normalise(down)
        _times(down, up[r, path[len(path) - 1]])
        _normalise(down)
        _finish(down, out[r])


# ----------------------------------------------------------------------------- walkers
def path_from_root(parent: np.ndarray, v: int) -> np.ndarray:
    """Variables from the root down to ``v`` (the tree is validated: no cycles)."""
    path = [v]
    while parent[path[-1]] >= 0:
        path.append(int(parent[path[-1]]))
    return np.asarray(path[::-1], dtype=np.int64)


class TreeState:
    """Per-record messages of one tree for :func:`observe` and :func:`beliefs`, in the
    arithmetic of ``dtype`` (float64 or uint64); ``prior`` and ``edges`` are given in it too
    (no mixed signed/unsigned products inside the kernels)."""

    def __init__(self, parent: np.ndarray, n: int, k: int, order: np.ndarray, dtype):
        d = len(parent)
        self.parent = np.ascontiguousarray(parent, dtype=np.int64)
        kids = np.argsort(self.parent, kind="stable")[1:]  # the root (-1) sorts first
        self.child_idx = np.ascontiguousarray(kids, dtype=np.int64)
        counts = np.bincount(self.parent[self.parent >= 0], minlength=d)
        self.child_ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.paths = {int(v): path_from_root(self.parent, int(v)) for v in order}
        self.obs = np.full((n, d), -1, dtype=np.int64)
        self.up = np.ones((n, d, k), dtype)
        self.msg = np.ones((n, d, k), dtype)
        self.out = np.zeros((n, k), dtype)

    def observe(self, v: int, values: np.ndarray, edges: np.ndarray, table: np.ndarray) -> None:
        observe(v, np.ascontiguousarray(values, dtype=np.int64), self.parent, self.child_ptr,
                self.child_idx, edges, table, self.obs, self.up, self.msg)  # fmt: skip

    def beliefs(self, v: int, prior: np.ndarray, edges: np.ndarray, table: np.ndarray):
        """The (n, K) latent beliefs of v (valid until the next call)."""
        beliefs(self.paths[v], prior, edges, table, self.child_ptr, self.child_idx, self.obs,
                self.up, self.msg, self.out)  # fmt: skip
        return self.out


class AnyOrderConditionals:
    """P(x_v | variables observed so far) for a batch of ``n`` records, in ``order``.

    Same interface as :class:`~latentzip.circuits.incremental.IncrementalConditionals`:
    :meth:`predict` position t, then :meth:`observe` it, for t = 0 .. D-1.
    """

    def __init__(self, circuit: Circuit, n: int, order: np.ndarray):
        self.circuit, self.order = circuit, np.asarray(order, dtype=np.int64)
        self._state = TreeState(circuit.tree.parent, n, circuit.n_latents, self.order, np.float64)
        self._prior = np.ascontiguousarray(circuit.prior, dtype=np.float64)
        self._edges = np.ascontiguousarray(circuit.edges, dtype=np.float64)
        self._leaves = np.ascontiguousarray(circuit.leaves, dtype=np.float64)  # (D, C, K)
        self._next = 0

    def predict(self, t: int) -> np.ndarray:
        """P(x_v = c | observed) for v = order[t], shape (n, C)."""
        if t != self._next:
            raise RuntimeError(f"positions must be visited in order: expected {self._next}")
        v = int(self.order[t])
        belief = self._state.beliefs(v, self._prior, self._edges, self._leaves)
        probs = belief @ self._leaves[v].T
        probs[:, int(self.circuit.n_categories[v]) :] = 0.0
        return probs

    def observe(self, t: int, values: np.ndarray) -> None:
        """Condition on x_v = ``values`` (n,) for v = order[t]."""
        self._state.observe(int(self.order[t]), values, self._edges, self._leaves)
        self._next = t + 1
