"""Shared fixtures: small random circuits, bundled digits, and the optional shared data."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

from latentzip.circuits import em
from latentzip.circuits.circuit import Circuit
from latentzip.circuits.structure import Tree

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
settings.register_profile("ci", max_examples=60, deadline=None)
settings.register_profile("default", max_examples=20, deadline=None)
settings.register_profile("heavy", max_examples=500, deadline=None)
settings.register_profile("long", max_examples=5000, deadline=None)  # benchmarks/fuzz.py
_profile = "ci" if os.environ.get("CI") else "default"
settings.load_profile(os.environ.get("LATENTZIP_HYPOTHESIS", _profile))


def random_tree(d: int, rng: np.random.Generator) -> Tree:
    parent = np.full(d, -1)
    perm = rng.permutation(d)
    for i in range(1, d):
        parent[perm[i]] = perm[rng.integers(0, i)]
    return Tree.from_parent(parent)


def random_circuit(
    d: int, k: int, c: int | np.ndarray, seed: int = 0, concentration: float = 1.0
) -> Circuit:
    """A circuit with Dirichlet-random parameters on a random tree."""
    rng = np.random.default_rng(seed)
    tree = random_tree(d, rng)
    cats = np.broadcast_to(np.asarray(c), (d,)).astype(np.int64)
    width = int(cats.max())
    leaves = np.zeros((d, width, k))
    for v in range(d):
        leaves[v, : cats[v]] = rng.dirichlet(np.full(cats[v], concentration), size=k).T
    edges = rng.dirichlet(np.full(k, concentration), size=(d, k))
    edges[tree.root] = np.eye(k)
    return Circuit(tree, rng.dirichlet(np.ones(k)), edges, leaves, cats)


@pytest.fixture
def small_circuit() -> Circuit:
    return random_circuit(6, 3, 4, seed=1)


def shared_file(relative: str) -> Path:
    path = SHARED / relative
    if not path.exists():
        pytest.skip(f"{path} not found: this test needs the shared data in ../shared/data")
    return path


__all__ = ["em", "random_circuit", "random_tree", "shared_file"]
