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
