"""Predictions inside the splats codec: neighbour ranks of codebook entries, spatial levels."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from latentzip.errors import ContainerError
from latentzip.splats.codec import appearance
from latentzip.splats.codec.appearance import (
    NeighbourRanks,
    decode_band,
    decode_first,
    encode_band,
    encode_first,
)
from latentzip.splats.codec.motion import decode_track, encode_track
from latentzip.splats.codec.spatial import SPATIAL_MAX, levels_of, morton_order


@given(seed=st.integers(0, 2**16), size=st.integers(1, 40), dim=st.sampled_from([3, 9]))
def test_neighbour_ranks_invert_for_any_codebook(seed, size, dim):
    """Any float16 bit pattern (inf, NaN, -0.0, repeats): rank and entry are inverse."""
    rng = np.random.default_rng(seed)
    cb = rng.integers(0, 2**16, (size, dim), dtype=np.uint16).view(np.float16)
    cb[rng.random(size) < 0.3] = cb[0]  # repeated entries tie
    old = rng.integers(0, size, 50)
    new = rng.integers(0, size, 50)
    ranks = NeighbourRanks(cb).rank(old, new)
    assert ranks.min() >= 0 and ranks.max() < size
    assert np.array_equal(NeighbourRanks(cb).entry(old, ranks), new)


@given(
    seed=st.integers(0, 2**16),
    size=st.sampled_from([1, 2, 7, 300, 2049]),
    n=st.integers(0, 300),
    runs=st.booleans(),
)
def test_frame0_indices_round_trip_plain_or_chained(seed, size, n, runs):
    rng = np.random.default_rng(seed)
    cb = rng.normal(size=(size, 3)).astype(np.float16)
    idx = rng.integers(0, size, n)
    if runs:  # long runs of one colour, as along a limb: the chained mode pays
        idx = np.repeat(idx[: max(1, n // 20)], 20)[:n]
    blob = encode_first(idx, NeighbourRanks(cb))
    assert np.array_equal(decode_first(blob, len(idx), NeighbourRanks(cb), "t"), idx)
    if runs and n >= 100 and 7 <= size <= 2048:
        assert blob[0] == 1  # chosen because it is cheaper
    for bad in (b"", b"\x02" + blob[1:]):
        with pytest.raises(ContainerError):
            decode_first(bad, len(idx), NeighbourRanks(cb), "t")


def test_chained_frame0_indices_refuse_a_walk_off_the_codebook():
    cb = np.arange(6, dtype=np.float16)[:, None]
    blob = encode_first(np.array([0, 1, 2, 3, 4, 5] * 30), NeighbourRanks(cb))
    assert blob[0] == 1
    with pytest.raises(ContainerError, match="outside the codebook"):
        decode_first(blob, 180, NeighbourRanks(cb[:3]), "t")


def test_morton_order_puts_neighbours_next_to_each_other():
    rng = np.random.default_rng(1)
    p = rng.integers(-5000, 5000, (4000, 3))
    order = morton_order(p)
    assert np.array_equal(np.sort(order), np.arange(4000))
    gap = np.abs(np.diff(p[order], axis=0)).sum(axis=1).mean()
    assert gap < 0.2 * np.abs(np.diff(p, axis=0)).sum(axis=1).mean()
    assert morton_order(np.zeros((0, 3), np.int64)).size == 0
    assert np.array_equal(morton_order(np.zeros((5, 3), np.int64)), np.arange(5))  # stable


def test_neighbour_ranks_follow_distance_with_ties_to_the_lower_index():
    cb = np.array([[0.0], [1.0], [-1.0], [3.0], [0.5]], np.float16)
    ranks = NeighbourRanks(cb).rank(np.zeros(5, np.int64), np.arange(5))
    assert ranks.tolist() == [0, 2, 3, 4, 1]  # 0; 0.5; then 1 and -1 tie, 1 first; 3


def test_drifting_colours_cost_less_as_ranks_than_as_indices(monkeypatch):
    rng = np.random.default_rng(0)
    cb = np.sort(rng.normal(size=(256, 3)).astype(np.float16), axis=0)
    cb = np.unique(cb, axis=0)
    walk = np.clip(
        rng.integers(0, len(cb), 400) + rng.integers(-2, 3, (20, 400)).cumsum(0), 0, len(cb) - 1
    )
    ranked = encode_band(cb, walk)
    cb2, back = decode_band(ranked, *walk.shape, 3)
    assert np.array_equal(back, walk) and np.array_equal(cb2.view(np.uint16), cb.view(np.uint16))
    monkeypatch.setattr(appearance.NeighbourRanks, "RANKED_MAX", 0)  # plain indices
    plain = encode_band(cb, walk)
    assert np.array_equal(decode_band(plain, *walk.shape, 3)[1], walk)
    assert len(ranked) < 0.8 * len(plain)


@given(seed=st.integers(0, 2**16), m=st.integers(1, 70))
def test_levels_hold_every_element_once_with_its_nearest_lower_neighbours(seed, m):
    rng = np.random.default_rng(seed)
    p = rng.integers(-50, 50, (m, 3)) * int(rng.choice([1, 2**45]))  # huge grids are shifted
    levels = levels_of(p)
    if m == 1:
        assert levels is None
        return
    assert np.array_equal(np.concatenate(levels.members), np.arange(m))
    for lv, (rows, nb) in enumerate(zip(levels.members, levels.neighbours, strict=True)):
        if lv == 0:
            continue
        assert nb.shape == (len(rows), min(3, rows[0]))
        assert nb.max() < rows[0]  # only elements decoded before this level
        if abs(p).max() < 2**20:
            for j, chosen in zip(rows, nb, strict=True):
                d = ((p[: rows[0]] - p[j]) ** 2).sum(axis=1)
                assert np.array_equal(chosen, np.argsort(d, kind="stable")[: len(chosen)])


def test_levels_stop_beyond_the_spatial_limit():
    assert levels_of(np.zeros((SPATIAL_MAX + 1, 3), np.int64)) is None


@given(seed=st.integers(0, 2**16), f=st.integers(1, 5), m=st.integers(1, 40), d=st.integers(1, 4))
def test_track_with_levels_round_trips(seed, f, m, d):
    rng = np.random.default_rng(seed)
    k = rng.integers(-(10**6), 10**6, (1, m, d)) + rng.integers(-9, 10, (f, m, d)).cumsum(0)
    levels = levels_of(rng.integers(-100, 100, (m, 3)))
    assert np.array_equal(decode_track(encode_track(k, levels=levels), f, m, d, levels=levels), k)


def test_neighbours_predict_a_body_moving_as_one():
    """Elements moving together: spatial prediction leaves (almost) nothing to code."""
    rng = np.random.default_rng(0)
    p = rng.integers(-500, 500, (300, 3))
    wave = np.round(20 * np.sin(np.arange(12) / 2.0)).astype(np.int64)[:, None, None]
    k = p[None] + wave + rng.integers(0, 2, (12, 300, 3))
    levels = levels_of(p)
    with_levels = encode_track(k, levels=levels)
    assert np.array_equal(decode_track(with_levels, 12, 300, 3, levels=levels), k)
    assert len(with_levels) < 0.8 * len(encode_track(k))
