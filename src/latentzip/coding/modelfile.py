"""Model files: one envelope for every model kind, read back through the model registry.

Layout: ``LZMODEL\\n``, the SHA-256 of the rest, then a NumPy ``.npz`` holding the model's
arrays and a JSON ``header``: ``{"format": "latentzip-model", "kind", "version",
"fingerprint", "settings", "meta"}``. ``kind`` selects the class in
:data:`latentzip.registry.MODELS` that validates and rebuilds the model; ``meta`` is free
JSON for its users (training history, a table schema, ...). Files of latentzip 0.1
(``format: "latentzip-hclt"``) are read as kind ``hclt``. The compact form, for models
embedded in small files, is ``LZMODXZ\\n``, the SHA-256 of the rest, then the same ``.npz``
stored and xz-compressed.

The reader trusts nothing it has not checked: member sizes of the zip against the file's
memory budget, each array's header against its member's size, plain numeric dtypes only.
"""

from __future__ import annotations

import hashlib
import io
import json
import lzma
import zipfile
from pathlib import Path

import numpy as np

from latentzip.coding import limits
from latentzip.coding.fields import Fields
from latentzip.coding.protocol import CodingModel, as_coding_model
from latentzip.errors import ContainerError, ModelError
from latentzip.files import atomic_write

FORMAT = "latentzip-model"
_LEGACY = "latentzip-hclt"
_MAGIC = b"LZMODEL\n"
_MAGIC_XZ = b"LZMODXZ\n"
_MAX_MEMBERS = 256
_HEADER_BYTES = 64 * 2**20


def fingerprint(prefix: bytes, arrays: dict[str, np.ndarray]) -> str:
    """Hex SHA-256 of ``prefix`` then each array in the dict's order: its name, shape and
    values as little-endian int64 (integers) or float64 (floats), whatever their dtype."""
    h = hashlib.sha256(prefix)
    for name, a in arrays.items():
        canon = np.ascontiguousarray(a, dtype="<i8" if a.dtype.kind in "iu" else "<f8")
        h.update(name.encode() + str(canon.shape).encode() + canon.tobytes())
    return h.hexdigest()


def to_bytes(model, meta: dict | None = None, compact: bool = False) -> bytes:
    """Serialise a model (a float training model, a coding model, or an estimator holding
    one: its coding model) with JSON-able ``meta``; ``compact`` trades time for size."""
    if not hasattr(model, "to_arrays"):
        model = as_coding_model(model)
    arrays, settings = model.to_arrays()
    header = {
        "format": FORMAT,
        "kind": model.kind,
        "version": model.version,
        "fingerprint": model.fingerprint,
        "settings": settings,
        "meta": meta or {},
    }
    buf = io.BytesIO()
    save = np.savez if compact else np.savez_compressed
    save(buf, header=np.frombuffer(json.dumps(header).encode(), np.uint8), **arrays)
    body = buf.getvalue()
    if compact:
        body = lzma.compress(body, preset=9 | lzma.PRESET_EXTREME)
        return _MAGIC_XZ + hashlib.sha256(body).digest() + body
    return _MAGIC + hashlib.sha256(body).digest() + body


def from_bytes(blob: bytes, source: str = "model") -> tuple[CodingModel, dict]:
    """``(model, meta)`` from :func:`to_bytes`; :class:`ModelError` on any damage."""
    from latentzip.registry import MODELS

    compact = blob.startswith(_MAGIC_XZ)
    if not (compact or blob.startswith(_MAGIC)):
        raise ModelError(f"{source}: not a latentzip model file (bad magic)")
    digest, body = blob[len(_MAGIC) : len(_MAGIC) + 32], blob[len(_MAGIC) + 32 :]
    if hashlib.sha256(body).digest() != digest:
        raise ModelError(f"{source}: checksum mismatch, the model file is corrupted or truncated")
    budget = limits.memory_budget(len(blob))
    if compact:
        try:
            body = limits.inflate_lzma(body, budget // 2, f"{source}: arrays")
        except ContainerError as exc:
            raise ModelError(str(exc)) from exc
    arrays = read_npz(body, budget, source)
    raw = arrays.pop("header", None)
    if raw is None or raw.dtype != np.uint8 or raw.ndim != 1 or raw.size > _HEADER_BYTES:
        raise ModelError(f"{source}: the model file has no readable header")
    try:
        head = Fields(limits.parse_json(raw.tobytes(), f"{source}: header"), source, ModelError)
    except ContainerError as exc:
        raise ModelError(str(exc)) from exc
    fmt = head.str("format")
    if fmt == _LEGACY:  # latentzip 0.1: an HCLT with its settings implied by the arrays
        kind, version, settings = "hclt", head.int("version", 1, 1), {}
    elif fmt == FORMAT:
        kind, version = head.str("kind", max_len=64), head.int("version", 0, 2**16)
        settings = head.obj("settings", {}).data
    else:
        raise ModelError(f"{source}: not a latentzip model (format {fmt!r})")
    cls = MODELS.get(kind)
    if version > cls.version:
        raise ModelError(
            f"{source}: {kind} model version {version} is newer than this latentzip reads "
            f"({cls.version})"
        )
    try:
        model = cls.from_arrays(arrays, settings)
    except ModelError as exc:
        raise ModelError(f"{source}: invalid {kind} model ({exc})") from exc
    if model.fingerprint != head.str("fingerprint", max_len=128):
        raise ModelError(f"{source}: fingerprint mismatch, the model file is corrupted")
    meta = head.obj("meta", {}).data
    return model, meta


def save(model, path: str | Path, meta: dict | None = None) -> Path:
    """Write a model file atomically; returns the path."""
    return atomic_write(path, to_bytes(model, meta))


def load(path: str | Path) -> tuple[CodingModel, dict]:
    """``(model, meta)`` of the model file at ``path``, whatever its kind."""
    try:
        blob = Path(path).read_bytes()
    except OSError as exc:
        raise ModelError(f"{path}: cannot read model ({exc.strerror})") from exc
    return from_bytes(blob, str(path))


class Stored:
    """An estimator kept in model files: :meth:`load` reads one and hands the model and its
    ``meta`` to the subclass's ``from_model(model, meta, source)``."""

    @classmethod
    def load(cls, path: str | Path):
        model, meta = load(path)
        return cls.from_model(model, meta, str(path))


def read_npz(body: bytes, budget: int, source: str) -> dict[str, np.ndarray]:
    """Arrays of an ``.npz`` whose sizes are checked before anything is inflated."""
    try:
        with zipfile.ZipFile(io.BytesIO(body)) as zf:
            infos = zf.infolist()
            if len(infos) > _MAX_MEMBERS:
                raise ModelError(f"{source}: {len(infos)} arrays in the model file")
            limits.check_claim(sum(i.file_size for i in infos), budget, f"{source}: arrays")
            return {_member_name(i.filename, source): _read_member(zf, i, source) for i in infos}
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, KeyError) as exc:
        raise ModelError(f"{source}: not a readable model file ({exc})") from exc
    except ContainerError as exc:
        raise ModelError(str(exc)) from exc


def _member_name(name: str, source: str) -> str:
    if not name.endswith(".npy") or "/" in name:
        raise ModelError(f"{source}: unexpected member {name!r} in the model file")
    return name.removesuffix(".npy")


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, source: str) -> np.ndarray:
    with zf.open(info) as f:
        version = np.lib.format.read_magic(f)
        if version not in ((1, 0), (2, 0)):
            raise ModelError(f"{source}: {info.filename}: npy version {version} unsupported")
        read = (
            np.lib.format.read_array_header_1_0
            if version == (1, 0)
            else (np.lib.format.read_array_header_2_0)
        )
        shape, fortran, dtype = read(f, max_header_size=10_000)
        if dtype.kind not in "biuf" or dtype.hasobject or len(shape) > 8:
            raise ModelError(f"{source}: {info.filename}: dtype {dtype} unsupported")
        n_bytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
        if n_bytes != info.file_size - f.tell():
            raise ModelError(
                f"{source}: {info.filename}: shape {shape} needs {n_bytes} bytes, the member "
                f"holds {info.file_size - f.tell()}"
            )
        data = f.read(n_bytes)
    order = "F" if fortran else "C"
    return np.frombuffer(data, dtype=dtype).reshape(shape, order=order).copy()
