# ruff: noqa: F811  -- pytest fixtures imported from dist_fixtures are parameter names
"""Distributed structure learning and full-batch EM agree with the single-process HCLT."""

from __future__ import annotations

import numpy as np
import pytest
from dist_fixtures import client, images, shards  # noqa: F401  (fixtures)

from latentzip.circuits import HCLT, HCLTConfig
from latentzip.distributed import bits_per_dim, find_shards, fit, load_shard
from latentzip.errors import DataError

CFG = HCLTConfig(n_latents=6, epochs=0, full_batch_epochs=4, mi_records=10_000)


def assert_same_circuit(a, b, atol: float) -> None:
    np.testing.assert_array_equal(a.tree.parent, b.tree.parent)
    np.testing.assert_array_equal(a.tree.order, b.tree.order)
    for name in ("prior", "edges", "leaves"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=0, atol=atol)


def test_distributed_em_matches_single_process(client, shards, images):
    x = images.reshape(len(images), -1)
    ref = HCLT(CFG).fit(x, 256, progress=False)
    model = fit(client, shards, CFG)
    assert_same_circuit(model.circuit_, ref.circuit_, atol=1e-9)
    assert model.config == CFG
    np.testing.assert_allclose(
        [h["train_ll"] for h in model.history_], [h["train_ll"] for h in ref.history_], rtol=1e-12
    )
    # EM did move the parameters: the comparison above is not between two initial circuits
    init = HCLT(HCLTConfig(**{**CFG.__dict__, "full_batch_epochs": 0})).fit(x, 256, progress=False)
    assert np.abs(init.circuit_.leaves - model.circuit_.leaves).max() > 1e-3
    assert bits_per_dim(client, shards, model) == pytest.approx(model.bits_per_dim(x), rel=1e-12)


def test_epochs_default_to_all_config_epochs_as_full_batch(client, shards):
    model = fit(client, shards, HCLTConfig(n_latents=4, epochs=2, full_batch_epochs=1))
    assert [h["phase"] for h in model.history_] == ["full-batch"] * 3
    assert (model.config.epochs, model.config.full_batch_epochs) == (0, 3)


def test_subsampled_structure_is_deterministic(client, shards):
    cfg = HCLTConfig(n_latents=4, epochs=0, full_batch_epochs=1, mi_records=300)
    a, b = fit(client, shards, cfg), fit(client, find_shards(shards), cfg)
    assert_same_circuit(a.circuit_, b.circuit_, atol=0)


def test_shard_discovery(tmp_path, shards):
    found = find_shards(shards)
    assert [p.name for p in found] == ["part-0.idx.gz", "part-1.npy", "part-2"]
    assert [p.name for p in find_shards(f"{shards}/part-*.npy")] == ["part-1.npy"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no shards"):
        find_shards(tmp_path / "empty")
    with pytest.raises(DataError, match="no shards"):
        find_shards(f"{tmp_path}/nothing-*.npy")
    with pytest.raises(DataError, match="not a folder"):
        find_shards(tmp_path / "missing")


def test_csv_shards_train(client, tmp_path, images):
    x = images.reshape(len(images), -1) // 16  # 0..15
    folder = tmp_path / "csv"
    folder.mkdir()
    for i, part in enumerate(np.array_split(x, 2)):
        np.savetxt(folder / f"part-{i}.csv", part, fmt="%d", delimiter=",")
    assert np.array_equal(load_shard(folder / "part-0.csv").data, np.array_split(x, 2)[0])
    cfg = HCLTConfig(n_latents=4, epochs=0, full_batch_epochs=2)
    ref = HCLT(cfg).fit(x, int(x.max()) + 1, progress=False)
    assert_same_circuit(fit(client, folder, cfg).circuit_, ref.circuit_, atol=1e-9)


def test_mismatched_shards_are_rejected(client, tmp_path, images):
    folder = tmp_path / "bad"
    folder.mkdir()
    np.save(folder / "a.npy", images[:10])
    np.save(folder / "b.npy", images[:10, :4, :4])
    with pytest.raises(DataError, match="number of variables"):
        fit(client, folder, CFG)
    with pytest.raises(DataError, match="outside"):
        fit(client, [folder / "a.npy"], CFG, n_categories=17)
