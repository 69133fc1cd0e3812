"""A tiny synthetic skeleton and smooth random motion for tests and docstrings.

>>> m = toy_motion(n_frames=8, seed=1)
>>> m.rotations.shape, m.skeleton.names[:2]
((8, 9, 3, 3), ['Hips', 'LeftUpLeg'])
"""

from __future__ import annotations

import numpy as np

from latentzip.motion.bvh import Motion, Skeleton
from latentzip.motion.rotations import euler_to_matrix

_JOINTS = [
    # name, parent, offset, rotation order
    ("Hips", -1, (0.0, 0.0, 0.0), "ZYX"),
    ("LeftUpLeg", 0, (1.0, -0.5, 0.0), "ZXY"),
    ("LeftFoot", 1, (0.0, -4.0, 0.2), "YXZ"),
    ("LeftToe", 2, (0.0, -0.5, 1.0), "XYZ"),
    ("RightUpLeg", 0, (-1.0, -0.5, 0.0), "ZXY"),
    ("RightFoot", 4, (0.0, -4.0, 0.2), "YXZ"),
    ("RightToe", 5, (0.0, -0.5, 1.0), "XYZ"),
    ("Spine", 0, (0.0, 2.0, 0.0), "ZYX"),
    ("Head", 7, (0.0, 2.0, 0.3), "YZX"),
]


def toy_skeleton() -> Skeleton:
    """Nine joints, two legs with feet and toes, mixed Euler orders, a 6-channel root."""
    channels = []
    for j, (_, _, _, order) in enumerate(_JOINTS):
        rot = tuple(f"{a}rotation" for a in order)
        channels.append(("Xposition", "Yposition", "Zposition", *rot) if j == 0 else rot)
    return Skeleton(
        names=[j[0] for j in _JOINTS],
        parents=np.array([j[1] for j in _JOINTS]),
        offsets=np.array([j[2] for j in _JOINTS], dtype=np.float64),
        channels=channels,
        end_sites=[(3, np.array([0.0, 0.0, 0.5])), (6, np.array([0.0, 0.0, 0.5]))],
    )


def toy_motion(n_frames: int = 40, seed: int = 0, fps: float = 30.0) -> Motion:
    """Smooth random joint angles (sums of sines) and a curving walk of the root."""
    rng = np.random.default_rng(seed)
    sk = toy_skeleton()
    t = np.arange(n_frames) / fps
    J = sk.n_joints
    amp = rng.uniform(5, 40, size=(J, 3))
    freq = rng.uniform(0.3, 2.0, size=(J, 3))
    phase = rng.uniform(0, 2 * np.pi, size=(J, 3))
    ang = amp * np.sin(2 * np.pi * freq * t[:, None, None] + phase)
    ang[:, 0, 1] += np.degrees(0.8 * t) + rng.uniform(-180, 180)  # the root turns
    rots = np.stack([euler_to_matrix(ang[:, j], sk.rotation_order(j)) for j in range(J)], axis=1)
    yaw = np.radians(ang[:, 0, 1])
    root = np.stack(
        [np.cumsum(np.sin(yaw)) * 0.1, 5.0 + 0.2 * np.sin(4 * t), np.cumsum(np.cos(yaw)) * 0.1], 1
    )
    return Motion(sk, root + rng.normal(size=3) * [3.0, 0.0, 3.0], rots, fps)


__all__ = ["toy_motion", "toy_skeleton"]
