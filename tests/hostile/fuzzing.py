"""Tools for the hostile-input suite: containers taken apart and put back with checksums
recomputed, nasty JSON values, a per-case time limit, and the oracle.

Two kinds of attacker. *Damage* recomputes every CRC-32 (what a checksum-repairing tool
does) but not the SHA-256 header seal: the reader must raise a
:class:`~latentzip.errors.LatentzipError` or return exactly what the unmutated file gives.
A *forger* also recomputes the seal, so the file is simply another valid-looking file: the
reader may return anything, but must not crash, hang, or exceed its memory budget. Any other
exception is a failure.
"""

from __future__ import annotations

import json
import signal
import struct
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import numpy as np
from hypothesis import strategies as st

from latentzip.coding.container import seal
from latentzip.errors import LatentzipError

_PRE = struct.Struct("<8sHHHHIIQ")
_ENTRY = struct.Struct("<QIIII")
CASE_SECONDS = 20


@dataclass
class Parts:
    """A container taken apart (fields are raw and may be made inconsistent on purpose)."""

    version: int
    codec: int
    codec_version: int
    flags: int
    header: bytes
    entries: list[list[int]]  # [offset, length, n_samples, crc32, check]
    model: bytes
    payloads: list[bytes]
    extra: dict = field(default_factory=dict)

    @classmethod
    def of(cls, blob: bytes) -> Parts:
        _magic, version, codec, cver, flags, hlen, n, mlen = _PRE.unpack_from(blob, 0)
        pos = 36
        header = blob[pos : pos + hlen]
        pos += hlen + 4
        entries = [list(_ENTRY.unpack_from(blob, pos + i * _ENTRY.size)) for i in range(n)]
        pos += _ENTRY.size * n + 4
        model = blob[pos : pos + mlen]
        pos += mlen + 4 if mlen else 0
        payloads = [blob[pos + e[0] : pos + e[0] + e[1]] for e in entries]
        return cls(version, codec, cver, flags, header, entries, model, payloads)

    def pack(self, fix_records: bool = True, fix_offsets: bool = True, reseal: bool = False):
        """Bytes with the preamble/header/index/model CRCs (and, by default, the record CRCs
        and offsets) recomputed, so only the semantic change remains; ``reseal`` also
        recomputes the header's SHA-256 seal (a forger)."""
        entries = [list(e) for e in self.entries]
        header = self.header
        if reseal:
            try:
                body = {k: v for k, v in json.loads(header).items() if k != "seal"}
                sealed = dict(
                    body, seal=seal(body, [(e[2] % 2**32, e[4] % 2**32) for e in entries])
                )
                header = json.dumps(sealed, separators=(",", ":")).encode()
            except (ValueError, AttributeError, TypeError, RecursionError):
                pass  # not a JSON object: nothing to seal
        offset = 0
        for e, p in zip(entries, self.payloads, strict=False):
            if fix_offsets:
                e[0], e[1] = offset, len(p)
            if fix_records:
                e[3] = zlib.crc32(p)
            offset += len(p)
        pre = _PRE.pack(
            b"LZIP\r\n\x1a\n", self.version, self.codec, self.codec_version, self.flags,
            len(header), len(entries), len(self.model),
        )  # fmt: skip
        index = b"".join(_ENTRY.pack(*(int(v) % 2 ** (64 if i == 0 else 32) for i, v in
                                       enumerate(e))) for e in entries)  # fmt: skip
        out = [pre, _crc(pre), header, _crc(header), index, _crc(index)]
        if self.model:
            out += [self.model, _crc(self.model)]
        return b"".join(out + self.payloads)

    def with_header(self, header: dict) -> Parts:
        return replace(self, header=json.dumps(header, separators=(",", ":")).encode())

    def header_dict(self) -> dict:
        return json.loads(self.header)


def _crc(data: bytes) -> bytes:
    return struct.pack("<I", zlib.crc32(data))


# ------------------------------------------------------------------------ strategies
NASTY = st.one_of(
    st.sampled_from([None, True, False, -1, 0, 1, 2**31, 2**32 + 1, 2**63, 10**30, -(2**63)]),
    st.sampled_from([0.5, -0.0, 1e308, float("nan"), float("inf")]),
    st.sampled_from(["", "x", "garbage", "|u1", "<f8", "O", "../../etc/passwd", "\x00", "é" * 50]),
    st.sampled_from([[], [1], [0, 0], [-3, 4], [2**40, 2**40], ["a"], [[1]], {}, {"a": 1}]),
    st.integers(-(2**70), 2**70),
    st.text(max_size=20),
)


def paths(obj, prefix=()):
    """Every key path in a JSON object (dicts and lists), the object itself first."""
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj[:5]):
            yield from paths(v, (*prefix, i))


def set_path(obj, path, value, delete=False):
    """A copy of ``obj`` with the value at ``path`` replaced (or deleted)."""
    obj = json.loads(json.dumps(obj))
    if not path:
        return value
    target = obj
    for key in path[:-1]:
        target = target[key]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return obj


@st.composite
def mutated(draw, blob: bytes, reseal: bool = False) -> bytes:
    """A structure-aware mutation of a container, checksums (and with ``reseal`` the seal)
    recomputed."""
    parts = Parts.of(blob)
    kind = draw(st.sampled_from(["header", "index", "payload", "bytes", "cut", "model"]))
    if kind == "header":
        head = parts.header_dict()
        path = draw(st.sampled_from(list(paths(head))))
        delete = bool(path) and draw(st.booleans())
        value = draw(NASTY)
        return parts.with_header(set_path(head, path, value, delete)).pack(reseal=reseal)
    if kind == "index" and parts.entries:
        i = draw(st.integers(0, len(parts.entries) - 1))
        j = draw(st.sampled_from([0, 1, 2, 4]))
        parts.entries[i][j] = draw(st.integers(0, 2**32 - 1) | st.sampled_from([0, 1, 2**31]))
        return parts.pack(fix_offsets=j not in (0, 1), reseal=reseal)
    if kind == "payload" and any(parts.payloads):
        i = draw(st.sampled_from([i for i, p in enumerate(parts.payloads) if p]))
        p = bytearray(parts.payloads[i])
        pos = draw(st.integers(0, len(p) - 1))
        p[pos] ^= draw(st.integers(1, 255))
        parts.payloads[i] = bytes(p)
        return parts.pack(reseal=reseal)
    if kind == "model" and parts.model:
        m = bytearray(parts.model)
        m[draw(st.integers(0, len(m) - 1))] ^= draw(st.integers(1, 255))
        parts.model = bytes(m)
        return parts.pack(reseal=reseal)
    if kind == "cut":
        return blob[: draw(st.integers(0, len(blob) - 1))]
    raw = bytearray(parts.pack())  # "bytes": flips anywhere, then every checksum fixed again
    for _ in range(draw(st.integers(1, 4))):
        raw[draw(st.integers(36, len(raw) - 1))] ^= draw(st.integers(1, 255))
    try:
        return Parts.of(bytes(raw)).pack(reseal=reseal)
    except (struct.error, ValueError):
        return bytes(raw)


# ------------------------------------------------------------------------ oracle
class TimeLimit(Exception):
    pass


@contextmanager
def time_limit(seconds: int = CASE_SECONDS):
    """Fail a case that runs longer than ``seconds`` (checked between compiled calls)."""

    def stop(*_):
        raise TimeLimit(f"case ran over {seconds} s (a hang?)")

    old = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def check(reader, data, expected) -> str:
    """Run ``reader(data)``: a clean refusal, or exactly ``expected``. Returns what happened."""
    with time_limit():
        try:
            got = reader(data)
        except LatentzipError:
            return "refused"
    assert same(got, expected), "a damaged input decoded to something else without an error"
    return "decoded"


def survives(reader, data) -> str:
    """Run ``reader(data)`` on a forged file: any result or a clean refusal, within the limit."""
    with time_limit():
        try:
            reader(data)
        except LatentzipError:
            return "refused"
    return "decoded"


def same(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (
            isinstance(a, np.ndarray)
            and isinstance(b, np.ndarray)
            and a.dtype == b.dtype
            and a.shape == b.shape
            and np.array_equal(a, b)
        )
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if hasattr(a, "equals"):
        return a.equals(b)
    if hasattr(a, "__dataclass_fields__") and type(a) is type(b):
        return all(same(getattr(a, f), getattr(b, f)) for f in a.__dataclass_fields__)
    return a == b
