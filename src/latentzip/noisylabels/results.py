"""Method results: summary numbers, JSON, a markdown table and the accuracy-vs-epoch plot."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from latentzip.files import atomic_write, save_figure

__all__ = ["MethodResult", "markdown_table", "plot_curves", "summarise", "write_json"]


@dataclass(frozen=True)
class MethodResult:
    """One method, one seed: per-epoch records and the numbers the tables report.

    ``history`` holds one dict per epoch (``epoch``, ``test_acc``, ``val_acc``,
    ``pure_ratio``, ``forget_rate``, ``k``, ``seconds``); ``best_val_test_acc`` is the test
    accuracy at the epoch with the best validation accuracy (the first such epoch) among the
    epochs the method is selected over (``select_from``, 1-based, onwards).
    """

    method: str
    seed: int
    history: tuple[dict, ...]
    select_from: int = 1

    @classmethod
    def from_history(cls, method: str, seed: int, history, select_from: int = 1):
        return cls(method, seed, tuple(dict(h) for h in history), select_from)

    def curve(self, key: str = "test_acc") -> np.ndarray:
        return np.array([h[key] for h in self.history], dtype=float)

    @property
    def final_test_acc(self) -> float:
        return float(self.history[-1]["test_acc"])

    @property
    def last10_test_acc(self) -> float:
        """Mean test accuracy over the last ten epochs (what Han et al. report)."""
        return float(self.curve()[-10:].mean())

    @classmethod
    def from_dict(cls, d: dict) -> MethodResult:
        """Inverse of :meth:`to_dict` (the derived numbers are recomputed)."""
        return cls(d["method"], d["seed"], tuple(d["history"]), d.get("select_from", 1))

    @property
    def best_epoch(self) -> int:
        eligible = [h for h in self.history if h["epoch"] >= self.select_from]
        return int(max(eligible, key=lambda h: h["val_acc"])["epoch"])

    @property
    def best_val_test_acc(self) -> float:
        return float(next(h for h in self.history if h["epoch"] == self.best_epoch)["test_acc"])

    @property
    def peak_test_acc(self) -> float:
        return float(self.curve().max())

    @property
    def final_pure_ratio(self) -> float:
        return float(self.history[-1]["pure_ratio"])

    @property
    def seconds(self) -> float:
        return float(sum(h["seconds"] for h in self.history))

    def to_dict(self) -> dict:
        return {
            **asdict(self),
            "history": list(self.history),
            "final_test_acc": self.final_test_acc,
            "last10_test_acc": self.last10_test_acc,
            "best_val_test_acc": self.best_val_test_acc,
            "best_epoch": self.best_epoch,
            "peak_test_acc": self.peak_test_acc,
            "final_pure_ratio": self.final_pure_ratio,
            "seconds": self.seconds,
        }


def summarise(results: list[MethodResult]) -> dict[str, dict]:
    """Mean and std (over seeds) of final, best-validation and peak accuracy, per method."""
    by: dict[str, list[MethodResult]] = {}
    for r in results:
        by.setdefault(r.method, []).append(r)
    out = {}
    for method, rs in by.items():
        row = {"n_seeds": len(rs)}
        for key in (
            "final_test_acc",
            "last10_test_acc",
            "best_val_test_acc",
            "peak_test_acc",
            "final_pure_ratio",
        ):
            v = np.array([getattr(r, key) for r in rs])
            row[key] = {"mean": float(v.mean()), "std": float(v.std())}
        out[method] = row
    return out


def markdown_table(summary: dict[str, dict], title: str = "") -> str:
    """``| method | final | last 10 | best-val | peak | pure ratio |`` in %, mean ± std."""

    def pm(d: dict) -> str:
        return f"{100 * d['mean']:.2f} ± {100 * d['std']:.2f}"

    lines = [f"**{title}**", ""] if title else []
    lines += [
        "| method | final test acc (%) | last-10-epoch test acc (%) | best-val test acc (%) "
        "| peak test acc (%) | final pure ratio (%) | seeds |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for m, row in summary.items():
        lines.append(
            f"| {m} | {pm(row['final_test_acc'])} | {pm(row['last10_test_acc'])} | "
            f"{pm(row['best_val_test_acc'])} | "
            f"{pm(row['peak_test_acc'])} | {pm(row['final_pure_ratio'])} | {row['n_seeds']} |"
        )
    return "\n".join(lines)


def write_json(path: str | Path, results: list[MethodResult], **meta) -> dict:
    """Write every per-seed result and the per-method summary to ``path``; return the payload."""
    payload = {
        **meta,
        "summary": summarise(results),
        "runs": [r.to_dict() for r in results],
    }
    atomic_write(path, (json.dumps(payload, indent=2) + "\n").encode())
    return payload


def plot_curves(panels: dict[str, list[MethodResult]], path: str | Path, title: str = "") -> None:
    """Test accuracy against epoch, one panel per key of ``panels`` (mean ± std over seeds)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4.2), squeeze=False)
    for ax, (name, results) in zip(axes[0], panels.items(), strict=True):
        methods = list(dict.fromkeys(r.method for r in results))
        for m in methods:
            curves = [r.curve() for r in results if r.method == m]
            n = min(len(c) for c in curves)
            c = 100 * np.stack([c[:n] for c in curves])
            epochs = np.arange(1, n + 1)
            (line,) = ax.plot(epochs, c.mean(0), label=m)
            if len(curves) > 1:
                ax.fill_between(
                    epochs,
                    c.mean(0) - c.std(0),
                    c.mean(0) + c.std(0),
                    color=line.get_color(),
                    alpha=0.15,
                    lw=0,
                )
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.set_ylabel("test accuracy (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
    plt.close(fig)
