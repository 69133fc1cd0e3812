"""The splats codec: error bounds, lossless parts, seeking, corruption, inputs, rate control."""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from latentzip.coding import container
from latentzip.errors import ContainerError, DataError
from latentzip.splats import DualGSSequence, Gaussians
from latentzip.splats.codec import (
    SplatCodecConfig,
    SplatDecoder,
    compress_sequence,
    decode_frame,
    decompress_sequence,
    skin_coding_order,
)
from latentzip.splats.codec.entropy import unpack_parts
from latentzip.splats.codec.segment import SegmentFrames, quantise_segment

FAST = {"kmeans_iters": 4, "kmeans_samples": 2000}


def moving_frames(t=12, n=60, degree=1, seed=0, palette=None):
    """A ply-like sequence: Gaussians drifting smoothly, appearance changing a little."""
    rng = np.random.default_rng(seed)
    g0 = Gaussians.random(n, degree=degree, seed=seed)
    velocity = rng.normal(scale=0.01, size=(n, 3))
    frames = []
    for k in range(t):
        sh = g0.sh + rng.normal(scale=0.01, size=g0.sh.shape)
        if palette is not None:
            sh = palette[rng.integers(0, len(palette), n)]
        frames.append(
            Gaussians(
                means=g0.means + k * velocity + rng.normal(scale=1e-3, size=(n, 3)),
                log_scales=g0.log_scales + rng.normal(scale=0.02, size=(n, 3)),
                rotations=g0.rotations + rng.normal(scale=0.01, size=(n, 4)) * k,
                opacity_logits=g0.opacity_logits + rng.normal(scale=0.05, size=n),
                sh=sh,
            )
        )
    return frames


def within(decoded, original, step):
    err = np.abs(np.asarray(decoded, np.float64) - np.asarray(original, np.float64))
    tol = step / 2 * (1 + 1e-9) + 1e-6 * (1 + np.abs(np.asarray(original, np.float64)))
    return bool(np.all(err <= tol)), float(err.max())


def unit(q):
    q = np.asarray(q, np.float64)
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def test_ply_sequence_lossy_parts_stay_within_their_steps():
    frames = moving_frames(t=30, n=40)
    cfg = SplatCodecConfig(segment_length=30, deadzone=0.5, **FAST)  # one segment: no drift
    blob = compress_sequence(frames, cfg)
    steps = SplatDecoder(blob).steps
    out = decompress_sequence(blob)
    assert isinstance(out, list) and len(out) == 30
    for g, h in zip(out, frames, strict=True):
        assert within(g.means, h.means, steps.position)[0]
        assert within(g.log_scales, h.log_scales, steps.scale)[0]
        assert within(g.opacity_logits, h.opacity_logits, steps.opacity)[0]
        q = unit(h.rotations)
        sign = np.where(np.sum(q * g.rotations, axis=1, keepdims=True) < 0, -1, 1)
        assert within(g.rotations, q * sign, steps.rotation)[0]
    # the error at the end of the segment is no larger than at its start: closed loop
    last = np.abs(out[-1].means - frames[-1].means).max()
    assert last <= steps.position / 2 * (1 + 1e-6)


def test_dualgs_lossy_parts_stay_within_their_steps():
    seq = DualGSSequence.random(frames=9, joints=5, skins=40, degree=1, seed=3)
    cfg = SplatCodecConfig(segment_length=4, gaussians_per_entry=0.1, **FAST)
    blob = compress_sequence(seq, cfg)
    d = SplatDecoder(blob)
    out = d.sequence()
    assert isinstance(out, DualGSSequence) and out.n_frames == 9
    seq = seq.take_skins(skin_coding_order(seq, cfg))  # the decoded skins' order
    s = d.steps
    assert within(out.joint_means, seq.joint_means, s.position)[0]
    assert within(out.skin_rest_means, seq.skin_rest_means, s.position)[0]
    dz = 2 * cfg.deadzone  # appearance keeps its value within the dead zone
    assert within(out.skin_log_scales, seq.skin_log_scales, dz * s.scale)[0]
    assert within(out.skin_opacity_logits, seq.skin_opacity_logits, dz * s.opacity)[0]
    q = unit(seq.joint_rotations)
    sign = np.where(np.sum(q * out.joint_rotations, axis=-1, keepdims=True) < 0, -1, 1)
    assert within(out.joint_rotations, q * sign, s.rotation)[0]
    q = unit(seq.skin_rest_rotations)
    q = q * np.where(q[:, :1] < 0, -1, 1)
    assert within(out.skin_rest_rotations, q, s.skin_rotation)[0]
    assert np.array_equal(out.skin_joints, seq.skin_joints)
    w = 2.0**-cfg.weight_bits
    assert np.allclose(out.skin_weights.sum(axis=1), 1.0, atol=1e-6)
    assert np.abs(out.skin_weights - seq.skin_weights).max() <= 8 * w / 2
    # the random sequence has one colour per skin Gaussian: the codebooks hold them exactly
    assert np.array_equal(out.skin_sh, seq.skin_sh.astype(np.float16).astype(np.float32))
    # frames render from the decoded model: positions close to the original frames
    for t in (0, 8):
        assert np.abs(out.frame(t).means - seq.frame(t).means).max() < 20 * s.position


def test_deadzone_keeps_jittering_appearance_constant():
    base = moving_frames(t=1, n=300, seed=8)[0]
    rng = np.random.default_rng(8)
    frames = [
        Gaussians(
            base.means,
            base.log_scales + rng.normal(scale=0.003, size=(300, 3)),
            base.rotations,
            base.opacity_logits + rng.normal(scale=0.006, size=300),
            base.sh,
        )
        for _ in range(10)
    ]
    sizes = []
    for dz in (0.5, 1.0):
        cfg = SplatCodecConfig(deadzone=dz, opacity_step=0.02, scale_step=0.01, **FAST)
        blob = compress_sequence(frames, cfg)
        d = SplatDecoder(blob)
        steps, out = d.steps, decompress_sequence(blob)
        parts = unpack_parts(d.container.record(0), 6, "segment")
        sizes.append(len(parts[2]) + len(parts[3]))  # log scales and opacities
        for g, h in zip(out, frames, strict=True):
            assert within(g.log_scales, h.log_scales, 2 * dz * steps.scale)[0]
            assert within(g.opacity_logits, h.opacity_logits, 2 * dz * steps.opacity)[0]
    assert sizes[1] < 0.7 * sizes[0]


def test_a_nearest_joint_binding_is_predicted_and_cheap():
    from scipy.spatial import cKDTree

    seq = DualGSSequence.random(frames=2, joints=40, skins=2000, seed=9)
    d, idx = cKDTree(seq.joint_means[0]).query(seq.skin_rest_means, k=8)
    w = np.exp(-((d / d[:, 3:4]) ** 2))
    bound = dataclasses.replace(
        seq, skin_joints=idx.astype(np.int32), skin_weights=w / w.sum(axis=1, keepdims=True)
    )
    sizes = []
    for s in (seq, bound):
        blob = compress_sequence(s, SplatCodecConfig(**FAST))
        out = decompress_sequence(blob)
        order = skin_coding_order(s, SplatCodecConfig(**FAST))
        assert np.array_equal(out.skin_joints, s.skin_joints[order])
        sizes.append(len(SplatDecoder(blob).container.model))
    assert sizes[1] < 0.6 * sizes[0]


def test_skins_are_stored_in_space_order_whatever_order_they_come_in():
    seq = DualGSSequence.random(frames=3, joints=20, skins=3000, degree=1, seed=5)
    cfg = SplatCodecConfig(**FAST)
    order = skin_coding_order(seq, cfg)
    assert np.array_equal(np.sort(order), np.arange(3000))
    shuffled = seq.take_skins(np.random.default_rng(0).permutation(3000))
    blob = compress_sequence(seq, cfg)
    assert compress_sequence(shuffled, cfg) == blob  # the input's order is not in the file
    out = decompress_sequence(blob)
    ref = seq.take_skins(order)
    step = SplatDecoder(blob).steps.position
    assert within(out.skin_rest_means, ref.skin_rest_means, step)[0]
    # neighbours in the file are neighbours in space: much closer than in a random order
    gap = np.linalg.norm(np.diff(out.skin_rest_means, axis=0), axis=1).mean()
    assert gap < 0.3 * np.linalg.norm(np.diff(seq.skin_rest_means, axis=0), axis=1).mean()


def test_stored_codes_round_trip_bit_for_bit():
    """What the encoder quantised (grids, float16 codebooks, indices) is what decodes."""
    frames = moving_frames(t=7, n=30, degree=2, seed=4)
    cfg = SplatCodecConfig(segment_length=3, codebook_size=8, codebook_size_rest=4, **FAST)
    d = SplatDecoder(compress_sequence(frames, cfg))
    for i, first in enumerate(d.first_frames):
        part = frames[first : first + d.container.index[i].n_samples]
        expected = quantise_segment(
            SegmentFrames(
                np.stack([g.means for g in part]),
                np.stack([g.rotations for g in part]),
                np.stack([g.log_scales for g in part]),
                np.stack([g.opacity_logits for g in part]),
                np.stack([g.sh for g in part]),
            ),
            d.steps,
            codebook_sizes=(8, 4),
            hysteresis=cfg.hysteresis,
            deadzone=cfg.deadzone,
            sh_grid_bits=cfg.sh_grid_bits,
            kmeans_samples=cfg.kmeans_samples,
            kmeans_iters=cfg.kmeans_iters,
            seed=cfg.seed,
        )
        assert d.code(i).equals(expected)
        assert [len(cb) for cb in expected.codebooks] == [8, 4, 4]


def test_seeking_decodes_only_the_segment_of_the_frame(monkeypatch):
    seq = DualGSSequence.random(frames=10, joints=4, skins=30, seed=1)
    blob = compress_sequence(seq, SplatCodecConfig(segment_length=3, **FAST))
    full = decompress_sequence(blob)
    read = []
    original = container.Container.record

    def spy(self, i):
        read.append(i)
        return original(self, i)

    monkeypatch.setattr(container.Container, "record", spy)
    d = SplatDecoder(blob)
    assert d.n_segments == 4 and d.first_frames == [0, 3, 6, 9]
    g = d.frame(7)
    assert read == [2] and d.segments_read == [2]
    assert g.equals(full.frame(7))
    monkeypatch.undo()
    # damage every other segment: frame 7 still decodes, the whole sequence does not
    c = container.unpack(blob)
    bad = bytearray(blob)
    for i in (0, 1, 3):
        bad[c.payload_start + c.index[i].offset + c.index[i].length // 2] ^= 0xFF
    assert decode_frame(bytes(bad), 7).equals(g)
    with pytest.raises(ContainerError, match="record 0"):
        decompress_sequence(bytes(bad))
    with pytest.raises(DataError, match="outside"):
        d.frame(10)


def test_ply_frames_seek_too():
    frames = moving_frames(t=5, n=20)
    blob = compress_sequence(frames, SplatCodecConfig(segment_length=2, **FAST))
    assert decode_frame(blob, 4).equals(decompress_sequence(blob)[4])


def test_corrupted_and_truncated_input_give_clear_errors():
    blob = compress_sequence(moving_frames(t=4, n=20), SplatCodecConfig(**FAST))
    with pytest.raises(ContainerError, match="truncated"):
        decompress_sequence(blob[:-7])
    with pytest.raises(ContainerError, match="truncated"):
        decompress_sequence(blob[:40])
    with pytest.raises(ContainerError, match="magic"):
        decompress_sequence(b"not a container at all")
    for pos in (5, 40, len(blob) - 3):
        bad = bytearray(blob)
        bad[pos] ^= 0x10
        with pytest.raises(ContainerError):
            decompress_sequence(bytes(bad))
    # a container of another codec is refused
    other = container.pack(1, 1, {"codec": "arrays"}, [])
    with pytest.raises(ContainerError, match="codec"):
        SplatDecoder(other)


def test_wrong_inputs_raise_data_errors():
    g = Gaussians.random(5)
    with pytest.raises(DataError, match="single frame"):
        compress_sequence(g)
    with pytest.raises(DataError):
        compress_sequence([])
    with pytest.raises(DataError, match="same Gaussians"):
        compress_sequence([g, Gaussians.random(6)])
    with pytest.raises(DataError, match="degree"):
        compress_sequence([g, Gaussians.random(5, degree=1)])
    with pytest.raises(DataError):
        compress_sequence([g, np.zeros((5, 3))])
    with pytest.raises(DataError):
        compress_sequence(np.zeros((3, 5, 3)))
    seq = DualGSSequence.random(frames=2, joints=2, skins=3)
    bad = dataclasses.replace(seq, skin_opacity_logits=np.full((2, 3), np.nan))
    with pytest.raises(DataError, match="NaN"):
        compress_sequence(bad)
    with pytest.raises(DataError, match="quality"):
        SplatCodecConfig.from_quality(9)
    with pytest.raises(DataError):
        SplatCodecConfig(codebook_size=10000)
    with pytest.raises(DataError):
        SplatCodecConfig(position_step=0)


def test_quality_trades_size_against_error():
    frames = moving_frames(t=10, n=200, degree=1, seed=5)
    sizes, errors = [], []
    for q in (1, 3, 5):
        blob = compress_sequence(frames, SplatCodecConfig.from_quality(q, **FAST))
        out = decompress_sequence(blob)
        sizes.append(len(blob))
        pairs = zip(out, frames, strict=True)
        errors.append(np.mean([np.abs(a.means - b.means).mean() for a, b in pairs]))
    assert sizes[0] < sizes[1] < sizes[2]
    assert errors[0] > errors[1] > errors[2]


def test_static_content_costs_almost_nothing_after_the_first_frame():
    g = Gaussians.random(300, degree=0, seed=7)
    one = len(compress_sequence([g], SplatCodecConfig(**FAST)))
    many = len(compress_sequence([g] * 20, SplatCodecConfig(**FAST)))
    assert many < one + 20 * 60  # 19 unchanged frames: a few bytes of histograms each


def test_bitstream_is_pinned():
    """Golden: a format change must be deliberate (update the digest on purpose)."""
    seq = DualGSSequence.random(frames=3, joints=3, skins=12, degree=1, seed=0)
    pinned = {"position_step": 2.0**-10, "scale_step": 0.08, "hysteresis": 0.2}  # not presets
    cfg = SplatCodecConfig(segment_length=2, codebook_size_rest=384, **pinned, **FAST)
    blob = compress_sequence(seq, cfg)
    assert (len(blob), hashlib.sha256(blob).hexdigest()[:16]) == GOLDEN


GOLDEN = (2366, "64eda143604283af")


_SMALL = compress_sequence(
    DualGSSequence.random(frames=4, joints=3, skins=15, degree=1, seed=11),
    SplatCodecConfig(segment_length=2, **FAST),
)


@given(pos=st.integers(0, len(_SMALL) - 1), flip=st.integers(1, 255), cut=st.booleans())
def test_any_damage_is_a_container_error(pos, flip, cut):
    bad = _SMALL[:pos] if cut else _SMALL[:pos] + bytes([_SMALL[pos] ^ flip]) + _SMALL[pos + 1 :]
    with pytest.raises(ContainerError):
        decompress_sequence(bad)


@given(
    frames=st.integers(1, 5),
    joints=st.integers(1, 4),
    skins=st.integers(1, 12),
    degree=st.integers(0, 2),
    seg=st.integers(1, 3),
    seed=st.integers(0, 1000),
)
def test_random_small_sequences_round_trip(frames, joints, skins, degree, seg, seed):
    seq = DualGSSequence.random(frames=frames, joints=joints, skins=skins, degree=degree, seed=seed)
    cfg = SplatCodecConfig(segment_length=seg, deadzone=0.5, gaussians_per_entry=0.01, **FAST)
    for data in (seq, [seq.frame(t) for t in range(frames)]):
        blob = compress_sequence(data, cfg)
        d = SplatDecoder(blob)
        out = d.sequence()
        again = SplatDecoder(compress_sequence(data, cfg))
        for i in range(d.n_segments):  # deterministic, and the stored codes decode exactly
            assert d.code(i).equals(again.code(i))
        if isinstance(data, DualGSSequence):
            assert within(out.joint_means, seq.joint_means, d.steps.position)[0]
            order = skin_coding_order(seq, cfg)
            assert np.array_equal(out.skin_joints, seq.skin_joints[order])
            assert decode_frame(blob, frames - 1).equals(out.frame(frames - 1))
        else:
            for g, h in zip(out, data, strict=True):
                assert within(g.means, h.means, d.steps.position)[0]
                assert within(g.opacity_logits, h.opacity_logits, d.steps.opacity)[0]
