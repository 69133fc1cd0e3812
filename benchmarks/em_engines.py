"""EM engines side by side: one mini-batch EM epoch over all 60,000 MNIST training images.

    python benchmarks/em_engines.py [--k 32] [--device cuda]

Times the numpy reference engine and the torch engine (CPU, and CUDA when asked and
available) on the same circuit, the same batches (512) and the same step size, from the same
start (a Chow-Liu tree and initial parameters made once); reports seconds per epoch and the
training log-likelihood each reached. Writes benchmarks/results/em_engines.{json,md}.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch
from common import load_split, machine, write_results

from latentzip.circuits import HCLTConfig, em
from latentzip.circuits.engine import NumpyEngine, TorchEngine
from latentzip.circuits.structure import mutual_information


def epoch_seconds(eng, circuit, x, cfg: HCLTConfig) -> tuple[float, float]:
    """(seconds, mean train log-likelihood) of one mini-batch EM epoch."""
    eng.load(circuit)
    eng.counts(x[:64])  # warm-up (allocations, thread pools)
    eng.load(circuit)
    perm = np.random.default_rng(0).permutation(len(x))
    start, total = time.perf_counter(), 0.0
    for i in range(0, len(x), cfg.batch_size):
        ll, counts = eng.counts(x[perm[i : i + cfg.batch_size]])
        total += ll
        eng.update(counts, cfg.pseudocount, cfg.step_size_start)
    if hasattr(eng, "torch") and eng.device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start, total / len(x)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--k", type=int, default=32)
    parser.add_argument("--device", action="append", default=[], help="also time cuda")
    args = parser.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    train, _ = load_split("mnist")
    x = train.data.astype(np.int64)
    cfg = HCLTConfig(n_latents=args.k)
    cats = np.full(x.shape[1], 256)
    mi = mutual_information(x, cats, n_bins=cfg.mi_bins, max_records=cfg.mi_records)
    circuit = em.start(mi, em.value_counts(x, cats), cats, args.k, np.random.default_rng(0))
    engines = {"numpy (float64, reference)": NumpyEngine(), "torch cpu (float32)": TorchEngine()}
    for device in args.device:
        if device.startswith("cuda") and torch.cuda.is_available():
            engines[f"torch {device} (float32)"] = TorchEngine(device)
    rows = []
    for name, eng in engines.items():
        seconds, ll = epoch_seconds(eng, circuit, x, cfg)
        rows.append({"engine": name, "seconds": seconds, "train_bpd": -ll / 784 / math.log(2)})
        print(rows[-1], flush=True)
    base = rows[0]["seconds"]
    table = "\n".join(
        [
            f"One mini-batch EM epoch, MNIST train (60,000 x 784), K={args.k}, batch "
            f"{cfg.batch_size}, torch threads {torch.get_num_threads()}:",
            "",
            "| engine | seconds / epoch | speed-up | train bpd after the epoch |",
            "|---|---:|---:|---:|",
            *[
                f"| {r['engine']} | {r['seconds']:.1f} | {base / r['seconds']:.2f}x | "
                f"{r['train_bpd']:.4f} |"
                for r in rows
            ],
        ]
    )
    payload = {"machine": machine(), "k": args.k, "batch_size": cfg.batch_size, "rows": rows,
               "cuda_available": torch.cuda.is_available()}  # fmt: skip
    write_results("em_engines", payload, table)


if __name__ == "__main__":
    main()
