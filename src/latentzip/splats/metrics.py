"""Image quality: PSNR and SSIM (numpy in, float out), and SSIM as a differentiable loss.

SSIM follows Wang et al. ("Image quality assessment: from error visibility to structural
similarity", IEEE TIP 2004): an 11x11 Gaussian window with sigma 1.5, ``C1 = (0.01 L)^2``,
``C2 = (0.03 L)^2`` with ``L = 1``, computed per channel over the *valid* window positions and
averaged. The 3DGS training loss uses the same SSIM (:func:`ssim_torch`).
"""

from __future__ import annotations

import numpy as np
import torch

from latentzip.errors import DataError

__all__ = ["psnr", "ssim", "ssim_torch"]

WINDOW = 11
SIGMA = 1.5
C1 = 0.01**2
C2 = 0.03**2


def _pair(a, b) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    if a.shape != b.shape or a.ndim != 3 or a.shape[2] != 3:
        raise DataError(f"images must both be (H, W, 3), not {a.shape} and {b.shape}")
    return a, b


def psnr(a, b) -> float:
    """Peak signal-to-noise ratio in dB of two (H, W, 3) images in [0, 1].

    >>> round(psnr(np.zeros((4, 4, 3)), np.full((4, 4, 3), 0.1)), 6)
    20.0
    """
    a, b = _pair(a, b)
    mse = float(np.mean((a - b) ** 2))
    return float("inf") if mse == 0 else float(10 * np.log10(1.0 / mse))


def _window(dtype) -> torch.Tensor:
    x = torch.arange(WINDOW, dtype=dtype) - (WINDOW - 1) / 2
    g = torch.exp(-(x**2) / (2 * SIGMA**2))
    g = g / g.sum()
    return g


def ssim_torch(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean SSIM of image batches (..., H, W, 3); differentiable. H and W must be >= 11."""
    if a.shape != b.shape or a.shape[-1] != 3:
        raise DataError(f"images must both be (..., H, W, 3), not {a.shape} and {b.shape}")
    h, w = a.shape[-3:-1]
    if h < WINDOW or w < WINDOW:
        raise DataError(f"SSIM needs images of at least {WINDOW}x{WINDOW}, not {w}x{h}")
    x = a.reshape(-1, h, w, 3).permute(0, 3, 1, 2).reshape(-1, 1, h, w)
    y = b.reshape(-1, h, w, 3).permute(0, 3, 1, 2).reshape(-1, 1, h, w)
    g = _window(a.dtype)

    def blur(z: torch.Tensor) -> torch.Tensor:  # separable Gaussian filter, valid region
        z = torch.nn.functional.conv2d(z, g.view(1, 1, 1, WINDOW))
        return torch.nn.functional.conv2d(z, g.view(1, 1, WINDOW, 1))

    mx, my = blur(x), blur(y)
    sxx = blur(x * x) - mx * mx
    syy = blur(y * y) - my * my
    sxy = blur(x * y) - mx * my
    num = (2 * mx * my + C1) * (2 * sxy + C2)
    den = (mx * mx + my * my + C1) * (sxx + syy + C2)
    return (num / den).mean()


def ssim(a, b) -> float:
    """Structural similarity of two (H, W, 3) images in [0, 1] (see the module docstring).

    >>> img = np.random.default_rng(0).uniform(size=(16, 16, 3))
    >>> ssim(img, img)
    1.0
    """
    a, b = _pair(a, b)
    return float(ssim_torch(torch.from_numpy(a), torch.from_numpy(b)))
