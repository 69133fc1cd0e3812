"""Limits for reading untrusted files, derived from what a file can honestly hold.

A reader never allocates from a header field it has not checked: claims are compared with
the bytes that back them, metadata is decompressed with a cap, and decoding works in
batches whose state is bounded. What a file decodes to may legitimately be much larger than
the file (a blank image compresses to almost nothing), so the library's one-shot decoders
refuse outputs beyond :func:`memory_budget` and point to the streaming decoders, which stay
within it for any claim.
"""

from __future__ import annotations

import json
import lzma

from latentzip.errors import ContainerError

MEMORY_FACTOR = 50
MEMORY_BASE = 500 * 2**20
WORK_BYTES = 128 * 2**20  # coder state of one batch of records
MAX_BLOCK_SYMBOLS = 2**24  # symbols of one record (one rANS stream)


def memory_budget(file_size: int) -> int:
    """Bytes a reader may hold for a file of ``file_size`` bytes: 50 x size + 500 MiB."""
    return MEMORY_FACTOR * int(file_size) + MEMORY_BASE


def check_claim(n_bytes: int, budget: int, what: str, hint: str = "") -> None:
    """Refuse a claimed size above ``budget`` (before anything is allocated from it)."""
    if n_bytes > budget:
        raise ContainerError(
            f"{what} would take {n_bytes / 2**20:.0f} MiB, over the {budget / 2**20:.0f} MiB "
            f"this file can justify{hint}"
        )


def parse_json(data: bytes, what: str, budget: int | None = None):
    """JSON from UTF-8 bytes, any failure (deep nesting included) as :class:`ContainerError`.

    With ``budget``, text whose Python objects could outgrow it is refused before parsing:
    every value needs a separator or bracket and costs at most ~64 bytes as an object, and
    strings at most 4 bytes per character.
    """
    if budget is not None:
        tokens = sum(data.count(c) for c in (b",", b":", b"[", b"{")) + 1
        check_claim(64 * tokens + 4 * len(data), budget, f"parsing {what}")
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ContainerError(f"{what} is not valid JSON ({type(exc).__name__})") from exc


def inflate_lzma(data: bytes, limit: int, what: str) -> bytes:
    """Decompress an xz stream, refusing output beyond ``limit`` bytes (a bomb) or damage.

    Works in chunks, so a bomb costs at most ``limit`` bytes (twice that while joining).
    """
    d, parts, size, feed = lzma.LZMADecompressor(), [], 0, data
    try:
        while not d.eof:
            chunk = d.decompress(feed, max_length=2**24)
            feed = b""  # the decompressor keeps what it has not used yet
            size += len(chunk)
            if size > limit:
                raise ContainerError(f"{what}: xz stream inflates beyond {limit} bytes")
            if not chunk and d.needs_input:
                break
            parts.append(chunk)
    except lzma.LZMAError as exc:
        raise ContainerError(f"{what}: damaged xz stream ({exc})") from exc
    if not d.eof or d.unused_data:
        raise ContainerError(f"{what}: truncated or padded xz stream")
    return b"".join(parts)
