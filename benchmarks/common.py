"""Shared helpers for the benchmark scripts: data paths, machine description, result files."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

SHARED = Path(
    os.environ.get("LATENTZIP_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data")
)
RESULTS = Path(__file__).resolve().parent / "results"
IDX = {
    "mnist": ("mnist/train-images-idx3-ubyte.gz", "mnist/t10k-images-idx3-ubyte.gz"),
    "fashion": (
        "fashion-mnist/train-images-idx3-ubyte.gz",
        "fashion-mnist/t10k-images-idx3-ubyte.gz",
    ),
}


def load_split(name: str):
    """(train, test) Datasets for 'mnist' or 'fashion' from ../shared/data."""
    from latentzip.data import load

    train, test = IDX[name]
    if not (SHARED / train).exists():
        raise SystemExit(f"{SHARED / train} not found: the benchmark needs ../shared/data")
    return load(SHARED / train), load(SHARED / test)


def machine() -> dict:
    """A description of the machine the numbers were measured on."""
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        # other work on the machine skews throughput; the 1-minute load average tells
        "load_average_1min": os.getloadavg()[0],
    }


def write_results(name: str, payload: dict, table: str) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=2) + "\n")
    (RESULTS / f"{name}.md").write_text(table + "\n")
    print(table)
