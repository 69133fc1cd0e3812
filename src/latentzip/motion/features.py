"""Per-frame motion features in the layout of GenMoStyle / HumanML3D, and their inverse.

For a skeleton of J joints with F foot joints, frame t of a motion of T frames gives a row of
``D = 4 + 3(J-1) + 6J + 3J + F`` numbers (T-1 rows: velocities need the next frame):

=================  ==========================  ============================================
columns            name                        meaning
=================  ==========================  ============================================
0                  ``root_rot_vel``            yaw_{t+1} - yaw_t about +y (radians / frame)
1:3                ``root_lin_vel``            root xz step t -> t+1 in the heading frame of t
3                  ``root_height``             root y
4 : 4+3(J-1)       ``local_pos``               joints 1..J-1 relative to the root in xz,
                                               absolute y, heading removed
then 6J            ``rot6d``                   local rotations, 6-D (Zhou et al. 2019); the
                                               root's with the heading removed
then 3J            ``velocity``                global joint step t -> t+1, heading frame of t
last F             ``contacts``                1 where the foot moves slower than a threshold
=================  ==========================  ============================================

The heading (yaw) is the direction of the root's local +z axis projected on the floor.
:func:`features_to_motion` integrates the root and runs forward kinematics on the 6-D
rotations; it reproduces the source motion up to the start position and heading, which it
sets to the origin and yaw 0 (:func:`canonical_positions` applies the same to a motion).

>>> from latentzip.motion.synthetic import toy_motion
>>> m = toy_motion(n_frames=20)
>>> f = motion_features(m)
>>> f.shape == (19, feature_layout(m.skeleton).dim)
True
>>> rec = features_to_motion(f, m.skeleton, m.fps).positions()
>>> bool(np.allclose(rec, canonical_positions(m)[:19], atol=1e-6))
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from latentzip.errors import DataError
from latentzip.motion.bvh import Motion, Skeleton, forward_kinematics
from latentzip.motion.rotations import matrix_to_sixd, sixd_to_matrix, yaw_matrix

CONTACT_SPEED = 0.25  # body heights per second below which a foot counts as planted


@dataclass(frozen=True)
class FeatureLayout:
    """Column slices of the feature rows for one skeleton (see the module docstring)."""

    n_joints: int
    feet: tuple[int, ...]

    @property
    def root_rot_vel(self) -> slice:
        return slice(0, 1)

    @property
    def root_lin_vel(self) -> slice:
        return slice(1, 3)

    @property
    def root_height(self) -> slice:
        return slice(3, 4)

    @property
    def root(self) -> slice:
        """The four root columns the global regressor predicts."""
        return slice(0, 4)

    @property
    def local_pos(self) -> slice:
        return slice(4, 4 + 3 * (self.n_joints - 1))

    @property
    def rot6d(self) -> slice:
        start = self.local_pos.stop
        return slice(start, start + 6 * self.n_joints)

    @property
    def velocity(self) -> slice:
        start = self.rot6d.stop
        return slice(start, start + 3 * self.n_joints)

    @property
    def contacts(self) -> slice:
        start = self.velocity.stop
        return slice(start, start + len(self.feet))

    @property
    def dim(self) -> int:
        return self.contacts.stop


def foot_joints(skeleton: Skeleton) -> tuple[int, ...]:
    """Joints whose names contain ``foot`` or ``toe`` (the contact channels)."""
    feet = [j for j, n in enumerate(skeleton.names) if "foot" in n.lower() or "toe" in n.lower()]
    return tuple(feet)


def feature_layout(skeleton: Skeleton) -> FeatureLayout:
    return FeatureLayout(skeleton.n_joints, foot_joints(skeleton))


def body_height(skeleton: Skeleton) -> float:
    """Vertical extent of the rest pose (used to scale thresholds)."""
    T = 1
    rest = np.tile(np.eye(3), (T, skeleton.n_joints, 1, 1))
    y = forward_kinematics(skeleton, rest, np.zeros((T, 3)))[1][0, :, 1]
    return float(max(y.max() - y.min(), 1e-6))


def heading(rotations_root: np.ndarray) -> np.ndarray:
    """Yaw (radians) of the root's +z axis on the floor, shape (T,)."""
    fwd = rotations_root[:, :, 2]
    return np.arctan2(fwd[:, 0], fwd[:, 2])


def _wrap(a: np.ndarray) -> np.ndarray:
    return (a + np.pi) % (2 * np.pi) - np.pi


def motion_features(motion: Motion) -> np.ndarray:
    """Feature rows (T-1, D) float64 of ``motion`` (layout in the module docstring)."""
    sk, T = motion.skeleton, motion.n_frames
    if T < 2:
        raise DataError(f"a motion needs at least 2 frames for features, got {T}")
    grot, gpos = motion.global_transforms()
    yaw = heading(grot[:, 0])
    inv = yaw_matrix(-yaw)  # world -> heading frame, (T, 3, 3)
    root = gpos[:, 0]
    rot_vel = _wrap(yaw[1:] - yaw[:-1])
    step = np.einsum("tij,tj->ti", inv[:-1], root[1:] - root[:-1])
    rel = gpos[:, 1:] - root[:, None] * np.array([1.0, 0.0, 1.0])
    local = np.einsum("tij,tkj->tki", inv, rel)
    rots = motion.rotations.copy()
    rots[:, 0] = inv @ rots[:, 0]
    vel = np.einsum("tij,tkj->tki", inv[:-1], gpos[1:] - gpos[:-1])
    feet = foot_joints(sk)
    speed = np.linalg.norm(gpos[1:, list(feet)] - gpos[:-1, list(feet)], axis=-1) * motion.fps
    contacts = (speed < CONTACT_SPEED * body_height(sk)).astype(np.float64)
    n = T - 1
    out = np.concatenate(
        [
            rot_vel[:, None],
            step[:, [0, 2]],
            root[:n, 1:2],
            local[:n].reshape(n, -1),
            matrix_to_sixd(rots[:n]).reshape(n, -1),
            vel.reshape(n, -1),
            contacts,
        ],
        axis=1,
    )
    return out


def _check(features: np.ndarray, skeleton: Skeleton) -> FeatureLayout:
    lay = feature_layout(skeleton)
    f = np.asarray(features)
    if f.ndim != 2 or f.shape[1] != lay.dim:
        raise DataError(
            f"features for this {skeleton.n_joints}-joint skeleton must be (T, {lay.dim}), "
            f"got {f.shape}"
        )
    if not np.all(np.isfinite(f)):
        raise DataError("features contain NaN or inf")
    return lay


def integrate_root(features: np.ndarray, skeleton: Skeleton) -> tuple[np.ndarray, np.ndarray]:
    """Yaw (T,) and root position (T, 3), starting at yaw 0 over the origin."""
    lay = _check(features, skeleton)
    f = np.asarray(features, dtype=np.float64)
    yaw = np.concatenate([[0.0], np.cumsum(f[:-1, lay.root_rot_vel][:, 0])])
    step = np.zeros((len(f), 3))
    step[:, [0, 2]] = f[:, lay.root_lin_vel]
    world = np.einsum("tij,tj->ti", yaw_matrix(yaw), step)
    xz = np.concatenate([np.zeros((1, 3)), np.cumsum(world[:-1], axis=0)])
    root = xz * np.array([1.0, 0.0, 1.0])
    root[:, 1] = f[:, lay.root_height][:, 0]
    return yaw, root


def features_to_motion(features: np.ndarray, skeleton: Skeleton, fps: float) -> Motion:
    """Integrate the root and rebuild rotation matrices from the 6-D channels."""
    lay = _check(features, skeleton)
    yaw, root = integrate_root(features, skeleton)
    f = np.asarray(features, dtype=np.float64)
    rots = sixd_to_matrix(f[:, lay.rot6d].reshape(len(f), lay.n_joints, 6))
    rots[:, 0] = yaw_matrix(yaw) @ rots[:, 0]
    return Motion(skeleton, root, rots, fps)


def features_to_positions(features: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """Global joint positions (T, J, 3) from the local-position channels and the root path."""
    lay = _check(features, skeleton)
    yaw, root = integrate_root(features, skeleton)
    f = np.asarray(features, dtype=np.float64)
    local = f[:, lay.local_pos].reshape(len(f), lay.n_joints - 1, 3)
    world = np.einsum("tij,tkj->tki", yaw_matrix(yaw), local)
    world += root[:, None] * np.array([1.0, 0.0, 1.0])
    return np.concatenate([root[:, None], world], axis=1)


def canonical_positions(motion: Motion) -> np.ndarray:
    """FK positions moved so that frame 0's root is over the origin with yaw 0."""
    grot, gpos = motion.global_transforms()
    yaw0 = heading(grot[:1, 0])[0]
    shifted = gpos - gpos[0, 0] * np.array([1.0, 0.0, 1.0])
    return np.einsum("ij,tkj->tki", yaw_matrix(-yaw0), shifted)


def local_rotations(features: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """Local rotation matrices (T, J, 3, 3) from the 6-D channels (root without heading)."""
    lay = _check(features, skeleton)
    f = np.asarray(features, dtype=np.float64)
    return sixd_to_matrix(f[:, lay.rot6d].reshape(len(f), lay.n_joints, 6))


__all__ = [
    "FeatureLayout",
    "body_height",
    "canonical_positions",
    "feature_layout",
    "features_to_motion",
    "features_to_positions",
    "foot_joints",
    "heading",
    "integrate_root",
    "local_rotations",
    "motion_features",
]
