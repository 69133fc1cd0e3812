"""The ``.lz`` container: versioned header, record index, checksums, optional embedded model.

Layout (all integers little-endian; see docs/format.md)::

    preamble  32 B  magic "LZIP\\r\\n\\x1a\\n", version u16, codec u16, header_len u32,
                    n_records u32, model_len u64, crc32 u32 of the 28 bytes before it
    header    JSON (header_len B) + crc32 u32
    index     n_records x (offset u64, length u32, n_samples u32, crc32 u32) + crc32 u32
    model     model_len B + crc32 u32            (only if model_len > 0)
    records   payloads, concatenated; offsets are relative to the first one

Every byte is covered by a checksum or a length check, so a flipped byte or a truncation is
reported (with the record it hits) instead of producing wrong output.
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass

from latentzip.errors import ContainerError

MAGIC = b"LZIP\r\n\x1a\n"
VERSION = 1
_PREAMBLE = struct.Struct("<8sHHIIQ")  # 28 bytes, then its crc32
_ENTRY = struct.Struct("<QIII")
_CRC = struct.Struct("<I")


@dataclass(frozen=True)
class RecordEntry:
    offset: int
    length: int
    n_samples: int
    crc32: int


@dataclass(frozen=True)
class Container:
    """A parsed container: header, index, and the raw bytes (records are read on demand)."""

    codec: int
    header: dict
    index: tuple[RecordEntry, ...]
    model: bytes | None
    blob: bytes
    payload_start: int

    def record(self, i: int) -> bytes:
        """Payload of record ``i``, checksum verified; touches no other record."""
        if not 0 <= i < len(self.index):
            raise ContainerError(f"record {i} does not exist (container has {len(self.index)})")
        e = self.index[i]
        start = self.payload_start + e.offset
        data = self.blob[start : start + e.length]
        if len(data) != e.length:
            raise ContainerError(f"record {i}: truncated ({len(data)} of {e.length} bytes)")
        if zlib.crc32(data) != e.crc32:
            raise ContainerError(f"record {i}: checksum mismatch, the data is corrupted")
        return data


def pack(
    codec: int, header: dict, records: list[tuple[bytes, int]], model: bytes | None = None
) -> bytes:
    """Assemble a container from ``(payload, n_samples)`` records."""
    head = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    model = model or b""
    pre = _PREAMBLE.pack(MAGIC, VERSION, codec, len(head), len(records), len(model))
    parts = [pre, _crc(pre), head, _crc(head)]
    index, offset = bytearray(), 0
    for payload, n in records:
        index += _ENTRY.pack(offset, len(payload), n, zlib.crc32(payload))
        offset += len(payload)
    parts += [bytes(index), _crc(index)]
    if model:
        parts += [model, _crc(model)]
    parts += [payload for payload, _ in records]
    return b"".join(parts)


def unpack(blob: bytes, codec: int | None = None) -> Container:
    """Parse and verify everything but the record payloads (checked when read)."""
    blob = bytes(blob)
    pos = 0

    def take(n: int, what: str) -> bytes:
        nonlocal pos
        if pos + n > len(blob):
            raise ContainerError(
                f"truncated container: {what} needs {n} bytes at offset {pos}, file has {len(blob)}"
            )
        chunk = blob[pos : pos + n]
        pos += n
        return chunk

    def checked(n: int, what: str) -> bytes:
        data = take(n, what)
        (crc,) = _CRC.unpack(take(4, f"{what} checksum"))
        if zlib.crc32(data) != crc:
            raise ContainerError(f"{what}: checksum mismatch, the container is corrupted")
        return data

    if not blob or not MAGIC.startswith(blob[: len(MAGIC)]):
        raise ContainerError("not a latentzip container (bad magic)")
    pre = checked(_PREAMBLE.size, "preamble")
    magic, version, found_codec, head_len, n_records, model_len = _PREAMBLE.unpack(pre)
    if magic != MAGIC:
        raise ContainerError("not a latentzip container (bad magic)")
    if version != VERSION:
        raise ContainerError(
            f"container format version {version} unsupported (this latentzip reads {VERSION})"
        )
    if codec is not None and found_codec != codec:
        raise ContainerError(f"container holds codec {found_codec}, expected {codec}")
    try:
        header = json.loads(checked(head_len, "header").decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ContainerError(f"header is not valid JSON ({exc})") from exc
    raw = checked(_ENTRY.size * n_records, "record index")
    index = tuple(RecordEntry(*_ENTRY.unpack_from(raw, i * _ENTRY.size)) for i in range(n_records))
    model = checked(model_len, "embedded model") if model_len else None
    payload_start = pos
    expected = sum(e.length for e in index)
    if len(blob) - payload_start != expected:
        last = _first_short_record(index, len(blob) - payload_start)
        raise ContainerError(
            f"record {last}: container is {len(blob)} bytes, records need "
            f"{payload_start + expected} (truncated or padded)"
        )
    return Container(found_codec, header, index, model, blob, payload_start)


def _first_short_record(index: tuple[RecordEntry, ...], available: int) -> int:
    for i, e in enumerate(index):
        if e.offset + e.length > available:
            return i
    return len(index) - 1


def _crc(data: bytes) -> bytes:
    return _CRC.pack(zlib.crc32(data))
