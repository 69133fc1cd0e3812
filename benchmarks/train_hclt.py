"""Train an HCLT on MNIST or Fashion-MNIST and report test bits per dimension.

    python benchmarks/train_hclt.py --dataset mnist --config mnist        # 30-minute budget
    python benchmarks/train_hclt.py --dataset mnist --config mnist_long   # a few hours

Also measures EM training throughput (samples per second in one mini-batch EM epoch) for
K=16 and K=32. Writes benchmarks/results/hclt_<dataset>_<config>.{json,md}.
"""

from __future__ import annotations

import argparse

from common import RESULTS, load_split, machine, write_results

from latentzip.circuits import HCLT, HCLTConfig


def throughput(train, k: int, n: int = 10_000) -> float:
    """Samples per second of one mini-batch EM epoch on ``n`` training records."""
    cfg = HCLTConfig(n_latents=k, epochs=1, full_batch_epochs=0)
    model = HCLT(cfg).fit(train.data[:n], 256, progress=False)
    return n / model.history_[0]["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", default="mnist", choices=["mnist", "fashion"])
    parser.add_argument("--config", default="mnist", choices=["mnist", "mnist_long"])
    parser.add_argument(
        "--no-throughput", action="store_true", help="skip the K=16/K=32 EM speed measurement"
    )
    args = parser.parse_args()
    train, test = load_split(args.dataset)
    cfg = getattr(HCLTConfig, args.config)()
    RESULTS.mkdir(parents=True, exist_ok=True)
    ckpt = RESULTS / f"hclt_{args.dataset}_{args.config}.ckpt.npz"
    model = HCLT(cfg).fit(train.data, 256, checkpoint=ckpt)
    # per-epoch times survive an interrupted and resumed run (structure learning excluded)
    train_seconds = sum(h["seconds"] for h in model.history_)
    model.save(RESULTS / f"hclt_{args.dataset}_{args.config}.npz")
    test_bpd, train_bpd = model.bits_per_dim(test.data), model.bits_per_dim(train.data)
    rates = {} if args.no_throughput else {k: throughput(train, k) for k in (16, 32)}
    payload = {
        "dataset": args.dataset,
        "config": cfg.__dict__,
        "machine": machine(),
        "train_bpd": train_bpd,
        "test_bpd": test_bpd,
        "train_seconds": train_seconds,
        "history": model.history_,
        "em_samples_per_second": rates,
        "fingerprint": model.fingerprint,
    }
    table = "\n".join(
        [
            "| dataset | config | K | epochs (mini + full) | train bpd | test bpd | EM time |",
            "|---|---|---:|---|---:|---:|---:|",
            f"| {args.dataset} | {args.config} | {cfg.n_latents} | {cfg.epochs} + "
            f"{cfg.full_batch_epochs} | {train_bpd:.4f} | {test_bpd:.4f} | "
            f"{train_seconds / 60:.1f} min |",
        ]
    )
    if rates:
        table += "\n\n| K | EM samples/s (one mini-batch epoch, 10k records) |\n|---:|---:|\n"
        table += "\n".join(f"| {k} | {r:.0f} |" for k, r in rates.items())
    write_results(f"hclt_{args.dataset}_{args.config}", payload, table)


if __name__ == "__main__":
    main()
