"""Conditionals of an HCLT in any coding order: O(depth * K^2) per variable.

:mod:`.incremental` needs the tree's own pre-order. When variables arrive in another order
(a mixture whose components have different trees), each record keeps, per variable v:

* ``up[v]``  = P(x_v, if observed | Z_v) times the messages of v's children (K);
* ``msg[v]`` = the message v sends its parent: sum_j P(Z_v = j | Z_parent) up[v, j] (K).

Observing x_v refreshes ``up`` and ``msg`` on the path from v to the root. Predicting u walks
the path from the root down: each ancestor's belief without the branch towards u, pushed
through the next edge, gives P(Z_u | evidence outside u's subtree); times ``up[u]`` it is
P(Z_u | all evidence), and ``leaves[u] @`` that is P(x_u | evidence). Both walks touch
depth + 1 variables, each in O(K^2 + deg K), never the O(D K^2) of a full pass
(:class:`~latentzip.circuits.reference.NaiveConditionals`, the reference it is tested against).
Unobserved subtrees send all-ones messages, so nothing needs initialising beyond ones.
"""

from __future__ import annotations

import numba
import numpy as np

from latentzip.circuits.circuit import Circuit


@numba.njit(cache=True, inline="always")
def _normalise(vec):
    s = 0.0
    for a in range(vec.shape[0]):
        s += vec[a]
    if s > 0:
        for a in range(vec.shape[0]):
            vec[a] /= s
    else:  # only for values the model gives no mass: any fixed choice decodes identically
        for a in range(vec.shape[0]):
            vec[a] = 1.0


@numba.njit(parallel=True, cache=True)
def _observe(v, values, parent, edges, leaves, child_ptr, child_idx, obs, up, msg):
    # edges[c, a, j] = P(Z_c = j | Z_parent = a); leaves[v, x, a] = P(X_v = x | Z_v = a)
    n, _, k = up.shape
    for r in numba.prange(n):
        obs[r, v] = values[r]
        w = v
        while True:
            x = obs[r, w]
            for a in range(k):
                up[r, w, a] = leaves[w, x, a] if x >= 0 else 1.0
            for i in range(child_ptr[w], child_ptr[w + 1]):
                c = child_idx[i]
                for a in range(k):
                    up[r, w, a] *= msg[r, c, a]
            _normalise(up[r, w])
            p = parent[w]
            if p < 0:
                break
            for a in range(k):
                s = 0.0
                for j in range(k):
                    s += edges[w, a, j] * up[r, w, j]
                msg[r, w, a] = s
            _normalise(msg[r, w])
            w = p


@numba.njit(parallel=True, cache=True)
def _predict(path, prior, edges, leaves_t, child_ptr, child_idx, obs, up, msg, n_valid, probs):
    # path: root .. u; belief flows down it, each step leaving out the branch it came from
    n, _, k = up.shape
    for r in numba.prange(n):
        down = np.empty(k)
        belief = np.empty(k)
        for a in range(k):
            down[a] = prior[a]
        for step in range(len(path) - 1):
            w, nxt = path[step], path[step + 1]
            x = obs[r, w]
            for a in range(k):
                belief[a] = down[a] * (leaves_t[w, a, x] if x >= 0 else 1.0)
            for i in range(child_ptr[w], child_ptr[w + 1]):
                c = child_idx[i]
                if c != nxt:
                    for a in range(k):
                        belief[a] *= msg[r, c, a]
            _normalise(belief)
            for j in range(k):
                s = 0.0
                for a in range(k):
                    s += belief[a] * edges[nxt, a, j]
                down[j] = s
        u = path[len(path) - 1]
        for a in range(k):
            down[a] *= up[r, u, a]
        _normalise(down)
        row = probs[r]
        for c in range(row.shape[0]):
            row[c] = 0.0
        for a in range(k):
            for c in range(n_valid):
                row[c] += down[a] * leaves_t[u, a, c]


class AnyOrderConditionals:
    """P(x_v | variables observed so far) for a batch of ``n`` records, in ``order``.

    Same interface as :class:`~latentzip.circuits.incremental.IncrementalConditionals`:
    :meth:`predict` position t, then :meth:`observe` it, for t = 0 .. D-1.
    """

    def __init__(self, circuit: Circuit, n: int, order: np.ndarray):
        tree = circuit.tree
        d, k = circuit.n_variables, circuit.n_latents
        self.circuit, self.order = circuit, np.asarray(order, dtype=np.int64)
        self._parent = tree.parent
        kids = np.argsort(tree.parent, kind="stable")[1:]  # the root (-1) sorts first
        self._child_idx = np.ascontiguousarray(kids, dtype=np.int64)
        counts = np.bincount(tree.parent[tree.parent >= 0], minlength=d)
        self._child_ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self._paths = [_path_from_root(tree.parent, int(v)) for v in self.order]
        self._prior = np.ascontiguousarray(circuit.prior, dtype=np.float64)
        self._edges = np.ascontiguousarray(circuit.edges, dtype=np.float64)
        self._leaves = np.ascontiguousarray(circuit.leaves, dtype=np.float64)  # (D, C, K)
        self._leaves_t = np.ascontiguousarray(self._leaves.transpose(0, 2, 1))  # (D, K, C)
        self._obs = np.full((n, d), -1, dtype=np.int64)
        self._up = np.ones((n, d, k))
        self._msg = np.ones((n, d, k))
        self._probs = np.zeros((n, circuit.leaves.shape[1]))
        self._next = 0

    def predict(self, t: int) -> np.ndarray:
        """P(x_v = c | observed) for v = order[t], shape (n, C); valid until the next call."""
        if t != self._next:
            raise RuntimeError(f"positions must be visited in order: expected {self._next}")
        v = int(self.order[t])
        _predict(
            self._paths[t],
            self._prior,
            self._edges,
            self._leaves_t,
            self._child_ptr,
            self._child_idx,
            self._obs,
            self._up,
            self._msg,
            int(self.circuit.n_categories[v]),
            self._probs,
        )
        return self._probs

    def observe(self, t: int, values: np.ndarray) -> None:
        """Condition on x_v = ``values`` (n,) for v = order[t]."""
        _observe(
            int(self.order[t]),
            np.ascontiguousarray(values, dtype=np.int64),
            self._parent,
            self._edges,
            self._leaves,
            self._child_ptr,
            self._child_idx,
            self._obs,
            self._up,
            self._msg,
        )
        self._next = t + 1


def _path_from_root(parent: np.ndarray, v: int) -> np.ndarray:
    """Variables from the root down to ``v`` (the tree is validated: no cycles)."""
    path = [v]
    while parent[path[-1]] >= 0:
        path.append(int(parent[path[-1]]))
    return np.asarray(path[::-1], dtype=np.int64)
