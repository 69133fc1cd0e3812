"""The static part of a DualGS sequence (skin binding and rest skeleton), quantised and coded.

Skin Gaussians are usually bound to their 8 nearest joints with weights ``exp(-d^2 / r^2)``
(``r`` the distance to the 4th nearest joint), as DualGS and ``latentzip.splats.track.bind``
do. The coder predicts both from the *decoded* rest positions and codes only the differences,
so a binding made that way costs a few bits per Gaussian and any other binding is still coded
(joints exactly, weights on their grid)::

    rest means, joints at frame 0 --grid--> intra frames
    joints  --rank among the 16 nearest decoded joints, minus the column (else escape)--> intra
    weights --round((w - predicted) / 2^-bits)--> intra; decoded = predicted + k 2^-bits,
              the largest weight absorbing the rounding so that rows sum to one

Predictions are computed in float64 from integers, identically by encoder and decoder.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from latentzip.errors import ContainerError
from latentzip.splats.codec.entropy import pack_parts, unpack_parts
from latentzip.splats.codec.motion import decode_intra, encode_intra

__all__ = [
    "Binding",
    "joints_to_ranks",
    "nearest_joints",
    "predict_weights",
    "ranks_to_joints",
    "weights_from_residual",
    "weights_residual",
]

K = 8  # joints per skin Gaussian
CANDIDATES = 16  # nearest joints a bound joint is looked up among
ESCAPE = 64  # symbols >= ESCAPE hold a joint index directly


def weights_grid(w: np.ndarray, bits: int) -> np.ndarray:
    """Integer weights summing to ``2**bits`` per row (the largest absorbs the rounding)."""
    total = 2**bits
    k = np.round(np.asarray(w, np.float64) * total).astype(np.int64)
    rows = np.arange(len(k))
    k[rows, np.argmax(k, axis=1)] += total - k.sum(axis=1)
    return k


def nearest_joints(rest_means: np.ndarray, joint_means: np.ndarray, k: int = CANDIDATES):
    """(S, k) indices of the nearest joints, nearest first (the nearest repeats if J < k)."""
    from scipy.spatial import cKDTree

    kk = min(k, len(joint_means))
    _, idx = cKDTree(joint_means).query(rest_means, k=kk)
    idx = np.asarray(idx, np.int64).reshape(len(rest_means), kk)
    if kk < k:
        idx = np.concatenate([idx, np.repeat(idx[:, :1], k - kk, axis=1)], axis=1)
    return idx


def joints_to_ranks(joints: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Symbols (S, 8): rank of each joint among the candidates minus its column, or
    ``ESCAPE + joint`` when it is not a candidate."""
    hit = joints[:, :, None] == candidates[:, None, :]
    found = hit.any(axis=2)
    rank = np.argmax(hit, axis=2) - np.arange(joints.shape[1])[None, :]
    return np.where(found, rank, ESCAPE + joints)


def ranks_to_joints(symbols: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Inverse of :func:`joints_to_ranks` (-1 where a symbol is invalid)."""
    rank = symbols + np.arange(symbols.shape[1])[None, :]
    ok = (rank >= 0) & (rank < candidates.shape[1])
    picked = np.take_along_axis(candidates, np.clip(rank, 0, candidates.shape[1] - 1), axis=1)
    return np.where(symbols >= ESCAPE, symbols - ESCAPE, np.where(ok, picked, -1))


def predict_weights(
    rest_means: np.ndarray, joint_means: np.ndarray, joints: np.ndarray
) -> np.ndarray:
    """Float64 weights (S, 8): ``exp(-d^2 / r^2)`` of the distances to ``joints``, normalised."""
    d = np.linalg.norm(rest_means[:, None, :] - joint_means[joints], axis=-1)
    r = np.maximum(np.sort(d, axis=1)[:, min(3, len(joint_means) - 1)], 1e-12)[:, None]
    w = np.exp(-((d / r) ** 2))
    return w / w.sum(axis=1, keepdims=True)


def weights_residual(w: np.ndarray, predicted: np.ndarray, bits: int) -> np.ndarray:
    """Integer residuals (S, 8) of the weights against the prediction, step ``2**-bits``."""
    return np.round((np.asarray(w, np.float64) - predicted) * 2**bits).astype(np.int64)


def weights_from_residual(k: np.ndarray, predicted: np.ndarray, bits: int) -> np.ndarray:
    """Decoded weights (float64): prediction plus residual, rows summing to one."""
    w = predicted + k / 2**bits
    rows = np.arange(len(w))
    w[rows, np.argmax(w, axis=1)] += 1.0 - w.sum(axis=1)
    return w


@dataclass(frozen=True, eq=False)
class Binding:
    """The coded static part: grid integers of rest means (S, 3) and rest rotations (S, 4),
    joints (S, 8), weight residuals (S, 8) against :func:`predict_weights`, and the grid
    integers of the joint means (J, 3) and rotations (J, 4) of frame 0 (the rest skeleton)."""

    rest_means: np.ndarray
    rest_rotations: np.ndarray
    joints: np.ndarray
    weight_residuals: np.ndarray
    joint_means0: np.ndarray
    joint_rotations0: np.ndarray

    def equals(self, other: Binding) -> bool:
        return all(
            np.array_equal(getattr(self, f), getattr(other, f)) for f in self.__dataclass_fields__
        )

    def weights(self, position_step: float, bits: int) -> np.ndarray:
        """The decoded skinning weights (S, 8), float64, rows summing to one."""
        rest, jm = self.rest_means * position_step, self.joint_means0 * position_step
        predicted = predict_weights(rest, jm, self.joints)
        return weights_from_residual(self.weight_residuals, predicted, bits)

    def encode(self, position_step: float) -> bytes:
        rest, jm = self.rest_means * position_step, self.joint_means0 * position_step
        ranks = joints_to_ranks(self.joints, nearest_joints(rest, jm))
        arrays = (
            self.rest_means,
            self.rest_rotations,
            ranks,
            self.weight_residuals,
            self.joint_means0,
            self.joint_rotations0,
        )
        return pack_parts([encode_intra(a) for a in arrays])

    @classmethod
    def decode(cls, data: bytes, s: int, j: int, position_step: float) -> Binding:
        parts = unpack_parts(data, 6, "skin binding")
        shapes = [(s, 3), (s, 4), (s, K), (s, K), (j, 3), (j, 4)]
        a = [
            decode_intra(p, *shape, "skin binding") for p, shape in zip(parts, shapes, strict=True)
        ]
        rest, jm = a[0] * position_step, a[4] * position_step
        joints = ranks_to_joints(a[2], nearest_joints(rest, jm))
        if joints.size and (joints.min() < 0 or joints.max() >= j):
            raise ContainerError("skin binding refers to joints that do not exist")
        return cls(a[0], a[1], joints, a[3], a[4], a[5])
