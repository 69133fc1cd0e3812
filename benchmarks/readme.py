"""Paste the Markdown tables from benchmarks/results/ into README.md.

    python benchmarks/readme.py

Every block ``<!-- results:NAME -->`` ... ``<!-- /results:NAME -->`` in the README is replaced
by ``benchmarks/results/NAME.md`` (several names joined by ``+`` are pasted one after the
other), so the README shows exactly what the benchmark scripts wrote.
"""

from __future__ import annotations

import re
from pathlib import Path

from common import RESULTS

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"(<!-- results:([\w+]+) -->\n).*?(<!-- /results:\2 -->)", re.S)


def render(names: str) -> str:
    parts = []
    for name in names.split("+"):
        path = RESULTS / f"{name}.md"
        parts.append(path.read_text().strip() if path.exists() else f"({path.name}: not run)")
    return "\n\n".join(parts) + "\n"


def main() -> None:
    text = README.read_text()
    new = BLOCK.sub(lambda m: m.group(1) + render(m.group(2)) + m.group(3), text)
    README.write_text(new)
    print(f"{README}: {len(BLOCK.findall(text))} result blocks updated")


if __name__ == "__main__":
    main()
