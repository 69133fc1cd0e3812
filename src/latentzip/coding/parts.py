"""Byte strings framed by LEB128 lengths: what several codecs' records are made of."""

from __future__ import annotations

from latentzip.errors import ContainerError


def varint(n: int) -> bytes:
    """LEB128 encoding of a non-negative integer."""
    if n < 0:
        raise ValueError("varint takes non-negative integers")
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def read_varint(data: bytes, pos: int, what: str = "stream") -> tuple[int, int]:
    """``(value, new_pos)`` of the LEB128 integer at ``pos``."""
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ContainerError(f"{what}: truncated or corrupted integer")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def pack_parts(parts: list[bytes]) -> bytes:
    """Concatenate byte strings, each preceded by its varint length (after their count)."""
    return varint(len(parts)) + b"".join(varint(len(p)) + p for p in parts)


def unpack_parts(
    data: bytes, expected: int | None, what: str, max_parts: int = 2**16
) -> list[bytes]:
    """Inverse of :func:`pack_parts`: ``expected`` parts (any count up to ``max_parts`` if
    None), or a :class:`ContainerError`."""
    n, pos = read_varint(data, 0, what)
    if (expected is not None and n != expected) or n > max_parts:
        raise ContainerError(f"{what}: {n} parts, expected {expected or f'at most {max_parts}'}")
    parts = []
    for _ in range(n):
        length, pos = read_varint(data, pos, what)
        if pos + length > len(data):
            raise ContainerError(f"{what}: truncated")
        parts.append(data[pos : pos + length])
        pos += length
    if pos != len(data):
        raise ContainerError(f"{what}: {len(data) - pos} unexpected trailing bytes")
    return parts
