"""Readers for idx (MNIST), ``.npy``, folders of 8-bit PNGs and scikit-learn's digits.

Each reader returns a :class:`Dataset`: the records flattened to ``(n, D)`` integers, the shape
of one record, and the number of categories per variable (256 for 8-bit images).

Files are checked before any large allocation: an idx or ``.npy`` file must be exactly its
header plus the bytes its dimensions need (no trailing or missing bytes), and a PNG may hold
at most :data:`MAX_PNG_PIXELS` pixels (checked from its header, before decoding).
"""

from __future__ import annotations

import gzip
import io
import math
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from latentzip.errors import DataError

IDX_UBYTE = 0x08
PNG_SUFFIXES = (".png",)
#: Largest PNG accepted, in pixels (8192 x 8192). Below Pillow's own decompression-bomb
#: threshold (about 89.5 M pixels), so Pillow never warns about or refuses an image we accept.
MAX_PNG_PIXELS = 2**26
#: Largest gunzipped input, in bytes: a small .gz that inflates without end (a "zip bomb")
#: stops here with a clear error instead of exhausting memory. Gunzip larger inputs first.
MAX_GUNZIP_BYTES = 2**32


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
    array, _ = parse_idx(read_maybe_gzip(path), path)
    return _images(array)


def parse_idx(raw: bytes, path: str | Path) -> tuple[np.ndarray, int]:
    """The records of idx bytes ``(n, ...)`` (a view of ``raw``) and the header length.

    The file must be exactly the header plus the bytes its dimensions need.
    """
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DataError(f"{path}: not an idx file (bad magic)")
    if raw[2] != IDX_UBYTE:
        raise DataError(f"{path}: idx element type 0x{raw[2]:02x} unsupported (only ubyte)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise DataError(f"{path}: truncated idx header")
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    need = math.prod(dims)  # Python ints: no overflow, and nothing allocated from the claim
    if len(raw) - header != need:
        raise DataError(f"{path}: idx body is {len(raw) - header} bytes, dims {dims} need {need}")
    array = np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)
    if ndim == 1:
        array = array.reshape(-1, 1)
    return array, header


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


@dataclass(frozen=True)
class NpyHeader:
    """What a ``.npy`` header says: array shape, dtype, memory order, and its own length."""

    shape: tuple[int, ...]
    dtype: np.dtype
    fortran: bool
    length: int  # bytes before the array data (magic, version, header text)


def load_npy(path: str | Path) -> Dataset:
    """Read a ``.npy`` uint8 array of shape ``(n, ...)``, gzip-compressed or raw."""
    path = Path(path)
    array, _ = parse_npy(read_maybe_gzip(path), path)
    if array.ndim == 1:
        array = array.reshape(-1, 1)
    return _images(array)


def read_npy_header(raw: bytes, path: str | Path) -> NpyHeader:
    """Parse the header of ``.npy`` bytes; any malformed header is a :class:`DataError`."""
    from numpy.lib import format as npy_format

    fp = io.BytesIO(raw)
    try:
        version = npy_format.read_magic(fp)
        readers = {
            (1, 0): npy_format.read_array_header_1_0,
            (2, 0): npy_format.read_array_header_2_0,
        }
        if version not in readers:
            raise DataError(f"{path}: .npy format version {version} unsupported (1.0 or 2.0)")
        with warnings.catch_warnings():  # a Python 2 header only warns; we parse it anyway
            warnings.simplefilter("ignore")
            shape, fortran, dtype = readers[version](fp)
    except DataError:
        raise
    except Exception as exc:  # ValueError, SyntaxError, tokenize.TokenError, RecursionError...
        raise DataError(f"{path}: not a readable .npy file (bad header: {exc})") from exc
    if any(d < 0 for d in shape):
        raise DataError(f"{path}: .npy header has a negative dimension: {shape}")
    return NpyHeader(tuple(shape), np.dtype(dtype), bool(fortran), fp.tell())


def parse_npy(raw: bytes, path: str | Path) -> tuple[np.ndarray, NpyHeader]:
    """The uint8 array in ``.npy`` bytes (C-contiguous) and its header.

    The bytes must be exactly the header plus the array: trailing or missing bytes are refused.
    """
    head = read_npy_header(raw, path)
    if head.dtype != np.uint8:
        raise DataError(f"{path}: unsupported dtype {head.dtype}: expected 8-bit images (uint8)")
    need = math.prod(head.shape)  # Python ints: checked before anything is allocated
    body = len(raw) - head.length
    if body != need:
        what = "trailing bytes after" if body > need else "missing bytes in"
        raise DataError(
            f"{path}: {what} the array: shape {head.shape} needs {need} bytes after the "
            f"{head.length}-byte header, the file has {body}"
        )
    array = np.frombuffer(raw, dtype=np.uint8, offset=head.length)
    array = array.reshape(head.shape, order="F" if head.fortran else "C")
    return np.ascontiguousarray(array), head


def load_png_folder(path: str | Path) -> Dataset:
    """Read every ``*.png`` in a folder (sorted by name); all must be 8-bit grey, same size.

    An image over :data:`MAX_PNG_PIXELS` pixels is refused before its pixels are decoded.
    """
    folder = Path(path)
    try:
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in PNG_SUFFIXES)
    except OSError as exc:
        raise DataError(f"{folder}: cannot list the folder ({exc.strerror})") from exc
    if not files:
        raise DataError(f"{folder}: no .png files")
    images = [read_png(f) for f in files]
    shapes = {im.shape for im in images}
    if len(shapes) != 1:
        raise DataError(f"{folder}: images differ in size: {sorted(shapes)}")
    return _images(np.stack(images), tuple(f.name for f in files))


def read_png(path: Path) -> np.ndarray:
    """The pixels of one 8-bit grey PNG; every failure is a :class:`DataError`."""
    from PIL import Image

    try:
        with warnings.catch_warnings():  # we apply our own, lower, size limit just below
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(path)
    except Image.DecompressionBombError as exc:
        raise DataError(f"{path}: image too large: over {MAX_PNG_PIXELS} pixels") from exc
    except Exception as exc:  # UnidentifiedImageError, truncated header, folder named *.png...
        raise DataError(f"{path}: not a readable PNG ({exc})") from exc
    with im:
        width, height = im.size
        if width * height > MAX_PNG_PIXELS:
            raise DataError(
                f"{path}: image too large: {width} x {height} pixels, the limit is "
                f"{MAX_PNG_PIXELS} pixels"
            )
        if im.mode != "L":
            raise DataError(f"{path}: PNG mode {im.mode!r} unsupported (only 8-bit grey 'L')")
        if getattr(im, "n_frames", 1) != 1:  # only the first frame would be kept
            raise DataError(f"{path}: animated PNG ({im.n_frames} frames) unsupported")
        try:
            im.load()
            return np.asarray(im, dtype=np.uint8)
        except Exception as exc:  # truncated or corrupt data: OSError, zlib errors, ...
            raise DataError(f"{path}: not a readable PNG ({exc})") from exc


def load_digits() -> Dataset:
    """scikit-learn's bundled 8x8 digits (1797 images, 17 grey levels 0..16)."""
    from sklearn.datasets import load_digits as sk_digits

    images = sk_digits().images.astype(np.uint8)
    return Dataset(images.reshape(len(images), -1), (8, 8), 17)


def load(path: str | Path) -> Dataset:
    """Load any supported input: ``digits``, idx(.gz), ``.npy(.gz)`` or a folder of PNGs."""
    kind = source_kind(path)
    if kind == "digits":
        return load_digits()
    readers = {"png": load_png_folder, "npy": load_npy, "idx": load_idx}
    return readers[kind](Path(path))


def source_kind(path: str | Path) -> str:
    """``"digits"``, ``"png"`` (a folder), ``"npy"`` or ``"idx"``; :class:`DataError` if none."""
    if str(path) == "digits":
        return "digits"
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    if path.is_dir():
        return "png"
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(".npy"):
        return "npy"
    if "idx" in name or name.endswith("-ubyte"):
        return "idx"
    raise DataError(f"{path}: unsupported input (expected idx, .npy, or a folder of PNGs)")


def read_maybe_gzip(path: Path) -> bytes:
    """The bytes of ``path``, gunzipped if they are gzip; :class:`DataError` if unreadable or
    if it inflates beyond :data:`MAX_GUNZIP_BYTES`."""
    try:
        raw = path.read_bytes()
        return gunzip(raw, MAX_GUNZIP_BYTES) if raw[:2] == b"\x1f\x8b" else raw
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise DataError(f"{path}: cannot read ({exc})") from exc
    except _TooLarge as exc:
        raise DataError(
            f"{path}: gzip data inflates beyond {exc.args[0]:,} bytes; gunzip it first"
        ) from exc


class _TooLarge(Exception):
    pass


def gunzip(raw: bytes, limit: int) -> bytes:
    """``gzip.decompress(raw)`` (every member, trailing zero padding allowed) that stops once
    the output would pass ``limit`` bytes (raises ``_TooLarge``).

    >>> gunzip(gzip.compress(b"ab") + gzip.compress(b"c") + bytes(4), 10)
    b'abc'
    """
    out: list[bytes] = []
    size = 0
    data = raw
    while True:
        member = zlib.decompressobj(16 + zlib.MAX_WBITS)
        chunk = member.decompress(data, limit + 1 - size)
        size += len(chunk)
        if size > limit or member.unconsumed_tail:
            raise _TooLarge(limit)
        if not member.eof:
            raise EOFError("compressed file ended before the end-of-stream marker was reached")
        out.append(chunk)
        data = member.unused_data
        if not data.strip(b"\x00"):
            return b"".join(out)
        if data[:2] != b"\x1f\x8b":
            raise gzip.BadGzipFile("trailing garbage after the gzip data")
