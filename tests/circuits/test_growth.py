"""Pruning by flow and growing by duplication (Sparse PC on HCLT edges)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import random_circuit

from latentzip.circuits.codec import CodecConfig, compress, decompress
from latentzip.circuits.engine import NumpyEngine, TorchEngine
from latentzip.circuits.growth import grow, prune


def test_growing_without_noise_keeps_the_distribution():
    c = random_circuit(7, 3, 5, seed=1)
    x = np.random.default_rng(0).integers(0, 5, (50, 7))
    grown = grow(c, noise=0.0, rng=np.random.default_rng(0))
    assert grown.n_latents == 6
    grown.check()
    np.testing.assert_allclose(grown.log_prob(x), c.log_prob(x), rtol=1e-12, atol=1e-12)
    noisy = grow(c, noise=0.3, rng=np.random.default_rng(0))
    noisy.check()
    assert not np.allclose(noisy.log_prob(x), c.log_prob(x))


@pytest.mark.parametrize("fraction", [0.0, 0.3, 0.9, 0.99])
def test_pruning_keeps_a_valid_circuit_with_an_edge_per_sum_node(fraction):
    c = random_circuit(8, 4, 3, seed=2)
    x = c.sample(300, np.random.default_rng(1))
    flows = c.expected_counts(x)[1][1]
    p = prune(c, flows, fraction)
    p.check()
    child = p.tree.parent >= 0
    assert ((p.edges[child] > 0).sum(-1) >= 1).all()
    zeros = (p.edges[child] == 0).mean()
    assert zeros <= fraction + 1e-9 and (fraction < 0.5 or zeros > 0.3)
    assert np.isfinite(p.log_prob(x)).all()


@pytest.mark.parametrize("engine", [NumpyEngine, TorchEngine])
def test_em_keeps_pruned_edges_at_zero(engine):
    c = random_circuit(6, 4, 3, seed=3)
    x = c.sample(200, np.random.default_rng(2))
    p = prune(c, c.expected_counts(x)[1][1], 0.5)
    eng = engine()
    eng.load(p)
    for _ in range(3):
        eng.update(eng.counts(x)[1], pseudocount=0.1)
    trained = eng.circuit()
    child = p.tree.parent >= 0
    assert np.array_equal(trained.edges[child] == 0, p.edges[child] == 0)
    trained.check(atol=1e-5)


def test_pruned_and_grown_models_round_trip_through_the_coder():
    c = random_circuit(9, 3, 6, seed=4)
    x = c.sample(60, np.random.default_rng(3)).astype(np.uint8)
    model = grow(prune(c, c.expected_counts(x)[1][1], 0.6), 0.2, np.random.default_rng(0))
    blob = compress(x, model, CodecConfig(block_size=16, embed_model=True))
    assert np.array_equal(decompress(blob), x)


def test_sparse_fit_grows_k_and_keeps_learning():
    from latentzip.circuits import HCLTConfig
    from latentzip.circuits.growth import fit_sparse
    from latentzip.data import load_digits

    x = load_digits().data[:500]
    cfg = HCLTConfig.quick(n_latents=4, epochs=2, full_batch_epochs=1)
    model = fit_sparse(x, 17, cfg, rounds=1, prune_fraction=0.5, noise=0.1, progress=False)
    assert model.circuit_.n_latents == 8
    assert [h["round"] for h in model.history_] == [0, 0, 0, 1, 1, 1]
    assert model.history_[-1]["train_ll"] > model.history_[2]["train_ll"]
    model.circuit_.check()
