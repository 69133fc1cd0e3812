"""Style and content clips -> normalised feature windows, with a held-out end of every clip.

A folder such as ``../shared/data/motion/m21`` holds ``style/*.bvh`` (the style label is the
file name up to a ``-`` or ``_``: ``OLD-2.bvh`` -> ``old``, ``angry_13_000.bvh`` -> ``angry``)
and optionally ``content/*.bvh`` (unlabelled actions); a flat folder of style clips (Xia) works
too. Every clip is resampled to about ``fps``, moved onto the first style clip's skeleton
(same joint tree required; local rotations are kept and the root path is scaled by the body
heights, so that content clips from other actors share the style actor's bones), and cut into
features (:mod:`latentzip.motion.features`).

The last ``holdout`` fraction of every clip (at least one window) is held out for evaluation;
training windows come from the rest, plus their mirror images. Statistics for the
z-normalisation are computed on the training windows of that skeleton only
(:class:`Normalizer`, keyed by :meth:`Skeleton.signature`).

>>> from latentzip.motion.synthetic import toy_motion
>>> w = windows(np.zeros((70, 5)), 32, 16)
>>> w.shape
(3, 32, 5)
>>> style_label("OLD-2.bvh"), style_label("angry_13_000.bvh")
('old', 'angry')
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from latentzip.errors import DataError
from latentzip.motion.bvh import Motion, Skeleton, read_bvh
from latentzip.motion.features import body_height, feature_layout, motion_features


def style_label(filename: str | Path) -> str:
    """The style named by a clip's file name (lower case, up to the first ``-`` or ``_``)."""
    stem = Path(filename).stem
    return stem.replace("_", "-").split("-")[0].lower()


def windows(features: np.ndarray, window: int, stride: int) -> np.ndarray:
    """Overlapping windows (N, window, D) of a (T, D) feature array (none if T < window)."""
    T = len(features)
    starts = range(0, T - window + 1, stride)
    if window > T:
        return np.zeros((0, window, features.shape[1]), dtype=features.dtype)
    return np.stack([features[s : s + window] for s in starts])


def retarget(motion: Motion, skeleton: Skeleton) -> Motion:
    """Put ``motion`` on ``skeleton`` (same joint tree): keep local rotations, scale the root."""
    src = motion.skeleton
    if src.names != skeleton.names or not np.array_equal(src.parents, skeleton.parents):
        raise DataError("retargeting needs the same joint names and tree")
    scale = body_height(skeleton) / body_height(src)
    return Motion(skeleton, motion.root * scale, motion.rotations, motion.fps)


@dataclass(frozen=True)
class Normalizer:
    """Per-channel z-normalisation ``(x - mean) / std`` (std floored at ``1e-2``)."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray) -> Normalizer:
        """Statistics of the rows of ``x`` (..., D)."""
        flat = np.asarray(x, dtype=np.float64).reshape(-1, x.shape[-1])
        return cls(
            flat.mean(0).astype(np.float32), np.maximum(flat.std(0), 1e-2).astype(np.float32)
        )

    def transform(self, x: np.ndarray) -> np.ndarray:
        self._check(x)
        return ((x - self.mean) / self.std).astype(np.float32)

    def inverse(self, z: np.ndarray) -> np.ndarray:
        self._check(z)
        return (np.asarray(z, dtype=np.float64) * self.std + self.mean).astype(np.float64)

    def _check(self, x: np.ndarray) -> None:
        if np.shape(x)[-1] != len(self.mean):
            raise DataError(f"expected {len(self.mean)} feature channels, got {np.shape(x)[-1]}")


@dataclass(frozen=True)
class Clip:
    name: str
    label: str | None
    motion: Motion


@dataclass(frozen=True)
class DataConfig:
    """How clips become windows."""

    fps: float = 30.0
    window: int = 32
    holdout: float = 0.25
    style_stride: int = 2
    content_stride: int = 8
    eval_stride: int = 8
    mirror: bool = True


@dataclass
class WindowSet:
    """Feature windows: ``x`` (N, W, D) float32 normalised, ``label`` (N,) int (-1: none),
    ``clip`` (N,) int index into ``clips`` (the source clip's name)."""

    x: np.ndarray
    label: np.ndarray
    clip: np.ndarray
    clips: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.x)

    def subset(self, mask: np.ndarray) -> WindowSet:
        return WindowSet(self.x[mask], self.label[mask], self.clip[mask], self.clips)


@dataclass
class MotionData:
    """Everything training and evaluation need, on one skeleton."""

    skeleton: Skeleton
    fps: float
    styles: list[str]
    normalizer: Normalizer
    train: WindowSet
    test_style: WindowSet
    test_content: WindowSet
    config: DataConfig
    stats: dict[str, Normalizer]

    @property
    def dim(self) -> int:
        return int(self.train.x.shape[-1])


def load_clips(folder: str | Path, fps: float = 30.0) -> tuple[list[Clip], list[Clip]]:
    """Style clips (labelled) and content clips (label None), resampled and retargeted."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder of BVH clips")
    style_dir = folder / "style" if (folder / "style").is_dir() else folder
    style_files = sorted(style_dir.glob("*.bvh"))
    content_files = sorted((folder / "content").glob("*.bvh")) if style_dir != folder else []
    if not style_files:
        raise DataError(f"{style_dir}: no .bvh style clips")
    seen: set[str] = set()
    style, content = [], []
    ref: Skeleton | None = None
    for files, out, labelled in ((style_files, style, True), (content_files, content, False)):
        for f in files:
            bvh = read_bvh(f)
            digest = hashlib.sha1(bvh.values.tobytes()).hexdigest()
            if digest in seen:  # e.g. hop.bvh == jump.bvh
                continue
            seen.add(digest)
            m = bvh.to_motion().downsample(fps)
            ref = ref or m.skeleton
            if m.skeleton.signature() != ref.signature():
                continue  # another skeleton: keep statistics apart, skip here
            out.append(Clip(f.stem, style_label(f) if labelled else None, retarget(m, ref)))
    return style, content


def _split(n: int, holdout: float, window: int) -> int:
    """Index where the held-out tail of an n-row clip starts (tail >= one window)."""
    tail = max(math.ceil(holdout * n), window)
    return max(n - tail, 0)


def build(folder: str | Path, config: DataConfig | None = None) -> MotionData:
    """Load a folder (see the module docstring) and cut train / held-out windows."""
    cfg = config or DataConfig()
    style_clips, content_clips = load_clips(folder, cfg.fps)
    styles = sorted({c.label for c in style_clips if c.label})
    names: list[str] = []
    parts: dict[str, list] = {"train": [], "test_style": [], "test_content": []}
    for c in style_clips + content_clips:
        names.append(c.name)
        cid = len(names) - 1
        lab = styles.index(c.label) if c.label else -1
        feats = motion_features(c.motion)
        cut = _split(len(feats), cfg.holdout, cfg.window)
        stride = cfg.style_stride if c.label else cfg.content_stride
        train = [windows(feats[:cut], cfg.window, stride)]
        if cfg.mirror and cut > cfg.window:
            mir = motion_features(c.motion.slice(0, cut + 1).mirror())
            train.append(windows(mir, cfg.window, stride))
        test = windows(feats[cut:], cfg.window, cfg.eval_stride)
        tr = np.concatenate(train)
        parts["train"].append((tr, np.full(len(tr), lab), np.full(len(tr), cid)))
        key = "test_style" if c.label else "test_content"
        parts[key].append((test, np.full(len(test), lab), np.full(len(test), cid)))

    def stack(key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        items = parts[key]
        if not items:
            D = feature_layout(style_clips[0].motion.skeleton).dim
            return np.zeros((0, cfg.window, D)), np.zeros(0, int), np.zeros(0, int)
        return tuple(np.concatenate([it[i] for it in items]) for i in range(3))  # type: ignore[return-value]

    train_x, _train_l, _train_c = stack("train")
    if len(train_x) == 0:
        raise DataError(f"{folder}: clips too short for {cfg.window}-frame windows")
    sk = style_clips[0].motion.skeleton
    norm = Normalizer.fit(train_x)

    def ws(key: str) -> WindowSet:
        x, lab, cid = stack(key)
        return WindowSet(norm.transform(x), lab.astype(int), cid.astype(int), names)

    return MotionData(
        skeleton=sk,
        fps=style_clips[0].motion.fps,
        styles=styles,
        normalizer=norm,
        train=ws("train"),
        test_style=ws("test_style"),
        test_content=ws("test_content"),
        config=cfg,
        stats={sk.signature(): norm},
    )


__all__ = [
    "Clip",
    "DataConfig",
    "MotionData",
    "Normalizer",
    "WindowSet",
    "build",
    "load_clips",
    "retarget",
    "style_label",
    "windows",
]
