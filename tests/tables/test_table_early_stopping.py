"""HCLT.fit(valid=..., patience=...): the best epoch's parameters are kept."""

import numpy as np
import pytest

from latentzip.circuits import HCLT, HCLTConfig
from latentzip.errors import DataError, ModelError


def _data(seed, n, flip):
    rng = np.random.default_rng(seed)
    z = rng.integers(0, 2, (n, 1))
    return (z ^ (rng.random((n, 8)) < flip)).astype(np.int64)


def test_valid_keeps_the_best_epoch_and_patience_stops():
    train, valid = _data(0, 40, 0.05), _data(1, 400, 0.3)  # overfits: valid LL turns down
    cfg = HCLTConfig.quick(
        n_latents=6,
        epochs=30,
        full_batch_epochs=0,
        batch_size=8,
        step_size_start=0.5,
        step_size_end=0.5,
        pseudocount=0.0,
    )
    model = HCLT(cfg).fit(train, 2, valid=valid, patience=3, progress=False)
    lls = [h["valid_ll"] for h in model.history_]
    best = int(np.argmax(lls))
    assert model.best_epoch_ == best + 1
    assert len(lls) == best + 1 + 3 < 30  # stopped 3 epochs after the best
    assert model.score(valid) == pytest.approx(lls[best], rel=1e-12)
    assert model.score(valid) > lls[-1]

    full = HCLT(cfg).fit(train, 2, valid=valid, progress=False)  # no patience: every epoch
    assert len(full.history_) == 30 and full.best_epoch_ == best + 1
    plain = HCLT(cfg).fit(train, 2, progress=False)
    assert "valid_ll" not in plain.history_[0] and not hasattr(plain, "best_epoch_")
    assert np.allclose(
        plain.circuit_.leaves, HCLT(cfg).fit(train, 2, progress=False).circuit_.leaves
    )


def test_valid_is_checked(tmp_path):
    x = _data(0, 50, 0.1)
    with pytest.raises(DataError, match=r"valid has shape \(50, 3\)"):
        HCLT(HCLTConfig.quick(epochs=1)).fit(x, 2, valid=x[:, :3], progress=False)
    with pytest.raises(DataError):
        HCLT(HCLTConfig.quick(epochs=1)).fit(x, 2, valid=x + 5, progress=False)
    with pytest.raises(ModelError, match="checkpoint"):
        HCLT(HCLTConfig.quick(epochs=1)).fit(
            x, 2, valid=x, checkpoint=tmp_path / "c", progress=False
        )
