import numpy as np
import pytest
from conftest import random_circuit

from latentzip.circuits import HCLT, HCLTConfig, em
from latentzip.data import load_digits
from latentzip.errors import DataError, ModelError


def full_batch_step(circuit, x, pseudocount=0.0):
    ll, counts = circuit.expected_counts(x)
    return em.replace(circuit, em.maximise(circuit, counts, pseudocount)), ll


def test_full_batch_em_never_decreases_training_likelihood():
    truth = random_circuit(7, 3, 4, seed=5, concentration=0.3)
    x = truth.sample(3000, np.random.default_rng(0))
    rng = np.random.default_rng(1)
    circuit = em.initial_circuit(
        truth.tree, em.value_counts(x, truth.n_categories), truth.n_categories, 3, rng
    )
    lls = []
    for _ in range(25):
        circuit, ll = full_batch_step(circuit, x)
        lls.append(ll)
    assert np.all(np.diff(lls) >= -1e-9 * abs(lls[0])), np.diff(lls).min()
    assert lls[-1] > lls[0] + 100  # it also learns something


def test_expected_counts_add_up_to_the_number_of_records(small_circuit):
    x = small_circuit.sample(200, np.random.default_rng(0))
    _, (prior, edges, leaves) = small_circuit.expected_counts(x)
    assert prior.sum() == pytest.approx(200)
    assert edges.sum() == pytest.approx(200 * (small_circuit.n_variables - 1))
    assert leaves.sum() == pytest.approx(200 * small_circuit.n_variables)
    np.testing.assert_allclose(leaves.sum(axis=(1, 2)), 200)


def test_fit_is_deterministic_and_learns_digits():
    x = load_digits().data
    cfg = HCLTConfig.quick(epochs=2, full_batch_epochs=1)
    a = HCLT(cfg).fit(x[:1000], 17, progress=False)
    b = HCLT(cfg).fit(x[:1000], 17, progress=False)
    assert a.fingerprint == b.fingerprint
    assert a.bits_per_dim(x[1000:]) < 2.6  # zstd -19 gets ~2.9 on these
    assert a.history_[-1]["phase"] == "full-batch"


def test_checkpoint_resume_gives_the_uninterrupted_result(tmp_path, monkeypatch):
    x = load_digits().data[:600]
    cfg = HCLTConfig.quick(epochs=3, full_batch_epochs=1)
    full = HCLT(cfg).fit(x, 17, progress=False)
    ckpt = tmp_path / "state.npz"
    original = HCLT._minibatch_epoch
    calls = []

    def interrupted(self, *args):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return original(self, *args)

    monkeypatch.setattr(HCLT, "_minibatch_epoch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        HCLT(cfg).fit(x, 17, checkpoint=ckpt, progress=False)
    monkeypatch.setattr(HCLT, "_minibatch_epoch", original)
    resumed = HCLT(cfg).fit(x, 17, checkpoint=ckpt, progress=False)
    assert [h["epoch"] for h in resumed.history_] == [1, 2, 3, 4]
    assert resumed.fingerprint == full.fingerprint
    with pytest.raises(ModelError, match="other data"):
        HCLT(cfg).fit(x[:500], 17, checkpoint=ckpt, progress=False)


def test_fit_rejects_bad_data():
    with pytest.raises(DataError, match="empty"):
        HCLT().fit(np.zeros((0, 4), dtype=np.uint8))
    with pytest.raises(DataError, match="dtype"):
        HCLT().fit(np.random.default_rng(0).random((10, 4)))
    with pytest.raises(DataError, match="outside"):
        HCLT().fit(np.full((10, 4), 9), n_categories=4)
    with pytest.raises(ModelError, match="not fitted"):
        HCLT().score(np.zeros((1, 4), dtype=np.int64))


def test_weighted_counts_equal_counts_of_repeated_records():
    c = random_circuit(5, 3, 4, seed=3)
    x = np.random.default_rng(0).integers(0, 4, (6, 5))
    w = np.array([1.0, 2.0, 0.0, 3.0, 1.0, 1.0])
    ll, counts = c.expected_counts(x, w)
    ll_rep, counts_rep = c.expected_counts(np.repeat(x, w.astype(int), axis=0))
    assert np.isclose(ll, ll_rep)
    for a, b in zip(counts, counts_rep, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-10)
