"""An encoder learned without labels: k-means on image patches (Coates, Lee and Ng, "An
Analysis of Single-Layer Networks in Unsupervised Feature Learning", AISTATS 2011).

::

    image (28 x 28) --every 6x6 patch: brightness/contrast normalised, ZCA-whitened-->
        distances z_k to K centroids --triangle: max(0, mean(z) - z_k)-->
        (K, 23, 23) --sum over the four quadrants--> 4K features
        --PCA, whitened--> ``n_components`` features (unit variance each)

The last step keeps the directions the images vary along and gives them equal scale, so the
random low-dimensional heads of a key-value bottleneck see signal rather than the long tail
of small directions. The centroids, both whitenings and the projection are learned from
unlabelled images
(:meth:`PatchKMeansEncoder.fit`) and saved to a file, so which images an encoder saw is a
fact about the file (``meta["trained_on"]``).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from latentzip.coding import limits, modelfile
from latentzip.coding.fields import Fields
from latentzip.continual.encoders import as_float_images
from latentzip.errors import ContainerError, LatentzipError, ModelError
from latentzip.files import atomic_write

_EPS_NORM = 10.0 / 255**2  # contrast normalisation floor (pixels in [0, 1])
_EPS_ZCA = 0.01
_ARRAYS = ("centroids", "whiten", "mean", "feature_mean", "components")


class PatchKMeansEncoder:
    """Frozen features ``(n, n_components)`` of uint8 images ``(n, H, W)``."""

    trainable = False  # k-means centroids: no fine-tuning baseline on this encoder

    def __init__(self, centroids, whiten, mean, feature_mean, components, patch: int, meta=None):
        self.centroids = torch.as_tensor(centroids, dtype=torch.float32)  # (K, p*p)
        self.whiten = torch.as_tensor(whiten, dtype=torch.float32)  # (p*p, p*p)
        self.mean = torch.as_tensor(mean, dtype=torch.float32)  # (p*p,)
        self.feature_mean = torch.as_tensor(feature_mean, dtype=torch.float32)  # (4K,)
        self.components = torch.as_tensor(components, dtype=torch.float32)  # (4K, dim), scaled
        self.patch, self.meta = patch, dict(meta or {})
        self.dim = self.components.shape[1]

    # ------------------------------------------------------------------ learning
    @classmethod
    def fit(
        cls,
        images: np.ndarray,
        *,
        n_centroids: int = 256,
        patch: int = 6,
        n_patches: int = 200_000,
        n_components: int = 64,
        pca_images: int = 20_000,
        seed: int = 0,
        trained_on: str = "",
    ) -> PatchKMeansEncoder:
        """Learn from unlabelled uint8 images ``(n, H, W)`` (labels are never seen)."""
        from sklearn.cluster import MiniBatchKMeans

        images = np.asarray(images)
        if images.ndim != 3 or len(images) == 0 or min(images.shape[1:]) < patch:
            raise LatentzipError(f"need uint8 images (n, H, W) of at least {patch} px")
        rng = np.random.default_rng(seed)
        n, h, w = images.shape
        pick = rng.integers(0, n, n_patches)
        ys = rng.integers(0, h - patch + 1, n_patches)
        xs = rng.integers(0, w - patch + 1, n_patches)
        offsets = np.arange(patch)
        rows = (ys[:, None] + offsets)[:, :, None]
        cols = (xs[:, None] + offsets)[:, None, :]
        raw = images[pick[:, None, None], rows, cols].reshape(n_patches, -1) / 255.0
        x = _normalise(torch.as_tensor(raw, dtype=torch.float32))
        mean = x.mean(0)
        cov = torch.cov((x - mean).T)
        vals, vecs = torch.linalg.eigh(cov)
        whiten = vecs @ torch.diag((vals + _EPS_ZCA).rsqrt()) @ vecs.T
        xw = ((x - mean) @ whiten).numpy()
        km = MiniBatchKMeans(n_centroids, batch_size=4096, n_init=3, random_state=seed)
        km.fit(xw)
        enc = cls(km.cluster_centers_, whiten, mean, torch.zeros(1), torch.zeros(1, 1), patch)
        sample = images[np.sort(rng.permutation(n)[: min(n, pca_images)])]
        feats = torch.cat([enc._raw_features(sample[i : i + 512])
                           for i in range(0, len(sample), 512)])  # fmt: skip
        enc.feature_mean = feats.mean(0)
        vals, vecs = torch.linalg.eigh(torch.cov((feats - enc.feature_mean).T.double()))
        top = torch.argsort(vals, descending=True)[: min(n_components, feats.shape[1])]
        enc.components = (vecs[:, top] / vals[top].clamp_min(1e-12).sqrt()).float()
        enc.dim = enc.components.shape[1]
        enc.meta = {"trained_on": trained_on, "images": int(n), "n_centroids": n_centroids,
                    "patch": patch, "n_patches": n_patches, "n_components": enc.dim,
                    "seed": seed}  # fmt: skip
        return enc

    # ------------------------------------------------------------------ features
    @torch.no_grad()
    def encode(self, images: np.ndarray, batch_size: int = 512) -> torch.Tensor:
        parts = [self._raw_features(images[i : i + batch_size])
                 for i in range(0, len(images), batch_size)]  # fmt: skip
        return (torch.cat(parts) - self.feature_mean) @ self.components

    @torch.no_grad()
    def _raw_features(self, images: np.ndarray) -> torch.Tensor:
        x = as_float_images(images)  # (n, 1, H, W)
        n, _, h, w = x.shape
        p = self.patch
        cols = F.unfold(x, p).transpose(1, 2)  # (n, L, p*p)
        z = (_normalise(cols.reshape(-1, p * p)) - self.mean) @ self.whiten
        d2 = (z * z).sum(1, keepdim=True) - 2 * z @ self.centroids.T
        d2 += (self.centroids * self.centroids).sum(1)
        dist = d2.clamp_min(0).sqrt()
        act = (dist.mean(1, keepdim=True) - dist).clamp_min(0)  # triangle activation
        k = self.centroids.shape[0]
        oh, ow = h - p + 1, w - p + 1
        act = act.reshape(n, oh, ow, k)
        hy, hx = oh // 2, ow // 2
        quads = [act[:, :hy, :hx], act[:, :hy, hx:], act[:, hy:, :hx], act[:, hy:, hx:]]
        return torch.cat([q.sum((1, 2)) for q in quads], 1)

    # ------------------------------------------------------------------ files
    def save(self, path: str | Path) -> Path:
        arrays = {k: getattr(self, k).numpy() for k in _ARRAYS}
        meta = {**self.meta, "patch": self.patch}
        buf = io.BytesIO()
        np.savez(buf, meta=np.frombuffer(json.dumps(meta).encode(), np.uint8), **arrays)
        return atomic_write(Path(path), buf.getvalue(), parents=True)

    @classmethod
    def load(cls, path: str | Path) -> PatchKMeansEncoder:
        """An encoder file, every array's presence, dtype, shape and values checked."""
        body = Path(path).read_bytes()
        try:
            z = modelfile.read_npz(body, limits.memory_budget(len(body)), str(path))
            meta = limits.parse_json(z["meta"].tobytes(), f"{path}: meta")
            if not isinstance(meta, dict):
                raise ModelError(f"{path}: meta is not a JSON object")
            patch = Fields(meta, f"{path}: meta", ModelError).int("patch", 1, 64)
            arrays = {k: z[k] for k in _ARRAYS}
        except KeyError as exc:
            raise ModelError(f"{path}: not a patch encoder file (no {exc})") from exc
        except ContainerError as exc:
            raise ModelError(str(exc)) from exc
        _check_arrays(arrays, patch, str(path))
        return cls(**arrays, patch=patch, meta=meta)


def _check_arrays(a: dict[str, np.ndarray], patch: int, source: str) -> None:
    """Raise :class:`ModelError` unless the arrays fit together as an encoder's."""
    if any(v.dtype.kind != "f" or not np.isfinite(v).all() for v in a.values()):
        raise ModelError(f"{source}: encoder arrays must be finite floats")
    dims = {"centroids": 2, "whiten": 2, "mean": 1, "feature_mean": 1, "components": 2}
    if any(a[name].ndim != n for name, n in dims.items()):
        raise ModelError(f"{source}: encoder arrays of the wrong number of dimensions")
    p2, k = patch * patch, len(a["centroids"])
    d = a["components"].shape[-1]
    if (
        k < 1
        or d < 1
        or a["centroids"].shape != (k, p2)
        or a["whiten"].shape != (p2, p2)
        or a["mean"].shape != (p2,)
        or a["feature_mean"].shape != (4 * k,)
        or a["components"].shape != (4 * k, d)
    ):
        raise ModelError(f"{source}: encoder arrays of inconsistent shapes")


def _normalise(patches: torch.Tensor) -> torch.Tensor:
    """Each patch (row) to zero mean and unit contrast (brightness and contrast removed)."""
    centred = patches - patches.mean(1, keepdim=True)
    return centred / (centred.var(1, keepdim=True) + _EPS_NORM).sqrt()
