"""Metrics for motion stylization: style accuracy, content preservation, style FID, diversity.

* **style accuracy**: the independent :class:`StyleClassifier` predicts the target style on
  the outputs (its accuracy on real held-out windows is the ceiling);
* **content distance**: mean absolute difference between the model's content codes of the
  output and of the source (codes are instance-normalised, so the scale is shared);
* **geodesic error**: mean angle (degrees) between output and source local joint rotations;
* **style FID**: Fréchet distance between classifier features of the outputs and of real
  windows of the style set (Heusel et al., NeurIPS 2017, in the classifier's feature space);
* **diversity**: mean pairwise distance of local joint positions (skeleton units) between
  several prior samples for the same input.

>>> import numpy as np
>>> a = np.random.default_rng(0).normal(size=(500, 3))
>>> round(frechet_distance(a, a), 6), frechet_distance(a, a + 1.0) > 2.9
(0.0, True)
"""

from __future__ import annotations

import warnings

import numpy as np

from latentzip.errors import DataError
from latentzip.motion.data import MotionData
from latentzip.motion.features import feature_layout
from latentzip.motion.rotations import geodesic_deg, sixd_to_matrix


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to the rows of ``a`` (N, F) and ``b`` (M, F)."""
    from scipy import linalg

    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise DataError(f"need two (N >= 2, F) feature arrays, got {a.shape} and {b.shape}")
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(s1 @ s2)
    if caught or not np.all(np.isfinite(covmean)):
        # fewer windows than features make the covariances singular: regularise, as FID code does
        eps = np.eye(len(s1)) * 1e-6
        covmean = linalg.sqrtm((s1 + eps) @ (s2 + eps))
    covmean = np.real(covmean)
    return float(max(np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * covmean), 0.0))


def geodesic_error(a: np.ndarray, b: np.ndarray, data: MotionData) -> float:
    """Mean angle (degrees) between the local rotations of normalised windows ``a`` and ``b``."""
    lay = feature_layout(data.skeleton)

    def rots(x):
        f = data.normalizer.inverse(x)[..., lay.rot6d]
        return sixd_to_matrix(f.reshape(*f.shape[:-1], lay.n_joints, 6))

    return float(geodesic_deg(rots(a), rots(b)).mean())


def local_positions(x: np.ndarray, data: MotionData) -> np.ndarray:
    """Root-relative joint positions (..., T, J-1, 3) of normalised windows."""
    lay = feature_layout(data.skeleton)
    f = data.normalizer.inverse(x)[..., lay.local_pos]
    return f.reshape(*f.shape[:-1], lay.n_joints - 1, 3)


def diversity(samples: np.ndarray, data: MotionData) -> float:
    """Mean pairwise per-joint distance between samples (S, N, T, D) of the same inputs."""
    pos = local_positions(samples, data)
    S = len(samples)
    if S < 2:
        raise DataError("diversity needs at least two samples")
    d = [np.linalg.norm(pos[i] - pos[j], axis=-1).mean() for i in range(S) for j in range(i + 1, S)]
    return float(np.mean(d))


def evaluate(
    model,
    classifier,
    root,
    data: MotionData,
    *,
    n_content: int = 60,
    n_samples: int = 5,
    n_diversity: int = 30,
    seed: int = 0,
) -> dict:
    """Stylize held-out content windows toward every style, by label and by reference.

    ``model=None`` measures the identity (outputs = inputs), the no-stylization floor.
    Returns a dict of metrics per mode (``label``, ``reference``) and ``diversity``.
    """
    rng = np.random.default_rng(seed)
    src_all = data.test_content.x if len(data.test_content) else data.test_style.x
    pick = rng.choice(len(src_all), size=min(n_content, len(src_all)), replace=False)
    src = src_all[np.sort(pick)]
    K = len(data.styles)
    real = np.concatenate([data.train.x[data.train.label >= 0], data.test_style.x])
    real_feat = classifier.features(real)
    refs = {s: data.test_style.x[data.test_style.label == s] for s in range(K)}
    x = np.repeat(src, K, axis=0)
    target = np.tile(np.arange(K), len(src))
    out: dict = {}
    for mode in ("label", "reference"):
        if model is None:
            y = x
        elif mode == "label":
            y = np.concatenate(
                [model.stylize_label(x[target == s], s, seed=seed + s) for s in range(K)]
            )
            order = np.concatenate([np.flatnonzero(target == s) for s in range(K)])
            y = y[np.argsort(order)]
        else:
            ref = np.stack(
                [refs[s][rng.integers(len(refs[s]))] if len(refs[s]) else x[0] for s in target]
            )
            y = model.stylize_reference(x, ref)
        if root is not None and model is not None:
            y = root.restore(y)
        pred = classifier.predict(y)
        row = {
            "style_accuracy": float(np.mean(pred == target)),
            "per_style_accuracy": {
                data.styles[s]: float(np.mean(pred[target == s] == s)) for s in range(K)
            },
            "geodesic_deg": geodesic_error(y, x, data),
            "style_fid": frechet_distance(classifier.features(y), real_feat),
        }
        if model is not None:
            row["content_distance"] = float(
                np.abs(model.content_codes(y) - model.content_codes(x)).mean()
            )
        else:
            row["content_distance"] = 0.0
        out[mode] = row
    if model is not None:
        few = src[:n_diversity]
        labelled = np.stack(
            [model.sample(few, n_samples, seed=seed + 100 + s, label=s)[:, :] for s in range(K)],
            axis=1,
        ).reshape(n_samples, K * len(few), *few.shape[1:])
        out["diversity_label"] = diversity(labelled, data)
        out["diversity_prior"] = diversity(model.sample(few, n_samples, seed=seed + 99), data)
    out["n_sources"] = len(src)
    out["n_outputs_per_mode"] = len(x)
    return out


__all__ = ["diversity", "evaluate", "frechet_distance", "geodesic_error", "local_positions"]
