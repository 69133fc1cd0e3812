"""latentzip against the lossless codecs people use, on the same test images, in one run.

    python benchmarks/codecs.py                          # digits, MNIST, Fashion-MNIST
    python benchmarks/codecs.py --dataset mnist
    python benchmarks/codecs.py --png-folder DIR         # any folder of 8-bit grey PNGs

Rates are bits per dimension (bits per pixel) over the whole test set; every codec's round
trip is verified before its size counts. Per-image codecs are measured one file per image
(what a user storing files gets) and on one mosaic of all images (their best case); general
compressors on the raw concatenated bytes. Throughput is wall-clock images per second, in one
process with one thread, and with every core (a process per core for the classical codecs,
numba threads for latentzip). MNIST/Fashion models come from benchmarks/train_hclt.py's
``mnist`` configuration (trained here if missing); files are made with their integer coding
models (what ``latentzip train`` writes), whose size counts in the amortised rate. On MNIST
a K=32 model (``hclt_mnist_k32.npz``, a short training made here if missing: its speed is
the point, not its rate) is timed too. Writes benchmarks/results/codecs_<name>.*.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numba
import numpy as np
from common import RESULTS, load_split, machine, write_results

from latentzip.baselines import byte_codecs, image_codecs, measure
from latentzip.circuits import HCLT, HCLTConfig
from latentzip.circuits.codec import compress, decompress
from latentzip.coding import modelfile
from latentzip.data import load, load_digits

CORES = os.cpu_count() or 1


# ----------------------------------------------------------------------------- data + models
def dataset(name: str, folder: str | None):
    """(train (n, D), test images (m, H, W) uint8, n_categories, model path or None)."""
    if name == "digits":
        d = load_digits()
        images = d.data.reshape(-1, 8, 8).astype(np.uint8)
        return d.data[:1500], images[1500:], d.n_categories, None
    if name == "png":
        data = load(folder)
        images = data.data.reshape(-1, *data.shape)
        cut = max(1, int(0.8 * len(images)))
        return data.data[:cut], images[cut:], 256, None
    train, test = load_split(name)
    return train.data, test.data.reshape(-1, *test.shape), 256, RESULTS / f"hclt_{name}_mnist.npz"


def get_model(train, n_categories, path: Path | None, cfg: HCLTConfig | None = None) -> HCLT:
    if path is not None and path.exists():
        return HCLT.load(path)
    if cfg is None:
        cfg = HCLTConfig.mnist() if path is not None else HCLTConfig.quick(n_latents=16, epochs=8)
    model = HCLT(cfg).fit(train, n_categories)
    if path is not None:
        model.save(path)
    return model


# ----------------------------------------------------------------------------- classical codecs
def _codec(name: str):
    return next(c for c in image_codecs() + byte_codecs() if c.name == name)


def _encode_chunk(args):
    name, images = args
    codec = _codec(name)
    return [codec.encode(np.ascontiguousarray(im)) for im in images]


def _decode_chunk(args):
    name, blobs = args
    codec = _codec(name)
    return [codec.decode(b) for b in blobs]


def _parallel(fn, name, items, pool):
    chunks = np.array_split(np.arange(len(items)), CORES)
    parts = pool.map(fn, [(name, [items[i] for i in c]) for c in chunks])
    return [x for part in parts for x in part]


def per_image(codec, images, pool) -> dict:
    n, dims = len(images), images.size
    total = measure(codec, images, per_image=True)  # verifies every round trip
    blobs, t_enc = _timed(lambda: [codec.encode(np.ascontiguousarray(im)) for im in images])
    _, t_dec = _timed(lambda: [codec.decode(b) for b in blobs])
    _, tp_enc = _timed(lambda: _parallel(_encode_chunk, codec.name, list(images), pool))
    back, tp_dec = _timed(lambda: _parallel(_decode_chunk, codec.name, blobs, pool))
    assert all(
        np.array_equal(np.asarray(b).reshape(im.shape), im)
        for b, im in zip(back, images, strict=True)
    )
    return _row(codec.name + " (per image)", 8 * total / dims, n, t_enc, t_dec, tp_enc, tp_dec)


def mosaic(codec, images) -> dict:
    n, h, w = images.shape
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    canvas = np.zeros((rows * h, cols * w), dtype=np.uint8)
    for i, im in enumerate(images):
        r, c = divmod(i, cols)
        canvas[r * h : (r + 1) * h, c * w : (c + 1) * w] = im
    blob, t_enc = _timed(lambda: codec.encode(canvas))
    back, t_dec = _timed(lambda: codec.decode(blob))
    assert np.array_equal(np.asarray(back).reshape(canvas.shape), canvas)
    # padding pixels of the last row are part of the mosaic's cost
    return _row(codec.name + " (mosaic)", 8 * len(blob) / images.size, n, t_enc, t_dec)


def raw_bytes(codec, images, pool) -> dict:
    n = len(images)
    total = measure(codec, images, per_image=False)
    blob, t_enc = _timed(lambda: codec.encode(images))
    _, t_dec = _timed(lambda: codec.decode(blob))
    # all cores: one stream per core (slightly worse ratio than the single stream reported)
    chunks = [np.ascontiguousarray(c) for c in np.array_split(images, CORES)]
    blobs, tp_enc = _timed(
        lambda: list(pool.map(_encode_chunk, [(codec.name, [c]) for c in chunks]))
    )
    _, tp_dec = _timed(lambda: list(pool.map(_decode_chunk, [(codec.name, b) for b in blobs])))
    return _row(
        codec.name + " (raw bytes)", 8 * total / images.size, n, t_enc, t_dec, tp_enc, tp_dec
    )


# ----------------------------------------------------------------------------- latentzip
def latentzip_rows(model: HCLT, images, label: str = "latentzip HCLT") -> list[dict]:
    flat = images.reshape(len(images), -1)
    dims, n = images.size, len(images)
    coder = model.coding_model()  # the integer model: what files are made with
    decompress(compress(images[:64], coder), coder)  # compile kernels outside the timings
    rates = {}
    for threads in (1, CORES):
        numba.set_num_threads(threads)
        blob, t_enc = _timed(lambda: compress(images, coder))
        back, t_dec = _timed(lambda blob=blob: decompress(blob, coder))
        assert np.array_equal(back, images), "latentzip round trip failed"
        rates[threads] = (t_enc, t_dec)
    theory = -model.score_samples(flat).sum() / math.log(2) / dims
    integer = -coder.log_prob(flat.astype(np.int64)).sum() / math.log(2) / dims
    model_bytes = len(modelfile.to_bytes(coder))
    actual = 8 * len(blob) / dims
    row = _row(f"{label} (actual file)", actual, n, *rates[1], *rates[CORES])
    row.update(
        theoretical_bpd=theory,
        integer_model_bpd=integer,
        n_latents=coder.n_latents,
        model_bytes=model_bytes,
        float_model_bytes=len(modelfile.to_bytes(model.circuit_)),
        amortised_bpd=actual + 8 * model_bytes / dims,
        overhead_vs_theory=actual / theory - 1,
        integer_vs_float=integer / theory - 1,
    )
    return [row]


# ----------------------------------------------------------------------------- reporting
def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def _row(name, bpd, n, t_enc, t_dec, tp_enc=None, tp_dec=None) -> dict:
    return {
        "codec": name,
        "bpd": bpd,
        "encode_ips_1": n / t_enc,
        "decode_ips_1": n / t_dec,
        "encode_ips_all": None if tp_enc is None else n / tp_enc,
        "decode_ips_all": None if tp_dec is None else n / tp_dec,
    }


def _fmt(x, spec=".0f"):
    return "n/a" if x is None else format(x, spec)


def table(name: str, rows: list[dict], n: int, shape) -> str:
    lz = rows[0]
    lines = [
        f"**{name}**: {n} test images of {shape[0]}x{shape[1]}; latentzip (K="
        f"{lz['n_latents']}) float model {lz['theoretical_bpd']:.4f} bpd, its integer coding "
        f"model {lz['integer_model_bpd']:.4f} bpd ({100 * lz['integer_vs_float']:+.3f}%), actual "
        f"file {lz['bpd']:.4f} bpd ({100 * lz['overhead_vs_theory']:+.2f}% vs float); model "
        f"file {lz['model_bytes'] / 1e6:.2f} MB (float model {lz['float_model_bytes'] / 1e6:.1f}"
        f" MB; amortised over this test set: {lz['amortised_bpd']:.3f} bpd).",
        *[
            f"At K={r['n_latents']}: integer model {r['integer_model_bpd']:.4f} bpd "
            f"({100 * r['integer_vs_float']:+.3f}% vs its float model), model file "
            f"{r['model_bytes'] / 1e6:.2f} MB."
            for r in rows[1:]
            if "n_latents" in r
        ],
        "",
        f"| codec | bits/dim | vs latentzip | encode img/s (1 core / {CORES}) | "
        f"decode img/s (1 core / {CORES}) |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in sorted(rows, key=lambda r: r["bpd"]):
        lines.append(
            f"| {r['codec']} | {r['bpd']:.4f} | {r['bpd'] / lz['bpd']:.2f}x | "
            f"{_fmt(r['encode_ips_1'])} / {_fmt(r['encode_ips_all'])} | "
            f"{_fmt(r['decode_ips_1'])} / {_fmt(r['decode_ips_all'])} |"
        )
    return "\n".join(lines)


def plot(name: str, rows: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    markers = {"(actual file)": "*", "(per image)": "o", "(mosaic)": "s", "(raw bytes)": "^"}
    cmap = plt.get_cmap("tab20")
    fig, ax = plt.subplots(figsize=(10, 5.5))
    for i, r in enumerate(sorted(rows, key=lambda r: r["bpd"])):
        marker = next(m for suffix, m in markers.items() if r["codec"].endswith(suffix))
        ax.scatter(
            r["decode_ips_1"],
            r["bpd"],
            marker=marker,
            s=220 if marker == "*" else 60,
            color="black" if marker == "*" else cmap(i % 20),
            label=f"{r['codec']}: {r['bpd']:.3f}",
            zorder=3,
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("decode throughput, images/s (one core, log scale)")
    ax.set_ylabel("bits per dimension (log scale, lower is better)")
    ax.set_title(f"Lossless codecs on {name} test images (o per image, s mosaic, ^ raw bytes)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    fig.savefig(RESULTS / f"codecs_{name}.png", dpi=120)


def run(name: str, folder: str | None) -> None:
    train, images, cats, path = dataset(name, folder)
    model = get_model(train, cats, path)
    rows = latentzip_rows(model, images)
    if name == "mnist":  # the coder's speed at K=32
        cfg32 = HCLTConfig.mnist(n_latents=32, epochs=4, full_batch_epochs=1)
        k32 = get_model(train, cats, RESULTS / "hclt_mnist_k32.npz", cfg32)
        rows += latentzip_rows(k32, images, "latentzip HCLT K=32")
    with ProcessPoolExecutor(CORES) as pool:
        for codec in image_codecs():
            print(f"{name}: {codec.name}", flush=True)
            rows.append(per_image(codec, images, pool))
            rows.append(mosaic(codec, images))
        for codec in byte_codecs():
            print(f"{name}: {codec.name}", flush=True)
            rows.append(raw_bytes(codec, images, pool))
    payload = {
        "dataset": name,
        "machine": machine(),
        "n_test": len(images),
        "model_fingerprint": model.fingerprint,
        "rows": rows,
    }
    write_results(f"codecs_{name}", payload, table(name, rows, len(images), images.shape[1:]))
    plot(name, rows)


def rewrite_tables() -> None:
    """Re-render the Markdown tables from the JSON results (no measurement)."""
    import json

    for path in sorted(RESULTS.glob("codecs_*.json")):
        payload = json.loads(path.read_text())
        rows = payload["rows"]
        shape = (28, 28) if payload["dataset"] in ("mnist", "fashion") else (8, 8)
        text = table(payload["dataset"], rows, payload["n_test"], shape)
        path.with_suffix(".md").write_text(text + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", action="append", choices=["digits", "mnist", "fashion"])
    parser.add_argument("--png-folder", help="benchmark a folder of 8-bit grey PNGs instead")
    args = parser.parse_args()
    if args.png_folder:
        run("png", args.png_folder)
        return
    for name in args.dataset or ["digits", "mnist", "fashion"]:
        run(name, None)


if __name__ == "__main__":
    main()
