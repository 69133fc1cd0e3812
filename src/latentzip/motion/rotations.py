"""Rotation helpers: Euler angles in any BVH order, the 6-D representation, geodesic distance.

The 6-D representation is the first two columns of a rotation matrix, mapped back with
Gram-Schmidt (Zhou et al., "On the Continuity of Rotation Representations in Neural
Networks", CVPR 2019).

>>> import numpy as np
>>> R = euler_to_matrix(np.array([[30.0, -20.0, 10.0]]), "ZYX")
>>> bool(np.allclose(sixd_to_matrix(matrix_to_sixd(R)), R))
True
>>> bool(np.allclose(matrix_to_euler(R, "ZYX"), [[30.0, -20.0, 10.0]]))
True
"""

from __future__ import annotations

import numpy as np

from latentzip.errors import DataError

_AXES = {"X": 0, "Y": 1, "Z": 2}


def axis_rotation(angle_rad: np.ndarray, axis: str) -> np.ndarray:
    """Rotation matrices about one coordinate axis, shape ``angle.shape + (3, 3)``."""
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    one, zero = np.ones_like(c), np.zeros_like(c)
    if axis == "X":
        rows = [[one, zero, zero], [zero, c, -s], [zero, s, c]]
    elif axis == "Y":
        rows = [[c, zero, s], [zero, one, zero], [-s, zero, c]]
    elif axis == "Z":
        rows = [[c, -s, zero], [s, c, zero], [zero, zero, one]]
    else:
        raise DataError(f"unknown rotation axis {axis!r}")
    return np.stack([np.stack(r, axis=-1) for r in rows], axis=-2)


def _check_order(order: str) -> str:
    order = order.upper()
    if len(order) != 3 or set(order) != set("XYZ"):
        raise DataError(f"Euler order must be a permutation of XYZ, got {order!r}")
    return order


def euler_to_matrix(angles_deg: np.ndarray, order: str) -> np.ndarray:
    """BVH Euler angles to rotation matrices.

    BVH channels ``Zrotation Yrotation Xrotation`` mean ``R = Rz(a) @ Ry(b) @ Rx(c)``
    (intrinsic rotations in the listed order).

    Parameters
    ----------
    angles_deg : array (..., 3), degrees, in the order of ``order``
    order : str, e.g. ``"ZYX"``

    Returns
    -------
    array (..., 3, 3)
    """
    order = _check_order(order)
    a = np.radians(np.asarray(angles_deg, dtype=np.float64))
    R = axis_rotation(a[..., 0], order[0])
    for i in (1, 2):
        R = R @ axis_rotation(a[..., i], order[i])
    return R


def matrix_to_euler(R: np.ndarray, order: str) -> np.ndarray:
    """Inverse of :func:`euler_to_matrix` (angles in degrees, shape ``(..., 3)``)."""
    from scipy.spatial.transform import Rotation

    order = _check_order(order)
    R = np.asarray(R, dtype=np.float64)
    flat = R.reshape(-1, 3, 3)
    # uppercase = intrinsic in scipy, the BVH convention
    angles = Rotation.from_matrix(flat).as_euler(order, degrees=True)
    return angles.reshape((*R.shape[:-2], 3))


def matrix_to_sixd(R: np.ndarray) -> np.ndarray:
    """The first two columns of ``R`` (..., 3, 3) flattened to (..., 6): ``[c0, c1]``."""
    return np.concatenate([R[..., :, 0], R[..., :, 1]], axis=-1)


def sixd_to_matrix(d6: np.ndarray) -> np.ndarray:
    """Gram-Schmidt from (..., 6) to rotation matrices (..., 3, 3)."""
    a1, a2 = d6[..., :3], d6[..., 3:6]
    b1 = a1 / np.maximum(np.linalg.norm(a1, axis=-1, keepdims=True), 1e-8)
    a2 = a2 - np.sum(b1 * a2, axis=-1, keepdims=True) * b1
    b2 = a2 / np.maximum(np.linalg.norm(a2, axis=-1, keepdims=True), 1e-8)
    b3 = np.cross(b1, b2)
    return np.stack([b1, b2, b3], axis=-1)


def geodesic_deg(R1: np.ndarray, R2: np.ndarray) -> np.ndarray:
    """Angle of ``R1^T R2`` in degrees, shape ``R1.shape[:-2]``."""
    tr = np.einsum("...ji,...ji->...", R1, R2)
    return np.degrees(np.arccos(np.clip((tr - 1.0) / 2.0, -1.0, 1.0)))


def yaw_matrix(yaw: np.ndarray) -> np.ndarray:
    """Rotations about +y by ``yaw`` radians, shape ``yaw.shape + (3, 3)``."""
    return axis_rotation(np.asarray(yaw, dtype=np.float64), "Y")


__all__ = [
    "axis_rotation",
    "euler_to_matrix",
    "geodesic_deg",
    "matrix_to_euler",
    "matrix_to_sixd",
    "sixd_to_matrix",
    "yaw_matrix",
]
