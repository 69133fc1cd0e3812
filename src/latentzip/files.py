"""Safe file output: atomic writes that never clobber by accident."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from latentzip.errors import LatentzipError


def atomic_write(
    path: str | Path, data: bytes, *, force: bool = True, parents: bool = False
) -> Path:
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename.

    A reader never sees a half-written file, and a crash leaves the old file intact (and at
    most a hidden ``.NAME.*.tmp`` beside it, which :func:`sweep_temporaries` removes).
    With ``force=False`` an existing ``path`` is an error; a missing folder is one unless
    ``parents`` (a typo in a path should not create a tree of folders).
    """
    path = Path(path)
    if not force and path.exists():
        raise LatentzipError(f"{path} exists; pass --force to overwrite it")
    if path.is_dir():
        raise LatentzipError(f"{path} is a folder; give a file name")
    if not parents and not path.parent.is_dir():
        raise LatentzipError(f"{path}: folder {path.parent} does not exist")
    sweep_temporaries(path)
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


@contextmanager
def atomic_folder(
    path: str | Path, *, force: bool = False, replaceable=lambda entry: entry.is_file()
) -> Iterator[Path]:
    """A temporary sibling folder to fill; on success it replaces ``path`` in one rename.

    On any error (or a kill) ``path`` is untouched: absent, or still the old folder. With
    ``force`` an existing folder is replaced (moved aside, then removed), but only if every
    entry in it passes ``replaceable`` (by default: plain files), so a folder named by
    mistake (a home folder) is never deleted; an existing empty folder is always replaced.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise LatentzipError(f"{path} exists and is not a folder")
    entries = list(path.iterdir()) if path.is_dir() else []
    if entries and not force:
        raise LatentzipError(f"{path} is not empty; pass --force to replace it")
    strangers = sorted(e.name for e in entries if not replaceable(e))
    if strangers:
        raise LatentzipError(
            f"{path} holds entries this output would not write ({', '.join(strangers[:3])}); "
            "refusing to replace it: remove it or choose another folder"
        )
    if not path.parent.is_dir():
        raise LatentzipError(f"{path}: folder {path.parent} does not exist")
    sweep_temporaries(path)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it private; mkdir would not
    except OSError as exc:
        raise LatentzipError(f"{path}: cannot write ({exc.strerror})") from exc
    try:
        yield tmp
        old = None
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
            os.replace(path, old / "x")
        try:
            os.replace(tmp, path)
        except OSError:
            if old is not None:  # put the old folder back before reporting
                os.replace(old / "x", path)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise LatentzipError(f"{path}: cannot write ({exc.strerror or exc})") from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def sweep_temporaries(path: str | Path) -> None:
    """Remove what an interrupted write of ``path`` left beside it (``.NAME.*.tmp|.old``).

    Only names this module creates match, so nothing else is ever touched.
    """
    path = Path(path)
    try:
        leftovers = list(path.parent.glob(f".{_glob_escape(path.name)}.*"))
    except OSError:
        return
    for p in leftovers:
        if p.name.endswith((".tmp", ".old")) and len(p.name) == len(path.name) + 14:
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink(missing_ok=True)


def _glob_escape(name: str) -> str:
    import glob

    return glob.escape(name)


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
