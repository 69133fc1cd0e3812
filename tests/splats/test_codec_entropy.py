"""Lossless layers of the splats codec: integer streams, tracks, codebooks, segment codes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from latentzip.errors import ContainerError
from latentzip.splats.codec.appearance import (
    assign,
    decode_band,
    decode_codebook,
    encode_band,
    encode_codebook,
    quantise_band,
)
from latentzip.splats.codec.entropy import IntDecoder, IntEncoder, pack_parts, unpack_parts
from latentzip.splats.codec.motion import (
    decode_intra,
    decode_track,
    encode_intra,
    encode_track,
    grid_quaternions,
)
from latentzip.splats.codec.segment import SegmentCode, decode_segment, encode_segment

ints = st.integers(-(2**40), 2**40)


@given(
    chunks=st.lists(
        st.lists(st.tuples(ints | st.integers(-3, 3), st.integers(0, 2)), max_size=40), max_size=4
    )
)
def test_int_stream_round_trip(chunks):
    enc = IntEncoder(3)
    for chunk in chunks:
        enc.add(np.array([v for v, _ in chunk], np.int64), np.array([c for _, c in chunk]))
    dec = IntDecoder(enc.finish(), 3)
    for chunk in chunks:
        got = dec.read(np.array([c for _, c in chunk], np.int64))
        assert got.tolist() == [v for v, _ in chunk]
    dec.finish()


def test_int_stream_compresses_skewed_data_and_rejects_garbage():
    rng = np.random.default_rng(0)
    values = (rng.random(10000) < 0.05).astype(np.int64)
    enc = IntEncoder(1)
    enc.add(values)
    blob = enc.finish()
    assert len(blob) < 10000 * 0.3 / 8 + 40  # H(0.05) = 0.29 bits
    with pytest.raises(ContainerError):
        IntDecoder(blob[:5], 1)
    with pytest.raises(ContainerError):
        IntDecoder(blob, 2)
    dec = IntDecoder(blob, 1)
    dec.read(np.zeros(10, np.int64))
    with pytest.raises(ContainerError, match="leftover"):
        dec.finish()


def test_parts():
    parts = [b"", b"abc", bytes(300)]
    assert unpack_parts(pack_parts(parts), 3, "x") == parts
    with pytest.raises(ContainerError):
        unpack_parts(pack_parts(parts)[:-1], 3, "x")
    with pytest.raises(ContainerError):
        unpack_parts(pack_parts(parts), 2, "x")


@given(
    seed=st.integers(0, 2**16),
    f=st.integers(1, 5),
    m=st.integers(1, 30),
    d=st.sampled_from([1, 3, 4]),
    scale=st.sampled_from([0, 1, 50, 10**6]),
)
def test_track_and_intra_round_trip(seed, f, m, d, scale):
    rng = np.random.default_rng(seed)
    k = rng.integers(-scale - 1, scale + 1, (1, m, d)) + rng.integers(-2, 3, (f, m, d)).cumsum(0)
    assert np.array_equal(decode_track(encode_track(k), f, m, d), k)
    assert np.array_equal(decode_intra(encode_intra(k[0]), m, d), k[0])


@given(
    seed=st.integers(0, 2**16), f=st.integers(1, 4), n=st.integers(1, 25), band=st.integers(0, 3)
)
def test_segment_code_round_trip_bit_exact(seed, f, n, band):
    """The lossless part: integer grids, float16 codebooks (any bit pattern) and indices."""
    rng = np.random.default_rng(seed)
    m = int(rng.integers(1, 6))

    def book(dim):  # any float16 bit pattern, or values on a grid (the compact form)
        shape = (int(rng.integers(1, 9)), dim)
        if rng.random() < 0.5:
            return rng.integers(0, 2**16, shape, dtype=np.uint16).view(np.float16)
        return (rng.integers(-999, 999, shape) / 2.0 ** rng.integers(0, 12)).astype(np.float16)

    books = tuple(book(3 * (2 * b + 1)) for b in range(band + 1))
    code = SegmentCode(
        position=rng.integers(-(10**5), 10**5, (f, m, 3)),
        rotation=rng.integers(-2048, 2049, (f, m, 4)),
        log_scale=rng.integers(-400, 0, (f, n, 3)),
        opacity=rng.integers(-300, 300, (f, n)),
        codebooks=books,
        indices=tuple(rng.integers(0, len(cb), (f, n)) for cb in books),
    )
    back = decode_segment(encode_segment(code), f, m, n, band + 1)
    assert back.equals(code)
    assert not back.equals(SegmentCode(**{**code.__dict__, "opacity": code.opacity + 1}))


def test_codebook_is_exact_when_the_data_has_few_colours():
    rng = np.random.default_rng(1)
    palette = rng.normal(size=(7, 3)).astype(np.float16).astype(np.float32)
    vectors = palette[rng.integers(0, 7, (4, 50))]
    cb, idx = quantise_band(vectors, 16)
    assert len(cb) == 7
    assert np.array_equal(cb.astype(np.float32)[idx], vectors)
    cb2, idx2 = decode_band(encode_band(cb, idx), 4, 50, 3)
    assert np.array_equal(cb2.view(np.uint16), cb.view(np.uint16)) and np.array_equal(idx2, idx)


def test_codebooks_on_a_grid_take_the_cheaper_exact_form():
    rng = np.random.default_rng(3)
    on_grid = (rng.integers(-300, 300, (200, 3)) / 2.0**8).astype(np.float16)
    off_grid = rng.normal(size=(200, 3)).astype(np.float16)
    for cb, form in ((on_grid, 1), (off_grid, 0)):
        blob = encode_codebook(cb)
        assert blob[0] == form
        assert np.array_equal(decode_codebook(blob, 3).view(np.uint16), cb.view(np.uint16))
    assert len(encode_codebook(on_grid)) < len(encode_codebook(off_grid))
    vectors = rng.normal(size=(2, 500, 3))
    cb, _ = quantise_band(vectors, 32, grid_bits=6)
    assert np.array_equal(np.round(cb.astype(np.float64) * 64) / 64, cb.astype(np.float64))


def test_sticky_indices_change_less_than_nearest():
    rng = np.random.default_rng(2)
    codebook = rng.normal(size=(64, 3)).astype(np.float32)
    vectors = rng.normal(size=(1, 500, 3)) + rng.normal(scale=0.05, size=(10, 500, 3))
    changes = [np.count_nonzero(np.diff(assign(vectors, codebook, h), axis=0)) for h in (0.0, 0.3)]
    assert changes[1] < changes[0] / 2


def test_quaternion_grid_keeps_sign_continuity():
    q = np.array([[[0.05, 1.0, 0, 0]], [[-0.05, 1.0, 0, 0]], [[-0.05, -1.0, 0, 0]]])
    k = grid_quaternions(q, 2**-10)
    assert k[0, 0, 1] > 0 and k[1, 0, 1] > 0 and k[2, 0, 1] > 0  # same hemisphere throughout
    assert k[0, 0, 0] >= 0
