"""The torch EM engine against the numpy reference (float32 tolerance; CPU only in CI)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import random_circuit

from latentzip.circuits import HCLT, HCLTConfig
from latentzip.circuits.engine import NumpyEngine, TorchEngine, engine
from latentzip.data import load_digits
from latentzip.errors import LatentzipError


@pytest.mark.parametrize("weighted", [False, True])
def test_torch_counts_equal_the_numpy_reference(weighted):
    circuit = random_circuit(9, 4, np.array([2, 5, 3, 7, 1, 4, 6, 2, 3]), seed=3)
    x = circuit.sample(200, np.random.default_rng(0))
    w = np.random.default_rng(1).random(200) if weighted else None
    ref, fast = NumpyEngine(), TorchEngine("cpu")
    ref.load(circuit)
    fast.load(circuit)
    ll_ref, c_ref = ref.counts(x, w)
    ll, c = fast.counts(x, w)
    assert ll == pytest.approx(ll_ref, rel=1e-5)
    for a, b in zip(c_ref, c, strict=True):
        np.testing.assert_allclose(b.numpy(), a, rtol=2e-4, atol=1e-3)


def test_torch_update_equals_the_numpy_reference():
    circuit = random_circuit(6, 3, 4, seed=5)
    x = circuit.sample(100, np.random.default_rng(2))
    ref, fast = NumpyEngine(), TorchEngine("cpu")
    for eng in (ref, fast):
        eng.load(circuit)
        eng.update(eng.counts(x)[1], pseudocount=0.1, step=0.3)
    a, b = ref.circuit(), fast.circuit()
    for name in ("prior", "edges", "leaves"):
        np.testing.assert_allclose(getattr(b, name), getattr(a, name), atol=1e-5)
    b.check(atol=1e-5)


def test_torch_circuit_is_renormalised_against_float32_drift():
    # a long fit's blended float32 rows drift from 1 by ~1e-5; the saved model must still load
    circuit = random_circuit(6, 3, 4, seed=5)
    eng = TorchEngine("cpu")
    eng.load(circuit)
    eng.prior, eng.edges, eng.leaves = (t * (1 + 3e-5) for t in (eng.prior, eng.edges, eng.leaves))
    back = eng.circuit()
    back.check()
    np.testing.assert_allclose(back.edges, circuit.edges, rtol=1e-6)
    assert (back.edges == 0).sum() == (circuit.edges == 0).sum()  # pruned entries stay zero


def test_fit_with_either_engine_reaches_the_same_model():
    x = load_digits().data[:600]
    cfg = HCLTConfig.quick(epochs=2, full_batch_epochs=1)
    ref = HCLT(cfg).fit(x, 17, progress=False, engine="numpy")
    fast = HCLT(cfg).fit(x, 17, progress=False, engine="torch")
    assert fast.score(x) == pytest.approx(ref.score(x), rel=1e-3)


def test_checkpoints_resume_across_engines(tmp_path, monkeypatch):
    from latentzip.circuits import hclt

    x = load_digits().data[:400]
    cfg = HCLTConfig.quick(epochs=2, full_batch_epochs=1)
    whole = HCLT(cfg).fit(x, 17, progress=False, engine="torch")
    save = hclt._save_checkpoint

    def interrupted(*args):
        save(*args)
        raise KeyboardInterrupt  # as if killed right after epoch 1 was saved

    monkeypatch.setattr(hclt, "_save_checkpoint", interrupted)
    with pytest.raises(KeyboardInterrupt):
        HCLT(cfg).fit(x, 17, progress=False, engine="torch", checkpoint=tmp_path / "c.npz")
    monkeypatch.setattr(hclt, "_save_checkpoint", save)
    resumed = HCLT(cfg).fit(x, 17, progress=False, engine="numpy", checkpoint=tmp_path / "c.npz")
    assert [h["epoch"] for h in resumed.history_] == [1, 2, 3]
    assert resumed.score(x) == pytest.approx(whole.score(x), rel=1e-3)


def test_unknown_engine_and_missing_cuda_are_clear_errors():
    with pytest.raises(LatentzipError, match="unknown EM engine"):
        engine("jax")
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(LatentzipError, match="no CUDA device"):
            engine("torch", "cuda")
