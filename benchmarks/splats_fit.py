"""DualGS on DeepMimic clips, on the CPU: held-out PSNR / SSIM and joint tracking error,
against the ablation that tracks every Gaussian directly (no joints, same iterations).

    flock /tmp/lz-heavy.lock python benchmarks/splats_fit.py            # dance_a, 64 px
    python benchmarks/splats_fit.py --clips dance_a,spinkick,cartwheel --size 128 --coarse-size 64
    python benchmarks/splats_fit.py --frames 6 --quick                  # smoke run

Per clip, captures it with pybullet (every ``--step``-th frame) into
benchmarks/results/splats_work/<clip>/capture (20 cameras, 3 held out), fits frame 0 with
3DGS and tracks the rest with DualGS (fit_dualgs/) and with the ablation (fit_direct/); both
start from the same frame-0 fit. Writes benchmarks/results/splats_fit.{json,md,png} (all
clips) and splats_fit_heldout_<clip>.png (held-out renders of both next to the ground
truth). The work folders are kept (resumable; the codec benchmark reads fit_dualgs/).
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import shutil
import time
from pathlib import Path

import numpy as np
import torch
from common import RESULTS, machine, write_results

from latentzip.files import atomic_write, save_figure
from latentzip.splats.cameras import load_capture
from latentzip.splats.capture import CLIPS, capture_humanoid
from latentzip.splats.fit import FitConfig
from latentzip.splats.pipeline import FitState, fit_sequence
from latentzip.splats.raster import render_numpy

WORK = RESULTS / "splats_work"  # the quick smoke run uses splats_work_quick


def run(args, clip: str) -> dict:
    """Capture (once), fit and track one clip in WORK/<clip>; its results."""
    work = WORK / clip
    work.mkdir(parents=True, exist_ok=True)  # a fresh checkout has no work folder yet
    cap_dir = work / "capture"
    if not (cap_dir / "cameras.json").exists() or args.recapture:
        capture_humanoid(
            cap_dir, clip=clip, frames=args.frames, step=args.step, size=args.size,
            n_cameras=args.cameras, held_out=args.held_out, progress=True,
        )  # fmt: skip
    capture = load_capture(cap_dir)
    tuning = {"coarse_size": args.coarse_size}
    config = FitConfig.quick(**tuning) if args.quick else FitConfig(**tuning)
    frames = min(args.frames, capture.n_frames)
    results = {}
    for method in ("dualgs", "direct"):
        out = work / f"fit_{method}"
        if method == "direct" and not (out / "checkpoint.npz").exists():
            _share_frame0(work / "fit_dualgs", out, method)
        start = time.perf_counter()
        fit_sequence(capture, out, config, frames=frames, method=method, progress=True)
        info = json.loads((out / "fit.json").read_text())
        info["wall_seconds_this_run"] = time.perf_counter() - start
        results[method] = info
    return {"capture": _describe(capture), "config": config.to_json(), "results": results}


def _share_frame0(src: Path, dst: Path, method: str) -> None:
    """Start the ablation from the DualGS run's frame-0 fit (same Gaussians, same time)."""
    state = FitState.load(src / "checkpoint.npz")
    g = state.rest
    state.method = method
    state.motion_means = g.means[None].copy()
    q = g.rotations / np.linalg.norm(g.rotations, axis=1, keepdims=True)
    state.motion_rotations = q[None].astype(np.float32)
    state.log_scales, state.opacity_logits, state.sh = (
        g.log_scales[None], g.opacity_logits[None], g.sh[None],
    )  # fmt: skip
    state.seconds = state.seconds[:1]
    info = json.loads((src / "fit.json").read_text())
    info["settings"]["method"] = method
    dst.mkdir(parents=True, exist_ok=True)
    atomic_write(dst / "fit.json", json.dumps(info).encode())
    atomic_write(dst / "checkpoint.npz", state.to_bytes())


def _describe(capture) -> dict:
    c = capture.cameras[0]
    return {
        "clip": capture.clip,
        "frames": capture.n_frames,
        "fps": capture.fps,
        "cameras": len(capture.cameras),
        "held_out": capture.held_out,
        "size": [c.width, c.height],
    }


def table(payload: dict) -> str:
    clips = payload["clips"]
    first = next(iter(clips.values()))["capture"]
    lines = [
        f"DualGS vs direct per-Gaussian tracking on {len(clips)} DeepMimic clip(s), "
        f"{first['cameras']} cameras at {first['size'][0]} px, held out "
        f"{', '.join(first['held_out'])}; {payload['machine']['cores']} cores, torch threads "
        f"{payload['threads']}.",
        "",
        "| clip | method | Gaussians | joints | held-out PSNR (dB) | frame 0 (dB) | drop (dB) "
        "| held-out SSIM | joint error (cm) | worst frame (cm) | frame 0 (s) | s / frame |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for clip, result in clips.items():
        cap = result["capture"]
        for method, info in result["results"].items():
            m, rows = info["metrics"]["mean"], info["metrics"]["per_frame"]
            n = info["frames_done"]
            frame0 = rows[0]["test_psnr"]
            lines.append(
                f"| {clip} ({n} @ {cap['fps']:.0f} fps) | {method} | "
                f"{info['n_gaussians']} | {info['n_joints'] or '-'} | {m['test_psnr']:.2f} | "
                f"{frame0:.2f} | {frame0 - m['test_psnr']:.2f} | {m['test_ssim']:.4f} | "
                f"{m['joint_error_cm']:.2f} | {max(r['joint_error_cm'] for r in rows):.2f} | "
                f"{info['seconds_frame0']:.0f} | {info['seconds_tracking'] / max(n - 1, 1):.1f} |"
            )
    lines += [
        "",
        "PSNR / SSIM: mean over all frames (frame 0 included) of the mean over the held-out "
        "views (whole images, black background); drop: frame 0's PSNR minus that mean. Joint "
        "error: ground-truth joints bound at frame 0 to their 8 nearest motion anchors (joint "
        "Gaussians for DualGS, Gaussians for the ablation) and carried by the tracked motion; "
        "mean over joints and frames 1..T-1, and the worst frame's mean. s / frame: tracking "
        "time per frame after frame 0. splats_fit_heldout_<clip>.png: one row per frame; for "
        "each held-out camera, ground truth | DualGS | direct.",
    ]
    return "\n".join(lines)


def plot(payload: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    clips = payload["clips"]
    fig, axes = plt.subplots(len(clips), 3, figsize=(14, 3.6 * len(clips)), squeeze=False)
    titles = ("held-out PSNR (dB)", "held-out SSIM", "joint tracking error (cm)")
    for row, (clip, result) in zip(axes, clips.items(), strict=True):
        for method, info in result["results"].items():
            rows = info["metrics"]["per_frame"]
            t = [r["frame"] for r in rows]
            for ax, key in zip(row, ("test_psnr", "test_ssim", "joint_error_cm"), strict=True):
                ax.plot(t, [r[key] for r in rows], label=method)
        for ax, title in zip(row, titles, strict=True):
            ax.set_title(f"{clip}: {title}")
            ax.set_xlabel("frame")
            ax.grid(alpha=0.3)
            ax.legend()
    fig.tight_layout()
    save_figure(fig, RESULTS / "splats_fit.png")
    plt.close(fig)


def side_by_side(clip: str, result: dict, frames: list[int]) -> None:
    """Held-out views: ground truth, DualGS and direct, for a few frames (rows)."""
    from PIL import Image

    work = WORK / clip
    capture = load_capture(work / "capture")
    states = {m: FitState.load(work / f"fit_{m}" / "checkpoint.npz") for m in result["results"]}
    rows = []
    for t in frames:
        tiles = []
        for cam in capture.test_cameras:
            tiles.append(capture.image(cam, t))
            tiles += [render_numpy(s.frame(t), cam) for s in states.values()]
            tiles.append(np.ones((cam.height, 2, 3), np.float32))
        rows.append(np.concatenate(tiles, axis=1))
    img = np.clip(np.concatenate(rows, axis=0) * 255, 0, 255).astype(np.uint8)
    zoom = max(1, 192 // capture.cameras[0].height)
    big = Image.fromarray(img).resize((img.shape[1] * zoom, img.shape[0] * zoom), Image.NEAREST)
    buf = io.BytesIO()
    big.save(buf, "PNG")
    atomic_write(RESULTS / f"splats_fit_heldout_{clip}.png", buf.getvalue())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", default="dance_a", help="DeepMimic clips, comma-separated")
    ap.add_argument("--frames", type=int, default=40)
    ap.add_argument("--step", type=int, default=2)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--coarse-size", type=int, default=0, help="FitConfig.coarse_size")
    ap.add_argument("--cameras", type=int, default=20)
    ap.add_argument("--held-out", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="FitConfig.quick() (smoke run)")
    ap.add_argument("--recapture", action="store_true")
    ap.add_argument("--fresh", action="store_true", help="delete previous fits first")
    ap.add_argument("--work", help="work folder under benchmarks/results (splats_work)")
    args = ap.parse_args()
    global WORK
    if args.work:
        WORK = RESULTS / args.work
    elif args.quick:
        WORK = RESULTS / "splats_work_quick"
    clips = list(dict.fromkeys(c.strip() for c in args.clips.split(",") if c.strip()))
    unknown = [c for c in clips if c not in CLIPS]
    if not clips or unknown:
        ap.error(f"--clips: choose among {', '.join(CLIPS)} (got {args.clips!r})")
    if args.fresh:
        for clip, m in itertools.product(clips, ("dualgs", "direct")):
            shutil.rmtree(WORK / clip / f"fit_{m}", ignore_errors=True)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    payload = {"clips": {clip: run(args, clip) for clip in clips}}
    payload["machine"] = machine()
    payload["threads"] = args.threads
    payload["wall_seconds"] = time.perf_counter() - start
    name = "splats_fit_quick" if args.quick else "splats_fit"
    write_results(name, payload, table(payload))
    if not args.quick:
        plot(payload)
        for clip, result in payload["clips"].items():
            n = result["results"]["dualgs"]["frames_done"]
            side_by_side(clip, result, sorted({0, n // 3, 2 * n // 3, n - 1}))


if __name__ == "__main__":
    main()
