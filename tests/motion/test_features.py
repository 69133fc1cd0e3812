"""Feature layout: features -> positions reproduce forward kinematics of the source."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import shared_file

from latentzip.errors import DataError
from latentzip.motion.bvh import Motion, read_bvh
from latentzip.motion.features import (
    canonical_positions,
    feature_layout,
    features_to_motion,
    features_to_positions,
    local_rotations,
    motion_features,
)
from latentzip.motion.rotations import yaw_matrix
from latentzip.motion.synthetic import toy_motion, toy_skeleton


def test_layout_of_toy_skeleton():
    lay = feature_layout(toy_skeleton())
    assert lay.feet == (2, 3, 5, 6)
    assert lay.dim == 4 + 3 * 8 + 6 * 9 + 3 * 9 + 4
    assert lay.rot6d == slice(28, 82) and lay.contacts == slice(109, 113)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_features_to_positions_matches_fk(seed):
    m = toy_motion(50, seed=seed)
    f = motion_features(m)
    ref = canonical_positions(m)[:-1]
    assert np.abs(features_to_motion(f, m.skeleton, m.fps).positions() - ref).max() < 1e-9
    assert np.abs(features_to_positions(f, m.skeleton) - ref).max() < 1e-9


@pytest.mark.parametrize(
    "rel", ["motion/m21/style/ZOMBIE.bvh", "motion/xia-test/neutral_01_000.bvh"]
)
def test_features_round_trip_on_shared_clips(rel):
    m = read_bvh(shared_file(rel)).to_motion().downsample(30)
    f = motion_features(m).astype(np.float32)  # what the networks see
    ref = canonical_positions(m)[:-1]
    scale = np.abs(ref).max()
    assert np.abs(features_to_motion(f, m.skeleton, m.fps).positions() - ref).max() < 1e-4 * scale
    assert np.abs(features_to_positions(f, m.skeleton) - ref).max() < 1e-4 * scale


def test_features_do_not_depend_on_start_position_or_heading():
    m = toy_motion(30, seed=4)
    R = yaw_matrix(np.array(1.1))
    moved = Motion(m.skeleton, m.root @ R.T + [5.0, 0.0, -2.0], m.rotations.copy(), m.fps)
    moved.rotations[:, 0] = R @ m.rotations[:, 0]
    assert np.allclose(motion_features(moved), motion_features(m), atol=1e-9)


def test_local_rotations_and_contacts():
    m = toy_motion(20, seed=5)
    f = motion_features(m)
    rots = local_rotations(f, m.skeleton)
    assert np.allclose(rots[:, 1:], m.rotations[:-1, 1:], atol=1e-9)
    still = Motion(
        m.skeleton, np.tile(m.root[:1], (10, 1)), np.tile(m.rotations[:1], (10, 1, 1, 1)), 30.0
    )
    fs = motion_features(still)
    assert np.all(fs[:, feature_layout(m.skeleton).contacts] == 1)
    assert np.allclose(fs[:, :3], 0)


def test_bad_feature_inputs():
    sk = toy_skeleton()
    with pytest.raises(DataError, match="must be"):
        features_to_positions(np.zeros((5, 10)), sk)
    bad = np.zeros((5, feature_layout(sk).dim))
    bad[0, 0] = np.nan
    with pytest.raises(DataError, match="NaN"):
        features_to_motion(bad, sk, 30)
    with pytest.raises(DataError, match="2 frames"):
        motion_features(toy_motion(1))
