"""Skeletons, BVH channel values and motion as rotation matrices; forward kinematics.

The data types behind :mod:`latentzip.motion.bvh` (which reads and writes the text format):

    Skeleton   joint tree: names, parents, rest offsets, channel layout, end sites
    Bvh        a skeleton with its channel values (T, n_channels) and the frame time
    Motion     root translation and local rotation matrices; resampling and mirroring

A joint's local translation is its position channels when it has them (Blender's convention),
its offset otherwise; global transforms chain from the root (:func:`forward_kinematics`).

>>> sk = Skeleton(["Hips", "Leg"], np.array([-1, 0]), np.array([[0, 0, 0], [0, -1.0, 0]]),
...               [("Xposition", "Yposition", "Zposition", "Zrotation", "Yrotation", "Xrotation"),
...                ("Zrotation", "Xrotation", "Yrotation")])
>>> bvh = Bvh(sk, np.array([[0, 2, 0, 0, 0, 0, 90, 0, 0]], dtype=float), 1 / 30)
>>> motion = bvh.to_motion()
>>> motion.positions()[0].round(6).tolist()
[[0.0, 2.0, 0.0], [0.0, 1.0, 0.0]]
>>> np.allclose(motion.to_bvh().values, bvh.values)
True
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from latentzip.errors import DataError
from latentzip.motion.rotations import euler_to_matrix, matrix_to_euler

_POS = ("Xposition", "Yposition", "Zposition")
_ROT = ("Xrotation", "Yrotation", "Zrotation")


@dataclass(frozen=True)
class Skeleton:
    """A joint tree.

    Attributes
    ----------
    names : list of str, J joint names, parents before children (file order)
    parents : int array (J,), -1 for the root
    offsets : float array (J, 3), rest translation from the parent
    channels : list of tuple of str, the channel names of every joint in file order
    end_sites : list of (joint index, offset (3,)) for the ``End Site`` blocks
    """

    names: list[str]
    parents: np.ndarray
    offsets: np.ndarray
    channels: list[tuple[str, ...]]
    end_sites: list[tuple[int, np.ndarray]] = field(default_factory=list)

    @property
    def n_joints(self) -> int:
        return len(self.names)

    @property
    def n_channels(self) -> int:
        return sum(len(c) for c in self.channels)

    def rotation_order(self, j: int) -> str:
        """Euler order of joint ``j`` (e.g. ``"ZYX"``), ``""`` when it has no rotation."""
        return "".join(c[0] for c in self.channels[j] if c in _ROT)

    def channel_slices(self) -> list[slice]:
        """Column range of every joint in the frame rows."""
        out, start = [], 0
        for c in self.channels:
            out.append(slice(start, start + len(c)))
            start += len(c)
        return out

    def signature(self) -> str:
        """A short key naming this skeleton's topology (joint count and names)."""
        import hashlib

        text = ",".join(f"{n}:{p}" for n, p in zip(self.names, self.parents.tolist(), strict=True))
        return f"j{self.n_joints}-" + hashlib.sha1(text.encode()).hexdigest()[:8]

    def find(self, *keys: str) -> int:
        """Index of the first joint whose lower-cased name contains every key."""
        for j, name in enumerate(self.names):
            low = name.lower()
            if all(k in low for k in keys):
                return j
        raise DataError(f"no joint named like {'+'.join(keys)} in {self.names}")

    def mirror_map(self) -> np.ndarray:
        """Index of every joint's left/right counterpart (itself when unpaired)."""
        idx = {n: j for j, n in enumerate(self.names)}
        out = np.arange(self.n_joints)
        for j, n in enumerate(self.names):
            for a, b in (("Left", "Right"), ("Right", "Left")):
                if n.startswith(a) and b + n[len(a) :] in idx:
                    out[j] = idx[b + n[len(a) :]]
            if len(n) > 1 and n[0] in "LR" and n[1].isupper():
                other = {"L": "R", "R": "L"}[n[0]] + n[1:]
                if other in idx:
                    out[j] = idx[other]
        return out


@dataclass(frozen=True)
class Bvh:
    """A parsed BVH file: ``values`` (T, n_channels) float64 and the frame time in seconds."""

    skeleton: Skeleton
    values: np.ndarray
    frame_time: float

    @property
    def n_frames(self) -> int:
        return int(self.values.shape[0])

    def to_motion(self) -> Motion:
        """Rotation matrices and root positions from the channel values."""
        sk = self.skeleton
        T = self.n_frames
        rot = np.tile(np.eye(3), (T, sk.n_joints, 1, 1))
        root = np.tile(sk.offsets[0], (T, 1)).astype(np.float64)
        for j, sl in enumerate(sk.channel_slices()):
            names = sk.channels[j]
            cols = self.values[:, sl]
            rcols = [i for i, c in enumerate(names) if c in _ROT]
            if rcols:
                rot[:, j] = euler_to_matrix(cols[:, rcols], sk.rotation_order(j))
            if j == 0:
                for i, c in enumerate(names):
                    if c in _POS:
                        root[:, _POS.index(c)] = cols[:, i]
        return Motion(sk, root, rot, 1.0 / self.frame_time)


@dataclass(frozen=True)
class Motion:
    """Joint rotations as matrices: the form the features and the exporter use.

    Attributes
    ----------
    skeleton : Skeleton
    root : float array (T, 3), root translation
    rotations : float array (T, J, 3, 3), local rotation of every joint
    fps : float
    """

    skeleton: Skeleton
    root: np.ndarray
    rotations: np.ndarray
    fps: float

    @property
    def n_frames(self) -> int:
        return int(self.root.shape[0])

    def global_transforms(self) -> tuple[np.ndarray, np.ndarray]:
        """Global rotations (T, J, 3, 3) and positions (T, J, 3) by forward kinematics."""
        return forward_kinematics(self.skeleton, self.rotations, self.root)

    def positions(self) -> np.ndarray:
        """Global joint positions (T, J, 3)."""
        return self.global_transforms()[1]

    def downsample(self, fps: float, phase: int = 0) -> Motion:
        """Keep every k-th frame from ``phase`` (mod k) so that the rate is closest to ``fps``."""
        k = self.downsample_step(fps)
        p = phase % k
        return Motion(self.skeleton, self.root[p::k], self.rotations[p::k], self.fps / k)

    def downsample_step(self, fps: float) -> int:
        """The k (>= 1) of :meth:`downsample`."""
        ratio = self.fps / fps if fps > 0 else np.inf
        if not (np.isfinite(ratio) and ratio > 0):  # fps 0, negative, NaN, or absurdly small
            raise DataError(f"cannot resample {self.fps:g} fps motion to {fps} fps")
        return max(1, round(ratio))

    def slice(self, start: int, stop: int) -> Motion:
        return Motion(self.skeleton, self.root[start:stop], self.rotations[start:stop], self.fps)

    def mirror(self) -> Motion:
        """Reflect through the x = 0 plane and swap left and right joints.

        The skeleton's own offsets are kept, so the result is exact only for a symmetric
        skeleton (the shared ones are within a few per cent).
        """
        M = np.diag([-1.0, 1.0, 1.0])
        swap = self.skeleton.mirror_map()
        rot = M @ self.rotations[:, swap] @ M
        return Motion(self.skeleton, self.root * np.array([-1.0, 1.0, 1.0]), rot, self.fps)

    def to_bvh(self) -> Bvh:
        """Channel values for this motion in the skeleton's channel layout."""
        sk = self.skeleton
        values = np.zeros((self.n_frames, sk.n_channels))
        for j, sl in enumerate(sk.channel_slices()):
            names = sk.channels[j]
            block = np.zeros((self.n_frames, len(names)))
            order = sk.rotation_order(j)
            if order:
                if len(order) != 3:
                    raise DataError(f"joint {sk.names[j]} needs three rotation channels")
                eul = matrix_to_euler(self.rotations[:, j], order)
                ri = [i for i, c in enumerate(names) if c in _ROT]
                block[:, ri] = eul
            for i, c in enumerate(names):
                if c in _POS:
                    src = self.root if j == 0 else np.tile(sk.offsets[j], (self.n_frames, 1))
                    block[:, i] = src[:, _POS.index(c)]
            values[:, sl] = block
        return Bvh(sk, values, 1.0 / self.fps)


def forward_kinematics(
    skeleton: Skeleton, rotations: np.ndarray, root: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Global rotations and positions from local rotations and the root translation.

    Parameters
    ----------
    skeleton : Skeleton (offsets are the local translations of non-root joints)
    rotations : array (T, J, 3, 3)
    root : array (T, 3)

    Returns
    -------
    global rotations (T, J, 3, 3), global positions (T, J, 3)
    """
    T, J = rotations.shape[:2]
    if skeleton.n_joints != J or root.shape != (T, 3):
        raise DataError(
            f"rotations {rotations.shape} / root {root.shape} do not fit a "
            f"{skeleton.n_joints}-joint skeleton"
        )
    grot = np.empty_like(rotations)
    gpos = np.empty((T, J, 3))
    for j, p in enumerate(skeleton.parents.tolist()):
        if p < 0:
            grot[:, j] = rotations[:, j]
            gpos[:, j] = root
        else:
            grot[:, j] = grot[:, p] @ rotations[:, j]
            gpos[:, j] = gpos[:, p] + grot[:, p] @ skeleton.offsets[j]
    return grot, gpos


__all__ = ["Bvh", "Motion", "Skeleton", "forward_kinematics"]
