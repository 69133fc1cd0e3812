"""Class-incremental MNIST and Fashion-MNIST: the discrete key-value bottleneck against a
linear probe, an MLP, an MLP with experience replay and fine-tuning, on the same frozen
encoders (5 tasks of 2 classes, no task labels). Träuble et al., ICML 2023.

    python benchmarks/continual.py                          # both datasets, 5 seeds (~50 min)
    python benchmarks/continual.py --datasets mnist --seeds 0 --quick

Encoders, and what each saw: ``patches``, k-means on 6x6 patches of the stream's own training
images, labels never used (Coates et al. 2011; kept in benchmarks/results/
continual_patches_<dataset>.npz); ``cnn``, a CNN trained *with labels* on the other dataset
(2 epochs; continual_cnn_<source>.pt); ``random``, pixels through a fixed random projection.

The bottleneck's settings are chosen on a validation split of the training set (10% per
class, seed 0, ``patches`` encoder): one factor at a time around the defaults (heads C, keys
per head P, key dimension, decoder, value learning rate, the labels trick), scored by the
accuracy after the last task; the test set is used only for the final runs. Writes
benchmarks/results/continual_<dataset>.{json,md,png}: accuracy after each task (mean
per-class, over all 10 classes) per method and encoder, mean and std over seeds, the i.i.d.
accuracy of the same bottleneck, and the validation ablation.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict, replace

import numpy as np
import torch
from common import RESULTS, SHARED, machine, write_results
from tqdm.auto import tqdm

from latentzip.continual import KVConfig, frozen_encoder, prepare, run_method, validation_split
from latentzip.continual.images import ENCODERS, METHODS, SOURCE

NAMES = {"kv": "KV bottleneck", "linear": "linear probe", "mlp": "MLP", "replay": "MLP + replay",
         "finetune": "fine-tune"}  # fmt: skip
VARIANTS = {  # around the defaults (the paper's choices: gradient-trained values)
    "defaults": {},
    "C=128": {"n_codebooks": 128},
    "P=256": {"n_pairs": 256},
    "key dim 16": {"key_dim": 16},
    "MLP decoder": {"decoder": "mlp"},
    "lr 0.3": {"lr": 0.3},
    "labels trick": {"present_classes_only": True},
    "counts": {"value_rule": "counts"},
    "counts, key dim 16": {"value_rule": "counts", "key_dim": 16},
    "counts, key dim 16, C=128": {"value_rule": "counts", "key_dim": 16, "n_codebooks": 128},
}
VARIANTS_QUICK = ("defaults", "labels trick", "counts")


def saw(name: str, dataset: str, encoder) -> str:
    if name == "patches":
        return encoder.meta.get("trained_on", "")
    if name == "cnn":
        return f"{SOURCE[dataset]} train images with labels"
    return "nothing (a fixed random projection)"


def run_dataset(dataset: str, args, kv: KVConfig) -> dict:
    runs, ceilings, seen, ablation = [], [], {}, []
    for enc_name in args.encoders:
        start = time.perf_counter()
        encoder = frozen_encoder(enc_name, dataset, SHARED, RESULTS, progress=True)
        prep = prepare(dataset, encoder, SHARED)
        seen[enc_name] = saw(enc_name, dataset, encoder)
        print(f"{dataset}: {enc_name} features in {time.perf_counter() - start:.0f} s")
        if not ablation and not args.no_ablation:
            ablation = run_ablation(validation_split(prep), kv, args.quick)
            best = max(ablation, key=lambda a: a["final_accuracy"])
            kv = replace(kv, **VARIANTS[best["variant"]])
            best["chosen"] = True
            print(f"{dataset}: chosen on validation: {best['variant']}")
        trainable = getattr(encoder, "trainable", True)  # fine-tuning needs a gradient path
        methods = [m for m in args.methods if m != "finetune" or trainable]
        jobs = [(s, m) for s in args.seeds for m in methods]
        for seed, method in tqdm(jobs, desc=f"{dataset} / {enc_name}"):
            result, iid = run_method(method, prep, seed, kv=kv, iid=method == "kv")
            row = {"encoder": enc_name, "method": method, "seed": seed, **result.as_dict()}
            runs.append(row)
            if iid is not None:
                ceilings.append({"encoder": enc_name, "seed": seed, "iid_accuracy": iid})
    return {
        "dataset": dataset,
        "encoders_saw": seen,
        "tasks": [list(t) for t in ((0, 1), (2, 3), (4, 5), (6, 7), (8, 9))],
        "kv_config": asdict(kv),
        "seeds": args.seeds,
        "machine": machine(),
        "threads": torch.get_num_threads(),
        "runs": runs,
        "iid": ceilings,
        "ablation": ablation,
    }


def run_ablation(val, kv: KVConfig, quick: bool) -> list[dict]:
    """Accuracy after the last task and i.i.d. on the validation split, seed 0."""
    names = VARIANTS_QUICK if quick else tuple(VARIANTS)
    out = []
    for name in tqdm(names, desc=f"{val.dataset} ablation"):
        start = time.perf_counter()
        cfg = replace(kv, **VARIANTS[name])
        result, iid = run_method("kv", val, 0, kv=cfg, iid=True)
        out.append({"variant": name, **asdict(cfg), "final_accuracy": float(result.accuracy[-1]),
                    "iid_accuracy": iid, "seconds": time.perf_counter() - start})  # fmt: skip
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
    lines += ["", "What each encoder saw: " + "; ".join(
        f"{k}: {v}" for k, v in payload["encoders_saw"].items()) + "."]  # fmt: skip
    if payload.get("ablation"):
        lines += [
            "",
            "Bottleneck settings on the validation split (10% of the training set, seed 0, "
            f"{payload['runs'][0]['encoder']} encoder), one factor at a time:",
            "",
            "| variant | values | C | P | key dim | decoder | lr | labels trick | after task 5 "
            "| i.i.d. | gap | s |",
            "|---|---|---:|---:|---:|---|---:|---|---:|---:|---:|---:|",
        ]
        for a in payload["ablation"]:
            name = f"**{a['variant']}** (chosen)" if a.get("chosen") else a["variant"]
            gap = 100 * (a["iid_accuracy"] - a["final_accuracy"])
            lines.append(
                f"| {name} | {a['value_rule']} | {a['n_codebooks']} | {a['n_pairs']} | "
                f"{a['key_dim']} | "
                f"{a['decoder']} | {a['lr']} | {'yes' if a['present_classes_only'] else 'no'} | "
                f"{100 * a['final_accuracy']:.1f} | {100 * a['iid_accuracy']:.1f} | {gap:.1f} | "
                f"{a['seconds']:.0f} |"
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
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--encoders", nargs="+", default=["patches", "random"], choices=ENCODERS)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--quick", action="store_true", help="smaller bottleneck and ablation")
    parser.add_argument("--no-ablation", action="store_true")
    parser.add_argument(
        "--threads", type=int, default=2, help="torch threads (run it on a quiet machine)"
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
