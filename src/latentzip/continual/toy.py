"""The 2-D toy of Träuble et al. (2023, fig. 2): 8 Gaussian clusters in [0, 1]^2 arriving as
4 tasks of 2 classes; keys are learned on uniform points. The bottleneck keeps every class,
a linear probe and an MLP trained on the same inputs keep only the last task's."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from latentzip.continual.evaluate import StreamResult, run_stream
from latentzip.continual.learners import KVLearner, LinearProbe, MLPProbe
from latentzip.continual.stream import ClassIncrementalStream
from latentzip.files import save_figure

TOY_TASKS = ((0, 4), (1, 5), (2, 6), (3, 7))


def toy_centres(n_classes: int = 8, radius: float = 0.35) -> np.ndarray:
    """Cluster centres ``(n_classes, 2)`` evenly on a circle around (0.5, 0.5)."""
    angle = 2 * np.pi * np.arange(n_classes) / n_classes
    return 0.5 + radius * np.stack([np.cos(angle), np.sin(angle)], axis=1)


def make_toy(n_per_class: int = 100, std: float = 0.035, seed: int = 0):
    """Points ``(8 * n_per_class, 2)`` float32 and labels ``(8 * n_per_class,)`` int64."""
    rng = np.random.default_rng(seed)
    centres = toy_centres()
    y = np.repeat(np.arange(len(centres)), n_per_class)
    x = centres[y] + std * rng.standard_normal((len(y), 2))
    return x.astype(np.float32), y


def toy_learners(seed: int = 0, n_uniform: int = 10_000) -> dict:
    """The four learners of the toy; the bottlenecks' keys are fitted on uniform points."""
    uniform = torch.rand(n_uniform, 2, generator=torch.Generator().manual_seed(seed + 1))
    kmeans = {"epochs": 10, "batch_size": 256, "decay": 0.95}
    kv_single = KVLearner(
        2, 8, n_codebooks=1, n_pairs=400, key_dim=2, projection="identity", seed=seed, lr=0.1
    ).init_keys(uniform, **kmeans)
    kv_multi = KVLearner(
        2, 8, n_codebooks=20, n_pairs=20, key_dim=2, projection="random", seed=seed, lr=0.1
    ).init_keys(uniform, **kmeans)
    return {
        "KV 1x400": kv_single,
        "KV 20x20": kv_multi,
        "MLP": MLPProbe(2, 8, hidden=64, seed=seed, epochs=30, batch_size=32, lr=1e-2),
        "linear": LinearProbe(2, 8, seed=seed, epochs=30, batch_size=32, lr=1e-2),
    }


@dataclass
class ToyResult:
    """Results per learner and, if asked, its predictions on a grid after each task."""

    results: dict[str, StreamResult]
    grid: np.ndarray | None = None
    grid_predictions: dict[str, list[np.ndarray]] = field(default_factory=dict)
    train: tuple[np.ndarray, np.ndarray] | None = None


def run_toy(seed: int = 0, n_per_class: int = 100, grid_size: int | None = None) -> ToyResult:
    """Stream the toy through every learner of :func:`toy_learners`.

    With ``grid_size`` the predictions on a ``grid_size x grid_size`` grid over [0, 1]^2 are
    kept after every task (for :func:`plot_toy`).
    """
    x, y = make_toy(n_per_class, seed=seed)
    x_test, y_test = make_toy(n_per_class, seed=seed + 1000)
    stream = ClassIncrementalStream(y, TOY_TASKS, seed=seed)
    grid = None
    if grid_size:
        u = np.linspace(0, 1, grid_size, dtype=np.float32)
        grid = np.stack(np.meshgrid(u, u), axis=-1).reshape(-1, 2)
    out = ToyResult({}, grid, {}, (x, y))
    for name, learner in toy_learners(seed).items():
        preds: list[np.ndarray] = []

        def keep(_t, lrn, preds=preds):
            if grid is not None:
                preds.append(lrn.predict(torch.from_numpy(grid)))

        out.results[name] = run_stream(
            learner,
            name,
            stream,
            torch.from_numpy(x),
            torch.from_numpy(x_test),
            y_test,
            8,
            after_task=keep,
        )
        out.grid_predictions[name] = preds
    return out


def plot_toy(result: ToyResult, path: str | Path) -> Path:
    """Decision regions after each task (columns) for every learner (rows), as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if result.grid is None:
        raise ValueError("run_toy(grid_size=...) keeps the grid predictions needed to plot")
    names = list(result.grid_predictions)
    n_tasks = len(TOY_TASKS)
    size = round(float(np.sqrt(len(result.grid))))
    fig, axes = plt.subplots(len(names), n_tasks, figsize=(2.6 * n_tasks, 2.6 * len(names)))
    cmap = plt.get_cmap("tab10")
    x, y = result.train
    for r, name in enumerate(names):
        for t in range(n_tasks):
            ax = axes[r, t]
            regions = result.grid_predictions[name][t].reshape(size, size)
            ax.imshow(
                regions,
                origin="lower",
                extent=(0, 1, 0, 1),
                cmap=cmap,
                vmin=0,
                vmax=9,
                alpha=0.45,
                interpolation="nearest",
            )
            seen = np.isin(y, [c for task in TOY_TASKS[: t + 1] for c in task])
            ax.scatter(x[seen, 0], x[seen, 1], c=y[seen], cmap=cmap, vmin=0, vmax=9, s=3)
            acc = result.results[name].accuracy[t]
            ax.set_title(f"{name}, task {t + 1}: {100 * acc:.0f}%", fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    path = Path(path)
    save_figure(fig, path, dpi=110)
    plt.close(fig)
    return path
