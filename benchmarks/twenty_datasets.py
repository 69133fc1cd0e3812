"""The Twenty Datasets density-estimation benchmark: test log-likelihood and compressed size.

    python benchmarks/twenty_datasets.py                       # every data set, ~30 min, 2 cores
    python benchmarks/twenty_datasets.py --datasets nltcs dna  # a few

Per data set (``../shared/data/twenty-datasets``, 18 of the 20 are stored): learn the
structure and train an HCLT on the train split by mini-batch EM, keep the epoch with the best
validation log-likelihood (stop after ``--patience`` epochs without improvement), report the
test average log-likelihood (nats per row, as published) next to the published HCLT, then
compress the test CSV file itself (``latentzip.tables``, every variable a 0/1 column) and
compare its size with zstd -19, xz -9 and bzip2 -9 on the same uncompressed file. Every round
trip is checked byte for byte.

The time budget (``--budget`` seconds for the whole run) is split over the data sets in
proportion to their training cells (rows x variables) plus a floor; the number of epochs of
each is set from a timed epoch on a subsample so training fits its share.

Writes benchmarks/results/twenty_datasets.{json,md}; a run on some data sets updates their
entries and keeps the others.
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import json
import lzma
import math
import time
from dataclasses import asdict, replace

import numpy as np
from common import RESULTS, SHARED, machine, write_results

from latentzip.circuits import HCLT, HCLTConfig
from latentzip.tables import Table, TableModel, TablePlan, compress, decompress, parse_csv

# Test average log-likelihood of HCLT (a mixture of 4 HCLTs with 12 latent states) as quoted
# in the issue; the data sets without a number are left blank rather than guessed.
PUBLISHED_HCLT = {
    "nltcs": -6.00,
    "msnbc": -6.06,
    "kdd": -2.14,
    "plants": -14.26,
    "baudio": -39.77,
    "jester": -52.38,
    "bnetflix": -56.25,
    "accidents": -26.74,
    "tretail": -10.86,
    "pumsb_star": -23.65,
    "dna": -79.05,
}
ORDER = [
    "nltcs", "msnbc", "kdd", "plants", "baudio", "jester", "bnetflix", "accidents", "tretail",
    "pumsb_star", "dna", "book", "tmovie", "cwebkb", "cr52", "c20ng", "bbc", "ad",
]  # fmt: skip
FLOOR_CELLS = 1_000_000  # every data set gets at least this much weight in the budget
TRAIN_SHARE = 0.75  # of a data set's budget; the rest is structure, coding and evaluation
SAFETY = 1.3  # epochs on the full data cost more than the timed subsample (cache, shared CPU)


def load(name: str, split: str) -> tuple[Table, bytes]:
    path = SHARED / "twenty-datasets" / name / f"{name}.{split}.data.gz"
    raw = gzip.decompress(path.read_bytes())
    return parse_csv(raw, header=False, source=str(path)), raw


def epoch_seconds(train: np.ndarray, valid: np.ndarray, cfg: HCLTConfig, n: int = 4096) -> float:
    """Estimated seconds of one EM epoch plus one validation pass, timed on subsamples."""
    sub = train[np.random.default_rng(0).permutation(len(train))[:n]]
    model = HCLT(replace(cfg, epochs=1, full_batch_epochs=0)).fit(sub, 2, progress=False)
    start = time.perf_counter()
    model.score(valid[:n])
    per_valid_row = (time.perf_counter() - start) / min(n, len(valid))
    per_row = model.history_[0]["seconds"] / len(sub)
    return SAFETY * (per_row * len(train) + per_valid_row * len(valid))


def baselines(raw: bytes) -> dict[str, int]:
    import zstandard

    out = {
        "zstd -19": zstandard.ZstdCompressor(level=19).compress(raw),
        "xz -9": lzma.compress(raw, format=lzma.FORMAT_XZ, preset=9),
        "bzip2 -9": bz2.compress(raw, 9),
    }
    assert zstandard.ZstdDecompressor().decompress(out["zstd -19"]) == raw
    assert lzma.decompress(out["xz -9"]) == raw and bz2.decompress(out["bzip2 -9"]) == raw
    return {k: len(v) for k, v in out.items()}


def run(name: str, budget: float, args) -> dict:
    start = time.perf_counter()
    (train, _), (valid, _), (test, raw) = (load(name, s) for s in ("train", "valid", "test"))
    plan = TablePlan.categorical(train.n_columns, ("0", "1"))
    base = HCLTConfig(n_latents=args.latents, full_batch_epochs=args.full_batch_epochs)
    epoch_cost = epoch_seconds(
        plan.encode(train, train.n_rows).symbols, plan.encode(valid, valid.n_rows).symbols, base
    )
    epochs = int(np.clip(TRAIN_SHARE * budget / epoch_cost, 3, args.max_epochs))
    cfg = replace(base, epochs=max(1, epochs - args.full_batch_epochs))
    fit_start = time.perf_counter()
    model = TableModel(cfg).fit(
        train, valid=valid, patience=args.patience, plan=plan, progress=not args.quiet
    )
    train_seconds = time.perf_counter() - fit_start
    test_ll = model.score(test)
    t0 = time.perf_counter()
    blob = compress(raw, model)
    t1 = time.perf_counter()
    assert decompress(blob, model) == raw, f"{name}: round trip is not byte-exact"
    t2 = time.perf_counter()
    rows = test.n_rows
    sizes = baselines(raw)
    hist = model.hclt_.history_
    return {
        "dataset": name,
        "variables": train.n_columns,
        "rows": {"train": train.n_rows, "valid": valid.n_rows, "test": rows},
        "config": {**asdict(cfg), "patience": args.patience},
        "epochs_planned": cfg.epochs + cfg.full_batch_epochs,
        "epochs_run": len(hist),
        "best_epoch": model.hclt_.best_epoch_,
        "valid_ll": hist[model.hclt_.best_epoch_ - 1]["valid_ll"],
        "test_ll": test_ll,
        "published_hclt_test_ll": PUBLISHED_HCLT.get(name),
        "test_csv_bytes": len(raw),
        "container_bytes": len(blob),
        "bits_per_row": {
            "latentzip": 8 * len(blob) / rows,
            "ideal (-log2 p)": -test_ll / math.log(2),
            **{k: 8 * v / rows for k, v in sizes.items()},
        },
        "baseline_bytes": sizes,
        "round_trip_exact": True,
        "seconds": {
            "budget": budget,
            "train": train_seconds,
            "compress": t1 - t0,
            "decompress": t2 - t1,
            "total": time.perf_counter() - start,
        },
        "history": hist,
    }


def table(results: list[dict]) -> str:
    lines = [
        "| data set | vars | test rows | test LL | HCLT (published) | difference | "
        "latentzip bits/row | ideal | zstd -19 | xz -9 | bzip2 -9 | epochs (best) | train s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in sorted(results, key=lambda r: ORDER.index(r["dataset"])):
        pub = r["published_hclt_test_ll"]
        b = r["bits_per_row"]
        lines.append(
            f"| {r['dataset']} | {r['variables']} | {r['rows']['test']} | {r['test_ll']:.2f} | "
            + (f"{pub:.2f} | {r['test_ll'] - pub:+.2f} | " if pub is not None else " | | ")
            + f"{b['latentzip']:.2f} | {b['ideal (-log2 p)']:.2f} | {b['zstd -19']:.2f} | "
            f"{b['xz -9']:.2f} | {b['bzip2 -9']:.2f} | {r['epochs_run']} ({r['best_epoch']}) | "
            f"{r['seconds']['train']:.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--datasets", nargs="+", help="names (default: every stored data set)")
    parser.add_argument("--budget", type=float, default=1800, help="seconds for all 18 data sets")
    parser.add_argument("--latents", type=int, default=24, help="K")
    parser.add_argument("--max-epochs", type=int, default=100)
    parser.add_argument("--full-batch-epochs", type=int, default=2)
    parser.add_argument("--patience", type=int, default=5)
    parser.add_argument("-q", "--quiet", action="store_true")
    args = parser.parse_args()
    folder = SHARED / "twenty-datasets"
    if not folder.exists():
        raise SystemExit(f"{folder} not found: the benchmark needs ../shared/data")
    stored = [n for n in ORDER if (folder / n).is_dir()]
    names = args.datasets or stored
    unknown = sorted(set(names) - set(stored))
    if unknown:
        raise SystemExit(f"unknown data sets {unknown}; stored: {stored}")
    # the budget is shared by all stored data sets, so a subset gets the same per-set share
    weights = {n: _cells(folder, n) + FLOOR_CELLS for n in stored}
    total = sum(weights.values())
    path = RESULTS / "twenty_datasets.json"
    previous = json.loads(path.read_text())["results"] if path.exists() else []
    results = {r["dataset"]: r for r in previous}
    for name in names:
        r = run(name, args.budget * weights[name] / total, args)
        results[name] = r
        b = r["bits_per_row"]
        print(
            f"{name}: test LL {r['test_ll']:.3f} (published {r['published_hclt_test_ll']}), "
            f"{b['latentzip']:.2f} bits/row vs xz {b['xz -9']:.2f}, "
            f"{r['seconds']['total']:.0f} s (budget {r['seconds']['budget']:.0f} s)",
            flush=True,
        )
    payload = {
        "benchmark": "twenty-datasets",
        "machine": machine(),
        "budget_seconds_all": args.budget,
        "note": "test LL: mean natural-log likelihood per test row; bits/row: 8 * bytes / rows "
        "of the test CSV file; the latentzip container excludes the model (not embedded)",
        "results": sorted(results.values(), key=lambda r: ORDER.index(r["dataset"])),
    }
    write_results("twenty_datasets", payload, table(payload["results"]))


def _cells(folder, name: str) -> int:
    with gzip.open(folder / name / f"{name}.train.data.gz", "rt") as f:
        first = f.readline()
        rows = 1 + sum(1 for _ in f)
    return rows * (first.count(",") + 1)


if __name__ == "__main__":
    main()
