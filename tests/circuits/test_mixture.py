import itertools

import numpy as np
import pytest
from conftest import random_circuit
from hypothesis import given
from hypothesis import strategies as st

from latentzip.circuits import HCLTConfig
from latentzip.circuits.anyorder import AnyOrderConditionals
from latentzip.circuits.codec import CodecConfig, compress, decompress
from latentzip.circuits.mixture import HCLTMixture, MixtureCircuit, MixtureConfig
from latentzip.circuits.reference import brute_force_prob, naive_conditionals
from latentzip.coding import modelfile
from latentzip.data import load_digits


def random_mixture(d, k, c, m, seed) -> MixtureCircuit:
    rng = np.random.default_rng(seed)
    parts = tuple(random_circuit(d, k, c, seed=seed * 31 + i) for i in range(m))
    order = parts[0].tree.order if seed % 2 else rng.permutation(d)  # also a foreign order
    return MixtureCircuit(rng.dirichlet(np.ones(m)), parts, np.asarray(order, np.int64))


@given(d=st.integers(1, 7), k=st.integers(1, 4), c=st.integers(1, 5), seed=st.integers(0, 999))
def test_any_order_walker_equals_the_naive_full_pass(d, k, c, seed):
    circuit = random_circuit(d, k, c, seed=seed)
    rng = np.random.default_rng(seed)
    x = rng.integers(0, c, (4, d))
    order = rng.permutation(d)
    walk = AnyOrderConditionals(circuit, len(x), order)
    got = np.zeros((len(x), d, circuit.leaves.shape[1]))
    for t, v in enumerate(order):
        got[:, t] = walk.predict(t)
        walk.observe(t, x[:, v])
    np.testing.assert_allclose(got, naive_conditionals(circuit, x, order), atol=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_mixture_conditionals_equal_brute_force(seed):
    mix = random_mixture(4, 2, 3, 3, seed)
    x = np.random.default_rng(seed).integers(0, 3, (5, 4))
    walk = mix.walker(len(x))
    seen = np.zeros_like(x, dtype=bool)
    for t, v in enumerate(mix.order):
        got = walk.predict_probs(t)
        for value in range(3):
            probe = x.copy()
            probe[:, v] = value
            with_v = seen.copy()
            with_v[:, v] = True
            num = sum(w * brute_force_prob(c, probe, with_v)
                      for w, c in zip(mix.weights, mix.components, strict=True))  # fmt: skip
            den = sum(w * brute_force_prob(c, x, seen)
                      for w, c in zip(mix.weights, mix.components, strict=True))  # fmt: skip
            np.testing.assert_allclose(got[:, value], num / den, rtol=1e-9)
        walk.predict(t)  # the coder's call, then observe
        walk.observe(t, x[:, v])
        seen[:, v] = True


@given(
    n=st.integers(1, 30),
    d=st.integers(1, 9),
    k=st.integers(1, 3),
    c=st.integers(1, 6),
    m=st.integers(1, 4),
    block=st.integers(1, 9),
    seed=st.integers(0, 10**6),
)
def test_mixture_round_trip_is_exact(n, d, k, c, m, block, seed):
    mix = random_mixture(d, k, c, m, seed)
    x = np.random.default_rng(seed).integers(0, c, (n, d)).astype(np.uint8)
    blob = compress(x, mix, CodecConfig(block_size=block, batch_size=2 * block))
    assert np.array_equal(decompress(blob, mix), x)


@pytest.fixture(scope="module")
def digits_mixture():
    x = load_digits().data
    cfg = MixtureConfig(3, HCLTConfig.quick(epochs=2, full_batch_epochs=1))
    return HCLTMixture(cfg).fit(x[:1200], 17, progress=False), x[1200:]


def test_trained_mixture_codes_near_its_likelihood_and_has_own_trees(digits_mixture):
    model, test = digits_mixture
    trees = [c.tree.parent.tolist() for c in model.mixture_.components]
    assert len({tuple(t) for t in trees}) == 3  # each component learned its own tree
    blob = compress(test, model, CodecConfig(block_size=64))
    assert np.array_equal(decompress(blob, model), test)
    ideal = -model.score_samples(test).sum() / np.log(2)
    assert ideal <= 8 * len(blob) <= 1.03 * ideal + 8 * 400  # header and index included


def test_full_batch_mixture_em_never_lowers_the_likelihood():
    x = load_digits().data[:300]
    cfg = MixtureConfig(2, HCLTConfig.quick(epochs=0, full_batch_epochs=4, pseudocount=0.0))
    model = HCLTMixture(cfg).fit(x, 17, progress=False)
    lls = [h["train_ll"] for h in model.history_]
    assert all(b >= a - 1e-9 for a, b in itertools.pairwise(lls))


def test_saved_mixture_loads_through_the_registry_and_the_cli(digits_mixture, tmp_path):
    from latentzip.cli import main

    model, test = digits_mixture
    path = model.save(tmp_path / "mix.model")
    loaded, _ = modelfile.load(path)
    assert isinstance(loaded, MixtureCircuit) and loaded.fingerprint == model.mixture_.fingerprint
    again = HCLTMixture.load(path)
    np.testing.assert_allclose(again.score_samples(test), model.score_samples(test))
    src = tmp_path / "test.npy"
    np.save(src, test.reshape(-1, 8, 8).astype(np.uint8))
    lz, back = tmp_path / "t.lz", tmp_path / "back.npy"
    assert main(["compress", str(src), "-m", str(path), "-o", str(lz)]) == 0
    assert main(["info", str(lz)]) == 0
    assert main(["decompress", str(lz), "-m", str(path), "-o", str(back)]) == 0
    assert back.read_bytes() == src.read_bytes()


def test_sampling_follows_the_weights(digits_mixture):
    model, _ = digits_mixture
    s = model.sample(50, random_state=0)
    assert s.shape == (50, 64) and s.max() <= 16
