"""The hostile-input suite under a long Hypothesis profile: how many damaged and crafted
inputs every reader survived, and how long it took.

    python benchmarks/fuzz.py [--profile long|heavy]

Runs ``tests/hostile`` (containers of every codec, model files, idx/npy/PNG/CSV/BVH inputs,
crafted claims under the memory budget, kill -9) and writes benchmarks/results/fuzz.json and
fuzz.md. A failure is a bug: the run stops and says which test found it.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from common import machine, write_results

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default="long", choices=["long", "heavy"])
    args = parser.parse_args()
    env = dict(os.environ, LATENTZIP_HYPOTHESIS=args.profile, LATENTZIP_SLOW="1")
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/hostile",
         "--hypothesis-show-statistics"],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    # hypothesis statistics: a "::test_name:" line, then per phase "N passing, M failing"
    cases, failing = {}, 0
    for block in re.split(r"\n(?=\S[^\n]*::\w+:\n)", done.stdout):
        name = re.match(r"\S[^\n]*::(\w+):", block)
        if name:
            phases = re.findall(r"(\d+) passing, (\d+) failing", block)
            cases[name[1]] = sum(int(p) for p, _ in phases)
            failing += sum(int(f) for _, f in phases)
    summary = next(
        (ln for ln in reversed(done.stdout.splitlines()) if re.search(r"\d+ (passed|failed)", ln)),
        "",
    )
    payload = {
        "profile": args.profile,
        "machine": machine(),
        "seconds": round(seconds, 1),
        "pytest": summary,
        "returncode": done.returncode,
        "cases_per_test": cases,
        "total_cases": sum(cases.values()),
        "failing": failing,
    }
    lines = [
        f"# Hostile-input suite, profile `{args.profile}` ({seconds / 60:.1f} min, "
        f"{payload['machine']['cpu']}, load {payload['machine']['load_average_1min']:.1f})",
        "",
        "| test | generated inputs survived |",
        "|---|---:|",
        *[f"| {name} | {n} |" for name, n in cases.items()],
        f"| **total** | **{payload['total_cases']}** |",
        "",
        f"pytest: {summary or 'all passed'} (exit code {done.returncode})",
    ]
    write_results("fuzz", payload, "\n".join(lines))
    if done.returncode:
        print(done.stdout[-5000:], done.stderr[-2000:])
        raise SystemExit(1)


if __name__ == "__main__":
    main()
