"""Readers for idx (MNIST), ``.npy``, folders of 8-bit PNGs and scikit-learn's digits.

Each reader returns a :class:`Dataset`: the records flattened to ``(n, D)`` integers, the shape
of one record, and the number of categories per variable (256 for 8-bit images).
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from latentzip.errors import DataError

IDX_UBYTE = 0x08
PNG_SUFFIXES = (".png",)


@dataclass(frozen=True)
class Dataset:
    """Records as a flat integer matrix.

    Attributes
    ----------
    data : ndarray of shape (n, D), dtype uint8 or int64
        One row per record (image), variables in row-major order of ``shape``.
    shape : tuple of int
        Shape of one record, e.g. ``(28, 28)``; ``prod(shape) == D``.
    n_categories : int
        Number of values each variable can take (values are ``0 .. n_categories - 1``).
    names : tuple of str, optional
        Record names (file names for a PNG folder), ``None`` otherwise.
    """

    data: np.ndarray
    shape: tuple[int, ...]
    n_categories: int
    names: tuple[str, ...] | None = None

    @property
    def n_records(self) -> int:
        return int(self.data.shape[0])

    @property
    def n_variables(self) -> int:
        return int(self.data.shape[1])


def validate_symbols(x: np.ndarray, n_categories: int | np.ndarray) -> np.ndarray:
    """Check that ``x`` is a non-empty 2-D integer array with values in ``0 .. C-1``.

    ``n_categories`` is one count for all variables or one per variable (shape ``(D,)``).
    Returns ``x`` as ``int64``; raises :class:`DataError` with the reason otherwise.
    """
    x = np.asarray(x)
    if x.ndim != 2:
        raise DataError(f"expected a 2-D array (records x variables), got shape {x.shape}")
    if x.size == 0:
        raise DataError(f"empty input: shape {x.shape}")
    if x.dtype == np.bool_:
        x = x.astype(np.uint8)
    if not np.issubdtype(x.dtype, np.integer):
        raise DataError(f"unsupported dtype {x.dtype}: latentzip codes integer symbols")
    limit = np.broadcast_to(np.asarray(n_categories, dtype=np.int64), (x.shape[1],))
    low, high = x.min(axis=0), x.max(axis=0)
    bad = np.flatnonzero((low < 0) | (high >= limit))
    if bad.size:
        i = int(bad[0])
        raise DataError(
            f"variable {i} has values in [{low[i]}, {high[i]}], outside 0..{limit[i] - 1}"
        )
    return x.astype(np.int64, copy=False)


def _images(array: np.ndarray, names: tuple[str, ...] | None = None) -> Dataset:
    if array.dtype != np.uint8:
        raise DataError(f"unsupported dtype {array.dtype}: expected 8-bit images (uint8)")
    if array.ndim < 2 or array.shape[0] == 0 or array.size == 0:
        raise DataError(f"expected a non-empty stack of records, got shape {array.shape}")
    n = array.shape[0]
    return Dataset(array.reshape(n, -1), tuple(int(s) for s in array.shape[1:]), 256, names)


def load_idx(path: str | Path) -> Dataset:
    """Read an idx file of unsigned bytes (MNIST layout), gzip-compressed or raw."""
    path = Path(path)
    raw = read_maybe_gzip(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DataError(f"{path}: not an idx file (bad magic)")
    if raw[2] != IDX_UBYTE:
        raise DataError(f"{path}: idx element type 0x{raw[2]:02x} unsupported (only ubyte)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise DataError(f"{path}: truncated idx header")
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(dims))
    if len(raw) != expected:
        raise DataError(
            f"{path}: idx body is {len(raw) - header} bytes, dims {dims} need {expected - header}"
        )
    array = np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)
    if ndim == 1:
        array = array.reshape(-1, 1)
    return _images(array)


def load_labels(path: str | Path) -> np.ndarray:
    """Read an idx1 label file (MNIST layout), gzip-compressed or raw, as int64 ``(n,)``."""
    path = Path(path)
    raw = read_maybe_gzip(path)
    if len(raw) < 8 or raw[:4] != b"\x00\x00\x08\x01":
        raise DataError(f"{path}: not an idx1 ubyte label file (bad magic)")
    n = int.from_bytes(raw[4:8], "big")
    if len(raw) != 8 + n:
        raise DataError(f"{path}: {len(raw) - 8} label bytes, header says {n}")
    return np.frombuffer(raw, dtype=np.uint8, offset=8).astype(np.int64)


def load_npy(path: str | Path) -> Dataset:
    """Read a ``.npy`` uint8 array of shape ``(n, ...)``: one record per leading index."""
    try:
        array = np.load(Path(path), allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable .npy file ({exc})") from exc
    if array.ndim == 1:
        array = array.reshape(-1, 1)
    return _images(np.ascontiguousarray(array))


def load_png_folder(path: str | Path) -> Dataset:
    """Read every ``*.png`` in a folder (sorted by name); all must be 8-bit grey, same size."""
    from PIL import Image

    folder = Path(path)
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in PNG_SUFFIXES)
    if not files:
        raise DataError(f"{folder}: no .png files")
    images = []
    for f in files:
        try:
            with Image.open(f) as im:
                if im.mode != "L":
                    raise DataError(f"{f}: PNG mode {im.mode!r} unsupported (only 8-bit grey 'L')")
                images.append(np.asarray(im, dtype=np.uint8))
        except OSError as exc:  # PIL's UnidentifiedImageError and truncated-file errors
            raise DataError(f"{f}: not a readable PNG ({exc})") from exc
    shapes = {im.shape for im in images}
    if len(shapes) != 1:
        raise DataError(f"{folder}: images differ in size: {sorted(shapes)}")
    return _images(np.stack(images), tuple(f.name for f in files))


def load_digits() -> Dataset:
    """scikit-learn's bundled 8x8 digits (1797 images, 17 grey levels 0..16)."""
    from sklearn.datasets import load_digits as sk_digits

    images = sk_digits().images.astype(np.uint8)
    return Dataset(images.reshape(len(images), -1), (8, 8), 17)


def load(path: str | Path) -> Dataset:
    """Load any supported input: ``digits``, idx(.gz), ``.npy`` or a folder of PNGs."""
    if str(path) == "digits":
        return load_digits()
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    if path.is_dir():
        return load_png_folder(path)
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(".npy"):
        return load_npy(path)
    if "idx" in name or name.endswith("-ubyte"):
        return load_idx(path)
    raise DataError(f"{path}: unsupported input (expected idx, .npy, or a folder of PNGs)")


def read_maybe_gzip(path: Path) -> bytes:
    """The bytes of ``path``, gunzipped if they are gzip; :class:`DataError` if unreadable."""
    try:
        raw = path.read_bytes()
        return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from exc
