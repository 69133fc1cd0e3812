"""Metrics against closed forms."""

from __future__ import annotations

import numpy as np
import pytest

from latentzip.errors import DataError
from latentzip.motion.evaluate import frechet_distance
from latentzip.motion.rotations import euler_to_matrix, geodesic_deg, matrix_to_sixd, sixd_to_matrix


def test_frechet_distance_of_gaussians():
    rng = np.random.default_rng(0)
    a = rng.normal(0, 1, size=(20000, 2))
    b = rng.normal(0, 1, size=(20000, 2)) * [2.0, 1.0] + [1.0, 0.0]
    # closed form for diagonal covariances: |mu1-mu2|^2 + sum (s1 - s2)^2
    assert frechet_distance(a, b) == pytest.approx(1.0 + 1.0, abs=0.1)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(DataError):
        frechet_distance(a, b[:, :1])


def test_geodesic_and_sixd():
    R1 = euler_to_matrix(np.array([[10.0, 0, 0]]), "ZYX")
    R2 = euler_to_matrix(np.array([[47.0, 0, 0]]), "ZYX")
    assert geodesic_deg(R1, R2)[0] == pytest.approx(37.0)
    noisy = matrix_to_sixd(R2) + np.array([0.01, -0.02, 0.0, 0.0, 0.0, 0.0])
    Rn = sixd_to_matrix(noisy)
    assert np.allclose(Rn[0] @ Rn[0].T, np.eye(3), atol=1e-9)
    assert np.linalg.det(Rn[0]) == pytest.approx(1.0)


def _data_of(motion):
    """The parts of a MotionData the metrics read, around one motion."""
    from types import SimpleNamespace

    from latentzip.motion.data import Normalizer
    from latentzip.motion.features import motion_features

    f = motion_features(motion)
    norm = Normalizer(np.zeros(f.shape[1], np.float32), np.ones(f.shape[1], np.float32))
    return SimpleNamespace(skeleton=motion.skeleton, normalizer=norm, fps=motion.fps), f


def test_foot_skate_of_a_frozen_pose_sliding_at_known_speed():
    from latentzip.motion.bvh import Motion
    from latentzip.motion.evaluate import contact_agreement, foot_skate
    from latentzip.motion.features import body_height
    from latentzip.motion.synthetic import toy_motion

    base = toy_motion(33, seed=0)
    T = base.n_frames
    still = np.repeat(base.rotations[:1], T, axis=0)
    for speed in (0.0, 0.5):  # skeleton units per frame, along x
        root = np.zeros((T, 3))
        root[:, 0] = speed * np.arange(T)
        root[:, 1] = 5.0
        data, f = _data_of(Motion(base.skeleton, root, still, base.fps))
        x = f[None].astype(np.float32)
        expected = speed * base.fps / body_height(base.skeleton)
        assert foot_skate(x, data) == pytest.approx(expected, rel=1e-6, abs=1e-9)
        assert contact_agreement(x, x, data) == 1.0


def test_content_distance_ignores_posture_and_amplitude_but_not_timing():
    from latentzip.motion.evaluate import angle_distance, content_distance
    from latentzip.motion.synthetic import toy_motion

    m = toy_motion(65, seed=2)
    data, f = _data_of(m)
    x = f[None, :64].astype(np.float32)
    assert content_distance(x, x, data) == pytest.approx(0.0, abs=1e-9)
    assert angle_distance(x, x, data) == pytest.approx(0.0, abs=1e-9)
    # another clip, or the same one played backwards, moves at other times
    other = _data_of(toy_motion(65, seed=5))[1][None, :64].astype(np.float32)
    assert content_distance(other, x, data) > 0.3
    assert content_distance(x[:, ::-1], x, data) > 0.3
    # every joint's path about its mean doubled (same timing): the same content
    from latentzip.motion.features import feature_layout

    lay_pos = feature_layout(m.skeleton).local_pos
    scaled = x.copy()
    centre = scaled[..., lay_pos].mean(axis=1, keepdims=True)
    scaled[..., lay_pos] = centre + 2.0 * (scaled[..., lay_pos] - centre)
    assert content_distance(scaled, x, data) == pytest.approx(0.0, abs=1e-6)
