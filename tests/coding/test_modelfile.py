from pathlib import Path

import numpy as np
import pytest
from conftest import random_circuit

from latentzip.circuits import HCLT, HCLTConfig
from latentzip.circuits.circuit import Circuit
from latentzip.circuits.structure import Tree
from latentzip.coding import modelfile
from latentzip.data import load_digits
from latentzip.errors import ModelError

LEGACY = Path(__file__).resolve().parents[1] / "legacy"


def test_save_load_round_trip_keeps_fingerprint(tmp_path):
    x = load_digits().data[:300]
    model = HCLT(HCLTConfig.quick(epochs=1, full_batch_epochs=0)).fit(x, 17, progress=False)
    path = model.save(tmp_path / "m.npz")
    again = HCLT.load(path)
    assert again.fingerprint == model.fingerprint
    assert again.config == model.config
    np.testing.assert_array_equal(again.score_samples(x), model.score_samples(x))
    loaded, meta = modelfile.load(path)  # the registry gives back whatever the file holds
    assert isinstance(loaded, Circuit) and meta["config"]["n_latents"] == 8


def test_model_files_of_latentzip_0_1_still_load():
    model = HCLT.load(LEGACY / "v1_digits.model")
    assert model.circuit_.n_variables == 64 and model.config.n_latents == 2
    x = np.load(LEGACY / "v1_digits_samples.npy").reshape(10, -1)
    assert np.isfinite(model.score_samples(x)).all()


def test_fingerprint_changes_with_any_parameter():
    c = random_circuit(5, 2, 3, seed=0)
    leaves = c.leaves.copy()
    leaves[2, 0, 1] = np.nextafter(leaves[2, 0, 1], 1)
    other = Circuit(c.tree, c.prior, c.edges, leaves, c.n_categories)
    assert c.fingerprint != other.fingerprint


def test_corrupted_model_file_is_refused(tmp_path):
    c = random_circuit(5, 2, 3, seed=0)
    blob = modelfile.to_bytes(c)
    rng = np.random.default_rng(0)
    for pos in rng.choice(len(blob), 40, replace=False):
        bad = bytearray(blob)
        bad[pos] ^= 0x5A
        with pytest.raises(ModelError):
            modelfile.from_bytes(bytes(bad))
    for cut in (0, 10, len(blob) // 2, len(blob) - 1):
        with pytest.raises(ModelError):
            modelfile.from_bytes(blob[:cut])
    with pytest.raises(ModelError, match="cannot read"):
        modelfile.load(tmp_path / "missing.npz")


def test_invalid_parameters_are_refused():
    c = random_circuit(4, 2, 3, seed=0)
    bad = Circuit(c.tree, c.prior * 2, c.edges, c.leaves, c.n_categories)
    with pytest.raises(ModelError, match="prior"):
        bad.check()


def _crafted(circuit: Circuit) -> bytes:
    """A well-formed file (checksums and fingerprint recomputed) holding ``circuit``."""
    return modelfile.to_bytes(circuit)


def test_category_count_beyond_the_leaf_table_is_refused():
    """Issue: an embedded model with n_categories > width made the coder write out of bounds."""
    c = random_circuit(4, 2, 3, seed=0)
    cats = c.n_categories.copy()
    cats[1] = 200
    with pytest.raises(ModelError, match="category counts"):
        modelfile.from_bytes(_crafted(Circuit(c.tree, c.prior, c.edges, c.leaves, cats)))


@pytest.mark.parametrize(
    "parent, order",
    [
        ([-1, 1, 0, 0], [0, 1, 2, 3]),  # a self-parent
        ([-1, 2, 1, 0], [0, 3, 1, 2]),  # a cycle 1 <-> 2 cut off from the root
        ([-1, 0, 0, 1], [0, 1, 2, 3]),  # 3 after its parent 1's subtree closed: not pre-order
        ([-1, 0, 0, 0], [0, 1, 1, 3]),  # not a permutation
        ([-1, 0, 7, 0], [0, 1, 2, 3]),  # parent out of range
        ([0, 0, 0, 0], [0, 1, 2, 3]),  # no root
    ],
)
def test_trees_that_would_hang_or_crash_the_coder_are_refused(parent, order):
    c = random_circuit(4, 2, 3, seed=0)
    tree = Tree(np.array(parent, np.int64), np.array(order, np.int64))
    with pytest.raises(ModelError):
        modelfile.from_bytes(_crafted(Circuit(tree, c.prior, c.edges, c.leaves, c.n_categories)))


def test_unknown_kind_and_arrays_that_lie_about_their_size_are_refused():
    import hashlib
    import io
    import zipfile

    c = random_circuit(4, 2, 3, seed=0)
    blob = modelfile.to_bytes(c)
    body = blob[8 + 32 :]
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    header = members["header.npy"]
    members["header.npy"] = header.replace(b'"kind": "hclt"', b'"kind": "nope"')
    members["header.npy"] = _fix_npy_length(header, members["header.npy"])
    with pytest.raises(ModelError, match="unknown model kind 'nope'"):
        modelfile.from_bytes(_envelope(members, hashlib))
    # an array header claiming 2**40 elements in a 100-byte member
    members = dict(members, **{"header.npy": header})
    leaves = members["leaves.npy"]
    members["leaves.npy"] = leaves.replace(b"(4, 3, 2)", b"(1099511627776, 1, 1)")
    with pytest.raises(ModelError, match="needs"):
        modelfile.from_bytes(_envelope(members, hashlib))


def _fix_npy_length(old: bytes, new: bytes) -> bytes:
    arr = np.load(__import__("io").BytesIO(old))
    text = arr.tobytes().replace(b'"kind": "hclt"', b'"kind": "nope"')
    buf = __import__("io").BytesIO()
    np.save(buf, np.frombuffer(text, np.uint8))
    return buf.getvalue()


def _envelope(members: dict, hashlib) -> bytes:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    body = buf.getvalue()
    return b"LZMODEL\n" + hashlib.sha256(body).digest() + body
