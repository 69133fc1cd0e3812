"""Helpers shared by every module of command-line verbs (``cli``, ``splats``, ``motion``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from latentzip.errors import LatentzipError

__all__ = ["given", "guard_output", "read_input"]


def given(**values):
    """The keyword arguments the user actually gave (argparse leaves the others None)."""
    return {k: v for k, v in values.items() if v is not None}


def guard_output(
    out: str | Path,
    sources: str | Path | Sequence[str | Path],
    *,
    force: bool,
    folder_ok: bool = False,
    role: str = "input",
) -> Path:
    """Refuse to write over an input, or over an existing file without ``--force``."""
    out = Path(out)
    if isinstance(sources, (str, Path)):
        sources = [sources]
    for source in sources:
        if out.exists() and out.resolve() == Path(source).resolve():
            raise LatentzipError(f"the output would overwrite the {role} {source}")
    if out.exists() and not force and not (folder_ok and out.is_dir()):
        raise LatentzipError(f"{out} exists; pass --force to overwrite it")
    return out


def read_input(path: str | Path) -> bytes:
    """The bytes of an input file, or a clear error."""
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise LatentzipError(f"{path}: cannot read ({exc.strerror})") from exc


def print_info(path: str | Path) -> None:
    """``latentzip info``: the framing every container shares, then its codec's summary."""
    from latentzip.coding import container
    from latentzip.registry import CODECS

    blob = read_input(path)
    c = container.unpack(blob)
    spec = CODECS.get(c.codec)
    spec.check(c)
    lines = [
        ("file", f"{path} ({len(blob)} bytes)"),
        (
            "codec",
            f"{spec.name} (id {c.codec}, bitstream v{c.codec_version}, "
            f"container v{container.VERSION})",
        ),
        ("records", f"{len(c.index)}, {c.n_samples} samples"),
        ("model file", f"embedded ({len(c.model)} bytes)" if c.model else "separate"),
        *spec.describe(c),
    ]
    for label, text in lines:
        print(f"{label + ':':<13}{text}")
