"""Class-incremental MNIST and Fashion-MNIST: the discrete key-value bottleneck against a
linear probe, an MLP and fine-tuning, on the same frozen encoders (5 tasks of 2 classes, no
task labels, no replay). Träuble et al., ICML 2023.

    python benchmarks/continual.py                          # both datasets, 3 seeds (~30 min)
    python benchmarks/continual.py --datasets mnist --seeds 0 --quick

The CNN encoder of an MNIST stream is trained on Fashion-MNIST and the other way round
(2 epochs, once; kept in benchmarks/results/continual_cnn_<source>.pt). The second encoder is
raw pixels through a fixed random projection. Writes benchmarks/results/continual_<dataset>
.{json,md,png}: accuracy after each task (mean per-class, over all 10 classes) per method and
encoder, mean and std over seeds, the i.i.d. accuracy of the same bottleneck (ceiling), and an
ablation over the number of codebooks C and pairs P (first seed, CNN encoder).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict, replace

import numpy as np
import torch
from common import RESULTS, SHARED, machine, write_results
from tqdm.auto import tqdm

from latentzip.continual import KVConfig, frozen_encoder, prepare, run_method
from latentzip.continual.images import METHODS

ABLATION = {"codebooks": (1, 16, 64), "pairs": (64, 256, 1024)}
ABLATION_QUICK = {"codebooks": (1, 32), "pairs": (16, 128)}
NAMES = {"kv": "KV bottleneck", "linear": "linear probe", "mlp": "MLP", "finetune": "fine-tune"}


def run_dataset(dataset: str, args, kv: KVConfig) -> dict:
    runs, ceilings = [], []
    for enc_name in args.encoders:
        start = time.perf_counter()
        encoder = frozen_encoder(enc_name, dataset, SHARED, RESULTS, progress=True)
        prep = prepare(dataset, encoder, SHARED)
        print(f"{dataset}: {enc_name} features in {time.perf_counter() - start:.0f} s")
        jobs = [(s, m) for s in args.seeds for m in args.methods]
        for seed, method in tqdm(jobs, desc=f"{dataset} / {enc_name}"):
            result, iid = run_method(method, prep, seed, kv=kv, iid=method == "kv")
            row = {"encoder": enc_name, "method": method, "seed": seed, **result.as_dict()}
            runs.append(row)
            if iid is not None:
                ceilings.append({"encoder": enc_name, "seed": seed, "iid_accuracy": iid})
        if enc_name == "cnn" and not args.no_ablation:
            ablation = run_ablation(prep, args.seeds[0], kv, args.quick)
    payload = {
        "dataset": dataset,
        "source_of_cnn_encoder": {"mnist": "fashion", "fashion": "mnist"}[dataset],
        "tasks": [list(t) for t in ((0, 1), (2, 3), (4, 5), (6, 7), (8, 9))],
        "kv_config": asdict(kv),
        "seeds": args.seeds,
        "machine": machine(),
        "threads": torch.get_num_threads(),
        "runs": runs,
        "iid": ceilings,
    }
    if "cnn" in args.encoders and not args.no_ablation:
        payload["ablation"] = ablation
    return payload


def run_ablation(prep, seed: int, kv: KVConfig, quick: bool) -> list[dict]:
    grid = ABLATION_QUICK if quick else ABLATION
    cells = [(c, p) for c in grid["codebooks"] for p in grid["pairs"]]
    out = []
    for c, p in tqdm(cells, desc=f"{prep.dataset} ablation C x P"):
        start = time.perf_counter()
        result, iid = run_method(
            "kv", prep, seed, kv=replace(kv, n_codebooks=c, n_pairs=p), iid=True
        )
        out.append(
            {
                "n_codebooks": c,
                "n_pairs": p,
                "final_accuracy": float(result.accuracy[-1]),
                "iid_accuracy": iid,
                "seconds": time.perf_counter() - start,
            }
        )
    return out


def mean_std(values) -> str:
    v = 100 * np.asarray(values, dtype=float)
    return f"{v.mean():.1f} ± {v.std():.1f}" if len(v) > 1 else f"{v.mean():.1f}"


def table(payload: dict) -> str:
    lines = [
        f"### {payload['dataset']} class-incremental, 5 tasks x 2 classes, seeds "
        f"{payload['seeds']} (mean per-class test accuracy %, all 10 classes)",
        "",
        "| encoder | method | " + " | ".join(f"task {t + 1}" for t in range(5)) + " | i.i.d. |",
        "|---|---|" + "---:|" * 6,
    ]
    runs = payload["runs"]
    for enc in dict.fromkeys(r["encoder"] for r in runs):
        for m in dict.fromkeys(r["method"] for r in runs if r["encoder"] == enc):
            rows = [r for r in runs if r["encoder"] == enc and r["method"] == m]
            acc = np.array([r["accuracy"] for r in rows])
            iid = [c["iid_accuracy"] for c in payload["iid"] if c["encoder"] == enc]
            ceiling = mean_std(iid) if m == "kv" and iid else "-"
            cells = " | ".join(mean_std(acc[:, t]) for t in range(acc.shape[1]))
            lines.append(f"| {enc} | {NAMES[m]} | {cells} | {ceiling} |")
    if payload.get("ablation"):
        ab = payload["ablation"]
        pairs = sorted({a["n_pairs"] for a in ab})
        lines += [
            "",
            f"Ablation (CNN encoder, seed {payload['seeds'][0]}, key dim "
            f"{payload['kv_config']['key_dim']}): accuracy after the last task / i.i.d. (%)",
            "",
            "| C \\ P | " + " | ".join(str(p) for p in pairs) + " |",
            "|---|" + "---:|" * len(pairs),
        ]
        for c in sorted({a["n_codebooks"] for a in ab}):
            cell = {a["n_pairs"]: a for a in ab if a["n_codebooks"] == c}
            lines.append(
                f"| {c} | "
                + " | ".join(
                    f"{100 * cell[p]['final_accuracy']:.1f} / {100 * cell[p]['iid_accuracy']:.1f}"
                    for p in pairs
                )
                + " |"
            )
    return "\n".join(lines)


def plot(payload: dict, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = payload["runs"]
    encoders = list(dict.fromkeys(r["encoder"] for r in runs))
    fig, axes = plt.subplots(1, len(encoders), figsize=(5 * len(encoders), 3.8), squeeze=False)
    tasks = np.arange(1, 6)
    for ax, enc in zip(axes[0], encoders, strict=True):
        for m in dict.fromkeys(r["method"] for r in runs if r["encoder"] == enc):
            acc = 100 * np.array(
                [r["accuracy"] for r in runs if r["encoder"] == enc and r["method"] == m]
            )
            ax.errorbar(tasks, acc.mean(0), yerr=acc.std(0), marker="o", capsize=3, label=NAMES[m])
        iid = [100 * c["iid_accuracy"] for c in payload["iid"] if c["encoder"] == enc]
        if iid:
            ax.axhline(np.mean(iid), ls="--", c="grey", label="KV i.i.d.")
        ax.plot(tasks, 20 * np.ones(5), ":", c="k", lw=0.8, label="last task's share")
        ax.set(xlabel="task", ylabel="test accuracy (%)", title=f"{payload['dataset']}, {enc}")
        ax.set_ylim(0, 100)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--datasets", nargs="+", default=["mnist", "fashion"], choices=["mnist", "fashion"]
    )
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument(
        "--encoders", nargs="+", default=["cnn", "random"], choices=["cnn", "random"]
    )
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--quick", action="store_true", help="smaller bottleneck and ablation")
    parser.add_argument("--no-ablation", action="store_true")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (1: the 2 cores are shared)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    kv = KVConfig.quick() if args.quick else KVConfig()
    for dataset in args.datasets:
        start = time.perf_counter()
        payload = run_dataset(dataset, args, kv)
        payload["seconds"] = time.perf_counter() - start
        payload["quick"] = args.quick
        name = f"continual_{dataset}" + ("_quick" if args.quick else "")
        write_results(name, payload, table(payload))
        plot(payload, RESULTS / f"{name}.png")


if __name__ == "__main__":
    main()
