"""Fuzzing the input readers end to end: a damaged idx, ``.npy``, PNG, CSV or BVH file is
refused with a clear error, or it compresses and comes back byte for byte (pixels for PNG).
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from conftest import random_circuit
from fuzzing import time_limit
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from latentzip.circuits.codec import compress, decompress
from latentzip.data.sources import read_source, write_source
from latentzip.errors import LatentzipError
from latentzip.motion.bvh import parse_bvh, write_bvh

IMAGES = np.random.default_rng(0).integers(0, 256, (5, 4, 4)).astype(np.uint8)


def _idx(a: np.ndarray) -> bytes:
    return (
        bytes([0, 0, 8, a.ndim])
        + b"".join(int(s).to_bytes(4, "big") for s in a.shape)
        + (a.tobytes())
    )


def _npy(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a)
    return buf.getvalue()


@st.composite
def damaged(draw, raw: bytes) -> bytes:
    data = bytearray(raw)
    how = draw(st.sampled_from(["flip", "cut", "insert", "header"]))
    if how == "flip":
        for _ in range(draw(st.integers(1, 3))):
            data[draw(st.integers(0, len(data) - 1))] ^= draw(st.integers(1, 255))
    elif how == "cut":
        data = data[: draw(st.integers(0, len(data) - 1))]
    elif how == "insert":
        pos = draw(st.integers(0, len(data)))
        data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
    else:  # the first 16 bytes: magic, dims, npy header start
        pos = draw(st.integers(0, min(15, len(data) - 1)))
        data[pos] = draw(st.integers(0, 255))
    return bytes(data)


@pytest.fixture(scope="module")
def model():
    return random_circuit(16, 2, 256, seed=7)


def _through_the_codec(path, model, out) -> None:
    """What compress + decompress do: the restored file must be the input, exactly."""
    samples, meta = read_source(path)
    blob = compress(samples, model, meta=meta)
    write_source(decompress(blob, model), meta, out, force=True)


@given(data=st.data(), kind=st.sampled_from(["idx", "npy"]))
def test_idx_and_npy_inputs(model, tmp_path_factory, data, kind):
    root = tmp_path_factory.mktemp(kind)
    raw = data.draw(damaged(_idx(IMAGES) if kind == "idx" else _npy(IMAGES)))
    path = root / ("x-idx3-ubyte" if kind == "idx" else "x.npy")
    path.write_bytes(raw)
    with time_limit():
        try:
            _through_the_codec(path, model, root / "back")
        except LatentzipError:
            return
    assert (root / "back").read_bytes() == raw


@given(data=st.data())
def test_png_folder_inputs(model, tmp_path_factory, data):
    root = tmp_path_factory.mktemp("png")
    src = root / "in"
    src.mkdir()
    for i, im in enumerate(IMAGES[:3]):
        buf = io.BytesIO()
        Image.fromarray(im, mode="L").save(buf, format="PNG")
        raw = buf.getvalue()
        if i == 1:
            raw = data.draw(damaged(raw))
        (src / f"{i}.png").write_bytes(raw)
    with time_limit():
        try:
            _through_the_codec(src, model, root / "out")
        except LatentzipError:
            return
    for i in range(3):
        a = np.asarray(Image.open(src / f"{i}.png"))
        assert np.array_equal(a, np.asarray(Image.open(root / "out" / f"{i}.png")))


@pytest.fixture(scope="module")
def table():
    from latentzip.circuits import HCLTConfig
    from latentzip.tables import TableModel, parse_csv

    rows = [f"{i % 4},{'xyz'[i % 3]},{i % 2}" for i in range(60)]
    raw = ("a,b,c\n" + "\n".join(rows) + "\n").encode()
    cfg = HCLTConfig.quick(epochs=1, full_batch_epochs=0)
    return TableModel(cfg).fit(parse_csv(raw), progress=False), raw


@given(data=st.data())
def test_csv_inputs(table, data):
    from latentzip.tables import compress as tc
    from latentzip.tables import decompress as td

    model, raw = table
    bad = data.draw(damaged(raw))
    with time_limit():
        try:
            blob = tc(bad, model)
        except LatentzipError:
            return
        assert td(blob, model) == bad


BVH = b"""HIERARCHY
ROOT Hips
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation
  JOINT Leg
  {
    OFFSET 0 -1 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    End Site
    {
      OFFSET 0 -1 0
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.033333
0 2 0 0 0 0 90 0 0
0 2 1 0 5 0 80 0 1
"""


@given(data=st.data())
def test_bvh_inputs(data):
    bad = data.draw(damaged(BVH))
    with time_limit():
        try:
            bvh = parse_bvh(bad.decode("utf-8", errors="replace"))
        except LatentzipError:
            return
        again = parse_bvh(write_bvh(bvh))
    assert again.skeleton.names == bvh.skeleton.names
    np.testing.assert_allclose(again.values, bvh.values, rtol=1e-6, atol=1e-6)
    assert np.isfinite(bvh.to_motion().positions()).all()
