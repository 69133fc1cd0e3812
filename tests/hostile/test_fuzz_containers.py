"""Fuzzing every container reader with structure-aware mutations, checksums recomputed.

Profiles: 60 cases per test in CI (``CI=true``), 20 locally, 500 with
``LATENTZIP_HYPOTHESIS=heavy`` (``python benchmarks/fuzz.py`` runs that and records it).
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import random_circuit
from fuzzing import Parts, check, mutated, same, survives, time_limit
from hypothesis import given
from hypothesis import strategies as st

from latentzip.circuits.codec import CodecConfig, compress, decompress
from latentzip.circuits.mixture import MixtureCircuit
from latentzip.cli import main
from latentzip.coding import container
from latentzip.errors import LatentzipError
from latentzip.photos import Photo, PhotoModel, compress_images, decompress_images
from latentzip.splats import DualGSSequence
from latentzip.splats.codec import (
    SplatCodecConfig,
    compress_sequence,
    decode_frame,
    decompress_sequence,
)
from latentzip.tables import TableModel, compress_report, parse_csv
from latentzip.tables import compress as table_compress
from latentzip.tables import decompress as table_decompress

FAST = {"kmeans_iters": 2, "kmeans_samples": 500}


@pytest.fixture(scope="module")
def arrays():
    circuit = random_circuit(12, 3, 7, seed=5, concentration=0.5)
    x = circuit.sample(40, np.random.default_rng(1)).reshape(40, 3, 4).astype(np.uint8)
    plain = compress(x, circuit, CodecConfig(block_size=8))
    shards = {"kind": "shards", "shards": [{"name": "a.npy", "n_records": 5, "meta": {}}]}
    embedded = compress(x, circuit, CodecConfig(block_size=16, embed_model=True), shards)
    return circuit, x, plain, embedded


@pytest.fixture(scope="module")
def table():
    from latentzip.circuits import HCLTConfig

    rows = [f'{i % 3},{"ab"[i % 2]},"t, {i}",{i * 7 % 11}' for i in range(80)]
    raw = ("k,c,text,n\r\n" + "\r\n".join(rows) + "\r\n").encode()
    model = TableModel(HCLTConfig.quick(epochs=1, full_batch_epochs=0)).fit(
        parse_csv(raw), progress=False
    )
    plain = table_compress(raw, model)
    embedded = compress_report(raw, model, embed=True, safeguard=False)[0]
    return model, raw, plain, embedded


@pytest.fixture(scope="module")
def stored_table():
    raw = "caf\xe9;1\nna\xefve;2\n".encode("latin-1") * 40  # not UTF-8: stored by xz
    blob, report = compress_report(raw)
    assert report.mode == "stored"
    return raw, blob


@pytest.fixture(scope="module")
def splats():
    seq = DualGSSequence.random(frames=4, joints=3, skins=12, degree=1, seed=0)
    blob = compress_sequence(seq, SplatCodecConfig(segment_length=2, **FAST))
    return blob, decompress_sequence(blob)


@pytest.fixture(scope="module")
def photos():
    rng = np.random.default_rng(2)
    grad = (np.add.outer(np.arange(40), np.arange(37)) * 3 % 256).astype(np.uint8)
    rgb = np.stack([grad, grad // 2, 255 - grad], -1)
    palette = np.array([[0, 0, 0], [255, 0, 0]], np.uint8)[rng.integers(0, 2, (16, 16))]
    images = [Photo(rgb, "a.png", "png"), Photo(palette, "b.png", "png")]
    model = PhotoModel.fit([rgb])
    blob = compress_images(images, model, tile=16, embed=True)
    assert container.unpack(blob).header["images"][1]["stored"] == "jpegxl"
    return model, blob, decompress_images(blob)


@given(data=st.data())
def test_photos_container(photos, data):
    model, blob, expected = photos
    check(decompress_images, data.draw(mutated(blob)), expected)
    check(lambda b: decompress_images(b, model), data.draw(mutated(blob)), expected)


@given(data=st.data())
def test_arrays_container_with_a_separate_model(arrays, data):
    circuit, x, blob, _ = arrays
    check(lambda b: decompress(b, circuit), data.draw(mutated(blob)), x)


@given(data=st.data())
def test_arrays_container_with_an_embedded_model_and_shards(arrays, data):
    _, x, _, blob = arrays
    check(decompress, data.draw(mutated(blob)), x)


@given(data=st.data())
def test_table_container(table, data):
    model, raw, blob, embedded = table
    check(lambda b: table_decompress(b, model), data.draw(mutated(blob)), raw)
    check(table_decompress, data.draw(mutated(embedded)), raw)


@given(data=st.data())
def test_stored_table_container(stored_table, data):
    raw, blob = stored_table
    check(table_decompress, data.draw(mutated(blob)), raw)


@given(data=st.data())
def test_splats_container(splats, data):
    blob, expected = splats
    bad = data.draw(mutated(blob))
    check(decompress_sequence, bad, expected)
    check(lambda b: decode_frame(b, 3), bad, expected.frame(3))


@given(data=st.data(), which=st.sampled_from(["arrays", "embedded", "table", "splats", "photos"]))
def test_cli_info_and_decompress_never_crash(
    arrays, table, splats, photos, tmp_path_factory, data, which
):
    blob = {"arrays": arrays[2], "embedded": arrays[3], "table": table[3], "splats": splats[0]}
    blob["photos"] = photos[1]
    path = tmp_path_factory.mktemp("cli") / "x.lz"
    path.write_bytes(data.draw(mutated(blob[which])))
    with time_limit():
        assert main(["info", str(path)]) in (0, 2)
        assert main(["decompress", str(path), "-o", str(path.with_suffix(".out"))]) in (0, 2)


def test_known_crafted_claims_are_refused_quickly(arrays):
    """Issue 21: an index entry claiming 10**6 samples in a tiny container used 4.9 GB."""
    circuit, _x, blob, _ = arrays
    for claim in (10**6, 10**7, 2**32 - 1):
        parts = Parts.of(blob)
        parts.entries[0][2] = claim
        head = parts.header_dict()
        head["n_samples"] = sum(e[2] for e in parts.entries)
        with time_limit(5), pytest.raises(LatentzipError):
            decompress(parts.with_header(head).pack(reseal=True), circuit)


def test_mixture_model_embedded_in_a_container(data_seed=3):
    parts = tuple(random_circuit(6, 2, 4, seed=s) for s in (1, 2))
    mix = MixtureCircuit(np.array([0.3, 0.7]), parts, np.arange(6))
    x = np.random.default_rng(0).integers(0, 4, (9, 6)).astype(np.uint8)
    blob = compress(x, mix, CodecConfig(block_size=4, embed_model=True))
    assert same(decompress(blob), x)
    rng = np.random.default_rng(data_seed)
    for _ in range(30):  # byte flips in the embedded model, every checksum recomputed
        p = Parts.of(blob)
        m = bytearray(p.model)
        m[rng.integers(0, len(m))] ^= 0xFF
        p.model = bytes(m)
        check(decompress, p.pack(), x)


@given(data=st.data(), which=st.sampled_from(["arrays", "embedded", "table", "splats", "photos"]))
def test_forged_containers_never_crash(arrays, table, splats, photos, data, which):
    """Seal recomputed too: a different valid-looking file, read without crash or hang."""
    circuit, _, plain, embedded = arrays
    model = table[0]
    readers = {
        "arrays": (plain, lambda b: decompress(b, circuit)),
        "embedded": (embedded, decompress),
        "table": (table[2], lambda b: table_decompress(b, model)),
        "splats": (splats[0], decompress_sequence),
        "photos": (photos[1], decompress_images),
    }
    blob, reader = readers[which]
    survives(reader, data.draw(mutated(blob, reseal=True)))
