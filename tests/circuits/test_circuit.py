import numpy as np
import pytest
from conftest import random_circuit

from latentzip.circuits.reference import all_assignments, brute_force_prob
from latentzip.errors import DataError, ModelError


def test_log_prob_matches_brute_force_enumeration(small_circuit):
    x = all_assignments(small_circuit.n_categories)
    log_p, _, _ = small_circuit.upward(x)
    np.testing.assert_allclose(np.exp(log_p), brute_force_prob(small_circuit, x), rtol=1e-12)


def test_probabilities_of_all_assignments_sum_to_one(small_circuit):
    log_p, _, _ = small_circuit.upward(all_assignments(small_circuit.n_categories))
    assert np.exp(log_p).sum() == pytest.approx(1.0, abs=1e-12)


def test_marginal_equals_explicit_sum_over_left_out_variables(small_circuit):
    x = all_assignments(small_circuit.n_categories)
    keep = np.array([True, False, True, True, False, True])
    evidence = np.broadcast_to(keep, x.shape)
    log_marg, _, _ = small_circuit.upward(x, evidence)
    joint = brute_force_prob(small_circuit, x)
    # explicit sum: group full assignments by their observed part
    keys = [tuple(row[keep]) for row in x]
    sums: dict[tuple, float] = {}
    for key, p in zip(keys, joint, strict=True):
        sums[key] = sums.get(key, 0.0) + p
    np.testing.assert_allclose(np.exp(log_marg), [sums[k] for k in keys], rtol=1e-12)


def test_mixed_category_counts_and_random_evidence():
    circuit = random_circuit(5, 2, np.array([2, 3, 4, 2, 3]), seed=3)
    x = all_assignments(circuit.n_categories)
    assert np.exp(circuit.upward(x)[0]).sum() == pytest.approx(1.0, abs=1e-12)
    ev = np.random.default_rng(0).random(x.shape) < 0.5
    np.testing.assert_allclose(
        np.exp(circuit.upward(x, ev)[0]), brute_force_prob(circuit, x, ev), rtol=1e-12
    )


def test_posteriors_are_normalised_and_match_brute_force(small_circuit):
    x = all_assignments(small_circuit.n_categories)[::37]
    _, post = small_circuit.posteriors(x)
    np.testing.assert_allclose(post.sum(-1), 1.0, atol=1e-12)
    # P(Z_v = k | x) by brute force for one variable
    from latentzip.circuits.reference import joint_latent_weights

    z, w = joint_latent_weights(small_circuit)
    v = 2
    for i, row in enumerate(x[:5]):
        term = w.copy()
        for u in range(small_circuit.n_variables):
            term *= small_circuit.leaves[u, row[u], z[:, u]]
        expected = np.bincount(z[:, v], weights=term, minlength=3) / term.sum()
        np.testing.assert_allclose(post[v, i], expected, rtol=1e-10)


def test_sampling_follows_the_distribution(small_circuit):
    rng = np.random.default_rng(0)
    samples = small_circuit.sample(40_000, rng)
    # marginal of one variable against the exact marginal
    v = 4
    ev = np.zeros((4, 6), dtype=bool)
    ev[:, v] = True
    probe = np.zeros((4, 6), dtype=np.int64)
    probe[:, v] = np.arange(4)
    exact = np.exp(small_circuit.upward(probe, ev)[0])
    freq = np.bincount(samples[:, v], minlength=4) / len(samples)
    np.testing.assert_allclose(freq, exact, atol=0.01)


def test_bad_input_is_refused(small_circuit):
    with pytest.raises(DataError, match="empty"):
        small_circuit.validate(np.zeros((0, 6), dtype=np.int64))
    with pytest.raises(DataError, match="dtype"):
        small_circuit.validate(np.zeros((2, 6), dtype=np.float32))
    with pytest.raises(DataError, match="outside"):
        small_circuit.validate(np.full((2, 6), 4))
    with pytest.raises(DataError, match="outside"):
        small_circuit.validate(np.full((2, 6), -1))
    with pytest.raises(ModelError, match="variables"):
        small_circuit.validate(np.zeros((2, 5), dtype=np.int64))
