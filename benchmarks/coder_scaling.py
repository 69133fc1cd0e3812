"""Incremental vs naive circuit coder as D grows, side by side with JPEG-XL lossless.

    python benchmarks/coder_scaling.py            # MNIST centre crops 8x8 .. 28x28

For each crop size an HCLT (K=16) is trained on 10,000 training crops; then on the same test
crops we time encode and decode (wall clock, images per second, one thread) of the incremental
integer coder (the one files are made with), a naive coder (the float model, a full marginal
pass per variable, quantised to frequencies), and JPEG-XL lossless (effort 7, one image per
file). Every round trip is checked. Writes benchmarks/results/coder_scaling.*.
"""

from __future__ import annotations

import time

import numpy as np
from common import RESULTS, load_split, machine, write_results

from latentzip.baselines import image_codecs, measure
from latentzip.circuits import HCLT, HCLTConfig
from latentzip.circuits.reference import NaiveConditionals
from latentzip.coding.quantise import QuantisingWalker
from latentzip.coding.records import decode_blocks, encode_blocks


class Naive:
    """The float circuit through the records pipeline with a full pass per variable."""

    def __init__(self, circuit):
        self.circuit = circuit
        self.alphabet_sizes = circuit.n_categories
        self.coding_order = circuit.tree.order
        self.n_variables = circuit.n_variables

    def walker(self, n: int):
        order = self.coding_order
        return QuantisingWalker(NaiveConditionals(self.circuit, n), self.alphabet_sizes[order])


SIZES = (8, 12, 16, 20, 24, 28)
N_TEST, N_NAIVE = 1000, 32


def crop(images: np.ndarray, s: int) -> np.ndarray:
    off = (images.shape[1] - s) // 2
    return np.ascontiguousarray(images[:, off : off + s, off : off + s])


def timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


def coder_rates(model, x: np.ndarray) -> tuple[float, float, int]:
    blocks, t_enc = timed(lambda: encode_blocks(model, x, 64))
    back, t_dec = timed(lambda: decode_blocks(model, blocks, ["r"] * len(blocks)))
    assert np.array_equal(back, x), "round trip failed"
    return len(x) / t_enc, len(x) / t_dec, sum(len(p) for p, _ in blocks)


def jxl_rates(images: np.ndarray) -> tuple[float, float, int]:
    jxl = next(c for c in image_codecs() if c.name == "JPEG-XL lossless e7")
    total = measure(jxl, images, per_image=True)  # encode + verify the round trip
    blobs, t_only_enc = timed(lambda: [jxl.encode(im) for im in images])
    _, t_dec = timed(lambda: [jxl.decode(b) for b in blobs])
    return len(images) / t_only_enc, len(images) / t_dec, total


def main() -> None:
    import numba

    numba.set_num_threads(1)
    train, test = load_split("mnist")
    train_img = train.data.reshape(-1, 28, 28)[:10_000]
    test_img = test.data.reshape(-1, 28, 28)[:N_TEST]
    rows = []
    for s in SIZES:
        cfg = HCLTConfig(n_latents=16, epochs=3, full_batch_epochs=1, mi_records=5000)
        tr, te = crop(train_img, s), crop(test_img, s)
        model = HCLT(cfg).fit(tr.reshape(len(tr), -1), 256, progress=False)
        coder = model.coding_model()
        flat = te.reshape(len(te), -1).astype(np.int64)
        coder_rates(coder, flat[:64])  # compile the kernels outside the timings
        inc_enc, inc_dec, inc_bytes = coder_rates(coder, flat)
        nv_enc, nv_dec, _ = coder_rates(Naive(model.circuit_), flat[:N_NAIVE])
        jx_enc, jx_dec, jx_bytes = jxl_rates(te)
        row = {
            "crop": f"{s}x{s}",
            "D": s * s,
            "incremental_encode_ips": inc_enc,
            "incremental_decode_ips": inc_dec,
            "naive_encode_ips": nv_enc,
            "naive_decode_ips": nv_dec,
            "jpegxl_encode_ips": jx_enc,
            "jpegxl_decode_ips": jx_dec,
            "latentzip_bpd": 8 * inc_bytes / flat.size,
            "jpegxl_bpd": 8 * jx_bytes / flat.size,
        }
        rows.append(row)
        print(row, flush=True)
    table = "\n".join(
        [
            "| crop | D | incremental enc / dec (img/s) | naive enc / dec (img/s) | "
            "speed-up (decode) | JPEG-XL e7 enc / dec (img/s) | latentzip bpd | JPEG-XL bpd |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
            *[
                f"| {r['crop']} | {r['D']} | {r['incremental_encode_ips']:.0f} / "
                f"{r['incremental_decode_ips']:.0f} | {r['naive_encode_ips']:.1f} / "
                f"{r['naive_decode_ips']:.1f} | "
                f"{r['incremental_decode_ips'] / r['naive_decode_ips']:.0f}x | "
                f"{r['jpegxl_encode_ips']:.0f} / {r['jpegxl_decode_ips']:.0f} | "
                f"{r['latentzip_bpd']:.3f} | {r['jpegxl_bpd']:.3f} |"
                for r in rows
            ],
        ]
    )
    payload = {"machine": machine(), "n_test": N_TEST, "n_naive": N_NAIVE, "rows": rows}
    write_results("coder_scaling", payload, table)
    _plot(rows)


def _plot(rows: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = [r["D"] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 4))
    for key, label in [
        ("incremental_decode_ips", "latentzip incremental"),
        ("naive_decode_ips", "latentzip naive (full pass per variable)"),
        ("jpegxl_decode_ips", "JPEG-XL lossless e7"),
    ]:
        ax.plot(d, [r[key] for r in rows], marker="o", label=label)
    ax.set_xlabel("variables per image D (centre crops of MNIST)")
    ax.set_ylabel("decode throughput (images/s)")
    ax.set_yscale("log")
    ax.legend()
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(RESULTS / "coder_scaling.png", dpi=120)


if __name__ == "__main__":
    main()
