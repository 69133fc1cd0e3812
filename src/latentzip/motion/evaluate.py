"""Metrics for motion stylization: style accuracy, content preservation, foot skating, style
FID, diversity.

* **style accuracy**: the independent :class:`StyleClassifier` predicts the target style on
  the outputs (its accuracy on real held-out windows is the ceiling);
* **content distance** (timing): 1 - the correlation over time between the output's and the
  source's joint speed profiles (each joint's speed, centred and scaled per window), weighted
  by how much the joint moves in the source. Speeds drop the posture and the scaling drops the
  amplitude, where style lives; what is left is which joint moves when. Copying the reference
  (another clip) scores near 1, the input itself 0;
* **angle distance**: the same on the joint-angle trajectories (6-D rotation channels); it
  keeps the shape of each angle's path, so it also counts style changes (arms held still);
* **foot skating**: mean horizontal speed (body heights per second) of the feet while they
  are low (within 5 % of the body height above the window's lowest foot position);
* **contact agreement**: share of frames where the output's feet are planted (low and slow)
  exactly when the source's are;
* **geodesic error**: mean angle (degrees) between output and source local joint rotations;
* **code distance**: distance between the model's own content codes of output and source
  (kept for reference: a model can game its own codes);
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
from latentzip.motion.features import (
    CONTACT_SPEED,
    body_height,
    feature_layout,
    features_to_positions,
)
from latentzip.motion.rotations import geodesic_deg, sixd_to_matrix

MODES = ("label", "reference", "prior")


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


def _trajectory_distance(a: np.ndarray, b: np.ndarray) -> float:
    """1 - correlation over time (axis -2) of the channels of ``a`` and ``b`` (N, T, C),
    weighted by each channel's spread in ``b``."""
    a = a - a.mean(-2, keepdims=True)
    b = b - b.mean(-2, keepdims=True)
    sa, sb = np.sqrt((a**2).mean(-2)), np.sqrt((b**2).mean(-2))
    corr = (a * b).mean(-2) / np.maximum(sa * sb, 1e-9)
    w = sb / np.maximum(sb.sum(-1, keepdims=True), 1e-9)
    return float(1.0 - (corr * w).sum(-1).mean())


def content_distance(y: np.ndarray, x: np.ndarray, data: MotionData) -> float:
    """Timing distance of windows ``y`` from ``x``: joint speed profiles (module docstring)."""
    a = np.linalg.norm(np.diff(local_positions(y, data), axis=-3), axis=-1)
    b = np.linalg.norm(np.diff(local_positions(x, data), axis=-3), axis=-1)
    return _trajectory_distance(a, b)


def angle_distance(y: np.ndarray, x: np.ndarray, data: MotionData) -> float:
    """The same on joint-angle (6-D rotation) trajectories."""
    lay = feature_layout(data.skeleton)
    a = data.normalizer.inverse(y)[..., lay.rot6d]
    return _trajectory_distance(a, data.normalizer.inverse(x)[..., lay.rot6d])


def _feet(x: np.ndarray, data: MotionData) -> tuple[np.ndarray, np.ndarray]:
    """Foot heights above the window's floor at frames 1.. (N, T-1, F) and horizontal foot
    speeds into those frames (N, T-1, F), in body heights (per second for speeds)."""
    sk = data.skeleton
    f = data.normalizer.inverse(x)
    feet = list(feature_layout(sk).feet)
    pos = np.stack([features_to_positions(w, sk)[:, feet] for w in f]) / body_height(sk)
    height = pos[..., 1] - pos[..., 1].min(axis=(1, 2), keepdims=True)
    speed = np.linalg.norm(np.diff(pos[..., [0, 2]], axis=1), axis=-1) * data.fps
    return height[:, 1:], speed


def foot_skate(x: np.ndarray, data: MotionData) -> float:
    """Mean horizontal foot speed (body heights / s) while a foot is within 0.05 of the floor."""
    height, speed = _feet(x, data)
    low = height < 0.05
    return float(speed[low].mean()) if low.any() else 0.0


def contact_agreement(y: np.ndarray, x: np.ndarray, data: MotionData) -> float:
    """Share of (frame, foot) where ``y`` and ``x`` agree on planted (low and slow) feet."""

    def planted(w):
        height, speed = _feet(w, data)
        return (height < 0.05) & (speed < CONTACT_SPEED)

    return float(np.mean(planted(y) == planted(x)))


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
    """Stylize held-out content windows toward every style with held-out windows: by label
    (a code from the style's prior component, label given), by a held-out reference window,
    and by a code from the style's prior component alone (``prior``: label not given).

    ``model=None`` measures two baselines: the identity (outputs = inputs; ``label`` and
    ``prior``), the no-stylization floor, and copying the reference (``reference``), the
    cheat that the content distance must catch.
    Returns a dict of metrics per mode, ``diversity_label``, ``diversity_prior``, and the
    styles judged.
    """
    rng = np.random.default_rng(seed)
    src_all = data.test_content.x if len(data.test_content) else data.test_style.x
    pick = rng.choice(len(src_all), size=min(n_content, len(src_all)), replace=False)
    src = src_all[np.sort(pick)]
    # only styles with held-out windows can be judged (and give references)
    styles = [s for s in range(len(data.styles)) if np.any(data.test_style.label == s)]
    K = len(styles)
    real = np.concatenate([data.train.x[data.train.label >= 0], data.test_style.x])
    real_feat = classifier.features(real)
    refs = {s: data.test_style.x[data.test_style.label == s] for s in styles}
    x = np.repeat(src, K, axis=0)
    target = np.tile(np.asarray(styles), len(src))
    out: dict = {}
    for mode in MODES:
        if mode == "reference":
            ref = np.stack([refs[s][rng.integers(len(refs[s]))] for s in target])
        if model is None:
            y = ref if mode == "reference" else x
        elif mode == "label":
            y = np.concatenate(
                [model.stylize_label(x[target == s], s, seed=seed + s) for s in styles]
            )
            order = np.concatenate([np.flatnonzero(target == s) for s in styles])
            y = y[np.argsort(order)]
        elif mode == "reference":
            y = model.stylize_reference(x, ref)
        else:  # the prior's component of the target style, the generator not told the label
            y = model.generate(x, model.prior_codes(target, seed=seed + 50), None)
        if root is not None and model is not None:
            y = root.restore(y)
        pred = classifier.predict(y)
        row = {
            "style_accuracy": float(np.mean(pred == target)),
            "per_style_accuracy": {
                data.styles[s]: float(np.mean(pred[target == s] == s)) for s in styles
            },
            "content_distance": content_distance(y, x, data),
            "angle_distance": angle_distance(y, x, data),
            "foot_skate": foot_skate(y, data),
            "contact_agreement": contact_agreement(y, x, data),
            "geodesic_deg": geodesic_error(y, x, data),
            "style_fid": frechet_distance(classifier.features(y), real_feat),
        }
        if model is not None:
            row["code_distance"] = float(
                np.abs(model.content_codes(y) - model.content_codes(x)).mean()
            )
        out[mode] = row
    if model is not None:
        few = src[:n_diversity]
        labelled = np.stack(
            [model.sample(few, n_samples, seed=seed + 100 + s, label=s) for s in styles],
            axis=1,
        ).reshape(n_samples, K * len(few), *few.shape[1:])
        out["diversity_label"] = diversity(labelled, data)
        out["diversity_prior"] = diversity(model.sample(few, n_samples, seed=seed + 99), data)
    out["styles_judged"] = [data.styles[s] for s in styles]
    out["n_sources"] = len(src)
    out["n_outputs_per_mode"] = len(x)
    return out


__all__ = [
    "MODES",
    "angle_distance",
    "contact_agreement",
    "content_distance",
    "diversity",
    "evaluate",
    "foot_skate",
    "frechet_distance",
    "geodesic_error",
    "local_positions",
]
