"""Channel compaction: a channel that uses few of its possible values (contrast-stretched
scans, 12-bit data scaled into 16 bits, posterised images) is coded as the ranks of the values
it uses, so that its residuals are in steps of the values present, not of the raw scale.

A tile's record starts with one entry per channel: a varint ``n`` (0: not compacted), then the
``n`` values used: for 8-bit channels the lowest and highest (a byte each) and a bitmap of the
values between them (bitstream 3; versions 1 and 2: a bitmap of all 256), for 16-bit channels
varint gaps.
"""

from __future__ import annotations

import numpy as np

from latentzip.coding.parts import read_varint, varint
from latentzip.errors import ContainerError

_DENSE = 0.9  # compact when fewer than 90% of the values in [min, max] occur


def compact(tile: np.ndarray) -> tuple[np.ndarray, list]:
    """``(ranks, maps)``: the tile with compacted channels replaced by ranks, and per channel
    the sorted values used (or None)."""
    out = tile.copy()
    maps = []
    for k in range(tile.shape[2]):
        used = np.unique(tile[:, :, k])
        if len(used) >= _DENSE * (int(used[-1]) - int(used[0]) + 1):
            maps.append(None)
            continue
        out[:, :, k] = np.searchsorted(used, tile[:, :, k]).astype(tile.dtype)
        maps.append(used)
    return out, maps


def expand(ranks: np.ndarray, maps: list, label: str) -> np.ndarray:
    """Inverse of :func:`compact`."""
    out = ranks.copy()
    for k, used in enumerate(maps):
        if used is None:
            continue
        channel = ranks[:, :, k]
        if channel.max(initial=0) >= len(used):
            raise ContainerError(f"{label}: a rank beyond the channel's {len(used)} values")
        out[:, :, k] = used[channel]
    return out


def to_bytes(maps: list, dtype: np.dtype) -> bytes:
    out = bytearray()
    for used in maps:
        if used is None:
            out += varint(0)
            continue
        out += varint(len(used))
        if np.dtype(dtype).itemsize == 1:
            lo, hi = int(used[0]), int(used[-1])
            bits = np.zeros(hi - lo + 1, np.uint8)
            bits[used.astype(np.int64) - lo] = 1
            out += bytes([lo, hi]) + np.packbits(bits, bitorder="little").tobytes()
        else:
            gaps = np.diff(used.astype(np.int64), prepend=-1) - 1
            for g in gaps:
                out += varint(int(g))
    return bytes(out)


def from_bytes(
    data: bytes, channels: int, dtype: np.dtype, label: str, version: int = 3
) -> tuple[list, int]:
    """``(maps, bytes read)`` of :func:`to_bytes` (of bitstream ``version``); every value
    checked."""
    top = (1 << (8 * np.dtype(dtype).itemsize)) - 1
    maps, pos = [], 0
    for _ in range(channels):
        n, pos = read_varint(data, pos, label)
        if n == 0:
            maps.append(None)
            continue
        if n > top + 1:
            raise ContainerError(f"{label}: {n} values in a channel of {top + 1}")
        if top == 255:
            lo, hi = 0, 255
            if version >= 3:
                if pos + 2 > len(data):
                    raise ContainerError(f"{label}: truncated value map")
                lo, hi = data[pos], data[pos + 1]
                pos += 2
            size = (hi - lo + 8) // 8
            if hi < lo or pos + size > len(data):
                raise ContainerError(f"{label}: truncated or invalid value map")
            bits = np.unpackbits(np.frombuffer(data[pos : pos + size], np.uint8), bitorder="little")
            used = np.flatnonzero(bits[: hi - lo + 1]) + lo
            if version >= 3 and (bits[hi - lo + 1 :].any() or not (bits[0] and bits[hi - lo])):
                raise ContainerError(f"{label}: invalid value map")
            pos += size
        else:
            values, v = [], -1
            for _ in range(n):
                gap, pos = read_varint(data, pos, label)
                v += gap + 1
                values.append(v)
            used = np.array(values, np.int64)
        if len(used) != n or (n and used[-1] > top):
            raise ContainerError(f"{label}: invalid value map")
        maps.append(used.astype(dtype))
    return maps, pos
