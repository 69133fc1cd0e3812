"""The splats codec against general compressors on the same .ply frames, in one run.

    flock /tmp/lz-heavy.lock .venv/bin/python benchmarks/splats_codec.py     # newest fit
    W=benchmarks/results/splats_work
    flock /tmp/lz-heavy.lock .venv/bin/python benchmarks/splats_codec.py \\
        --name splats_codec_dance_a --fit $W/dance_a/fit_dualgs \\
        --capture $W/dance_a/capture --direct $W/dance_a/fit_direct
    .venv/bin/python benchmarks/splats_codec.py --synthetic     # no fit output: random DualGS

Inputs: a DualGS fit folder (``dualgs.npz`` and ``frames/<t:04d>.ply``, from ``latentzip
splats fit``) and its capture (held-out cameras and ground-truth images); without arguments the
newest fit under ``benchmarks/results/splats_work*`` is used (and its sibling ``fit_direct``
as ``--direct`` when present). Rows:

* ``dualgs qN``: the DualGS model (joint motion + skin appearance) at quality N;
* ``ply qN``: the .ply frames as a plain sequence (every Gaussian's motion coded) at quality N;
* ``direct qN`` (with ``--direct``): another .ply sequence, e.g. the fit without joints, whose
  Gaussians all move freely (its own ratio and reference renders);
* ``zstd -19``, ``xz -9``: the concatenated .ply files, lossless;
* ``f16+zstd``, ``8bit+zstd``: every frame's attributes as float16, or uniformly quantised to
  8 bits per attribute between that frame's min and max, then zstd -19 per frame.

Size is compared with the raw .ply files (``ratio``; the sum of the frames' file sizes). Quality
is measured on the held-out cameras at ``--eval-frames`` evenly spaced frames: PSNR and SSIM
of the rendered decoded frames against the captured images, their drop against the rendered
uncompressed frames, and the PSNR between the two renders. Also writes a study of opacity and
scale coded as images (WebP, AVIF, PNG, JPEG XL lossless via imagecodecs) against the codec's rANS.
Writes benchmarks/results/NAME.{json,md,png} (``--name``, default splats_codec).
"""

from __future__ import annotations

import argparse
import io
import lzma
import math
import time
from pathlib import Path

import numpy as np
from common import RESULTS, machine, write_results

from latentzip.splats import DualGSSequence, Gaussians, ply_bytes, read_ply
from latentzip.splats.codec import SplatCodecConfig, SplatDecoder, compress_sequence
from latentzip.splats.codec.entropy import unpack_parts
from latentzip.splats.metrics import psnr, ssim
from latentzip.splats.raster import render_numpy


# ----------------------------------------------------------------------------- inputs
def find_fit(folder: Path) -> Path:
    """The newest fit (``dualgs.npz``) under ``folder/splats_work*``."""
    found = sorted(folder.glob("splats_work*/**/dualgs.npz"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise SystemExit(f"no dualgs.npz under {folder}/splats_work*: run `latentzip splats fit`")
    return found[-1].parent


def find_capture(fit: Path) -> Path:
    for base in (fit, *fit.parents):
        found = sorted(base.glob("**/cameras.json"))
        if found:
            return found[0].parent
        if base == RESULTS:
            break
    raise SystemExit("no capture (cameras.json) found: pass --capture")


def load_fit(fit: Path) -> tuple[DualGSSequence, list[Gaussians], list[bytes]]:
    seq = DualGSSequence.load(fit / "dualgs.npz")
    paths = sorted((fit / "frames").glob("*.ply"))
    if paths:
        raws = [p.read_bytes() for p in paths]
        frames = [read_ply(io.BytesIO(r)) for r in raws]
    else:
        frames = [seq.frame(t) for t in range(seq.n_frames)]
        raws = [ply_bytes(g) for g in frames]
    return seq, frames, raws


class Views:
    """Held-out cameras, ground truth (None for synthetic data) and cached renders."""

    def __init__(self, cameras, frames_eval, truth=None):
        self.cameras, self.frames, self.truth = cameras, frames_eval, truth

    def score(self, frame_of, reference: dict | None = None) -> dict:
        renders, p, s, pr = {}, [], [], []
        for t in self.frames:
            g = frame_of(t)
            for cam in self.cameras:
                img = np.clip(render_numpy(g, cam), 0, 1)
                renders[t, cam.name] = img
                if self.truth is not None:
                    gt = self.truth(cam, t)
                    p.append(psnr(img, gt))
                    s.append(ssim(img, gt))
                if reference is not None:
                    pr.append(min(psnr(img, reference[t, cam.name]), 99.0))
        out = {"renders": renders}
        if p:
            out["psnr"], out["ssim"] = float(np.mean(p)), float(np.mean(s))
        if pr:
            out["psnr_vs_original"] = float(np.mean(pr))
        return out


# ----------------------------------------------------------------------------- baselines
def _table(g: Gaussians) -> np.ndarray:
    n = len(g)
    return np.concatenate(
        [g.means, g.log_scales, g.rotations, g.opacity_logits[:, None], g.sh.reshape(n, -1)], 1
    )


def _from_table(x: np.ndarray, bands: int) -> Gaussians:
    n = len(x)
    return Gaussians(x[:, :3], x[:, 3:6], x[:, 6:10], x[:, 10], x[:, 11:].reshape(n, bands, 3))


def baselines(frames: list[Gaussians], raws: list[bytes]) -> list[dict]:
    import zstandard

    zc = zstandard.ZstdCompressor(level=19)
    raw = b"".join(raws)
    rows = []
    for name, fn in (("zstd -19", zc.compress), ("xz -9", lambda b: lzma.compress(b, preset=9))):
        start = time.perf_counter()
        size = len(fn(raw))
        rows.append(
            {"method": name, "bytes": size, "seconds": time.perf_counter() - start, "decoded": None}
        )
    bands = frames[0].sh.shape[1]
    for name in ("f16+zstd", "8bit+zstd"):
        start, size, decoded = time.perf_counter(), 0, []
        for g in frames:
            x = _table(g)
            if name == "f16+zstd":
                size += len(zc.compress(x.astype("<f2").tobytes()))
                decoded.append(_from_table(x.astype(np.float16).astype(np.float32), bands))
            else:
                lo, hi = x.min(axis=0), x.max(axis=0)
                span = np.where(hi > lo, hi - lo, 1.0)
                q = np.round((x - lo) / span * 255).astype(np.uint8)
                blob = lo.astype("<f4").tobytes() + hi.astype("<f4").tobytes() + q.tobytes()
                size += len(zc.compress(blob))
                decoded.append(_from_table(lo + q.astype(np.float32) / 255 * span, bands))
        rows.append(
            {
                "method": name,
                "bytes": size,
                "seconds": time.perf_counter() - start,
                "decoded": decoded,
            }
        )
    return rows


# ----------------------------------------------------------------------------- image study
def image_study(blob: bytes) -> dict:
    """Opacity + log-scale grids of every segment: the codec's rANS parts against images."""
    import imagecodecs as ic

    d = SplatDecoder(blob)
    bands = round(math.sqrt(d.sh_bands))
    sizes = {"rANS (codec)": 0}
    codecs = {  # (encode, decode); every image is checked to decode exactly
        "WebP lossless": (lambda a: ic.webp_encode(_rgb(a), lossless=True), _webp_decode),
        "AVIF lossless 12-bit": (_avif12, ic.avif_decode),
        "PNG 16-bit": (lambda a: ic.png_encode(a, level=9), ic.png_decode),
        "JPEG XL lossless": (
            lambda a: ic.jpegxl_encode(a, lossless=True, effort=7),
            ic.jpegxl_decode,
        ),
    }
    for i in range(d.n_segments):
        parts = unpack_parts(d.container.record(i), 4 + bands, "segment")
        sizes["rANS (codec)"] += len(parts[2]) + len(parts[3])
        code = d.code(i)
        grids = [code.opacity] + [code.log_scale[..., j] for j in range(3)]  # (F, N) each
        n = grids[0].shape[1]
        perm_bytes = math.lgamma(n + 1) / math.log(2) / 8  # one sort order per attribute
        for order in ("fit order", "sorted"):
            for variant in ("frames", "residuals"):
                for cname, (enc, dec) in codecs.items():
                    key = f"{cname}, {variant}, {order}"
                    total = sizes.get(key, 0)
                    for g in grids:
                        g = g[:, np.argsort(g[0], kind="stable")] if order == "sorted" else g
                        if order == "sorted":
                            total += perm_bytes
                        v = np.diff(g, axis=0, prepend=0) if variant == "residuals" else g
                        for t in range(len(v)):
                            row = v[t] - (v[t].min() if variant == "frames" or t == 0 else -2048)
                            try:
                                img = _image(row)
                                data = enc(img)
                                ok = np.array_equal(np.asarray(dec(data)).reshape(img.shape), img)
                            except Exception:  # codec missing or refusing the input
                                ok = False
                            total = total + len(data) if ok else float("nan")
                    sizes[key] = total
    return {
        k: (None if isinstance(v, float) and math.isnan(v) else int(v)) for k, v in sizes.items()
    }


def _image(row: np.ndarray) -> np.ndarray:
    """Values in Gaussian order as a near-square uint16 image (ValueError if out of range)."""
    if row.min() < 0 or row.max() > 65535:
        raise ValueError("value outside 16 bits")
    w = math.ceil(math.sqrt(len(row)))
    out = np.zeros(w * math.ceil(len(row) / w), np.uint16)
    out[: len(row)] = row
    return out.reshape(-1, w)


def _avif12(a: np.ndarray) -> bytes:
    import imagecodecs as ic

    if a.max() >= 4096:
        raise ValueError("more than 12 bits")
    return ic.avif_encode(a, level=100, bitspersample=12)


def _webp_decode(data: bytes) -> np.ndarray:
    import imagecodecs as ic

    rgb = ic.webp_decode(data).astype(np.uint16)
    return (rgb[..., 0] << 8) | rgb[..., 1]


def _rgb(a: np.ndarray) -> np.ndarray:
    return np.stack(
        [(a >> 8).astype(np.uint8), (a & 255).astype(np.uint8), np.zeros(a.shape, np.uint8)],
        axis=-1,
    )


# ----------------------------------------------------------------------------- report
def plot(rows: list[dict], path: Path, metric: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from latentzip.files import save_figure

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    labels = {
        "dualgs": "latentzip, DualGS model",
        "ply": "latentzip, its .ply frames",
        "direct": "latentzip, .ply of the --direct fit",
    }
    for prefix, style in (("dualgs", "o-"), ("ply", "s--"), ("direct", "d:")):
        pts = [(r["kb_per_frame"], r[metric]) for r in rows if r["method"].startswith(prefix)]
        if pts:
            x, y = zip(*sorted(pts), strict=True)
            ax.plot(x, y, style, label=labels[prefix])
    for r in rows:
        if not r["method"].startswith(("dualgs", "ply", "direct")) and r.get(metric) is not None:
            ax.plot(r["kb_per_frame"], r[metric], "x", label=r["method"])
    ax.set_xscale("log")
    ax.set_xlabel("KB per frame")
    ax.set_ylabel({"psnr": "PSNR on held-out views (dB)"}.get(metric, "PSNR vs original (dB)"))
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)


def markdown(rows: list[dict], head: str, has_truth: bool) -> str:
    cols = ["method", "ratio", "KB/frame"]
    cols += ["PSNR", "drop", "SSIM", "SSIM drop"] if has_truth else []
    cols += ["PSNR vs orig", "enc s", "dec s"]
    lines = [head, "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]

    def f(v, fmt):
        return "" if v is None else format(v, fmt)

    for r in rows:
        cells = [r["method"], f(r["ratio"], ".1f") + "x", f(r["kb_per_frame"], ".1f")]
        if has_truth:
            cells += [
                f(r.get("psnr"), ".2f"),
                f(r.get("psnr_drop"), ".2f"),
                f(r.get("ssim"), ".4f"),
                f(r.get("ssim_drop"), ".4f"),
            ]
        cells += [
            f(r.get("psnr_vs_original"), ".2f"),
            f(r.get("encode_s"), ".1f"),
            f(r.get("decode_s"), ".1f"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- main
def _shown(path: Path) -> str:
    """``path`` relative to the repository when it lies inside it (no home folders in results)."""
    root = Path(__file__).resolve().parents[1]
    try:
        return str(Path(path).resolve().relative_to(root))
    except ValueError:
        return str(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--fit", type=Path, help="fit folder with dualgs.npz and frames/")
    ap.add_argument("--capture", type=Path, help="capture folder with cameras.json")
    ap.add_argument("--synthetic", action="store_true", help="random DualGS, no ground truth")
    ap.add_argument("--qualities", default="1,2,3,4,5", help="for the DualGS model")
    ap.add_argument("--ply-qualities", default="1,3,5", help="for the .ply frames")
    ap.add_argument("--eval-frames", type=int, default=10, help="frames rendered per method")
    ap.add_argument(
        "--direct", type=Path, help="also a .ply sequence whose Gaussians all move (fit_direct)"
    )
    ap.add_argument("--name", default="splats_codec")
    args = ap.parse_args()
    t0 = time.perf_counter()

    if args.synthetic:
        from latentzip.splats.cameras import ring_cameras

        seq = DualGSSequence.random(frames=60, joints=60, skins=6000, degree=1, seed=0)
        frames = [seq.frame(t) for t in range(seq.n_frames)]
        raws = [ply_bytes(g) for g in frames]
        cams = ring_cameras(4, size=96, radius=4.0, heights=(0.8,), target=(0, 0, 0), held_out=4)
        truth, source = None, "synthetic: DualGSSequence.random(frames=60, joints=60, skins=6000)"
    else:
        from latentzip.splats.cameras import load_capture

        fit = args.fit or find_fit(RESULTS)
        cap = load_capture(args.capture or find_capture(fit))
        seq, frames, raws = load_fit(fit)
        sibling = fit.parent / "fit_direct"
        if args.direct is None and (sibling / "frames").is_dir():
            args.direct = sibling
        cams = cap.test_cameras
        truth, source = cap.image, f"fit {_shown(fit)}, capture {_shown(cap.folder)}"
    t_frames = len(frames)
    ts = sorted({round(x) for x in np.linspace(0, t_frames - 1, args.eval_frames)})
    views = Views(cams, ts, truth)
    raw = sum(len(r) for r in raws)
    n, deg = len(frames[0]), frames[0].degree
    head = (
        f"Splats codec on {source}: {t_frames} frames, {n} Gaussians (SH degree {deg}), "
        f"{seq.joint_means.shape[1]} joints; raw .ply {raw / 1e6:.2f} MB "
        f"({raw / 1000 / t_frames:.1f} KB/frame). Quality on {len(cams)} held-out views x "
        f"{len(ts)} frames {ts}."
    )
    print(head, flush=True)
    same = all(np.allclose(frames[t].means, seq.frame(t).means, atol=1e-5) for t in ts)
    ref_ply = views.score(lambda t: frames[t])
    ref_dualgs = ref_ply if same else views.score(seq.frame)
    rows = []

    def add(method, nbytes, enc_s, dec_s, decoded_frame, ref, raw_total=raw):
        r = {
            "method": method,
            "bytes": nbytes,
            "ratio": raw_total / nbytes,
            "kb_per_frame": nbytes / 1000 / t_frames,
            "encode_s": enc_s,
            "decode_s": dec_s,
        }
        if decoded_frame is not None:
            m = views.score(decoded_frame, ref["renders"])
            r["psnr_vs_original"] = m.get("psnr_vs_original")
            if "psnr" in m:
                r["psnr"], r["ssim"] = m["psnr"], m["ssim"]
                r["psnr_drop"] = ref["psnr"] - m["psnr"]
                r["ssim_drop"] = ref["ssim"] - m["ssim"]
        elif "psnr" in ref:
            r.update(psnr=ref["psnr"], ssim=ref["ssim"], psnr_drop=0.0, ssim_drop=0.0)
        rows.append(r)
        print(markdown([r], "", truth is not None).splitlines()[-1], flush=True)
        return r

    blobs, rows_ref = {}, {}
    for mode, data, qs, ref in (
        ("dualgs", seq, args.qualities, ref_dualgs),
        ("ply", frames, args.ply_qualities, ref_ply),
    ):
        for q in [int(x) for x in qs.split(",") if x]:
            start = time.perf_counter()
            blob = compress_sequence(data, SplatCodecConfig.from_quality(q))
            enc = time.perf_counter() - start
            start = time.perf_counter()
            decoded = SplatDecoder(blob).sequence()
            dec = time.perf_counter() - start
            frame_of = decoded.frame if mode == "dualgs" else decoded.__getitem__
            add(f"{mode} q{q}", len(blob), enc, dec, frame_of, ref)
            blobs[mode, q] = blob
    if args.direct is not None:  # a plain .ply sequence where every Gaussian moves
        paths = sorted((args.direct / "frames").glob("*.ply")) or sorted(args.direct.glob("*.ply"))
        d_raws = [p.read_bytes() for p in paths][:t_frames]
        d_frames = [read_ply(io.BytesIO(r)) for r in d_raws]
        d_ref = views.score(lambda t: d_frames[t])
        rows_ref = {"direct_uncompressed": {k: d_ref.get(k) for k in ("psnr", "ssim")}}
        for q in [int(x) for x in args.ply_qualities.split(",") if x]:
            start = time.perf_counter()
            blob = compress_sequence(d_frames, SplatCodecConfig.from_quality(q))
            enc = time.perf_counter() - start
            start = time.perf_counter()
            decoded = SplatDecoder(blob).sequence()
            dec = time.perf_counter() - start
            d_raw = sum(len(r) for r in d_raws)
            add(f"direct q{q}", len(blob), enc, dec, decoded.__getitem__, d_ref, d_raw)
    for b in baselines(frames, raws):
        add(
            b["method"],
            b["bytes"],
            b["seconds"],
            None,
            None if b["decoded"] is None else b["decoded"].__getitem__,
            ref_ply,
        )

    study = image_study(blobs.get(("dualgs", 3)) or next(iter(blobs.values())))
    seconds = time.perf_counter() - t0
    table = markdown(rows, head, truth is not None)
    table += "\n\nOpacity + log-scale streams of `dualgs q3` (bytes, all segments):\n\n"
    table += "| coder | bytes |\n|---|---|\n" + "\n".join(
        f"| {k} | {'' if v is None else v} |" for k, v in study.items()
    )
    if args.direct is not None:
        table += (
            f"\n\n`direct` rows: the .ply frames of {_shown(args.direct)} "
            "(every Gaussian moves freely); "
            "their ratio, drop and PSNR vs orig are against those frames, not the DualGS fit's."
        )
    table += f"\n\nTotal benchmark time {seconds:.0f} s."
    payload = {
        "source": source,
        "frames": t_frames,
        "gaussians": n,
        "sh_degree": deg,
        "joints": int(seq.joint_means.shape[1]),
        "raw_ply_bytes": raw,
        "eval_frames": ts,
        "held_out_cameras": [c.name for c in cams],
        "uncompressed": {k: ref_ply.get(k) for k in ("psnr", "ssim")},
        **rows_ref,
        "rows": rows,
        "image_study": study,
        "seconds": seconds,
        "machine": machine(),
    }
    write_results(args.name, payload, table)
    plot(rows, RESULTS / f"{args.name}.png", "psnr" if truth is not None else "psnr_vs_original")


if __name__ == "__main__":
    main()
