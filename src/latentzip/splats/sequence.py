"""A DualGS sequence: joint Gaussians carry the motion, skin Gaussians the appearance.

Skin Gaussian ``i`` is bound to up to 8 joints ``skin_joints[i]`` with weights
``skin_weights[i]`` (rows sum to one). Its position in frame ``t`` is the blend of the rigid
motions of its joints since frame 0 (linear blend skinning)::

    R_k = R_jk(t) R_jk(0)^T
    p_i(t) = sum_k w_k (R_k (p_i(0) - mu_jk(0)) + mu_jk(t))
    q_i(t) = normalise(sum_k w_k q_k) * q_i(0)      (q_k sign-aligned with q_1)

so positions and rotations of every skin Gaussian follow from the joints; appearance (scale,
opacity, SH colour) is stored per frame. This numpy version is the reference that the PyTorch
fitting and the codec must agree with.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from latentzip.errors import DataError
from latentzip.files import atomic_write
from latentzip.splats.gaussians import Gaussians

__all__ = ["DualGSSequence", "quat_multiply", "quat_normalise", "quat_to_matrix"]

FORMAT = "latentzip-dualgs/1"


def quat_normalise(q: np.ndarray) -> np.ndarray:
    """Unit quaternions (w, x, y, z), last axis."""
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def quat_multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product ``a * b`` of (..., 4) quaternions (w, x, y, z)."""
    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        axis=-1,
    )


def quat_conjugate(q: np.ndarray) -> np.ndarray:
    return q * np.array([1, -1, -1, -1], dtype=q.dtype)


def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """(..., 4) quaternions (w, x, y, z; normalised here) -> (..., 3, 3) rotation matrices."""
    w, x, y, z = np.moveaxis(quat_normalise(q), -1, 0)
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
            np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
            np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
        ],
        axis=-2,
    )


@dataclass(frozen=True, eq=False)
class DualGSSequence:
    """T frames of J joint Gaussians and S skin Gaussians (float32 / int32 numpy arrays).

    Attributes
    ----------
    joint_means : (T, J, 3) joint positions per frame.
    joint_rotations : (T, J, 4) unit quaternions (w, x, y, z) per frame.
    skin_rest_means : (S, 3) skin positions in frame 0.
    skin_rest_rotations : (S, 4) skin quaternions in frame 0.
    skin_joints : (S, 8) int32 joint indices each skin Gaussian is bound to.
    skin_weights : (S, 8) binding weights, rows sum to one.
    skin_log_scales : (T, S, 3), skin_opacity_logits : (T, S), skin_sh : (T, S, B, 3)
        appearance per frame.

    Examples
    --------
    >>> seq = DualGSSequence.random(frames=3, joints=4, skins=10, seed=0)
    >>> g = seq.frame(0)
    >>> np.allclose(g.means, seq.skin_rest_means, atol=1e-5)
    True
    >>> DualGSSequence.from_bytes(seq.to_bytes()).frame(2).equals(seq.frame(2))
    True
    """

    joint_means: np.ndarray
    joint_rotations: np.ndarray
    skin_rest_means: np.ndarray
    skin_rest_rotations: np.ndarray
    skin_joints: np.ndarray
    skin_weights: np.ndarray
    skin_log_scales: np.ndarray
    skin_opacity_logits: np.ndarray
    skin_sh: np.ndarray

    def __post_init__(self) -> None:
        t, j = self.joint_means.shape[:2]
        s = len(self.skin_rest_means)
        expected = {
            "joint_means": (t, j, 3),
            "joint_rotations": (t, j, 4),
            "skin_rest_means": (s, 3),
            "skin_rest_rotations": (s, 4),
            "skin_joints": (s, 8),
            "skin_weights": (s, 8),
            "skin_log_scales": (t, s, 3),
            "skin_opacity_logits": (t, s),
        }
        for name, shape in expected.items():
            if np.shape(getattr(self, name)) != shape:
                raise DataError(f"{name} has shape {np.shape(getattr(self, name))}, not {shape}")
        if np.shape(self.skin_sh)[:2] != (t, s) or np.ndim(self.skin_sh) != 4:
            raise DataError(f"skin_sh has shape {np.shape(self.skin_sh)}, not (T, S, B, 3)")
        if t == 0 or j == 0 or s == 0:
            raise DataError("a DualGS sequence needs at least one frame, joint and skin Gaussian")
        for name in expected.keys() | {"skin_sh"}:
            dtype = np.int32 if name == "skin_joints" else np.float32
            object.__setattr__(self, name, np.ascontiguousarray(getattr(self, name), dtype))
        if self.skin_joints.min() < 0 or self.skin_joints.max() >= j:
            raise DataError(f"skin_joints must index the {j} joints")

    @property
    def n_frames(self) -> int:
        return len(self.joint_means)

    def frame(self, t: int) -> Gaussians:
        """The skin Gaussians of frame ``t``, warped by the joints (see the module docstring)."""
        if not 0 <= t < self.n_frames:
            raise DataError(f"frame {t} is outside 0..{self.n_frames - 1}")
        idx, w = self.skin_joints, self.skin_weights
        q_rel = quat_multiply(
            quat_normalise(self.joint_rotations[t]),
            quat_conjugate(quat_normalise(self.joint_rotations[0])),
        )[idx]  # (S, 8, 4)
        r_rel = quat_to_matrix(q_rel)
        offset = self.skin_rest_means[:, None, :] - self.joint_means[0][idx]
        moved = np.einsum("skab,skb->ska", r_rel, offset) + self.joint_means[t][idx]
        means = np.einsum("sk,ska->sa", w, moved)
        sign = np.where(np.sum(q_rel * q_rel[:, :1], axis=-1, keepdims=True) < 0, -1.0, 1.0)
        blend = quat_normalise(np.einsum("sk,ska->sa", w, q_rel * sign))
        rotations = quat_multiply(blend, quat_normalise(self.skin_rest_rotations))
        return Gaussians(
            means=means,
            log_scales=self.skin_log_scales[t],
            rotations=rotations,
            opacity_logits=self.skin_opacity_logits[t],
            sh=self.skin_sh[t],
        )

    def take_skins(self, order: np.ndarray) -> DualGSSequence:
        """The same sequence with its skin Gaussians in ``order`` (indices into 0..S-1)."""
        order = np.asarray(order, np.int64)
        return replace(
            self,
            skin_rest_means=self.skin_rest_means[order],
            skin_rest_rotations=self.skin_rest_rotations[order],
            skin_joints=self.skin_joints[order],
            skin_weights=self.skin_weights[order],
            skin_log_scales=self.skin_log_scales[:, order],
            skin_opacity_logits=self.skin_opacity_logits[:, order],
            skin_sh=self.skin_sh[:, order],
        )

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        arrays = {name: getattr(self, name) for name in self.__dataclass_fields__}
        np.savez(buf, format=np.array(FORMAT), **arrays)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes, name: str = "sequence") -> DualGSSequence:
        try:
            with np.load(io.BytesIO(blob), allow_pickle=False) as z:
                if str(z["format"]) != FORMAT:
                    raise DataError(f"{name}: format {z['format']}, expected {FORMAT}")
                return cls(**{f: z[f] for f in cls.__dataclass_fields__})
        except (OSError, ValueError, KeyError, EOFError) as exc:
            raise DataError(f"{name}: not a DualGS sequence file ({exc})") from exc

    def save(self, path: str | Path, *, force: bool = True) -> Path:
        return atomic_write(path, self.to_bytes(), force=force)

    @classmethod
    def load(cls, path: str | Path) -> DualGSSequence:
        try:
            blob = Path(path).read_bytes()
        except OSError as exc:
            raise DataError(f"{path}: cannot read ({exc.strerror})") from exc
        return cls.from_bytes(blob, str(path))

    @classmethod
    def random(
        cls, *, frames: int, joints: int, skins: int, degree: int = 0, seed: int = 0
    ) -> DualGSSequence:
        """A smooth random sequence (for tests and examples)."""
        rng = np.random.default_rng(seed)
        base = rng.uniform(-1, 1, (joints, 3))
        drift = rng.normal(scale=0.02, size=(frames, joints, 3)).cumsum(axis=0)
        axis = quat_normalise(rng.normal(size=(joints, 4)))
        angle = rng.normal(scale=0.05, size=(frames, joints, 1)).cumsum(axis=0)
        rot = quat_normalise(
            np.concatenate([np.cos(angle), np.sin(angle) * axis[None, :, 1:]], axis=-1)
        )
        skin_joints = np.argsort(
            np.linalg.norm(rng.uniform(-1, 1, (skins, 1, 3)) - base[None], axis=-1), axis=1
        )[:, :8]
        skin_joints = np.pad(skin_joints, ((0, 0), (0, max(0, 8 - joints))), mode="edge")
        weights = rng.uniform(0.1, 1, (skins, 8))
        bands = (degree + 1) ** 2
        return cls(
            joint_means=base[None] + drift,
            joint_rotations=rot,
            skin_rest_means=rng.uniform(-1, 1, (skins, 3)),
            skin_rest_rotations=quat_normalise(rng.normal(size=(skins, 4))),
            skin_joints=skin_joints,
            skin_weights=weights / weights.sum(axis=1, keepdims=True),
            skin_log_scales=np.log(np.full((frames, skins, 3), 0.05)),
            skin_opacity_logits=np.repeat(rng.normal(size=(1, skins)), frames, axis=0),
            skin_sh=np.repeat(rng.normal(scale=0.5, size=(1, skins, bands, 3)), frames, axis=0),
        )
