"""The integer coding model: exact arithmetic, the same bytes on every path and machine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import random_circuit
from hypothesis import given
from hypothesis import strategies as st

from latentzip.circuits import HCLT, HCLTConfig
from latentzip.circuits.codec import CodecConfig, compress, decompress
from latentzip.circuits.intreference import ReferenceModel, ReferenceWalker
from latentzip.circuits.quantised import QuantisedCircuit
from latentzip.coding import modelfile
from latentzip.coding.records import encode_blocks
from latentzip.data import load_digits
from latentzip.errors import ModelError

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


def _cats(draw, d):
    return np.array(draw(st.lists(st.integers(1, 9), min_size=d, max_size=d)))


@given(data=st.data(), d=st.integers(1, 8), k=st.integers(1, 5), seed=st.integers(0, 10**6))
def test_kernels_equal_the_numpy_reference(data, d, k, seed):
    cats = _cats(data.draw, d)
    circuit = random_circuit(
        d, k, cats, seed=seed, concentration=data.draw(st.sampled_from([0.05, 1]))
    )
    q = circuit.coding_model()
    x = np.random.default_rng(seed).integers(0, cats, (6, d))
    fast, slow = q.walker(len(x)), ReferenceWalker(q, len(x))
    for t, v in enumerate(q.coding_order):
        a, b = fast.predict(t), slow.predict(t)
        np.testing.assert_array_equal(a, b)
        assert (a.sum(1) == 2**24).all() and (a[:, : cats[v]] >= 1).all()
        assert not a[:, cats[v] :].any()
        fast.observe(t, x[:, v])
        slow.observe(t, x[:, v])
    block = data.draw(st.integers(1, 7))
    fused = encode_blocks(q, x, block)
    assert fused == encode_blocks(ReferenceModel(q), x, block)  # same bytes, both paths


def test_golden_vectors_are_reproduced_by_every_path():
    """Committed model + samples + container: a format change must be deliberate."""
    model, _ = modelfile.load(GOLDEN / "hclt_q.model")
    x = np.load(GOLDEN / "samples.npy")
    blob = (GOLDEN / "container.lz").read_bytes()
    assert compress(x, model, CodecConfig(block_size=16)) == blob
    assert compress(x, ReferenceModel(model), CodecConfig(block_size=16)) == blob
    assert np.array_equal(decompress(blob, model), x)
    assert np.array_equal(decompress(blob, ReferenceModel(model)), x)


def test_the_bytes_do_not_depend_on_jit_threads_or_batches(tmp_path):
    import numba

    model, _ = modelfile.load(GOLDEN / "hclt_q.model")
    x = np.load(GOLDEN / "samples.npy")
    blob = (GOLDEN / "container.lz").read_bytes()
    for batch in (16, 32, 48, 1000):
        assert compress(x, model, CodecConfig(block_size=16, batch_size=batch)) == blob
    before = numba.get_num_threads()
    try:
        for threads in range(1, numba.config.NUMBA_NUM_THREADS + 1):
            numba.set_num_threads(threads)
            assert compress(x, model, CodecConfig(block_size=16)) == blob
    finally:
        numba.set_num_threads(before)
    script = (
        "import sys, numpy as np\n"
        "from latentzip.circuits.codec import compress, decompress, CodecConfig\n"
        "from latentzip.coding import modelfile\n"
        "m, _ = modelfile.load(sys.argv[1]); x = np.load(sys.argv[2])\n"
        "b = compress(x, m, CodecConfig(block_size=16))\n"
        "assert (decompress(b, m) == x).all()\n"
        "sys.stdout.buffer.write(b)\n"
    )
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    done = subprocess.run(
        [sys.executable, "-c", script, str(GOLDEN / "hclt_q.model"), str(GOLDEN / "samples.npy")],
        capture_output=True,
        env=env,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert done.stdout == blob  # the kernels as plain Python: the same bytes


@pytest.fixture(scope="module")
def digits_model():
    x = load_digits().data
    return HCLT(HCLTConfig.quick(epochs=3, full_batch_epochs=1)).fit(x[:1500], 17, progress=False)


def test_integer_model_codes_within_0_3_percent_of_the_float_model(digits_model):
    test = load_digits().data[1500:]
    q = digits_model.coding_model()
    float_bits = -digits_model.score_samples(test).sum() / np.log(2)
    int_bits = -q.log_prob(test).sum() / np.log(2)
    assert abs(int_bits - float_bits) <= 0.003 * float_bits
    blob = compress(test, digits_model, CodecConfig(block_size=300))
    payload = 8 * (len(blob) - 400)  # header, index and seal are a few hundred bytes
    assert payload <= 1.01 * float_bits


def test_integer_model_files_round_trip_and_are_validated(digits_model, tmp_path):
    q = digits_model.coding_model()
    path = modelfile.save(q, tmp_path / "q.model", {"note": "x"})
    loaded, meta = modelfile.load(path)
    assert isinstance(loaded, QuantisedCircuit) and loaded.fingerprint == q.fingerprint
    assert meta == {"note": "x"}
    arrays, settings = q.to_arrays()
    for name, change in (("leaves", 1), ("edges", 1), ("prior", -1)):
        bad = dict(arrays)
        bad[name] = arrays[name].astype(np.int64)
        bad[name].flat[0] += change  # a row no longer sums to its power of two
        with pytest.raises(ModelError, match="sum to exactly"):
            QuantisedCircuit.from_arrays(bad, settings)
    for bits in (7, 21, "16", None):
        with pytest.raises(ModelError, match="leaf_bits"):
            QuantisedCircuit.from_arrays(arrays, {"leaf_bits": bits})
    with pytest.raises(ModelError, match=r"sum to exactly 2\*\*16"):  # 20-bit rows, 16 claimed
        QuantisedCircuit.from_arrays(arrays, {"leaf_bits": 16})


@pytest.mark.parametrize("bits", [8, 12, 16])
def test_coarse_leaves_with_a_floor_code_every_value(digits_model, bits):
    """Embedded table models use coarse leaves; the floor keeps unseen values codable."""
    from latentzip.coding.records import decode_blocks, encode_blocks

    circuit = digits_model.circuit_
    q = QuantisedCircuit.from_circuit(circuit, bits, leaf_floor=True)
    assert q.leaf_bits == bits and q.fingerprint != digits_model.coding_model().fingerprint
    cats = circuit.n_categories
    for v in range(q.n_variables):
        assert (q.leaves[v, :, : cats[v]] >= 1).all() and not q.leaves[v, :, cats[v] :].any()
    again, _ = modelfile.from_bytes(modelfile.to_bytes(q, compact=True))
    assert again.fingerprint == q.fingerprint and again.leaf_bits == bits
    x = np.random.default_rng(0).integers(0, cats, (50, q.n_variables))  # anything at all
    blocks = encode_blocks(q, x, 16)
    assert np.array_equal(decode_blocks(again, blocks, ["r"] * len(blocks)), x)


def test_float_and_integer_model_files_make_the_same_containers(digits_model, tmp_path):
    x = load_digits().data[1500:1600].astype(np.uint8)
    floating, _ = modelfile.load(digits_model.save(tmp_path / "f.model"))
    integer, _ = modelfile.load(modelfile.save(digits_model.coding_model(), tmp_path / "q.model"))
    blob = compress(x, floating)
    assert blob == compress(x, integer) and np.array_equal(decompress(blob, integer), x)
