"""A set of 3-D Gaussians as 3DGS stores them: the one frame type every splats module shares.

Parameters are kept in their *unconstrained* form, exactly as the INRIA 3DGS ``.ply`` layout
(Kerbl et al., "3D Gaussian Splatting for Real-Time Radiance Field Rendering", SIGGRAPH 2023)
stores them: log scales, opacity logits, unnormalised quaternions (w, x, y, z) and
spherical-harmonic colour coefficients (DC first).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from latentzip.errors import DataError

__all__ = ["Gaussians", "sh_bands", "sh_degree"]


def sh_bands(degree: int) -> int:
    """Number of SH coefficients per colour channel for ``degree`` (0-3)."""
    if degree not in (0, 1, 2, 3):
        raise DataError(f"spherical-harmonic degree must be 0-3, not {degree}")
    return (degree + 1) ** 2


def sh_degree(bands: int) -> int:
    """Inverse of :func:`sh_bands`."""
    for degree in range(4):
        if (degree + 1) ** 2 == bands:
            return degree
    raise DataError(f"{bands} SH coefficients per channel is not (degree + 1)^2 for degree 0-3")


@dataclass(frozen=True, eq=False)
class Gaussians:
    """N Gaussians, float32 numpy arrays.

    Attributes
    ----------
    means : (N, 3) centres.
    log_scales : (N, 3) log standard deviations along the local axes.
    rotations : (N, 4) quaternions (w, x, y, z), not necessarily unit length.
    opacity_logits : (N,) pre-sigmoid opacities.
    sh : (N, B, 3) SH coefficients, B = (degree + 1)^2; ``sh[:, 0]`` is the DC term.

    Examples
    --------
    >>> g = Gaussians.random(5, degree=1, seed=0)
    >>> len(g), g.degree, g.sh.shape
    (5, 1, (5, 4, 3))
    >>> g.equals(g.take(np.arange(5)))
    True
    """

    means: np.ndarray
    log_scales: np.ndarray
    rotations: np.ndarray
    opacity_logits: np.ndarray
    sh: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.means)
        shapes = {
            "means": (self.means, (n, 3)),
            "log_scales": (self.log_scales, (n, 3)),
            "rotations": (self.rotations, (n, 4)),
            "opacity_logits": (self.opacity_logits, (n,)),
        }
        for name, (value, shape) in shapes.items():
            if np.shape(value) != shape:
                raise DataError(f"Gaussians.{name} has shape {np.shape(value)}, expected {shape}")
        if np.ndim(self.sh) != 3 or np.shape(self.sh)[0] != n or np.shape(self.sh)[2] != 3:
            raise DataError(f"Gaussians.sh has shape {np.shape(self.sh)}, expected (N, B, 3)")
        sh_degree(np.shape(self.sh)[1])
        for name in ("means", "log_scales", "rotations", "opacity_logits", "sh"):
            value = np.ascontiguousarray(getattr(self, name), dtype=np.float32)
            if not np.all(np.isfinite(value)):
                raise DataError(f"Gaussians.{name} holds NaN or infinite values")
            object.__setattr__(self, name, value)

    def __len__(self) -> int:
        return len(self.means)

    @property
    def degree(self) -> int:
        return sh_degree(self.sh.shape[1])

    def take(self, index: np.ndarray) -> Gaussians:
        """The Gaussians at ``index`` (an integer or boolean array), in that order."""
        return Gaussians(
            self.means[index],
            self.log_scales[index],
            self.rotations[index],
            self.opacity_logits[index],
            self.sh[index],
        )

    def equals(self, other: Gaussians) -> bool:
        """Bit-exact equality of every parameter."""
        return all(
            np.array_equal(getattr(self, f), getattr(other, f))
            for f in ("means", "log_scales", "rotations", "opacity_logits", "sh")
        )

    @classmethod
    def random(cls, n: int, *, degree: int = 0, extent: float = 1.0, seed: int = 0) -> Gaussians:
        """Random Gaussians in a cube of half-width ``extent`` (for tests and examples)."""
        rng = np.random.default_rng(seed)
        return cls(
            means=rng.uniform(-extent, extent, (n, 3)),
            log_scales=np.log(rng.uniform(0.02, 0.1, (n, 3)) * extent),
            rotations=rng.normal(size=(n, 4)),
            opacity_logits=rng.normal(size=n),
            sh=rng.normal(scale=0.5, size=(n, sh_bands(degree), 3)),
        )
