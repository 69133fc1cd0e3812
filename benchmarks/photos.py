"""Photographs: latentzip's photo coder, trained on some photos, against classical lossless
codecs on photos it has not seen, one file per image, all in one run.

    python benchmarks/photos.py            # scikit-image's bundled photos (~5 min, 1 core)

Split (fixed, by name): the model is trained on the ``TRAIN`` photos and every number is
measured on the ``HELD_OUT`` ones, grey and RGB reported apart. latentzip's learned path is
measured alone (``safeguard=False``: the container as written, header included) and with the
safeguard (stores JPEG-XL e7 when that is smaller; how often is reported). Baselines: PNG
(level 9), WebP lossless (level 100, method 6), JPEG-LS, JPEG 2000 lossless, JPEG-XL lossless
e7 and e9, xz -9e of the raw pixels; each one thread, each checked by decoding. Times are
the best of ``--repeats`` on one core.

Writes benchmarks/results/photos.{json,md,png} (bits/pixel against decode speed).
"""

from __future__ import annotations

import argparse
import lzma
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import RESULTS, machine, write_results

TRAIN = ("astronaut", "coffee", "hubble_deep_field", "motorcycle_left", "camera", "brick",
         "grass", "moon", "coins")  # fmt: skip
HELD_OUT = ("chelsea", "rocket", "immunohistochemistry", "retina", "motorcycle_right", "gravel",
            "page", "text", "clock", "microaneurysms")  # fmt: skip
# motorcycle_right is the other view of a training stereo pair: reported, flagged "pair"


def photo(name: str) -> np.ndarray:
    from skimage import data

    if name.startswith("motorcycle"):
        left, right, _ = data.stereo_motorcycle()
        return left if name.endswith("left") else right
    return np.ascontiguousarray(getattr(data, name)())


def baselines():
    import imagecodecs as ic

    def webp(a):
        rgb = a if a.ndim == 3 else np.repeat(a[..., None], 3, -1)
        return ic.webp_encode(rgb, lossless=True, level=100, method=6, numthreads=1)

    def webp_back(b, a):
        out = ic.webp_decode(b)
        return out if a.ndim == 3 else out[..., 0]

    return {
        "PNG": (lambda a: ic.png_encode(a, level=9), lambda b, a: ic.png_decode(b)),
        "WebP lossless": (webp, webp_back),
        "JPEG-LS": (ic.jpegls_encode, lambda b, a: ic.jpegls_decode(b)),
        "JPEG 2000": (
            lambda a: ic.jpeg2k_encode(a, level=0, numthreads=1),
            lambda b, a: ic.jpeg2k_decode(b, numthreads=1),
        ),
        "JPEG-XL e7": (
            lambda a: ic.jpegxl_encode(a, lossless=True, effort=7, numthreads=1),
            lambda b, a: ic.jpegxl_decode(b, numthreads=1),
        ),
        "JPEG-XL e9": (
            lambda a: ic.jpegxl_encode(a, lossless=True, effort=9, numthreads=1),
            lambda b, a: ic.jpegxl_decode(b, numthreads=1),
        ),
        "xz (raw pixels)": (
            lambda a: lzma.compress(a.tobytes(), preset=9 | lzma.PRESET_EXTREME),
            lambda b, a: np.frombuffer(lzma.decompress(b), a.dtype).reshape(a.shape),
        ),
    }


def timed(fn, repeats: int):
    best, out = math.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return out, best


def measure(img: np.ndarray, model, repeats: int) -> dict:
    from latentzip.photos import compress, compress_images, decompress
    from latentzip.photos.codec import Photo

    px = img.shape[0] * img.shape[1]
    row = {}
    blob, enc = timed(lambda: compress(img, model, safeguard=False), repeats)
    back, dec = timed(lambda: decompress(blob, model), repeats)
    assert back.shape == img.shape and (back == img).all(), "latentzip round trip failed"
    row["latentzip"] = {"bytes": len(blob), "encode_s": enc, "decode_s": dec}
    report: list = []
    guarded = compress_images([Photo(img)], model, report=report)
    row["latentzip + safeguard"] = {"bytes": len(guarded), "stored": report[0][2]}
    for name, (encode, decode) in baselines().items():
        data, enc = timed(lambda encode=encode: encode(img), repeats)
        back, dec = timed(lambda decode=decode, data=data: decode(data, img), repeats)
        assert np.array_equal(np.asarray(back).reshape(img.shape), img), f"{name} round trip"
        row[name] = {"bytes": len(data), "encode_s": enc, "decode_s": dec}
    for v in row.values():
        v["bpp"] = 8 * v["bytes"] / px
        if "decode_s" in v:
            v["decode_mps"] = px / v["decode_s"] / 1e6
            v["encode_mps"] = px / v["encode_s"] / 1e6
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--tile", type=int, default=512)
    args = parser.parse_args()

    from latentzip.photos import PhotoModel

    start = time.perf_counter()
    train = [photo(n) for n in TRAIN]
    t0 = time.perf_counter()
    model = PhotoModel.fit(train, tile=args.tile)
    train_s = time.perf_counter() - t0
    rows = []
    for name in HELD_OUT:
        img = photo(name)
        row = {"name": name, "shape": list(img.shape), "kind": "RGB" if img.ndim == 3 else "grey"}
        row["codecs"] = measure(img, model, args.repeats)
        row["pair"] = name == "motorcycle_right"
        ours, jxl = row["codecs"]["latentzip"]["bpp"], row["codecs"]["JPEG-XL e7"]["bpp"]
        print(f"{name:22s} {row['kind']:4s} latentzip {ours:.3f} bpp, JPEG-XL e7 {jxl:.3f} "
              f"({ours / jxl:.3f})", flush=True)  # fmt: skip
        rows.append(row)
    payload = {
        "benchmark": "photos: held-out scikit-image photos, one file per image",
        "machine": machine(),
        "train": list(TRAIN),
        "train_pixels": int(sum(a.shape[0] * a.shape[1] for a in train)),
        "train_s": train_s,
        "tile": args.tile,
        "images": rows,
        "groups": {
            kind: summary([r for r in rows if r["kind"] == kind]) for kind in ("grey", "RGB")
        },
        "seconds": time.perf_counter() - start,
    }
    write_results("photos", payload, markdown(payload))
    plot(payload, RESULTS / "photos.png")


def summary(rows: list[dict]) -> dict:
    """Per codec: bits per pixel over the group's pixels, decode/encode megapixels per second,
    and the geometric mean of the per-image size ratio to JPEG-XL e7."""
    px = sum(r["shape"][0] * r["shape"][1] for r in rows)
    out = {}
    for codec in rows[0]["codecs"]:
        vals = [r["codecs"][codec] for r in rows]
        s = {"bpp": 8 * sum(v["bytes"] for v in vals) / px}
        ratios = [
            v["bytes"] / r["codecs"]["JPEG-XL e7"]["bytes"] for v, r in zip(vals, rows, strict=True)
        ]
        s["geomean_vs_jxl_e7"] = math.exp(sum(map(math.log, ratios)) / len(ratios))
        if "decode_s" in vals[0]:
            s["decode_mps"] = px / sum(v["decode_s"] for v in vals) / 1e6
            s["encode_mps"] = px / sum(v["encode_s"] for v in vals) / 1e6
        else:
            s["stored"] = sum(v["stored"] for v in vals)
        out[codec] = s
    return out


def markdown(p: dict) -> str:
    m = p["machine"]
    lines = [
        f"Held-out scikit-image photos (model trained on {len(p['train'])} others, "
        f"{p['train_pixels'] / 1e6:.1f} MP, in {p['train_s']:.1f} s); one file per image, "
        f"one thread; {m['cpu']}, load {m['load_average_1min']:.1f}.",
        "",
    ]
    for kind, group in p["groups"].items():
        n = sum(1 for r in p["images"] if r["kind"] == kind)
        lines += [f"**{kind}** ({n} images)", "",
                  "| codec | bits/pixel | vs JPEG-XL e7 (geomean) | decode MP/s | encode MP/s |",
                  "|---|---:|---:|---:|---:|"]  # fmt: skip
        for codec, s in sorted(group.items(), key=lambda kv: kv[1]["bpp"]):
            speed = (f"{s['decode_mps']:.2f} | {s['encode_mps']:.2f}" if "decode_mps" in s
                     else f"stored {s['stored']} of {n} | ")  # fmt: skip
            lines.append(f"| {codec} | {s['bpp']:.3f} | {s['geomean_vs_jxl_e7']:.3f} | {speed} |")
        lines.append("")
    lines += ["| image | kind | latentzip bpp | JPEG-XL e7 | JPEG-XL e9 | ratio to e7 |",
              "|---|---|---:|---:|---:|---:|"]  # fmt: skip
    for r in p["images"]:
        c = r["codecs"]
        name = r["name"] + (" (other view of a training pair)" if r["pair"] else "")
        lines.append(
            f"| {name} | {r['kind']} | {c['latentzip']['bpp']:.3f} | "
            f"{c['JPEG-XL e7']['bpp']:.3f} | {c['JPEG-XL e9']['bpp']:.3f} | "
            f"{c['latentzip']['bytes'] / c['JPEG-XL e7']['bytes']:.3f} |"
        )
    return "\n".join(lines)


def plot(p: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from latentzip.files import save_figure

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, (kind, group) in zip(axes, p["groups"].items(), strict=True):
        for codec, s in group.items():
            if "decode_mps" not in s:
                continue
            ax.scatter(s["decode_mps"], s["bpp"], color="C3" if codec == "latentzip" else "C0")
            ax.annotate(codec, (s["decode_mps"], s["bpp"]), fontsize=8, xytext=(4, 2),
                        textcoords="offset points")  # fmt: skip
        ax.set_xscale("log")
        ax.set_xlabel("decode megapixels / s (one core)")
        ax.set_ylabel("bits / pixel (lower is better)")
        ax.set_title(f"held-out {kind} photos")
    fig.tight_layout()
    save_figure(fig, path)


if __name__ == "__main__":
    main()
