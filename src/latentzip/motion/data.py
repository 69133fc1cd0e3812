"""Style and content clips -> normalised feature windows, split by clip.

A folder such as ``../shared/data/motion/m21`` holds ``style/*.bvh`` (the style label is the
file name up to a ``-`` or ``_``: ``OLD-2.bvh`` -> ``old``, ``angry_13_000.bvh`` -> ``angry``)
and optionally ``content/*.bvh`` (unlabelled actions); a flat folder of style clips (Xia) works
too, and several folders can be combined (one actor or capture set each). Every clip goes onto
the first style clip's skeleton (:func:`retarget`: the same joint tree, or a finer one such as
the Xia clips' 31-joint CMU skeleton onto m21's 21 joints; the root path is scaled by the body
heights), is resampled to about ``fps`` (the frames the resampling skips give the same clip
again from another phase: more training windows, never held-out ones), and is cut into
features (:mod:`latentzip.motion.features`).

Split by clip, so that no held-out frame is ever trained on: a style clip of at least three
windows (content: two) trains on its head and holds out its tail (the last ``holdout``
fraction, at least one window); a shorter clip is held out whole when another clip of the same
style and source trains, and trains whole otherwise (``MotionData.roles``). Training windows
come with their mirror images. Statistics for the z-normalisation are computed on the training
windows (:class:`Normalizer`).

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
import warnings
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
    """Put ``motion`` on ``skeleton``: keep rotations, scale the root path by the body heights.

    The source tree must be the target's, or a finer one that holds every target joint under
    the same name with the same nearest kept ancestor (the 31-joint CMU skeleton of the Xia
    clips onto the 21-joint m21 one). Joints the target lacks are folded into their children:
    every kept joint keeps its global rotation, which is exact where the dropped joints have
    zero offsets, as in CMU's.
    """
    src = motion.skeleton
    scale = body_height(skeleton) / body_height(src)
    if src.names == skeleton.names and np.array_equal(src.parents, skeleton.parents):
        return Motion(skeleton, motion.root * scale, motion.rotations, motion.fps)
    keep = _kept_joints(src, skeleton)
    grot = motion.global_transforms()[0][:, keep]
    rot = grot.copy()
    for j, p in enumerate(skeleton.parents.tolist()):
        if p >= 0:
            rot[:, j] = np.swapaxes(grot[:, p], -1, -2) @ grot[:, j]
    return Motion(skeleton, motion.root * scale, rot, motion.fps)


def _kept_joints(src: Skeleton, dst: Skeleton) -> list[int]:
    """Indices in ``src`` of ``dst``'s joints, checking that the trees agree."""
    missing = [n for n in dst.names if n not in src.names]
    if missing:
        raise DataError(f"retargeting needs the target's joints in the source; missing {missing}")
    keep = [src.names.index(n) for n in dst.names]
    kept = set(keep)
    for j, p in enumerate(dst.parents.tolist()):
        a = int(src.parents[keep[j]])
        while a >= 0 and a not in kept:
            a = int(src.parents[a])
        if (p < 0) != (a < 0) or (p >= 0 and a != keep[p]):
            raise DataError(f"retargeting: joint {dst.names[j]} hangs elsewhere in the source")
    return keep


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
    """A resampled clip; ``phases`` are the same clip resampled from frames 1 .. k-1 (the
    frames the resampling skipped), which only ever add training windows."""

    name: str
    label: str | None
    motion: Motion
    phases: tuple[Motion, ...] = ()
    source: str = ""  # the folder it came from (one actor / capture set)


@dataclass(frozen=True)
class DataConfig:
    """How clips become windows."""

    fps: float = 30.0
    window: int = 32
    holdout: float = 0.25
    style_stride: int = 4  # with ``phases``, as many windows as stride 2 without
    content_stride: int = 8
    eval_stride: int = 8
    mirror: bool = True
    phases: bool = True


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
    roles: dict[str, str] = field(default_factory=dict)  # clip name -> split / train / test / skip

    @property
    def dim(self) -> int:
        return int(self.train.x.shape[-1])


def load_clips(
    folders: str | Path | list[str | Path], fps: float = 30.0
) -> tuple[list[Clip], list[Clip]]:
    """Style clips (labelled) and content clips (label None), resampled and retargeted.

    Several folders may be given: every clip goes onto the first style clip's skeleton; a clip
    on a skeleton that cannot be retargeted there (see :func:`retarget`) is skipped.
    """
    folders = [folders] if isinstance(folders, (str, Path)) else list(folders)
    style_files, content_files = [], []
    for folder in map(Path, folders):
        if not folder.is_dir():
            raise DataError(f"{folder}: not a folder of BVH clips")
        style_dir = folder / "style" if (folder / "style").is_dir() else folder
        found = sorted(style_dir.glob("*.bvh"))
        if not found:
            raise DataError(f"{style_dir}: no .bvh style clips")
        style_files += [(f, folder.name) for f in found]
        if style_dir != folder:
            content_files += [(f, folder.name) for f in sorted((folder / "content").glob("*.bvh"))]
    seen: set[str] = set()
    style, content = [], []
    ref: Skeleton | None = None
    for files, out, labelled in ((style_files, style, True), (content_files, content, False)):
        for f, source in files:
            bvh = read_bvh(f)
            digest = hashlib.sha1(bvh.values.tobytes()).hexdigest()
            if digest in seen:  # e.g. hop.bvh == jump.bvh
                continue
            seen.add(digest)
            full = bvh.to_motion()
            ref = ref or full.skeleton
            try:
                full = retarget(full, ref)
            except DataError as exc:  # another skeleton: keep statistics apart, skip here
                warnings.warn(
                    f"{f}: skipped, not on the first clip's skeleton ({exc})", stacklevel=2
                )
                continue
            k = full.downsample_step(fps)
            m, *phases = (full.downsample(fps, p) for p in range(k))
            label = style_label(f) if labelled else None
            out.append(Clip(f.stem, label, m, tuple(phases), source))
    return style, content


def _split(n: int, holdout: float, window: int) -> int:
    """Index where the held-out tail of an n-row clip starts (tail >= one window)."""
    tail = max(math.ceil(holdout * n), window)
    return max(n - tail, 0)


def _role(n: int, window: int, key: tuple[str | None, str], trained: set) -> str:
    """How an n-row clip is used: ``split`` (train head, held-out tail) when it holds three
    windows (two for unlabelled content), else whole: for ``test`` if another clip of the same
    style and source (``key``) trains, else for ``train``; ``skip`` if it has no full window."""
    if n < window:
        return "skip"
    if n >= (3 if key[0] else 2) * window:
        return "split"
    return "test" if key[0] and key in trained else "train"


def build(folders: str | Path | list[str | Path], config: DataConfig | None = None) -> MotionData:
    """Load folders (see the module docstring) and cut train / held-out windows."""
    cfg = config or DataConfig()
    style_clips, content_clips = load_clips(folders, cfg.fps)
    styles = sorted({c.label for c in style_clips if c.label})
    names: list[str] = []
    roles: dict[str, str] = {}
    trained: set[tuple[str | None, str]] = set()
    parts: dict[str, list] = {"train": [], "test_style": [], "test_content": []}
    # long clips first, so that a short one is held out whole when its style trains elsewhere
    long = 3 * cfg.window + 1
    by_length = sorted(style_clips, key=lambda c: (c.motion.n_frames < long, -c.motion.n_frames))
    for c in by_length + content_clips:
        feats = motion_features(c.motion)
        role = _role(len(feats), cfg.window, (c.label, c.source), trained)
        roles[c.name] = role
        if role == "skip":
            continue
        names.append(c.name)
        cid = len(names) - 1
        lab = styles.index(c.label) if c.label else -1
        cut = {"split": _split(len(feats), cfg.holdout, cfg.window), "train": len(feats)}
        cut = cut.get(role, 0)  # "test": all held out
        stride = cfg.style_stride if c.label else cfg.content_stride
        if cut >= cfg.window:
            trained.add((c.label, c.source))
            # the other phases end a frame earlier: their last row must not reach the tail
            phases = [p.slice(0, cut) if role == "split" else p for p in c.phases]
            heads = [c.motion.slice(0, cut + 1), *(phases if cfg.phases else [])]
            train = [windows(feats[:cut], cfg.window, stride)]
            train += [windows(motion_features(h), cfg.window, stride) for h in heads[1:]]
            if cfg.mirror:
                train += [windows(motion_features(h.mirror()), cfg.window, stride) for h in heads]
            tr = np.concatenate(train)
            parts["train"].append((tr, np.full(len(tr), lab), np.full(len(tr), cid)))
        if cut < len(feats):
            test = windows(feats[cut:], cfg.window, cfg.eval_stride)
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
        raise DataError(f"{folders}: clips too short for {cfg.window}-frame windows")
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
        roles=roles,
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
