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


def naive_conditionals(circuit: Circuit, x: np.ndarray, order: np.ndarray) -> np.ndarray:
    """P(x_t = c | x_<t) by one full up-and-down marginal pass per variable.

    The posterior of Z_v given the variables coded before it, times the leaf table of X_v.
    Returns probabilities of shape (N, D, C) in coding order ``order``; O(D) passes of O(D).
    """
    n, d = x.shape
    out = np.zeros((n, d, circuit.leaves.shape[1]))
    seen = np.zeros((n, d), dtype=bool)
    for t, v in enumerate(order):
        _, post = circuit.posteriors(x, seen)
        out[:, t] = post[v] @ circuit.leaves[v].T
        seen[:, v] = True
    return out
