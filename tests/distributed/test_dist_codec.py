# ruff: noqa: F811  -- pytest fixtures imported from dist_fixtures are parameter names
"""Distributed compression: one random-access container, exact round trips."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from dist_fixtures import client, images, shards  # noqa: F401  (fixtures)
from PIL import Image

from latentzip.circuits import HCLT, HCLTConfig
from latentzip.circuits.codec import CodecConfig, Decoder, compress, decompress
from latentzip.coding.container import unpack
from latentzip.distributed import compress as dist_compress
from latentzip.distributed import decompress as dist_decompress
from latentzip.errors import ContainerError, DataError, LatentzipError

CODEC = CodecConfig(block_size=100)


@pytest.fixture(scope="module")
def model(images):
    cfg = HCLTConfig(n_latents=6, epochs=1, full_batch_epochs=1)
    return HCLT(cfg).fit(images.reshape(len(images), -1), 256, progress=False)


def test_container_equals_single_process_records(client, shards, images, model):
    blob = dist_compress(client, shards, model, CODEC)
    dist, single = unpack(blob), unpack(compress(images, model, CODEC))
    assert dist.index == single.index  # shard ends fall on block ends: the same records
    assert [dist.record(i) for i in range(len(dist.index))] == [
        single.record(i) for i in range(len(single.index))
    ]
    assert np.array_equal(decompress(blob, model), images)  # no cluster needed to read it
    assert np.array_equal(Decoder(blob, model).record(7), images[700:800])  # random access
    shards_meta = dist.header["meta"]["shards"]
    assert [s["name"] for s in shards_meta] == ["part-0.idx.gz", "part-1.npy", "part-2"]
    assert [s["n_samples"] for s in shards_meta] == [500, 600, 697]


def test_info_describes_a_dask_written_container(client, shards, tmp_path, model, capsys):
    from latentzip.cli import main

    path = tmp_path / "d.lz"
    path.write_bytes(dist_compress(client, shards, model, CODEC))
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "1797 samples x (8, 8)" in out and "shards (3 files, written on a Dask cluster)" in out


def test_decompress_restores_every_shard_exactly(client, shards, tmp_path, images, model):
    blob = dist_compress(client, shards, model, CodecConfig(block_size=64, embed_model=True))
    out = tmp_path / "restored"
    paths = dist_decompress(client, blob, None, out)
    assert [p.name for p in paths] == ["part-0.idx", "part-1.npy", "part-2"]
    assert paths[0].read_bytes() == gzip.decompress((shards / "part-0.idx.gz").read_bytes())
    assert paths[1].read_bytes() == (shards / "part-1.npy").read_bytes()
    names = sorted(p.name for p in (shards / "part-2").iterdir())
    assert sorted(p.name for p in paths[2].iterdir()) == names
    for name in names:
        a = np.asarray(Image.open(shards / "part-2" / name))
        assert np.array_equal(a, np.asarray(Image.open(paths[2] / name)))
    assert np.array_equal(dist_decompress(client, blob), images)
    with pytest.raises(LatentzipError, match="not empty"):
        dist_decompress(client, blob, model, out)
    assert len(dist_decompress(client, blob, model, out, force=True)) == 3


def test_plain_container_decodes_on_workers(client, images, model, tmp_path):
    blob = compress(images, model, CodecConfig(block_size=16))
    assert np.array_equal(dist_decompress(client, blob, model), images)
    with pytest.raises(ContainerError, match="not made from shards"):
        dist_decompress(client, blob, model, tmp_path / "out")


def test_errors(client, shards, tmp_path, images, model):
    other = HCLT(HCLTConfig(n_latents=2, epochs=1, full_batch_epochs=0)).fit(
        images.reshape(len(images), -1), 256, progress=False
    )
    blob = dist_compress(client, shards, model, CODEC)
    with pytest.raises(ContainerError, match="wrong model"):
        dist_decompress(client, blob, other)
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    np.save(mixed / "a.npy", images[:10])
    np.save(mixed / "b.npy", images[:10].reshape(10, 4, 16))
    with pytest.raises(DataError, match="other shards"):
        dist_compress(client, mixed, model)
