"""Safe file output: atomic writes that never clobber by accident."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from latentzip.errors import LatentzipError


def atomic_write(path: str | Path, data: bytes, *, force: bool = True) -> Path:
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename.

    A reader never sees a half-written file, and a crash leaves the old file intact.
    With ``force=False`` an existing ``path`` is an error.
    """
    path = Path(path)
    if not force and path.exists():
        raise LatentzipError(f"{path} exists; pass --force to overwrite it")
    if path.is_dir():
        raise LatentzipError(f"{path} is a folder; give a file name")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise LatentzipError(f"{path}: cannot write ({exc.strerror})") from exc
    try:
        # mkstemp makes the file private (0600); give it the mode a plain open() would
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise LatentzipError(f"{path}: cannot write ({exc.strerror})") from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def save_figure(fig, path: str | Path, *, dpi: int = 120, force: bool = True) -> Path:
    """Render a matplotlib figure to PNG and write it with :func:`atomic_write`."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return atomic_write(path, buf.getvalue(), force=force)
