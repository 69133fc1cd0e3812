"""Files in, files out: read an input with what is needed to restore it exactly.

* idx / idx.gz: restored as the raw idx bytes (gzip is a transport layer; ``gzip -n`` it again
  if wanted) -- header and body byte-identical to the decompressed input;
* ``.npy``: restored byte-identical (the original header is kept);
* a folder of PNGs: restored as PNGs with the same names and pixels.
"""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np

from latentzip.data.loaders import Dataset, load, read_maybe_gzip
from latentzip.errors import DataError
from latentzip.files import atomic_write


def read_source(path: str | Path) -> tuple[np.ndarray, dict]:
    """Samples ``(n, *shape)`` uint8 and the metadata :func:`write_source` needs."""
    path = Path(path)
    data: Dataset = load(path)
    samples = data.data.reshape(data.n_records, *data.shape)
    if path.is_dir():
        return samples, {"kind": "png", "names": list(data.names or ())}
    if path.name.lower().removesuffix(".gz").endswith(".npy"):
        raw = path.read_bytes()
        offset = len(raw) - samples.nbytes
        flags = np.load(path, mmap_mode="r").flags
        fortran = bool(flags.f_contiguous and not flags.c_contiguous)
        return samples, {
            "kind": "npy",
            "header": base64.b64encode(raw[:offset]).decode(),
            "fortran": fortran,
        }
    raw = read_maybe_gzip(path)
    header_len = len(raw) - samples.nbytes
    return samples, {"kind": "idx", "header": base64.b64encode(raw[:header_len]).decode()}


def write_source(samples: np.ndarray, meta: dict, out: str | Path, *, force: bool) -> Path:
    """Write samples back in their original form (file or folder) at ``out``."""
    out = Path(out)
    kind = meta.get("kind", "npy")
    if kind == "png":
        return _write_pngs(samples, meta.get("names") or [], out, force)
    if kind in ("idx", "npy") and "header" in meta:
        order = "F" if meta.get("fortran") else "C"
        body = np.asarray(samples, dtype=np.uint8)
        if kind == "idx" and body.ndim == 2 and body.shape[1] == 1:
            body = body.reshape(-1)
        data = base64.b64decode(meta["header"]) + body.tobytes(order=order)
        return atomic_write(out, data, force=force)
    # arrays compressed through the library API: write a plain .npy
    import io

    buf = io.BytesIO()
    np.save(buf, samples)
    return atomic_write(out, buf.getvalue(), force=force)


def _write_pngs(samples: np.ndarray, names: list[str], out: Path, force: bool) -> Path:
    from PIL import Image

    if len(names) != len(samples):
        names = [f"{i:06d}.png" for i in range(len(samples))]
    if out.exists() and not out.is_dir():
        raise DataError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise DataError(f"{out} is not empty; pass --force to write into it")
    out.mkdir(parents=True, exist_ok=True)
    for name, image in zip(names, samples, strict=True):
        import io

        buf = io.BytesIO()
        Image.fromarray(np.asarray(image, dtype=np.uint8), mode="L").save(buf, format="PNG")
        atomic_write(out / Path(name).name, buf.getvalue(), force=True)
    return out
