"""Brute-force references for tests: exact sums over every latent and observed assignment.

Exponential in D; only for tiny circuits. The fast passes in :mod:`circuit` are checked
against these.
"""

from __future__ import annotations

import itertools

import numpy as np

from latentzip.circuits.circuit import Circuit


def joint_latent_weights(circuit: Circuit) -> tuple[np.ndarray, np.ndarray]:
    """All latent assignments ``z`` (K**D, D) and their probabilities P(z) (K**D,)."""
    d, k = circuit.n_variables, circuit.n_latents
    z = np.array(list(itertools.product(range(k), repeat=d)), dtype=np.int64)
    parent = circuit.tree.parent
    weight = circuit.prior[z[:, circuit.tree.root]].copy()
    for v in range(d):
        if parent[v] >= 0:
            weight *= circuit.edges[v, z[:, parent[v]], z[:, v]]
    return z, weight


def brute_force_prob(circuit: Circuit, x: np.ndarray, evidence: np.ndarray | None = None):
    """P(x restricted to evidence) for each row of ``x`` by summing over every latent state."""
    z, weight = joint_latent_weights(circuit)
    out = np.empty(len(x))
    for i, row in enumerate(x):
        term = weight.copy()
        for v in range(circuit.n_variables):
            if evidence is None or evidence[i, v]:
                term *= circuit.leaves[v, row[v], z[:, v]]
        out[i] = term.sum()
    return out


def all_assignments(n_categories: np.ndarray) -> np.ndarray:
    """Every joint assignment of variables with the given category counts."""
    return np.array(list(itertools.product(*[range(int(c)) for c in n_categories])))


class NaiveConditionals:
    """Same interface as :class:`~latentzip.circuits.incremental.IncrementalConditionals`, but
    every prediction is a full up-and-down marginal pass with the variables seen so far as
    evidence: O(D * K^2) per variable, O(D^2 * K^2) per record. The reference for tests and
    for the scaling benchmark.
    """

    def __init__(self, circuit: Circuit, n: int):
        self.circuit = circuit
        self.order = circuit.tree.order
        self._x = np.zeros((n, circuit.n_variables), dtype=np.int64)
        self._seen = np.zeros((n, circuit.n_variables), dtype=bool)

    def predict(self, t: int) -> np.ndarray:
        v = self.order[t]
        _, post = self.circuit.posteriors(self._x, self._seen)
        return post[v] @ self.circuit.leaves[v].T

    def observe(self, t: int, values: np.ndarray) -> None:
        v = self.order[t]
        self._x[:, v] = values
        self._seen[:, v] = True


def naive_conditionals(circuit: Circuit, x: np.ndarray, order: np.ndarray) -> np.ndarray:
    """P(x_t = c | x_<t) for known records ``x``: (N, D, C) in coding order ``order``."""
    walk = NaiveConditionals(circuit, len(x))
    walk.order = order
    out = np.zeros((len(x), len(order), circuit.leaves.shape[1]))
    for t, v in enumerate(order):
        out[:, t] = walk.predict(t)
        walk.observe(t, x[:, v])
    return out
