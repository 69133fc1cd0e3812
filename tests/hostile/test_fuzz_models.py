"""Fuzzing model files: arrays and settings mutated inside the npz, the SHA-256 and the
fingerprint recomputed, so only semantic checks stand between the file and the coder.

A file that loads must give a model that codes exactly (the round trip is checked); any
other outcome than that or a :class:`ModelError` is a failure.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json

import numpy as np
import pytest
from conftest import random_circuit
from fuzzing import NASTY, time_limit
from hypothesis import assume, given
from hypothesis import strategies as st

from latentzip.circuits.circuit import Circuit
from latentzip.circuits.codec import CodecConfig, compress, decompress
from latentzip.circuits.mixture import MixtureCircuit
from latentzip.circuits.structure import Tree
from latentzip.coding import modelfile
from latentzip.errors import LatentzipError, ModelError


def _members(blob: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(blob[40:])) as npz:
        return {k: npz[k] for k in npz.files}


def _file(arrays: dict[str, np.ndarray], header: dict) -> bytes:
    buf = io.BytesIO()
    arrays = dict(arrays, header=np.frombuffer(json.dumps(header).encode(), np.uint8))
    np.savez_compressed(buf, **arrays)
    body = buf.getvalue()
    return b"LZMODEL\n" + hashlib.sha256(body).digest() + body


def _refingerprint(arrays: dict, header: dict) -> None:
    """Recompute the header's fingerprint as the reader would, when it can be computed."""
    try:
        if header["kind"] == "hclt":
            c = Circuit(Tree(arrays["parent"], arrays["order"]), arrays["prior"],
                        arrays["edges"], arrays["leaves"], arrays["n_categories"])  # fmt: skip
            header["fingerprint"] = c.fingerprint
    except Exception:  # shapes too broken to hash: the file keeps the old fingerprint
        pass


@st.composite
def mutated_model(draw, blob: bytes) -> bytes:
    arrays = _members(blob)
    header = json.loads(arrays.pop("header").tobytes())
    name = draw(st.sampled_from(sorted(arrays)))
    a = arrays[name]
    how = draw(st.sampled_from(["value", "shape", "dtype", "drop", "settings", "kind"]))
    if how == "value" and a.size:
        a = a.copy()
        pos = draw(st.integers(0, a.size - 1))
        values = [-1, 0, 1, 2, 7, 255, 10**6, -(10**6)]
        if a.dtype.kind == "f":
            values += [np.nan, np.inf, -np.inf, 0.5, 1e300, -0.0]
        a.flat[pos] = draw(st.sampled_from(values))
        arrays[name] = a
    elif how == "shape":
        arrays[name] = np.resize(
            a, draw(st.sampled_from([(0,), (1,), (3, 3), (2, 2, 2), a.shape[::-1]]))
        )
    elif how == "dtype":
        arrays[name] = a.astype(draw(st.sampled_from([np.uint8, np.int32, np.float32, np.bool_])))
    elif how == "drop":
        del arrays[name]
    elif how == "settings":
        header["settings"] = {"n_components": draw(NASTY)}
    else:
        header["kind"] = draw(st.sampled_from(["hclt", "hclt-mixture", "nope", ""]))
    _refingerprint(arrays, header)
    return _file(arrays, header)


def _round_trip(blob: bytes):
    model, _ = modelfile.from_bytes(blob)
    model = model.coding_model()  # a float model codes through its integer model
    rng = np.random.default_rng(0)
    x = rng.integers(0, model.alphabet_sizes, (7, model.n_variables))
    packed = compress(x, model, CodecConfig(block_size=3, embed_model=True))
    assert np.array_equal(decompress(packed), x)  # a model that loads must code exactly
    assert np.array_equal(decompress(packed, model), x)


@pytest.fixture(scope="module")
def hclt_file() -> bytes:
    return modelfile.to_bytes(random_circuit(6, 3, 5, seed=4))


@pytest.fixture(scope="module")
def mixture_file() -> bytes:
    parts = (random_circuit(5, 2, 4, seed=1), random_circuit(5, 3, 4, seed=2))
    return modelfile.to_bytes(MixtureCircuit(np.array([0.4, 0.6]), parts, np.arange(5)))


@given(data=st.data())
def test_hclt_model_files(hclt_file, data):
    with time_limit(), contextlib.suppress(ModelError):
        _round_trip(data.draw(mutated_model(hclt_file)))


@given(data=st.data())
def test_mixture_model_files(mixture_file, data):
    with time_limit(), contextlib.suppress(ModelError):
        _round_trip(data.draw(mutated_model(mixture_file)))


@given(data=st.data())
def test_byte_level_damage_in_model_files(hclt_file, data):
    bad = bytearray(hclt_file)
    for _ in range(data.draw(st.integers(1, 3))):
        bad[data.draw(st.integers(0, len(bad) - 1))] ^= data.draw(st.integers(1, 255))
    bad = bytes(bad[: data.draw(st.integers(0, len(bad)))])
    assume(bad != hclt_file)  # two flips of the same bit cancel out
    with time_limit(), pytest.raises(LatentzipError):
        modelfile.from_bytes(bad)
