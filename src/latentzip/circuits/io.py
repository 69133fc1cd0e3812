"""Model persistence: magic, SHA-256, then an ``.npz`` (arrays + JSON header).

The fingerprint is the SHA-256 of the structure and parameters in a canonical byte layout; a
container stores it, and a model whose bytes were altered no longer matches its own.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np

from latentzip.circuits.circuit import Circuit
from latentzip.circuits.structure import Tree
from latentzip.errors import LatentzipError, ModelError
from latentzip.files import atomic_write

MODEL_FORMAT = "latentzip-hclt"
MODEL_VERSION = 1
_MAGIC = b"LZMODEL\n"  # then SHA-256 of the npz body, then the body
_ARRAYS = ("parent", "order", "prior", "edges", "leaves", "n_categories")


def fingerprint(circuit: Circuit) -> str:
    """Hex SHA-256 of the circuit's structure and parameters (little-endian, canonical)."""
    h = hashlib.sha256(f"{MODEL_FORMAT}/{MODEL_VERSION}".encode())
    for name, arr in _arrays(circuit).items():
        canon = np.ascontiguousarray(arr, dtype="<i8" if arr.dtype.kind in "iu" else "<f8")
        h.update(name.encode() + str(canon.shape).encode() + canon.tobytes())
    return h.hexdigest()


def _arrays(circuit: Circuit) -> dict[str, np.ndarray]:
    return {
        "parent": circuit.tree.parent,
        "order": circuit.tree.order,
        "prior": circuit.prior,
        "edges": circuit.edges,
        "leaves": circuit.leaves,
        "n_categories": circuit.n_categories,
    }


def to_bytes(circuit: Circuit, meta: dict | None = None) -> bytes:
    """Serialise a circuit (and optional JSON-able metadata) to ``.npz`` bytes."""
    header = {
        "format": MODEL_FORMAT,
        "version": MODEL_VERSION,
        "fingerprint": fingerprint(circuit),
        "meta": meta or {},
    }
    buf = io.BytesIO()
    np.savez_compressed(
        buf, header=np.frombuffer(json.dumps(header).encode(), np.uint8), **_arrays(circuit)
    )
    body = buf.getvalue()
    return _MAGIC + hashlib.sha256(body).digest() + body


def from_bytes(blob: bytes, source: str = "model") -> tuple[Circuit, dict]:
    """Inverse of :func:`to_bytes`; raises :class:`ModelError` on any damage."""
    if not blob.startswith(_MAGIC):
        raise ModelError(f"{source}: not a latentzip model file (bad magic)")
    digest, body = blob[len(_MAGIC) : len(_MAGIC) + 32], blob[len(_MAGIC) + 32 :]
    if hashlib.sha256(body).digest() != digest:
        raise ModelError(f"{source}: checksum mismatch, the model file is corrupted or truncated")
    try:
        with np.load(io.BytesIO(body), allow_pickle=False) as npz:
            header = json.loads(npz["header"].tobytes().decode())
            arrays = {name: npz[name] for name in _ARRAYS}
    except Exception as exc:  # zipfile/zlib raise many types on damaged bytes
        raise ModelError(f"{source}: not a readable latentzip model ({exc})") from exc
    if header.get("format") != MODEL_FORMAT:
        raise ModelError(f"{source}: not a latentzip HCLT model")
    if header.get("version") != MODEL_VERSION:
        raise ModelError(
            f"{source}: model format version {header.get('version')} "
            f"unsupported (this latentzip reads {MODEL_VERSION})"
        )
    try:
        circuit = Circuit(
            Tree(arrays["parent"].astype(np.int64), arrays["order"].astype(np.int64)),
            arrays["prior"],
            arrays["edges"],
            arrays["leaves"],
            arrays["n_categories"].astype(np.int64),
        )
        circuit.check()
    except (LatentzipError, ValueError, IndexError) as exc:
        raise ModelError(f"{source}: invalid model ({exc})") from exc
    if fingerprint(circuit) != header.get("fingerprint"):
        raise ModelError(f"{source}: fingerprint mismatch, the model file is corrupted")
    return circuit, header.get("meta", {})


def save(circuit: Circuit, path: str | Path, meta: dict | None = None) -> Path:
    """Write the model atomically; returns the path."""
    return atomic_write(path, to_bytes(circuit, meta))


def load(path: str | Path) -> tuple[Circuit, dict]:
    """Read a model written by :func:`save`: ``(circuit, meta)``."""
    try:
        blob = Path(path).read_bytes()
    except OSError as exc:
        raise ModelError(f"{path}: cannot read model ({exc})") from exc
    return from_bytes(blob, str(path))
