"""``latentzip splats`` verbs for capture, fit and render.

latentzip splats capture -o cap --clip dance_a --frames 40
latentzip splats import my_rig/transforms.json -o cap --held-out cam07   (your own capture)
latentzip splats fit cap -o fit                      (resumes from fit/checkpoint.npz)
latentzip splats render fit -o heldout.gif           (the first held-out camera, every frame)
latentzip splats render fit -o turntable.mp4 --turntable --frame 0
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from latentzip.cliutil import given
from latentzip.errors import LatentzipError


def add_verbs(verbs: argparse._SubParsersAction) -> None:
    """Register this module's verbs on the ``latentzip splats`` sub-parser."""
    p = verbs.add_parser("capture", help="render a multi-view capture of a DeepMimic clip")
    p.add_argument("-o", "--output", required=True, help="capture folder to write")
    p.add_argument("--clip", default="dance_a", help="DeepMimic clip (dance_a, walk, ...)")
    p.add_argument("--frames", type=int, default=40)
    p.add_argument("--step", type=int, default=2, help="take every STEP-th clip frame")
    p.add_argument("--start", type=int, default=0, help="first clip frame")
    p.add_argument("--cameras", type=int, default=20)
    p.add_argument("--held-out", type=int, default=3, help="cameras kept for evaluation")
    p.add_argument("--size", type=int, default=64, help="image width and height in pixels")
    p.add_argument("-f", "--force", action="store_true", help="write into an existing capture")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=_capture)

    p = verbs.add_parser(
        "import", help="turn a nerfstudio/Blender transforms.json sequence into a capture"
    )
    p.add_argument("source", help="transforms.json, or a folder (one file or one per time)")
    p.add_argument("-o", "--output", required=True, help="capture folder to write")
    p.add_argument("--held-out", nargs="*", default=[], help="cameras kept for evaluation")
    p.add_argument("-f", "--force", action="store_true", help="replace an existing capture")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=_import)

    p = verbs.add_parser("fit", help="fit DualGS to a capture (resumable)")
    p.add_argument("capture", help="capture folder (cameras.json, images/, masks/)")
    p.add_argument("-o", "--output", required=True, help="fit folder")
    p.add_argument("--frames", type=int, help="fit the first FRAMES frames (default all)")
    p.add_argument("--method", default="dualgs", help="dualgs or direct (the ablation)")
    p.add_argument("--iters", type=int, help="frame-0 3DGS iterations")
    p.add_argument("--coarse-iters", type=int, help="coarse joint-motion iterations per frame")
    p.add_argument("--fine-iters", type=int, help="full-size iterations per frame")
    p.add_argument("--joints", type=int, help="number of joint Gaussians")
    p.add_argument("--sh-degree", type=int, help="spherical-harmonic degree 0-3")
    p.add_argument(
        "--fixed-scales",
        action="store_true",
        help="keep the skin's frame-0 scales in every frame (smaller files, a little less sharp)",
    )
    p.add_argument("--quick", action="store_true", help="a few iterations (smoke test)")
    p.add_argument("--seed", type=int)
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("-f", "--force", action="store_true", help="start over on other settings")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=_fit)

    p = verbs.add_parser("render", help="render a fit (or .ply) to PNG, GIF or MP4")
    p.add_argument("input", help="fit folder, or a .ply file")
    p.add_argument("-o", "--output", required=True, help=".png, .gif or .mp4")
    p.add_argument("--capture", help="capture whose cameras to use (default: the fit's)")
    p.add_argument("--camera", help="camera name (default: the first held-out one)")
    p.add_argument("--frame", type=int, help="render only this frame")
    p.add_argument("--turntable", action="store_true", help="orbit the performer instead")
    p.add_argument("--views", type=int, default=36, help="turntable views for one frame")
    p.add_argument("--size", type=int, default=128, help="turntable image size")
    p.add_argument("--fps", type=float, default=15.0)
    p.add_argument("-f", "--force", action="store_true")
    p.set_defaults(func=_render)


def _capture(args) -> None:
    from latentzip.splats.capture import capture_humanoid

    out = Path(args.output)
    if (out / "cameras.json").exists() and not args.force:
        raise LatentzipError(f"{out} already holds a capture; pass --force to overwrite it")
    start = time.perf_counter()
    cap = capture_humanoid(
        out,
        clip=args.clip,
        frames=args.frames,
        step=args.step,
        start=args.start,
        n_cameras=args.cameras,
        size=args.size,
        held_out=args.held_out,
        progress=not args.quiet,
        force=args.force,
    )
    print(
        f"captured {cap.n_frames} frames of {args.clip} from {len(cap.cameras)} cameras "
        f"({len(cap.held_out)} held out: {', '.join(cap.held_out)}) at {args.size} px in "
        f"{time.perf_counter() - start:.1f} s -> {out}"
    )


def _import(args) -> None:
    from latentzip.splats.transforms import import_transforms

    cap = import_transforms(
        args.source, args.output, held_out=args.held_out, force=args.force, progress=not args.quiet
    )
    sizes = sorted({f"{c.width}x{c.height}" for c in cap.cameras})
    print(
        f"{cap.n_frames} frames x {len(cap.cameras)} cameras ({', '.join(sizes)} px; held out: "
        f"{', '.join(cap.held_out) or 'none'}; masks: {'yes' if cap.has_masks else 'no'}) "
        f"-> {args.output}"
    )


def _fit(args) -> None:
    import torch

    from latentzip.splats.fit import FitConfig
    from latentzip.splats.pipeline import fit_sequence

    torch.set_num_threads(max(args.threads, 1))
    overrides = given(
        iters=args.iters,
        coarse_iters=args.coarse_iters,
        fine_iters=args.fine_iters,
        n_joints=args.joints,
        sh_degree=args.sh_degree,
        seed=args.seed,
        track_scales=False if args.fixed_scales else None,
    )
    cfg = FitConfig.quick(**overrides) if args.quick else FitConfig(**overrides)
    start = time.perf_counter()
    state = fit_sequence(
        args.capture,
        args.output,
        cfg,
        frames=args.frames,
        method=args.method,
        force=args.force,
        progress=not args.quiet,
    )
    import json

    info = json.loads((Path(args.output) / "fit.json").read_text())
    m = info.get("metrics", {}).get("mean", {})
    scores = ", ".join(f"{k} {v:.4g}" for k, v in m.items())
    print(
        f"fitted {state.n_done} frames ({len(state.rest)} Gaussians, {args.method}) in "
        f"{time.perf_counter() - start:.1f} s -> {args.output}\n{scores}"
    )


def _render(args) -> None:
    import json

    from latentzip.splats.cameras import load_capture
    from latentzip.splats.pipeline import load_frames
    from latentzip.splats.ply import read_ply
    from latentzip.splats.render import orbit_cameras, render_sequence, write_media

    src = Path(args.input)
    out = Path(args.output)
    if out.exists() and not args.force:
        raise LatentzipError(f"{out} exists; pass --force to overwrite it")
    frames = [read_ply(src)] if src.suffix.lower() == ".ply" else load_frames(src)
    if args.frame is not None:
        if not 0 <= args.frame < len(frames):
            raise LatentzipError(f"{src} has frames 0..{len(frames) - 1}, not {args.frame}")
        frames = [frames[args.frame]]
    if args.turntable:
        n = args.views if len(frames) == 1 else len(frames)
        cams = orbit_cameras(frames[0], n, size=args.size)
        frames = frames * n if len(frames) == 1 else frames
    else:
        capture = args.capture
        if capture is None:
            try:
                capture = json.loads((src / "fit.json").read_text())["settings"]["capture"]
            except (OSError, ValueError, KeyError) as exc:
                raise LatentzipError(
                    f"{src}: give --capture (no fit.json naming one) or --turntable"
                ) from exc
        cap = load_capture(capture)
        name = args.camera or (cap.held_out[0] if cap.held_out else cap.cameras[0].name)
        cams = [cap.camera(name)]
    images = render_sequence(frames, cams)  # several frames to a .png make a strip
    write_media(out, images, fps=args.fps, force=True)
    print(f"rendered {len(images)} image(s) -> {out}")
