import numpy as np
import pytest
from conftest import random_circuit

from latentzip.circuits import HCLT, HCLTConfig, io
from latentzip.data import load_digits
from latentzip.errors import ModelError


def test_save_load_round_trip_keeps_fingerprint(tmp_path):
    x = load_digits().data[:300]
    model = HCLT(HCLTConfig.quick(epochs=1, full_batch_epochs=0)).fit(x, 17, progress=False)
    path = model.save(tmp_path / "m.npz")
    again = HCLT.load(path)
    assert again.fingerprint == model.fingerprint
    assert again.config == model.config
    np.testing.assert_array_equal(again.score_samples(x), model.score_samples(x))


def test_fingerprint_changes_with_any_parameter():
    c = random_circuit(5, 2, 3, seed=0)
    leaves = c.leaves.copy()
    leaves[2, 0, 1] = np.nextafter(leaves[2, 0, 1], 1)
    other = io.Circuit(c.tree, c.prior, c.edges, leaves, c.n_categories)
    assert io.fingerprint(c) != io.fingerprint(other)


def test_corrupted_model_file_is_refused(tmp_path):
    c = random_circuit(5, 2, 3, seed=0)
    blob = io.to_bytes(c)
    rng = np.random.default_rng(0)
    for pos in rng.choice(len(blob), 40, replace=False):
        bad = bytearray(blob)
        bad[pos] ^= 0x5A
        with pytest.raises(ModelError):
            io.from_bytes(bytes(bad))
    for cut in (0, 10, len(blob) // 2, len(blob) - 1):
        with pytest.raises(ModelError):
            io.from_bytes(blob[:cut])
    with pytest.raises(ModelError, match="cannot read"):
        io.load(tmp_path / "missing.npz")


def test_invalid_parameters_are_refused():
    c = random_circuit(4, 2, 3, seed=0)
    bad = io.Circuit(c.tree, c.prior * 2, c.edges, c.leaves, c.n_categories)
    with pytest.raises(ModelError, match="prior"):
        bad.check()
