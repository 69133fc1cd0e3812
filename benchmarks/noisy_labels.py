"""Compressed features against noisy labels on MNIST and Fashion-MNIST (Chen et al., TNNLS 2022).

    python benchmarks/noisy_labels.py                        # reduced setting: ~26 min on 2 cores
    python benchmarks/noisy_labels.py --full                 # published setting: see below
    python benchmarks/noisy_labels.py --quick --datasets mnist --noise symmetric50 --seeds 0

Methods: cross-entropy, Dropout, Nested dropout, Co-teaching, Nested + Co-teaching and
Dropout + Co-teaching (the two-stage recipe: two bottlenecked networks restarted from their
best-validation epoch, then fine-tuned with Co-teaching), scored on the test images every epoch.

Reduced (default): 10,000 training records (1,000 kept clean for validation), 784-256-128 MLP,
20 epochs, 5,000 test images; 50% symmetric and 45% pair-flip noise.

``--full``: all 60,000 training images (6,000 kept clean for validation and model selection,
54,000 with noisy labels), the full 10,000 test images, symmetric 50% and 20% and pair-flip
45%, and the MNIST recipe of Han et al. on the 784-256 MLP of the Co-teaching+ experiments
(:meth:`TrainConfig.published`) shortened to ``--epochs`` (the decay keeps its place at 40%).
First, per dataset, the dropout rate and the nested-dropout width are chosen on the clean
validation split (one noisy split of seed 0, symmetric 50%); jobs then run in ``--workers``
processes of one thread each. Every finished job is kept under
``results/noisy_labels_runs/``, so an interrupted run resumes where it stopped.

Writes benchmarks/results/noisy_labels_<dataset>{,_full,_quick}.{json,md,png}.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, replace
from multiprocessing import get_context

import numpy as np
from common import RESULTS, SHARED, machine, write_results
from tqdm.auto import tqdm

from latentzip.files import atomic_write
from latentzip.noisylabels import (
    METHODS,
    MethodResult,
    Noise,
    TrainConfig,
    load_folder,
    make_split,
    markdown_table,
    plot_curves,
    run_methods,
    summarise,
)

FOLDERS = {"mnist": "mnist", "fashion": "fashion-mnist"}
NOISES = {
    "symmetric50": Noise("symmetric", 0.5),
    "symmetric20": Noise("symmetric", 0.2),
    "pairflip45": Noise("pairflip", 0.45),
}
PUBLISHED = {
    ("mnist", "symmetric50"): "Published Co-teaching, MNIST, 50% symmetric: 91.68%.",
    ("mnist", "pairflip45"): "Published Co-teaching, MNIST, 45% pair-flip: 87.58%.",
}  # as issue 24 quotes them: the official Co-teaching README (bhanML/Co-teaching), whose runs
# train Han et al.'s 9-layer CNN for 200 epochs on all 60,000 images, not the MLP used here
FULL_EPOCHS = 60
DROPOUT_GRID = (0.3, 0.5, 0.7)
SIGMA_GRID = (8.0, 32.0, 128.0)
_DATA: dict = {}


def _data(dataset: str):
    if dataset not in _DATA:
        folder = SHARED / FOLDERS[dataset]
        if not folder.exists():
            raise SystemExit(f"{folder} not found: the benchmark needs ../shared/data")
        _DATA[dataset] = load_folder(folder)
    return _DATA[dataset]


def run_job(dataset, noise_name, seed, cfg, methods, n_train, n_test):
    """One noisy split, every method; returns (results as dicts, seconds, actual noise)."""
    split = make_split(*_data(dataset), NOISES[noise_name], seed, n_train=n_train, n_test=n_test)
    start = time.perf_counter()
    runs = run_methods(split, cfg, methods, seed)
    return [r.to_dict() for r in runs], time.perf_counter() - start, split.actual_noise_rate


def search_job(dataset, cfg, bottleneck, value, n_train, n_test):
    """Best clean-validation accuracy of one bottlenecked network (seed 0, symmetric 50%)."""
    field = "dropout" if bottleneck == "dropout" else "sigma"
    cfg = replace(cfg, **{field: value})
    dicts, seconds, _ = run_job(dataset, "symmetric50", 0, cfg, [bottleneck], n_train, n_test)
    best = max(dicts[0]["history"], key=lambda h: h["val_acc"])
    return {
        "bottleneck": bottleneck,
        field: value,
        "best_val_acc": best["val_acc"],
        "k_at_best": best["k"],
        "seconds": seconds,
    }


def _cache_key(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:12]


class Jobs:
    """Runs jobs in worker processes, keeping each finished one on disk to resume from."""

    def __init__(self, workers: int, cache: bool) -> None:
        self.workers, self.cache = workers, RESULTS / "noisy_labels_runs" if cache else None
        self.from_cache = self.computed = 0

    def run(self, fn, jobs: list[tuple], desc: str) -> list:
        out: list = [None] * len(jobs)
        todo = []
        for i, job in enumerate(jobs):
            path = self._path(fn, job)
            if path is not None and path.exists():
                out[i] = json.loads(path.read_text())
                self.from_cache += 1
            else:
                todo.append(i)
        bar = tqdm(total=len(jobs), initial=len(jobs) - len(todo), desc=desc)
        if self.workers <= 1:
            for i in todo:
                out[i] = self._done(fn, jobs[i], fn(*jobs[i]), bar)
        else:
            ctx = get_context("spawn")
            with ProcessPoolExecutor(self.workers, mp_context=ctx) as pool:
                futures = {pool.submit(fn, *jobs[i]): i for i in todo}
                for fut in as_completed(futures):
                    i = futures[fut]
                    out[i] = self._done(fn, jobs[i], fut.result(), bar)
        bar.close()
        return out

    def _path(self, fn, job):
        if self.cache is None:
            return None
        return self.cache / f"{fn.__name__}_{_cache_key(fn.__name__, job)}.json"

    def _done(self, fn, job, result, bar):
        self.computed += 1
        path = self._path(fn, job)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, json.dumps(result).encode())
        bar.update()
        return json.loads(json.dumps(result))  # the same shape whether fresh or resumed


def choose(jobs: Jobs, datasets, cfg: TrainConfig, n_train, n_test) -> dict:
    """Per dataset, the dropout rate and the nested width with the best clean-validation
    accuracy: ``{dataset: (config, search rows)}``."""
    grid = [("dropout", v) for v in DROPOUT_GRID] + [("nested", v) for v in SIGMA_GRID]
    todo = [(d, cfg, b, v, n_train, n_test) for d in datasets for b, v in grid]
    rows = jobs.run(search_job, todo, "bottleneck search")
    out = {}
    for d in datasets:
        mine = [r for job, r in zip(todo, rows, strict=True) if job[0] == d]
        best = {
            b: max((r for r in mine if r["bottleneck"] == b), key=lambda r: r["best_val_acc"])
            for b in ("dropout", "nested")
        }
        chosen = replace(cfg, dropout=best["dropout"]["dropout"], sigma=best["nested"]["sigma"])
        out[d] = chosen, mine
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--datasets", nargs="+", default=list(FOLDERS), choices=list(FOLDERS))
    parser.add_argument("--noise", nargs="+", choices=list(NOISES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--quick", action="store_true", help="3,000 records, 6 + 3 epochs")
    parser.add_argument("--full", action="store_true", help="the published setting (see above)")
    parser.add_argument("--arch", default="mlp", choices=["mlp", "cnn"])
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--n-train", type=int)
    parser.add_argument("--n-test", type=int)
    parser.add_argument("--workers", type=int, default=2, help="processes (one thread each)")
    parser.add_argument("--no-resume", action="store_true", help="ignore and keep no job cache")
    args = parser.parse_args()

    if args.full:
        cfg = TrainConfig.published(args.epochs or FULL_EPOCHS)
        n_train, n_test, suffix = None, None, "_full"
        noises = args.noise or ["symmetric50", "symmetric20", "pairflip45"]
    elif args.quick:
        cfg = TrainConfig(hidden=(256, 128), sigma=16.0, epochs=6, ramp_epochs=2, finetune_epochs=3)
        n_train, n_test, suffix = 3000, 2000, "_quick"
    else:
        cfg = TrainConfig(hidden=(256, 128), sigma=16.0, epochs=20, ramp_epochs=5)
        n_train, n_test, suffix = 10_000, 5000, ""
    noises = args.noise or (noises if args.full else ["symmetric50", "pairflip45"])
    if args.epochs and not args.full:
        cfg = replace(cfg, epochs=args.epochs)
    cfg = replace(cfg, arch=args.arch)
    n_train, n_test = args.n_train or n_train, args.n_test or n_test
    jobs = Jobs(args.workers, cache=not args.no_resume)

    started = time.perf_counter()
    for dataset in args.datasets:
        _data(dataset)  # fail early when the data is missing
    configs = {d: (cfg, []) for d in args.datasets}
    if args.full:
        configs = choose(jobs, args.datasets, cfg, n_train, n_test)
    grid = [
        (d, n, s, configs[d][0], args.methods, n_train, n_test)
        for d in args.datasets
        for n in noises
        for s in args.seeds
    ]
    done = jobs.run(run_job, grid, "runs")
    # worker-seconds of every job, resumed or not: the run's length on ``workers`` cores
    job_seconds = sum(d[1] for d in done) + sum(
        r["seconds"] for _, rows in configs.values() for r in rows
    )
    for dataset in args.datasets:
        dcfg, search = configs[dataset]
        results: dict[str, list[MethodResult]] = {}
        seconds: dict[str, float] = {}
        noise_rates: dict[str, list[float]] = {}
        for job, (dicts, secs, actual) in zip(grid, done, strict=True):
            if job[0] != dataset:
                continue
            results.setdefault(job[1], []).extend(MethodResult.from_dict(d) for d in dicts)
            seconds[job[1]] = seconds.get(job[1], 0.0) + secs
            noise_rates.setdefault(job[1], []).append(actual)
        payload = {
            "dataset": dataset,
            "machine": machine(),
            "config": asdict(dcfg),
            "setting": "full" if args.full else ("quick" if args.quick else "reduced"),
            "n_train": n_train or 60_000,
            "n_test": n_test or 10_000,
            "seeds": args.seeds,
            "workers": args.workers,
            "wall_seconds_this_invocation": time.perf_counter() - started,
            "job_seconds_all_datasets": job_seconds,
            "jobs_computed_this_invocation": jobs.computed,
            "jobs_resumed_from_cache": jobs.from_cache,
            "search": search,
            "noise": {},
        }
        tables = []
        if search:
            tables.append(_search_table(dataset, search, dcfg))
        for name in noises:
            summary = summarise(results[name])
            payload["noise"][name] = {
                "kind": NOISES[name].kind,
                "rate": NOISES[name].rate,
                "actual_rates": noise_rates[name],
                "worker_seconds": seconds[name],
                "summary": summary,
                "runs": [r.to_dict() for r in results[name]],
            }
            title = (
                f"{dataset}, {name}: {len(args.seeds)} seeds, "
                f"{seconds[name] / 60:.1f} worker-min (one process of one thread per job)"
            )
            table = markdown_table(summary, title) + _code_lengths(results[name], dcfg)
            if (dataset, name) in PUBLISHED:
                table += f"\n\n{PUBLISHED[dataset, name]}"
            tables.append(table)
        out = f"noisy_labels_{dataset}{suffix}"
        write_results(out, payload, "\n\n".join(tables))
        plot_curves(
            {name: results[name] for name in noises},
            RESULTS / f"{out}.png",
            f"{dataset}: test accuracy per epoch (mean ± std over seeds)",
        )
        print(f"plot -> {RESULTS / f'{out}.png'}")
    print(
        f"wall time {(time.perf_counter() - started) / 60:.1f} min with {args.workers} workers; "
        f"{jobs.from_cache} jobs resumed; all jobs together {job_seconds / 60:.1f} worker-min"
    )


def _code_lengths(results: list[MethodResult], cfg: TrainConfig) -> str:
    """The nested-dropout code length K (chosen on validation) at the last epoch."""
    ks: dict[str, list[int]] = {}
    for r in results:
        last = r.history[-1]
        ks.setdefault(r.method, []).extend(
            last[key] for key in ("k", "k2") if last.get(key) is not None
        )
    parts = [f"{m} {np.mean(v):.0f} (range {min(v)}-{max(v)})" for m, v in ks.items() if v]
    if not parts:
        return ""
    width = cfg.hidden[-1]
    return f"\n\nNested-dropout code length K of {width} at the last epoch: " + "; ".join(parts)


def _search_table(dataset: str, rows: list[dict], cfg: TrainConfig) -> str:
    lines = [
        f"**{dataset}: bottleneck chosen on the clean validation split** (seed 0, symmetric 50%; "
        f"chosen: dropout {cfg.dropout}, nested sigma {cfg.sigma})",
        "",
        "| bottleneck | setting | best validation acc (%) |",
        "|---|---|---:|",
    ]
    for r in rows:
        if "dropout" in r:
            setting = f"rate {r['dropout']}"
        else:
            setting = f"sigma {r['sigma']:g} (code length K = {r['k_at_best']} of {cfg.hidden[-1]})"
        lines.append(f"| {r['bottleneck']} | {setting} | {100 * r['best_val_acc']:.2f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
