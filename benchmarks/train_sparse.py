"""Longer HCLT training with structure growth, within a time budget: the learning curve.

    python benchmarks/train_sparse.py --dataset mnist --rounds 32:40,64:40,128:40 --hours 3

Round 0 trains an HCLT with the first K from a Chow-Liu tree; each later round prunes the
edge parameters with the least flow (``--prune``) and grows every latent variable to the
next K by duplicating states with noise (``latentzip.circuits.growth``), then trains again.
Mini-batch EM (batch 512) on the torch engine, the step size annealed linearly within each
round; the last ``--valid`` training images are held out and the epoch with the best
validation likelihood is kept; training stops when the budget is spent. Test bits/dim are
measured for the kept model at the end of every round and at the end.

``--full-batch N`` ends with up to N full-batch EM epochs on the kept model (expected counts
of the whole training split, one M-step each; the published schedule's last phase), again
keeping the epoch with the best validation likelihood. ``--resume`` runs that phase on the
model a previous run saved, continuing its history and its clock (``--hours`` is the total).
Writes benchmarks/results/sparse_<dataset>.{json,md,png} and the best model (float, .npz,
ignored by git) beside them.
"""

from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np
import torch
from common import RESULTS, load_split, machine, write_results

from latentzip.circuits import HCLT, HCLTConfig, em
from latentzip.circuits.engine import TorchEngine
from latentzip.circuits.growth import flows, grow, prune
from latentzip.circuits.structure import mutual_information
from latentzip.errors import LatentzipError


def bpd(eng, x: np.ndarray, batch: int = 2000) -> float:
    ll = sum(float(eng.log_prob(x[i : i + batch]).sum()) for i in range(0, len(x), batch))
    return -ll / x.size / math.log(2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="mnist", choices=["mnist", "fashion"])
    parser.add_argument("--rounds", default="32:40,64:40,128:40", help="K:epochs,...")
    parser.add_argument("--prune", type=float, default=0.5)
    parser.add_argument("--noise", type=float, default=0.1)
    parser.add_argument("--step", default="0.5:0.02", help="step size start:end per round")
    parser.add_argument("--pseudocount", type=float, default=0.1)
    parser.add_argument("--valid", type=int, default=5000)
    parser.add_argument("--hours", type=float, default=3.0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--anneal-by-time", action="store_true",
        help="the last round anneals the step by the fraction of the time budget spent",
    )  # fmt: skip
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--full-batch", type=int, default=0, help="full-batch epochs at the end")
    parser.add_argument("--full-step", type=float, default=1.0, help="their step size")
    parser.add_argument(
        "--resume", action="store_true",
        help="only the full-batch phase, on the model and history a previous run saved",
    )  # fmt: skip
    args = parser.parse_args()
    if args.resume and not args.full_batch:
        parser.error("--resume runs only the full-batch phase: give --full-batch N")
    if args.threads:
        torch.set_num_threads(args.threads)
    train, test = load_split(args.dataset)
    x_all = train.data.astype(np.int64)
    data = x_all[: -args.valid], x_all[-args.valid :], test.data.astype(np.int64)
    eng = TorchEngine(args.device)
    if args.resume:
        first, start, kept = resumed(args)
        history, ends = first["history"], first["rounds"]
    else:
        first = {"args": vars(args), "torch_threads": torch.get_num_threads()}
        start = time.perf_counter()
        history, ends, kept = mini_batch_rounds(args, eng, data, start)
    if args.full_batch:
        kept = full_batch_epochs(args, eng, data, kept, history, ends, start)
    model = HCLT(HCLTConfig(n_latents=kept[1].n_latents))
    model.circuit_, model.history_ = kept[1], history
    model.save(RESULTS / f"sparse_{args.dataset}.npz")
    payload = {
        "dataset": args.dataset, "machine": machine(), "args": first["args"],
        "torch_threads": first["torch_threads"], "hours": (time.perf_counter() - start) / 3600,
        "final_test_bpd": min(ends, key=lambda e: e["valid_bpd"])["test_bpd"],
        "rounds": ends, "history": history,
    }  # fmt: skip
    if args.full_batch:
        payload["full_batch"] = {
            "args": vars(args),
            "resumed": args.resume,
            "torch_threads": torch.get_num_threads(),
        }
    write_results(f"sparse_{args.dataset}", payload, table(payload))
    plot(args.dataset, history, ends, payload["torch_threads"])


def mini_batch_rounds(args, eng, data, start: float):
    """The mini-batch rounds: (history, ends, kept) with kept = (valid bpd, circuit, epoch)."""
    x, _, x_test = data
    rounds = [tuple(int(v) for v in r.split(":")) for r in args.rounds.split(",")]
    step0, step1 = (float(v) for v in args.step.split(":"))
    rng = np.random.default_rng(args.seed)
    cats = np.full(x.shape[1], 256)
    mi = mutual_information(x, cats, n_bins=16, max_records=10_000, random_state=args.seed)
    circuit = em.start(mi, em.value_counts(x, cats), cats, rounds[0][0], rng)
    history, ends, best, kept = [], [], None, None  # best of the round, best overall
    budget, reserve, out_of_time = args.hours * 3600, 0.0, False
    for r, (k, epochs) in enumerate(rounds):
        if r:
            grown = best[1]
            circuit = grow(prune(grown, flows(grown, x, eng), args.prune), args.noise, rng)
            assert circuit.n_latents == k, f"round {r}: growth gives K={circuit.n_latents}"
        best = None
        eng.load(circuit)
        round_start = time.perf_counter()
        by_time = args.anneal_by_time and r == len(rounds) - 1
        for e in range(epochs):
            t0 = time.perf_counter()
            left = budget - reserve - (round_start - start)
            done = (
                min(1.0, (t0 - round_start) / max(1.0, left)) if by_time else e / max(1, epochs - 1)
            )
            step = step0 + (step1 - step0) * done
            perm = rng.permutation(len(x))
            total = 0.0
            for i in range(0, len(x), 512):
                ll, counts = eng.counts(x[perm[i : i + 512]])
                total += ll
                eng.update(counts, args.pseudocount, step)
            row = epoch_row(r, k, len(history) + 1, step, total, eng, data, t0, start)
            history.append(row)
            print(row, flush=True)
            if best is None or row["valid_bpd"] < best[0]:
                best = (row["valid_bpd"], eng.circuit(), row["epoch"])
            # a full-batch epoch costs about what a mini-batch one does: keep time for them
            reserve = max(reserve, args.full_batch * 1.2 * row["seconds"])
            if time.perf_counter() - start + 1.2 * row["seconds"] > budget - reserve:
                out_of_time = True
                break
        ends.append(round_end(r, k, best, eng, x_test))
        if kept is None or best[0] < kept[0]:
            kept = best
        if out_of_time:
            break
    return history, ends, kept


def full_batch_epochs(args, eng, data, kept, history, ends, start: float):
    """Up to ``args.full_batch`` full-batch EM epochs from ``kept``; the best by validation."""
    x = data[0]
    eng.load(kept[1])
    best, k = kept, kept[1].n_latents
    for _ in range(args.full_batch):
        t0 = time.perf_counter()
        total, counts = 0.0, None
        for i in range(0, len(x), 2000):
            ll, batch_counts = eng.counts(x[i : i + 2000])
            total, counts = total + ll, eng.add(batch_counts, counts)
        eng.update(counts, args.pseudocount, args.full_step)
        row = epoch_row(
            "full batch", k, len(history) + 1, args.full_step, total, eng, data, t0, start
        )
        history.append(row)
        print(row, flush=True)
        if row["valid_bpd"] < best[0]:
            best = (row["valid_bpd"], eng.circuit(), row["epoch"])
        if time.perf_counter() - start + 1.2 * row["seconds"] > args.hours * 3600:
            break
    ends.append(round_end("full batch", k, best, eng, data[2]))
    return best


def resumed(args):
    """(the saved run's results, its start on this clock, its kept model)."""
    path = RESULTS / f"sparse_{args.dataset}.json"
    try:
        payload = json.loads(path.read_text())
        hours, valid = float(payload["hours"]), payload["args"]["valid"]
        if not isinstance(payload["history"], list):
            raise TypeError("history is not a list")
        # NaN (a diverged round) sorts last; an empty list raises ValueError
        best = min(payload["rounds"], key=lambda e: (math.isnan(e["valid_bpd"]), e["valid_bpd"]))
        circuit = HCLT.load(RESULTS / f"sparse_{args.dataset}.npz").circuit_
    except (OSError, ValueError, KeyError, TypeError, LatentzipError) as exc:
        raise SystemExit(f"{path}: no saved run to resume ({exc})") from exc
    if valid != args.valid:
        raise SystemExit(f"--valid {args.valid}, the saved run held out {valid}")
    start = time.perf_counter() - hours * 3600
    return payload, start, (best["valid_bpd"], circuit, best["best_epoch"])


def epoch_row(r, k: int, epoch: int, step: float, total: float, eng, data, t0, start) -> dict:
    x, x_valid, _ = data
    return {
        "round": r, "k": k, "epoch": epoch, "step": step,
        "train_bpd": -total / x.size / math.log(2), "valid_bpd": bpd(eng, x_valid),
        "seconds": time.perf_counter() - t0, "elapsed": time.perf_counter() - start,
    }  # fmt: skip


def round_end(r, k: int, best, eng, x_test) -> dict:
    """The round's kept model (loaded into ``eng``) with its test bits/dim."""
    eng.load(best[1])
    end = {"round": r, "k": k, "best_epoch": best[2], "valid_bpd": best[0],
           "test_bpd": bpd(eng, x_test)}  # fmt: skip
    print(end, flush=True)
    return end


def table(payload: dict) -> str:
    args, ends, history = payload["args"], payload["rounds"], payload["history"]
    what = (
        f"one HCLT (K={ends[0]['k']})"
        if sum(e["round"] != "full batch" for e in ends) == 1
        else f"HCLT grown by rounds {args['rounds']} (prune {args['prune']}, noise {args['noise']})"
    )
    anneal = "the share of the time budget" if args.get("anneal_by_time") else "the epoch"
    full = payload.get("full_batch")
    then = (
        f" then up to {full['args']['full_batch']} full-batch EM epochs (step "
        f"{full['args']['full_step']}{', run with --resume' if full['resumed'] else ''}, "
        f"{full['torch_threads']} thread(s)),"
        if full
        else ""
    )
    return "\n".join(
        [
            f"{payload['dataset']}: {what}, mini-batch EM (batch 512, step {args['step']} "
            f"annealed by {anneal}),{then} torch engine on {args['device']} with "
            f"{payload['torch_threads']} thread(s), {payload['hours']:.2f} h in all.",
            "",
            "| round | K | epochs run | best epoch | valid bpd | test bpd |",
            "|---:|---:|---:|---:|---:|---:|",
            *[
                f"| {e['round']} | {e['k']} | {sum(h['round'] == e['round'] for h in history)} | "
                f"{e['best_epoch']} | {e['valid_bpd']:.4f} | {e['test_bpd']:.4f} |"
                for e in ends
            ],
        ]
    )


def plot(name: str, history: list[dict], ends: list[dict], threads: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    hours = [h["elapsed"] / 3600 for h in history]
    ax.plot(hours, [h["train_bpd"] for h in history], label="train (during the epoch)")
    ax.plot(hours, [h["valid_bpd"] for h in history], label="validation")
    for i, e in enumerate(ends):
        at = next(h["elapsed"] for h in history if h["epoch"] == e["best_epoch"]) / 3600
        ax.scatter([at], [e["test_bpd"]], color="black", zorder=3)
        label = f"{e['round'] if isinstance(e['round'], str) else 'round ' + str(e['round'])}"
        ax.annotate(
            f"{label}: test {e['test_bpd']:.4f} (K={e['k']})", (at, e["test_bpd"]),
            xytext=(-150, 25 - 16 * i), textcoords="offset points", fontsize=8,
            arrowprops={"arrowstyle": "-", "lw": 0.5},
        )  # fmt: skip
    ax.set_xlabel(f"hours (2 CPU cores, {threads} torch thread(s))")
    ax.set_ylabel("bits per dimension")
    ax.set_ylim(top=min(max(h["valid_bpd"] for h in history), history[0]["valid_bpd"] + 0.1))
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(RESULTS / f"sparse_{name}.png", dpi=120)


if __name__ == "__main__":
    main()
