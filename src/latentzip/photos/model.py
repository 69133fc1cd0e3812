"""What a photo model learns from a collection: each plane kind's linear predictor and the
prior of its adaptive token tables.

The coder (:mod:`.kernel`) adapts to every image as it goes; the model gives it a head start
learned on photos of the same kind (microscopy, scans, satellite tiles, ...): predictor
coefficients fitted by (reweighted) least squares on the training planes, and per context
the token frequencies those planes showed. Both are stored as integers, so what reaches the
entropy coder is exact on every machine.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

import numpy as np

from latentzip.errors import ModelError
from latentzip.photos import kernel
from latentzip.photos.planes import CHROMA, LUMA, check_image, to_planes
from latentzip.progress import bar

__all__ = ["PhotoModel"]

_N_KINDS = 2
_SMOOTHING = 0.05  # pseudo-count per (context, token) before normalising
_PRIOR_WEIGHT = 32  # prior rows are stretched so a context's rare tokens stay codable
_MAX_FIT_PIXELS = 2**20  # per plane, for the least-squares fit


class PhotoModel:
    """A learned start for the photo coder (model-file kind ``photo-context``).

    Attributes
    ----------
    linear : (2, N_LINEAR) int64, the predictor of luma and chroma planes (fixed point)
    prior : (2, N_CONTEXTS, N_TOKENS) int64, initial token frequencies (rows sum to 2**24)
    """

    kind = "photo-context"
    version = 1

    def __init__(self, linear: np.ndarray | None = None, prior: np.ndarray | None = None):
        shape = (_N_KINDS, kernel.N_CONTEXTS, kernel.N_TOKENS)
        self.linear = np.zeros((_N_KINDS, kernel.N_LINEAR), np.int64) if linear is None else linear
        self.prior = _normalise(np.ones(shape)) if prior is None else prior
        self._check()

    # --------------------------------------------------------------------------- training
    @classmethod
    def fit(
        cls, images: Iterable[np.ndarray], tile: int = 512, progress: bool = False
    ) -> PhotoModel:
        """Learn from ``images`` (arrays as :func:`latentzip.photos.planes.check_image`)."""
        images = [check_image(im) for im in images]
        if not images:
            raise ModelError("no training images")
        linear = np.zeros((_N_KINDS, kernel.N_LINEAR), np.int64)
        for kind in (LUMA, CHROMA):
            planes = [p.values for im in images for p in to_planes(im) if p.kind == kind]
            if planes:
                linear[kind] = _least_squares(planes)[0]
        model = cls(linear)
        counts = np.zeros(model.prior.shape, np.int64)
        from latentzip.photos.codec import tiles_of

        jobs = [t for im in images for t in tiles_of(im, tile)]
        for part in bar(jobs, desc="photo statistics", enabled=progress, unit="tile"):
            model.gather(part, counts)
        model.prior = _normalise(counts + _SMOOTHING)
        return model

    def gather(self, tile: np.ndarray, counts: np.ndarray) -> None:
        """Add the token counts of one (h, w, c) tile to ``counts``."""
        from latentzip.photos.codec import code_tile

        code_tile(self, tile, kernel.STATS, counts)

    # ------------------------------------------------------------------------ model files
    @property
    def fingerprint(self) -> str:
        h = hashlib.sha256(json.dumps([self.kind, self.version]).encode())
        h.update(np.ascontiguousarray(self.linear, "<i8").tobytes())
        h.update(np.ascontiguousarray(self.prior, "<i8").tobytes())
        return h.hexdigest()

    def to_arrays(self) -> tuple[dict, dict]:
        return {"linear": self.linear, "prior": self.prior.astype("<u4")}, {}

    @classmethod
    def from_arrays(cls, arrays: dict, settings: dict) -> PhotoModel:
        try:
            linear = np.asarray(arrays["linear"]).astype(np.int64)
            prior = np.asarray(arrays["prior"]).astype(np.int64)
        except KeyError as exc:
            raise ModelError(f"photo model: missing array {exc}") from None
        return cls(linear, prior)

    def coding_model(self) -> PhotoModel:
        return self

    def _check(self) -> None:
        if self.linear.shape != (_N_KINDS, kernel.N_LINEAR) or np.abs(self.linear).max() > 2**20:
            raise ModelError("photo model: predictor coefficients out of range")
        if self.prior.shape != (_N_KINDS, kernel.N_CONTEXTS, kernel.N_TOKENS):
            raise ModelError(f"photo model: prior of shape {self.prior.shape}")
        if self.prior.min() < 1 or (self.prior.sum(-1) != kernel.TOTAL).any():
            raise ModelError("photo model: prior rows must be >= 1 and sum to 2**24")


def _features(plane: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(X, y): the linear predictor's neighbour differences and target, relative to W."""
    p = plane.astype(np.float64)
    if p.size > _MAX_FIT_PIXELS:  # a central crop keeps the fit cheap on huge photos
        side = int(np.sqrt(_MAX_FIT_PIXELS))
        i0, j0 = max(0, (p.shape[0] - side) // 2), max(0, (p.shape[1] - side) // 2)
        p = p[i0 : i0 + side, j0 : j0 + side]
    h, w = p.shape
    pad = np.pad(p, ((2, 0), (3, 2)), mode="edge")

    def at(dy, dx):
        return pad[2 + dy : 2 + dy + h, 3 + dx : 3 + dx + w]

    west = at(0, -1)
    offsets = ((-1, 0), (-1, -1), (-1, 1), (0, -2), (-2, 0), (-2, 1), (-1, -2), (-2, -1), (-1, 2))
    cols = [at(dy, dx) - west for dy, dx in (*offsets, (0, -3))]
    x = np.stack(cols, -1)[2:, 3:-2].reshape(-1, kernel.N_LINEAR)
    y = (p - west)[2:, 3:-2].ravel()
    return x, y


def fit_linear(plane: np.ndarray) -> np.ndarray:
    """The linear predictor's two fits to one plane (exactly what is stored)."""
    return _least_squares([plane])


def _least_squares(planes: list) -> np.ndarray:
    """(2, N_LINEAR) coefficients: those minimising the once reweighted squared error over
    ``planes`` (edges count less), then the plain least-squares ones; the normal equations
    are summed plane by plane, so memory does not grow with the collection."""
    a = np.zeros(kernel.N_LINEAR)
    fits = []
    for reweight in (False, True):
        gram = np.zeros((kernel.N_LINEAR, kernel.N_LINEAR))
        xty = np.zeros(kernel.N_LINEAR)
        n = 0
        for plane in planes:
            x, y = _features(plane)
            w = 1 / np.maximum(np.abs(y - x @ a), 2) ** 2 if reweight else np.ones_like(y)
            xw = x * w[:, None]  # edges (large residuals) count less in the second pass
            gram += x.T @ xw
            xty += xw.T @ y
            n += len(y)
        if n < 4 * kernel.N_LINEAR:
            return np.zeros((2, kernel.N_LINEAR), np.int64)
        a = np.linalg.solve(gram + 1e-6 * n * np.eye(kernel.N_LINEAR), xty)
        fits.insert(0, a)
    fixed = np.round(np.stack(fits) * (1 << kernel.LINEAR_SHIFT))
    return np.clip(fixed, -(2**12), 2**12).astype(np.int64)


def _normalise(counts: np.ndarray) -> np.ndarray:
    """Rows of integer frequencies >= 1 summing to 2**24, proportional to ``counts``."""
    p = counts / counts.sum(-1, keepdims=True)
    free = kernel.TOTAL - _PRIOR_WEIGHT * counts.shape[-1]
    f = np.floor(p * free).astype(np.int64) + _PRIOR_WEIGHT
    f[..., 0] += kernel.TOTAL - f.sum(-1)
    return f
