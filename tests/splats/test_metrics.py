import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from latentzip.errors import DataError
from latentzip.splats.metrics import psnr, ssim


def ssim_reference(a, b):
    """Wang et al. 2004 with scipy's Gaussian filter (11 taps, sigma 1.5), valid region."""
    c1, c2 = 0.01**2, 0.03**2
    out = []
    for ch in range(3):
        x, y = a[..., ch], b[..., ch]

        def f(z):
            return gaussian_filter(z, 1.5, truncate=5 / 1.5)[5:-5, 5:-5]

        mx, my = f(x), f(y)
        sxx, syy, sxy = f(x * x) - mx**2, f(y * y) - my**2, f(x * y) - mx * my
        s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx**2 + my**2 + c1) * (sxx + syy + c2))
        out.append(s.mean())
    return float(np.mean(out))


def test_ssim_matches_independent_reference():
    rng = np.random.default_rng(0)
    a = rng.uniform(size=(24, 20, 3))
    b = np.clip(a + rng.normal(scale=0.1, size=a.shape), 0, 1)
    assert abs(ssim(a, b) - ssim_reference(a, b)) < 1e-6
    assert ssim(a, a) == pytest.approx(1.0)
    assert ssim(a, b) < 0.99


def test_psnr_known_values():
    a = np.zeros((4, 4, 3))
    assert psnr(a, a + 0.1) == pytest.approx(20.0)
    assert psnr(a, a + 0.01) == pytest.approx(40.0)
    assert psnr(a, a) == float("inf")


def test_bad_shapes():
    with pytest.raises(DataError):
        psnr(np.zeros((4, 4, 3)), np.zeros((4, 5, 3)))
    with pytest.raises(DataError):
        ssim(np.zeros((4, 4)), np.zeros((4, 4)))
    with pytest.raises(DataError, match="at least"):
        ssim(np.zeros((8, 8, 3)), np.zeros((8, 8, 3)))
