"""Compressed features against noisy labels on MNIST and Fashion-MNIST (Chen et al., TNNLS 2022).

    python benchmarks/noisy_labels.py                        # everything: ~20 min on 2 cores
    python benchmarks/noisy_labels.py --quick --datasets mnist --noise symmetric50 --seeds 0

For each dataset, noise (50% symmetric, 45% pair-flip) and seed: 10,000 training records are
drawn (1,000 of them kept clean for validation, the rest corrupted), and cross-entropy,
Dropout, Nested dropout, Co-teaching, Nested + Co-teaching and Dropout + Co-teaching are
trained on a 784-256-128 MLP (bias-free linear head) and scored on 5,000 test images every
epoch. Writes benchmarks/results/noisy_labels_<dataset>.{json,md,png} (``_quick`` appended
with --quick).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict

from common import RESULTS, SHARED, machine, write_results
from tqdm.auto import tqdm

from latentzip.noisylabels import (
    METHODS,
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
NOISES = {"symmetric50": Noise("symmetric", 0.5), "pairflip45": Noise("pairflip", 0.45)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--datasets", nargs="+", default=list(FOLDERS), choices=list(FOLDERS))
    parser.add_argument("--noise", nargs="+", default=list(NOISES), choices=list(NOISES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--quick", action="store_true", help="3,000 records, 6 + 3 epochs")
    parser.add_argument("--arch", default="mlp", choices=["mlp", "cnn"])
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--n-train", type=int)
    parser.add_argument("--n-test", type=int)
    args = parser.parse_args()

    if args.quick:
        cfg = TrainConfig(hidden=(256, 128), sigma=16.0, epochs=6, ramp_epochs=2, finetune_epochs=3)
        n_train, n_test = 3000, 2000
    else:
        cfg = TrainConfig(hidden=(256, 128), sigma=16.0, epochs=20, ramp_epochs=5)
        n_train, n_test = 10_000, 5000
    if args.epochs:
        cfg = TrainConfig(**{**asdict(cfg), "epochs": args.epochs})
    cfg = TrainConfig(**{**asdict(cfg), "arch": args.arch})
    n_train, n_test = args.n_train or n_train, args.n_test or n_test
    suffix = "_quick" if args.quick else ""

    jobs = [(d, n, s) for d in args.datasets for n in args.noise for s in args.seeds]
    bar = tqdm(jobs, desc="noisy labels")
    data, results, seconds = {}, {}, {}
    for dataset, noise_name, seed in bar:
        bar.set_postfix(dataset=dataset, noise=noise_name, seed=seed)
        if dataset not in data:
            folder = SHARED / FOLDERS[dataset]
            if not folder.exists():
                raise SystemExit(f"{folder} not found: the benchmark needs ../shared/data")
            data[dataset] = load_folder(folder)
        split = make_split(*data[dataset], NOISES[noise_name], seed, n_train=n_train, n_test=n_test)
        start = time.perf_counter()
        runs = run_methods(split, cfg, args.methods, seed, progress=True)
        key = (dataset, noise_name)
        seconds[key] = seconds.get(key, 0.0) + time.perf_counter() - start
        results.setdefault(key, []).extend(runs)
        bar.write(
            f"{dataset} {noise_name} seed {seed}: "
            + ", ".join(f"{r.method} {100 * r.final_test_acc:.1f}" for r in runs)
            + f" (final test %, actual noise {split.actual_noise_rate:.3f})"
        )

    for dataset in args.datasets:
        keys = [(dataset, n) for n in args.noise]
        payload = {
            "dataset": dataset,
            "machine": machine(),
            "config": asdict(cfg),
            "n_train": n_train,
            "n_validation": round(0.1 * n_train),
            "n_test": n_test,
            "seeds": args.seeds,
            "noise": {},
        }
        tables = []
        for key in keys:
            summary = summarise(results[key])
            payload["noise"][key[1]] = {
                "kind": NOISES[key[1]].kind,
                "rate": NOISES[key[1]].rate,
                "seconds": seconds[key],
                "summary": summary,
                "runs": [r.to_dict() for r in results[key]],
            }
            title = (
                f"{dataset}, {key[1]}: {len(args.seeds)} seeds, "
                f"{seconds[key] / 60:.1f} min on {machine()['cores']} cores"
            )
            tables.append(markdown_table(summary, title))
        name = f"noisy_labels_{dataset}{suffix}"
        write_results(name, payload, "\n\n".join(tables))
        plot_curves(
            {key[1]: results[key] for key in keys},
            RESULTS / f"{name}.png",
            f"{dataset}: test accuracy per epoch (mean ± std over seeds)",
        )
        print(f"plot -> {RESULTS / f'{name}.png'}")


if __name__ == "__main__":
    main()
