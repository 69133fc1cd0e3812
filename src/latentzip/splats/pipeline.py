"""Fit a whole capture: frame 0 by 3DGS, then track frame by frame, resumable.

A fit folder holds::

    <fit>/checkpoint.npz          state after the last finished frame (resume from here)
    <fit>/fit.json                settings, timings and per-frame metrics
    <fit>/dualgs.npz              the DualGSSequence (method "dualgs")
    <fit>/frames/<t:04d>.ply      the Gaussians of every frame, INRIA 3DGS layout

``method="dualgs"`` tracks joints and warps the skin (:func:`track.track_dualgs`);
``method="direct"`` is the ablation that optimises every Gaussian per frame
(:func:`track.track_direct`). Each frame is optimised from the checkpointed state with a
seed derived from the frame index, so an interrupted fit resumed from its checkpoint gives
the same result as an uninterrupted one.
"""

from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from latentzip.errors import DataError, LatentzipError
from latentzip.files import atomic_write
from latentzip.splats.cameras import Capture, load_capture
from latentzip.splats.fit import FitConfig, FrameViews, fit_gaussians
from latentzip.splats.gaussians import Gaussians
from latentzip.splats.metrics import psnr, ssim
from latentzip.splats.ply import write_ply
from latentzip.splats.raster import render_numpy
from latentzip.splats.sequence import DualGSSequence
from latentzip.splats.track import (
    Appearance,
    Binding,
    bind,
    carry,
    make_binding,
    track_direct,
    track_dualgs,
)

__all__ = ["METHODS", "FitState", "evaluate", "fit_sequence", "load_frames"]

FORMAT = "latentzip-splats-fit/1"
METHODS = ("dualgs", "direct")


@dataclass
class FitState:
    """Everything a fit knows after ``n_done`` frames (numpy arrays, float32)."""

    method: str
    rest: Gaussians  # the frame-0 fit
    joint_index: np.ndarray  # (J,) which rest Gaussians are joints (dualgs)
    skin_joints: np.ndarray  # (S, 8)
    skin_weights: np.ndarray  # (S, 8)
    neighbours: np.ndarray  # (J, K)
    motion_means: np.ndarray  # (t, J, 3) joints (dualgs) or (t, N, 3) Gaussians (direct)
    motion_rotations: np.ndarray  # (t, J or N, 4)
    log_scales: np.ndarray  # (t, S, 3)
    opacity_logits: np.ndarray  # (t, S)
    sh: np.ndarray  # (t, S, B, 3)
    seconds: np.ndarray  # (t,) wall time per frame

    @property
    def n_done(self) -> int:
        return len(self.motion_means)

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        arrays = {k: v for k, v in vars(self).items() if isinstance(v, np.ndarray)}
        rest = {f"rest_{f}": getattr(self.rest, f) for f in _GFIELDS}
        np.savez(buf, format=np.array(FORMAT), method=np.array(self.method), **arrays, **rest)
        return buf.getvalue()

    @classmethod
    def load(cls, path: Path) -> FitState:
        try:
            with np.load(path, allow_pickle=False) as z:
                if str(z["format"]) != FORMAT:
                    raise DataError(f"{path}: not a latentzip fit checkpoint")
                rest = Gaussians(**{f: z[f"rest_{f}"] for f in _GFIELDS})
                fields = [f for f in cls.__dataclass_fields__ if f not in ("method", "rest")]
                return cls(method=str(z["method"]), rest=rest, **{f: z[f] for f in fields})
        except (OSError, ValueError, KeyError, EOFError) as exc:
            raise DataError(f"{path}: unreadable checkpoint ({exc})") from exc

    def frame(self, t: int) -> Gaussians:
        """The Gaussians of frame ``t`` (the DualGS warp of the numpy reference)."""
        if self.method == "dualgs":
            return self.sequence().frame(t)
        return Gaussians(
            self.motion_means[t],
            self.log_scales[t],
            self.motion_rotations[t],
            self.opacity_logits[t],
            self.sh[t],
        )

    def sequence(self) -> DualGSSequence:
        if self.method != "dualgs":
            raise DataError("only a DualGS fit has a DualGSSequence")
        return DualGSSequence(
            joint_means=self.motion_means,
            joint_rotations=self.motion_rotations,
            skin_rest_means=self.rest.means,
            skin_rest_rotations=self.rest.rotations,
            skin_joints=self.skin_joints,
            skin_weights=self.skin_weights,
            skin_log_scales=self.log_scales,
            skin_opacity_logits=self.opacity_logits,
            skin_sh=self.sh,
        )

    def binding(self) -> Binding:
        t = torch.from_numpy
        return Binding(
            rest_joint_means=t(self.motion_means[0].copy()),
            rest_joint_rotations=t(self.motion_rotations[0].copy()),
            rest_means=t(self.rest.means.copy()),
            rest_rotations=t(self.rest.rotations.copy()),
            skin_joints=t(self.skin_joints.astype(np.int64)),
            skin_weights=t(self.skin_weights.copy()),
            neighbours=t(self.neighbours.astype(np.int64)),
        )

    def appearance(self, t: int) -> Appearance:
        return Appearance(
            torch.from_numpy(self.log_scales[t].copy()),
            torch.from_numpy(self.opacity_logits[t].copy()),
            torch.from_numpy(self.sh[t].copy()),
        )

    def append(self, means, rotations, app: Appearance, *, seconds: float) -> None:
        def push(stack: np.ndarray, x) -> np.ndarray:
            x = np.asarray(x.numpy() if torch.is_tensor(x) else x, np.float32)
            return np.concatenate([stack, x[None]])

        self.motion_means = push(self.motion_means, means)
        self.motion_rotations = push(self.motion_rotations, rotations)
        self.log_scales = push(self.log_scales, app.log_scales)
        self.opacity_logits = push(self.opacity_logits, app.opacity_logits)
        self.sh = push(self.sh, app.sh)
        self.seconds = np.append(self.seconds, seconds)


_GFIELDS = ("means", "log_scales", "rotations", "opacity_logits", "sh")


def _initial_state(g: Gaussians, method: str, config: FitConfig, seconds: float) -> FitState:
    empty = np.zeros((0,), np.float32)
    if method == "dualgs":
        b, joints = make_binding(g, config)
        means, rots = b.rest_joint_means.numpy(), b.rest_joint_rotations.numpy()
        sj, sw, nb = b.skin_joints.numpy(), b.skin_weights.numpy(), b.neighbours.numpy()
    else:
        joints = np.zeros(0, np.int64)
        means, rots = g.means, g.rotations / np.linalg.norm(g.rotations, axis=1, keepdims=True)
        sj = sw = np.zeros((len(g), 8), np.float32)
        nb = np.zeros((0, 0), np.int64)
    return FitState(
        method=method,
        rest=g,
        joint_index=joints,
        skin_joints=sj.astype(np.int32),
        skin_weights=sw.astype(np.float32),
        neighbours=nb.astype(np.int64),
        motion_means=means[None].astype(np.float32),
        motion_rotations=rots[None].astype(np.float32),
        log_scales=g.log_scales[None],
        opacity_logits=g.opacity_logits[None],
        sh=g.sh[None],
        seconds=np.append(empty, seconds),
    )


def _settings(capture: Capture, method: str, config: FitConfig) -> dict:
    return {"capture": str(Path(capture.folder).resolve()), "method": method, **config.to_json()}


def fit_sequence(
    capture: Capture | str | Path,
    out: str | Path,
    config: FitConfig | None = None,
    *,
    frames: int | None = None,
    method: str = "dualgs",
    force: bool = False,
    evaluate_frames: bool = True,
    progress: bool = False,
) -> FitState:
    """Fit the first ``frames`` frames of ``capture`` into the folder ``out``.

    Resumes from ``out/checkpoint.npz`` when its settings match (a finished fit can be
    extended to more frames); a checkpoint with other settings is an error unless
    ``force``, which starts over. Writes the files listed in the module docstring.
    """
    from tqdm import tqdm

    if method not in METHODS:
        raise DataError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    capture = capture if isinstance(capture, Capture) else load_capture(capture)
    config = config or FitConfig()
    n = capture.n_frames if frames is None else frames
    if not 1 <= n <= capture.n_frames:
        raise DataError(f"{capture.folder} has {capture.n_frames} frames; cannot fit {n}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise LatentzipError(f"{out} exists and is not a folder")
    ckpt = out / "checkpoint.npz"
    settings = _settings(capture, method, config)
    state = None
    if ckpt.exists():
        old = _read_json(out / "fit.json").get("settings")
        if old == settings:
            state = FitState.load(ckpt)
        elif not force:
            raise LatentzipError(
                f"{out} holds a fit with other settings; pass --force to start over"
            )
    torch_threads = torch.get_num_threads()
    if state is None:
        start = time.perf_counter()
        g0 = fit_gaussians(capture, 0, config, progress=progress)
        state = _initial_state(g0, method, config, time.perf_counter() - start)
        _save(out, state, settings, None)
    bar = tqdm(
        range(state.n_done, n),
        desc=f"track ({method})",
        disable=not progress or state.n_done >= n,
        initial=state.n_done,
        total=n,
    )
    for t in bar:
        start = time.perf_counter()
        motion = _track_one(capture, state, t, config)
        state.append(*motion, seconds=time.perf_counter() - start)
        _save(out, state, settings, None)
    metrics = evaluate(capture, state, progress=progress) if evaluate_frames else None
    _export(out, state, n)
    _save(out, state, settings, metrics, threads=torch_threads)
    return state


def _track_one(capture: Capture, state: FitState, t: int, config: FitConfig):
    """Motion (means, rotations) and appearance of frame ``t`` from the state before it."""
    views = FrameViews(capture, t)
    seed = config.seed * 100_003 + t
    prev = (
        torch.from_numpy(state.motion_means[t - 1]),
        torch.from_numpy(state.motion_rotations[t - 1]),
    )
    prev2 = None
    if t >= 2:
        prev2 = (
            torch.from_numpy(state.motion_means[t - 2]),
            torch.from_numpy(state.motion_rotations[t - 2]),
        )
    app, first = state.appearance(t - 1), state.appearance(0)
    if state.method == "dualgs":
        return track_dualgs(views, state.binding(), prev, prev2, app, config, seed, first)
    return track_direct(views, prev, prev2, app, config, seed, first)


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _save(out: Path, state: FitState, settings: dict, metrics: dict | None, **extra) -> None:
    atomic_write(out / "checkpoint.npz", state.to_bytes(), parents=True)
    info = {
        "format": FORMAT,
        "settings": settings,
        "frames_done": state.n_done,
        "n_gaussians": len(state.rest),
        "n_joints": int(state.motion_means.shape[1]) if state.method == "dualgs" else 0,
        "seconds_frame0": float(state.seconds[0]),
        "seconds_tracking": float(state.seconds[1:].sum()),
        "seconds_per_frame": state.seconds.round(3).tolist(),
        **extra,
    }
    if metrics is not None:
        info["metrics"] = metrics
    atomic_write(out / "fit.json", (json.dumps(info, indent=1) + "\n").encode())


def _export(out: Path, state: FitState, n: int) -> None:
    if state.method == "dualgs":
        state.sequence().save(out / "dualgs.npz")
    (out / "frames").mkdir(parents=True, exist_ok=True)
    for t in range(n):
        write_ply(out / "frames" / f"{t:04d}.ply", state.frame(t))


def tracked_joints(capture: Capture, state: FitState) -> np.ndarray:
    """The model's estimate of the ground-truth joints, (T, J, 3).

    Each ground-truth joint is bound at frame 0 to its 8 nearest motion anchors (the joint
    Gaussians for DualGS, every Gaussian for the direct ablation) with the skin's weights
    and carried by their motion.
    """
    gt0 = capture.joints(0)
    anchors0 = state.motion_means[0]
    idx, w = bind(gt0, anchors0)
    return np.stack(
        [
            carry(
                gt0,
                idx,
                w,
                anchors0,
                state.motion_rotations[0],
                state.motion_means[t],
                state.motion_rotations[t],
            )
            for t in range(state.n_done)
        ]
    ).astype(np.float32)


def evaluate(capture: Capture, state: FitState, *, progress: bool = False) -> dict:
    """Per-frame PSNR / SSIM on held-out and training views, and joint tracking error."""
    from tqdm import tqdm

    per_frame = []
    est = tracked_joints(capture, state) if capture.has_joints else None
    for t in tqdm(range(state.n_done), desc="evaluate", disable=not progress):
        g = state.frame(t)
        row: dict = {"frame": t}
        for group, cams in (("test", capture.test_cameras), ("train", capture.train_cameras)):
            if not cams:
                continue
            scores = []
            for c in cams:
                rendered, truth = render_numpy(g, c), capture.image(c, t)
                scores.append((psnr(rendered, truth), ssim(rendered, truth)))
            row[f"{group}_psnr"] = float(np.mean([s[0] for s in scores]))
            row[f"{group}_ssim"] = float(np.mean([s[1] for s in scores]))
        if est is not None:
            err = np.linalg.norm(est[t] - capture.joints(t), axis=1)
            row["joint_error_cm"] = float(100 * err.mean())
        per_frame.append(row)
    summary = {k: float(np.mean([r[k] for r in per_frame])) for k in per_frame[0] if k != "frame"}
    if est is not None and len(per_frame) > 1:
        summary["joint_error_cm"] = float(np.mean([r["joint_error_cm"] for r in per_frame[1:]]))
    return {"mean": summary, "per_frame": per_frame}


def load_frames(fit: str | Path) -> list[Gaussians]:
    """The exported Gaussians of every frame of a fit folder."""
    from latentzip.splats.ply import read_ply

    paths = sorted((Path(fit) / "frames").glob("*.ply"))
    if not paths:
        raise DataError(f"{fit}: no frames/*.ply (not a finished fit folder)")
    return [read_ply(p) for p in paths]
