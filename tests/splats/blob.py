"""A small scene shared by the splats tests: a blob of Gaussians that turns about y."""

from __future__ import annotations

import numpy as np

from latentzip.splats.gaussians import Gaussians


def blob(seed: int, n: int = 40) -> Gaussians:
    rng = np.random.default_rng(seed)
    return Gaussians(
        means=rng.normal(scale=0.25, size=(n, 3)),
        log_scales=np.log(np.full((n, 3), 0.08)),
        rotations=np.tile([1.0, 0, 0, 0], (n, 1)),
        opacity_logits=np.full(n, 2.0),
        sh=rng.normal(scale=0.8, size=(n, 1, 3)),
    )


def turn(y_angle: float) -> np.ndarray:
    """(3, 3) rotation about the y axis."""
    c, s = np.cos(y_angle), np.sin(y_angle)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def moved(g: Gaussians, rotation: np.ndarray, shift=(0.0, 0.0, 0.0)) -> Gaussians:
    """``g`` with its means rotated then shifted (shapes and colours kept)."""
    means = g.means @ rotation.T + np.asarray(shift)
    return Gaussians(means, g.log_scales, g.rotations, g.opacity_logits, g.sh)
