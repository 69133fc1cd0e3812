"""Expectation-maximisation for HCLT parameters.

Mini-batch EM with a step size (Peharz et al., "Einsum Networks", ICML 2020; Liu et al.,
"Scaling Up Probabilistic Circuits by Latent Variable Distillation", ICLR 2023): after each
batch, theta <- (1 - a) theta + a theta_batch, where theta_batch maximises the batch's expected
complete-data likelihood. Full-batch EM sums counts over the whole data set first; it never
decreases the training likelihood when the pseudocount is zero.
"""

from __future__ import annotations

import numpy as np

from latentzip.circuits.circuit import Circuit
from latentzip.circuits.structure import Tree, chow_liu_tree


def normalise(counts: np.ndarray, pseudocount: float, support: np.ndarray | None = None):
    """Counts -> probabilities along the last axis, with ``pseudocount`` spread over the support.

    ``support`` (broadcastable bool) marks the entries that may be non-zero; the others stay 0.
    """
    if support is None:
        support = np.ones(counts.shape[-1], dtype=bool)
    size = support.sum(-1, keepdims=True)
    smoothed = np.where(support, counts + pseudocount / size, 0.0)
    total = smoothed.sum(-1, keepdims=True)
    # a distribution with no mass (a state no record visits) falls back to uniform
    smoothed = np.where(total > 0, smoothed, np.where(support, 1.0, 0.0))
    return smoothed / np.where(total > 0, total, size)


def maximise(circuit: Circuit, counts: tuple[np.ndarray, ...], pseudocount: float):
    """The M-step: new (prior, edges, leaves) from expected counts."""
    prior_counts, edge_counts, leaf_counts = counts
    support = leaf_support(circuit.n_categories, circuit.leaves.shape[1])
    leaves = normalise(leaf_counts.transpose(0, 2, 1), pseudocount, support[:, None, :])
    edges = normalise(edge_counts, pseudocount, circuit.edges > 0)  # pruned entries stay 0
    edges[circuit.tree.root] = np.eye(circuit.n_latents)  # unused; kept a valid table
    return normalise(prior_counts, pseudocount), edges, leaves.transpose(0, 2, 1).copy()


def leaf_support(n_categories: np.ndarray, width: int) -> np.ndarray:
    """(D, C) bool: which values each variable can take."""
    return np.arange(width)[None, :] < np.asarray(n_categories)[:, None]


def value_counts(x: np.ndarray, n_categories: np.ndarray) -> np.ndarray:
    """(D, C) how often each variable takes each value; partitions' counts add up."""
    d, width = x.shape[1], int(np.max(n_categories))
    flat = (np.arange(d) * width + x).ravel()
    return np.bincount(flat, minlength=d * width).reshape(d, width).astype(np.float64)


def initial_circuit(
    tree: Tree,
    counts: np.ndarray,
    n_categories: np.ndarray,
    n_latents: int,
    rng: np.random.Generator,
    noise: float = 0.5,
) -> Circuit:
    """Random start from the data's :func:`value_counts` (D, C).

    Random edges; leaves = smoothed data marginals times multiplicative noise. Starting every
    latent state near the marginal (instead of uniformly at random) avoids dead states; the
    noise breaks the symmetry between states.
    """
    d, k = counts.shape[0], n_latents
    width = counts.shape[1]
    support = leaf_support(n_categories, width)
    marg = normalise(counts, 1.0, support)
    leaves = marg[:, :, None] * np.exp(noise * rng.standard_normal((d, width, k)))
    leaves = normalise(leaves.transpose(0, 2, 1), 0.0, support[:, None, :]).transpose(0, 2, 1)
    edges = normalise(np.exp(noise * rng.standard_normal((d, k, k))) + 4 * np.eye(k), 0.0)
    edges[tree.root] = np.eye(k)
    prior = np.full(k, 1.0 / k)
    return Circuit(tree, prior, edges, np.ascontiguousarray(leaves), n_categories.copy())


def start(
    mi: np.ndarray,
    counts: np.ndarray,
    n_categories: np.ndarray,
    n_latents: int,
    rng: np.random.Generator,
) -> Circuit:
    """The circuit EM starts from: Chow-Liu tree of the mutual information ``mi`` (D, D) and
    :func:`initial_circuit` from the :func:`value_counts` ``counts`` (D, C).

    Statistics may come from one process or be summed over shards (both are additive)."""
    return initial_circuit(chow_liu_tree(mi), counts, n_categories, n_latents, rng)


def blend(circuit: Circuit, new: tuple[np.ndarray, ...], step: float) -> Circuit:
    """Circuit with parameters (1 - step) * old + step * new (a mini-batch EM update)."""
    old = (circuit.prior, circuit.edges, circuit.leaves)
    prior, edges, leaves = ((1 - step) * o + step * n for o, n in zip(old, new, strict=True))
    return Circuit(circuit.tree, prior, edges, leaves, circuit.n_categories)


def replace(circuit: Circuit, new: tuple[np.ndarray, ...]) -> Circuit:
    return Circuit(circuit.tree, *new, circuit.n_categories)
