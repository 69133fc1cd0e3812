"""``latentzip splats`` verbs for compress, decompress and info."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from latentzip.cliutil import given, guard_output, read_input
from latentzip.errors import LatentzipError


def add_verbs(verbs: argparse._SubParsersAction) -> None:
    """Register this module's verbs on the ``latentzip splats`` sub-parser."""
    p = verbs.add_parser(
        "compress", help="compress a sequence of 3DGS .ply frames or a DualGS model"
    )
    p.add_argument(
        "input", help="a folder of .ply frames (same Gaussians in the same order) or dualgs.npz"
    )
    p.add_argument("-o", "--output", help="container to write (default INPUT.lz)")
    p.add_argument(
        "--quality",
        default="default",
        help="1-5 or low, medium, default, high, max (higher: larger, closer to the input)",
    )
    p.add_argument("--segment-length", type=int, help="frames per seekable segment (50)")
    p.add_argument("--position-step", type=float, help="fraction of the scene diagonal")
    p.add_argument("--rotation-step", type=float, help="quaternion components")
    p.add_argument("--opacity-step", type=float, help="opacity logits")
    p.add_argument("--scale-step", type=float, help="log scales")
    p.add_argument("--codebook-size", type=int, help="SH DC codebook entries (<= 8192)")
    p.add_argument("--codebook-size-rest", type=int, help="entries per higher SH band")
    p.add_argument("-f", "--force", action="store_true", help="overwrite an existing output")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=_compress)

    p = verbs.add_parser("decompress", help="write the frames of a splats container as .ply")
    p.add_argument("input")
    p.add_argument("-o", "--output", help="folder to write (default INPUT without .lz)")
    p.add_argument("--frame", type=int, help="decode only this frame (reads only its segment)")
    p.add_argument("-f", "--force", action="store_true", help="overwrite existing files")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=_decompress)

    p = verbs.add_parser("info", help="describe a splats container")
    p.add_argument("input")
    p.set_defaults(func=_info)


def _load_input(path: Path):
    """(sequence or frames, raw .ply bytes of all frames, description)."""
    from latentzip.splats import DualGSSequence, ply_bytes, read_ply

    if path.is_dir():
        plys = sorted(path.glob("*.ply"))
        if plys:
            frames = [read_ply(p) for p in plys]
            raw = sum(p.stat().st_size for p in plys)
            return frames, raw, f"{len(plys)} .ply frames"
        if (path / "dualgs.npz").exists():
            path = path / "dualgs.npz"
        else:
            raise LatentzipError(f"{path}: no .ply frames and no dualgs.npz in this folder")
    elif not path.exists():
        raise LatentzipError(f"{path}: no such file or folder")
    seq = DualGSSequence.load(path)
    raw = seq.n_frames * len(ply_bytes(seq.frame(0)))
    return seq, raw, f"DualGS model, {seq.n_frames} frames"


def _compress(args) -> None:
    from latentzip.files import atomic_write
    from latentzip.splats.codec import SplatCodecConfig, compress_sequence

    src = Path(args.input)
    out = guard_output(Path(args.output or f"{str(src).rstrip('/')}.lz"), src, force=args.force)
    quality = int(args.quality) if str(args.quality).isdigit() else args.quality
    cfg = SplatCodecConfig.from_quality(
        quality,
        **given(
            segment_length=args.segment_length,
            position_step=args.position_step,
            rotation_step=args.rotation_step,
            opacity_step=args.opacity_step,
            scale_step=args.scale_step,
            codebook_size=args.codebook_size,
            codebook_size_rest=args.codebook_size_rest,
        ),
    )
    data, raw, what = _load_input(src)
    start = time.perf_counter()
    blob = compress_sequence(data, cfg)
    seconds = time.perf_counter() - start
    atomic_write(out, blob, force=args.force)
    frames = data.n_frames if hasattr(data, "n_frames") else len(data)
    if not args.quiet:
        print(
            f"{args.input}: {what}, {raw} bytes as .ply -> {len(blob)} bytes "
            f"({raw / len(blob):.1f}x, {len(blob) / 1000 / frames:.1f} KB/frame, "
            f"{seconds:.1f} s) -> {out}"
        )


def _decompress(args) -> None:
    from latentzip.coding import container

    print(restore(container.unpack(read_input(args.input)), args))


def restore(c, args) -> str:
    """Write the frames of a splats container (``args.frame``: only that one) as .ply."""
    from latentzip.files import atomic_folder
    from latentzip.splats import DualGSSequence, write_ply
    from latentzip.splats.codec import SplatDecoder

    decoder = SplatDecoder(c)  # checks the container before any work
    src = Path(args.input)
    out = Path(args.output or str(src).removesuffix(".lz") + ".restored")
    out = guard_output(out, src, force=args.force, folder_ok=True)
    if out.exists() and not out.is_dir():
        raise LatentzipError(f"{out} is a file; give a folder for the frames")
    start = time.perf_counter()
    frame = getattr(args, "frame", None)
    if frame is not None:
        g, name = decoder.frame(frame), f"{frame:04d}.ply"
        if out.is_dir():
            path = write_ply(out / name, g, force=args.force)
        else:
            with atomic_folder(out) as tmp:
                write_ply(tmp / name, g)
            path = out / name
        return (
            f"{args.input}: frame {frame} (segment {decoder.segments_read[0]} of "
            f"{decoder.n_segments}) restored in {time.perf_counter() - start:.1f} s -> {path}"
        )
    result = decoder.sequence()
    with atomic_folder(out, force=args.force) as tmp:
        if isinstance(result, DualGSSequence):
            result.save(tmp / "dualgs.npz", force=True)
            frames = [result.frame(t) for t in range(result.n_frames)]
        else:
            frames = result
        for t, g in enumerate(frames):
            write_ply(tmp / f"{t:04d}.ply", g, force=True)
    extra = " and dualgs.npz" if decoder.kind == "dualgs" else ""
    return (
        f"{args.input}: {len(frames)} frames{extra} restored in "
        f"{time.perf_counter() - start:.1f} s -> {out}/"
    )


def _info(args) -> None:
    from latentzip.cliutil import print_info

    print_info(args.input)


def describe(c) -> list[tuple[str, str]]:
    """What ``latentzip info`` shows of a splats container."""
    from latentzip.splats.codec import SplatDecoder

    d = SplatDecoder(c)
    kind = "DualGS (joints + skin)" if d.kind == "dualgs" else ".ply frames"
    moving = f"{d.n_moving} joints, " if d.kind == "dualgs" else ""
    s = d.steps
    rotation = f"joint rotation {s.rotation:.3g}, skin rotation {s.skin_rotation:.3g}"
    if d.kind == "frames":
        rotation = f"rotation {s.rotation:.3g}"
    lines = [
        ("content", kind),
        ("model", str(c.header["model_fingerprint"])),
        ("frames", f"{d.n_frames} ({len(c.blob) / 1000 / d.n_frames:.1f} KB/frame)"),
        ("gaussians", f"{moving}{d.n_gaussians} Gaussians, SH degree {int(d.sh_bands**0.5) - 1}"),
        (
            "steps",
            f"position {s.position:.3g}, {rotation}, opacity {s.opacity:.3g}, "
            f"log-scale {s.scale:.3g}",
        ),
    ]
    if c.model:
        lines.append(("binding", f"{len(c.model)} bytes"))
    lines.append(("segments", str(d.n_segments)))
    for i, e in enumerate(c.index):
        first = d.first_frames[i]
        lines.append(
            (f"  segment {i}", f"frames {first}..{first + e.n_samples - 1}, {e.length} bytes")
        )
    return lines


def _spec():
    from latentzip.coding.codecs import CodecSpec
    from latentzip.splats.codec import CODEC_NAME, CODEC_SPLATS, CODEC_VERSION

    return CodecSpec(CODEC_SPLATS, CODEC_NAME, CODEC_VERSION, CODEC_VERSION, describe, restore)


SPEC = _spec()
