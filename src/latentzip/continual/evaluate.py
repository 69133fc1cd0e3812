"""Mean per-class test accuracy after every task of a class-incremental stream."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from latentzip.continual.stream import ClassIncrementalStream


def per_class_accuracy(y_true, y_pred, n_classes: int) -> np.ndarray:
    """Accuracy on each class ``(n_classes,)``; NaN for a class absent from ``y_true``."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    hits = np.bincount(y_true, weights=(y_true == y_pred).astype(float), minlength=n_classes)
    counts = np.bincount(y_true, minlength=n_classes).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, hits / counts, np.nan)


@dataclass
class StreamResult:
    """Accuracy of one learner after each task.

    ``accuracy[t]`` is the mean per-class accuracy over all classes of the stream (classes not
    seen yet count as wrong), ``seen_accuracy[t]`` over the classes of tasks ``0..t`` only,
    ``per_class[t]`` the accuracy of every class.
    """

    name: str
    tasks: tuple[tuple[int, ...], ...]
    per_class: np.ndarray
    seconds: float
    accuracy: np.ndarray = field(init=False)
    seen_accuracy: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        all_classes = sorted(c for t in self.tasks for c in t)
        self.accuracy = np.nanmean(self.per_class[:, all_classes], axis=1)
        self.seen_accuracy = np.array(
            [
                np.nanmean(self.per_class[t, [c for task in self.tasks[: t + 1] for c in task]])
                for t in range(len(self.tasks))
            ]
        )

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "accuracy": self.accuracy.tolist(),
            "seen_accuracy": self.seen_accuracy.tolist(),
            "per_class": self.per_class.tolist(),
            "seconds": self.seconds,
        }


def run_stream(
    learner,
    name: str,
    stream: ClassIncrementalStream,
    x_train,
    x_test,
    y_test,
    n_classes: int,
    *,
    after_task: Callable[[int, object], None] | None = None,
) -> StreamResult:
    """Feed the tasks of ``stream`` to ``learner.partial_fit`` in order; test after each."""
    start = time.perf_counter()
    rows_per_class = []
    for t, rows in enumerate(stream):
        learner.partial_fit(x_train[rows], stream.y[rows])
        rows_per_class.append(per_class_accuracy(y_test, learner.predict(x_test), n_classes))
        if after_task is not None:
            after_task(t, learner)
    return StreamResult(name, stream.tasks, np.array(rows_per_class), time.perf_counter() - start)


def run_iid(learner, x_train, y_train, x_test, y_test, n_classes: int, seed: int = 0) -> float:
    """Mean per-class accuracy after training on all classes at once (shuffled): the ceiling."""
    rows = np.random.default_rng(seed).permutation(len(y_train))
    learner.partial_fit(x_train[rows], np.asarray(y_train)[rows])
    return float(np.nanmean(per_class_accuracy(y_test, learner.predict(x_test), n_classes)))


def format_results(results: list[StreamResult], ceilings: dict[str, float] | None = None) -> str:
    """A Markdown table: mean per-class accuracy (%) after each task, i.i.d. ceiling if given."""
    if not results:
        return ""
    n = len(results[0].tasks)
    ceilings = ceilings or {}
    head = "| method | " + " | ".join(f"after task {t + 1}" for t in range(n)) + " | i.i.d. |"
    lines = [head, "|---|" + "---:|" * (n + 1)]
    for r in results:
        iid = f"{100 * ceilings[r.name]:.1f}" if r.name in ceilings else "-"
        accs = " | ".join(f"{100 * a:.1f}" for a in r.accuracy)
        lines.append(f"| {r.name} | {accs} | {iid} |")
    return "\n".join(lines)
