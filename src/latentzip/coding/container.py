"""The ``.lz`` container: framing, record index, checksums, optional embedded model.

Layout (all integers little-endian; see docs/format.md)::

    preamble  36 B  magic "LZIP\\r\\n\\x1a\\n", framing version u16, codec id u16,
                    codec version u16, flags u16 (0), header_len u32, n_records u32,
                    model_len u64, crc32 u32 of the 32 bytes before it
    header    JSON (header_len B) + crc32 u32
    index     n_records x (offset u64, length u32, n_samples u32, crc32 u32, check u32)
              + crc32 u32
    model     model_len B + crc32 u32            (only if model_len > 0)
    records   payloads, concatenated; offsets are relative to the first one

The framing version covers this layout only; each codec versions its own bitstream
(``codec version``) and states which versions it reads. Every byte is covered by a checksum
or a length check, so a flipped byte or a truncation is reported (with the record it hits)
instead of producing wrong output. Tools that repair CRC-32s are common, so two more checks
sit above them: ``check`` is the codec's own checksum of what a record decodes to (0 where a
codec has none), and the header's ``seal`` is a SHA-256 (128 bits kept) of the rest of the
header and of each record's sample count and check, so an edited header field or index entry
is refused even with every CRC-32 recomputed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import zlib
from dataclasses import dataclass

from latentzip.coding import limits
from latentzip.errors import ContainerError

MAGIC = b"LZIP\r\n\x1a\n"
VERSION = 2
_PREAMBLE = struct.Struct("<8sHHHHIIQ")  # 32 bytes, then its crc32
_ENTRY = struct.Struct("<QIIII")
_CRC = struct.Struct("<I")
_RELEASES = {1: "latentzip 0.1"}


@dataclass(frozen=True)
class RecordEntry:
    offset: int
    length: int
    n_samples: int
    crc32: int
    check: int = 0


@dataclass(frozen=True)
class Container:
    """A parsed container: header, index, and the raw bytes (records are read on demand)."""

    codec: int
    codec_version: int
    header: dict
    index: tuple[RecordEntry, ...]
    model: bytes | None
    blob: bytes
    payload_start: int

    @property
    def n_samples(self) -> int:
        return sum(e.n_samples for e in self.index)

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
    codec: int,
    codec_version: int,
    header: dict,
    records: list[tuple[bytes, int]] | list[tuple[bytes, int, int]],
    model: bytes | None = None,
) -> bytes:
    """Assemble a container from ``(payload, n_samples[, check])`` records."""
    entries = [(rec[1], rec[2] if len(rec) > 2 else 0) for rec in records]
    header = {k: v for k, v in header.items() if k != "seal"}
    header["seal"] = seal(header, entries)
    head = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    model = model or b""
    pre = _PREAMBLE.pack(
        MAGIC, VERSION, codec, codec_version, 0, len(head), len(records), len(model)
    )
    parts = [pre, _crc(pre), head, _crc(head)]
    index, offset = bytearray(), 0
    for payload, n, *check in records:
        index += _ENTRY.pack(offset, len(payload), n, zlib.crc32(payload), check[0] if check else 0)
        offset += len(payload)
    parts += [bytes(index), _crc(index)]
    if model:
        parts += [model, _crc(model)]
    parts += [rec[0] for rec in records]
    return b"".join(parts)


def peek_codec(blob: bytes) -> int:
    """The codec id of a container, after checking its preamble only."""
    return _preamble(bytes(blob[: _PREAMBLE.size + 4]), len(blob))[1]


def unpack(blob: bytes, codec: int | None = None) -> Container:
    """Parse and verify everything but the record payloads (checked when read)."""
    blob = bytes(blob)
    pos = _PREAMBLE.size + 4

    def checked(n: int, what: str) -> bytes:
        nonlocal pos
        if pos + n + 4 > len(blob):
            raise ContainerError(
                f"truncated container: {what} needs {n + 4} bytes at offset {pos}, "
                f"file has {len(blob)}"
            )
        data = blob[pos : pos + n]
        (crc,) = _CRC.unpack_from(blob, pos + n)
        pos += n + 4
        if zlib.crc32(data) != crc:
            raise ContainerError(f"{what}: checksum mismatch, the container is corrupted")
        return data

    _, found_codec, codec_version, head_len, n_records, model_len = _preamble(blob, len(blob))
    if codec is not None and found_codec != codec:
        raise ContainerError(f"container holds codec {found_codec}, expected {codec}")
    header = limits.parse_json(checked(head_len, "header"), "header")
    if not isinstance(header, dict):
        raise ContainerError(f"header is a JSON {type(header).__name__}, not an object")
    raw = checked(_ENTRY.size * n_records, "record index")
    index = tuple(RecordEntry(*e) for e in _ENTRY.iter_unpack(raw))
    body = {k: v for k, v in header.items() if k != "seal"}
    if header.get("seal") != seal(body, [(e.n_samples, e.check) for e in index]):
        raise ContainerError("the header or index does not match its seal (edited or corrupted)")
    model = checked(model_len, "embedded model") if model_len else None
    payload_start, offset = pos, 0
    for i, e in enumerate(index):
        if e.offset != offset:
            raise ContainerError(f"record {i}: offset {e.offset}, expected {offset} (bad index)")
        offset += e.length
    if len(blob) - payload_start != offset:
        last = _first_short_record(index, len(blob) - payload_start)
        raise ContainerError(
            f"record {last}: container is {len(blob)} bytes, records need "
            f"{payload_start + offset} (truncated or padded)"
        )
    return Container(found_codec, codec_version, header, index, model, blob, payload_start)


def _preamble(blob: bytes, size: int) -> tuple[int, int, int, int, int, int]:
    """(framing version, codec, codec version, header_len, n_records, model_len), checked."""
    if blob[: len(MAGIC)] != MAGIC:
        if blob and MAGIC.startswith(blob):
            raise ContainerError(f"truncated container: {len(blob)} bytes")
        raise ContainerError("not a latentzip container (bad magic)")
    if len(blob) >= 10:
        (version,) = struct.unpack_from("<H", blob, 8)
        if version != VERSION:
            made = f" (written by {_RELEASES[version]})" if version in _RELEASES else ""
            raise ContainerError(
                f"container framing version {version}{made} is not supported: this latentzip "
                f"reads version {VERSION}"
            )
    if len(blob) < _PREAMBLE.size + 4:
        raise ContainerError(f"truncated container: {len(blob)} bytes, the preamble needs 36")
    pre = blob[: _PREAMBLE.size]
    if zlib.crc32(pre) != _CRC.unpack_from(blob, _PREAMBLE.size)[0]:
        raise ContainerError("preamble: checksum mismatch, the container is corrupted")
    _, version, codec, codec_version, flags, head_len, n_records, model_len = _PREAMBLE.unpack(pre)
    if flags:
        raise ContainerError(f"unknown container flags 0x{flags:04x}")
    # every claim must fit in the file before anything is read or allocated from it
    if head_len + _ENTRY.size * n_records + model_len > size:
        raise ContainerError(
            f"truncated or damaged container: the preamble claims {head_len} header bytes, "
            f"{n_records} records and a {model_len}-byte model, more than the {size}-byte "
            "file holds"
        )
    return version, codec, codec_version, head_len, n_records, model_len


def seal(header: dict, entries) -> str:
    """The first 128 bits of the SHA-256 of a header (without its seal) and each record's
    (n_samples, check), URL-safe base64 (22 characters)."""
    h = hashlib.sha256(json.dumps(header, sort_keys=True, separators=(",", ":")).encode())
    for n, check in entries:
        h.update(struct.pack("<II", n, check))
    return base64.urlsafe_b64encode(h.digest()[:16]).decode().rstrip("=")


def _first_short_record(index: tuple[RecordEntry, ...], available: int) -> int:
    for i, e in enumerate(index):
        if e.offset + e.length > available:
            return i
    return max(0, len(index) - 1)


def _crc(data: bytes) -> bytes:
    return _CRC.pack(zlib.crc32(data))
