"""Files in, files out: read an input with what is needed to restore it exactly.

* idx / idx.gz: restored as the raw idx bytes (gzip is a transport layer; ``gzip -n`` it again
  if wanted) -- header and body byte-identical to the decompressed input;
* ``.npy`` / ``.npy.gz``: restored as the raw ``.npy`` bytes, byte-identical (the original
  header is kept, C or Fortran order);
* a folder of PNGs: restored as PNGs with the same names and pixels. The folder is written
  whole into a hidden temporary sibling and renamed into place, so a failure never leaves a
  partial folder behind.

The input is read once: the header kept for restoring is exactly the bytes before the array,
and the loaders refuse a file with bytes after it, so header + samples is the whole file.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import os
from pathlib import Path

import numpy as np

from latentzip.data.loaders import (
    load_png_folder,
    parse_idx,
    parse_npy,
    read_maybe_gzip,
    read_npy_header,
    source_kind,
)
from latentzip.errors import ContainerError, DataError, LatentzipError
from latentzip.files import atomic_folder, atomic_write


def read_source(path: str | Path) -> tuple[np.ndarray, dict]:
    """Samples ``(n, *shape)`` uint8 and the metadata :func:`write_source` needs."""
    kind = source_kind(path)
    if kind == "digits":
        raise DataError(
            "digits is scikit-learn's bundled set, not a file: save it as .npy to compress it"
        )
    path = Path(path)
    if kind == "png":
        data = load_png_folder(path)
        samples = data.data.reshape(data.n_records, *data.shape)
        return samples, {"kind": "png", "names": list(data.names or ())}
    raw = read_maybe_gzip(path)  # read once: the header kept is exactly these bytes
    if kind == "npy":
        array, head = parse_npy(raw, path)
        header_len, extra = head.length, {"fortran": head.fortran}
    else:
        array, header_len = parse_idx(raw, path)
        extra = {}
    header = base64.b64encode(raw[:header_len]).decode()
    return _records(array, path), {"kind": kind, "header": header, **extra}


def _records(array: np.ndarray, path: Path) -> np.ndarray:
    """A non-empty stack of records ``(n, *shape)``; a 1-D array is ``n`` records of one byte."""
    if array.ndim == 1:
        array = array.reshape(-1, 1)
    if array.ndim < 2 or array.size == 0:
        raise DataError(f"{path}: expected a non-empty stack of records, got shape {array.shape}")
    return array


def write_source(samples: np.ndarray, meta: dict, out: str | Path, *, force: bool) -> Path:
    """Write samples back in their original form (file or folder) at ``out``."""
    out = Path(out)
    _check_parent(out)
    kind = meta.get("kind", "npy")
    if kind == "png":
        return _write_pngs(samples, meta.get("names") or [], out, force)
    if kind in ("idx", "npy") and "header" in meta:
        header = _stored_header(meta["header"])
        order = "F" if meta.get("fortran") else "C"
        body = np.asarray(samples, dtype=np.uint8)
        _check_header(kind, header, body)
        return atomic_write(out, header + body.tobytes(order=order), force=force)
    # arrays compressed through the library API: write a plain .npy
    buf = io.BytesIO()
    np.save(buf, samples)
    return atomic_write(out, buf.getvalue(), force=force)


def _check_parent(out: Path) -> None:
    # the user named this path: a missing folder is more likely a typo than a wish to create it
    parent = out.parent
    if not parent.is_dir():
        raise LatentzipError(f"{out}: the folder {parent} does not exist")


def _stored_header(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, TypeError, ValueError) as exc:
        raise ContainerError(f"the stored file header is not valid base64 ({exc})") from exc


def _check_header(kind: str, header: bytes, body: np.ndarray) -> None:
    """Refuse a stored header that does not describe the decoded samples (corrupt metadata)."""
    if kind == "npy":
        try:
            head = read_npy_header(header, "stored .npy header")
        except DataError as exc:
            raise ContainerError(str(exc)) from exc
        ok = head.length == len(header) and head.dtype == np.uint8
        need = math.prod(head.shape) if ok else None
    else:
        ndim = header[3] if len(header) >= 4 else 0
        ok = ndim > 0 and len(header) == 4 + 4 * ndim
        dims = [int.from_bytes(header[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
        need = math.prod(dims) if ok else None
    if need != body.size:
        raise ContainerError(
            f"the stored {kind} header does not match the {body.size} decoded bytes"
        )


# ------------------------------------------------------------------- PNG folders
def _write_pngs(samples: np.ndarray, names: list[str], out: Path, force: bool) -> Path:
    """Write one PNG per sample into the folder ``out``, all at once or not at all."""
    names = _png_names(names, len(samples))
    # --force replaces only a folder that looks like restored PNGs, never e.g. a home folder
    png = lambda e: e.is_file() and e.suffix.lower() == ".png"  # noqa: E731
    with atomic_folder(out, force=force, replaceable=png) as tmp:  # renamed into place
        for name, image in zip(names, samples, strict=True):
            _write_file(tmp / name, _png_bytes(image))
    return out


def _png_names(names: list[str], n: int) -> list[str]:
    """The stored file names, or generated ones when none (or not one per sample) are stored."""
    if len(names) != n:
        return [f"{i:06d}.png" for i in range(n)]
    for name in names:  # names come from a container: never let one point outside the folder
        if not isinstance(name, str) or name in ("", ".", "..") or Path(name).name != name:
            raise ContainerError(f"stored PNG name {name!r} is not a plain file name")
    if len(set(names)) != n:
        raise ContainerError("stored PNG names are not unique")
    return list(names)


def _png_bytes(image: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8), mode="L").save(buf, format="PNG")
    return buf.getvalue()


def _write_file(path: Path, data: bytes) -> None:
    with open(path, "xb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
