"""General-purpose compressors (xz, zstd, brotli): the best of them, and bounded decoding.

A packed stream is one method byte and the compressed bytes::

    0 stored   1 xz (raw LZMA2, preset 9e)   2 zstd (level 19, long window)   3 brotli (11)

Raw LZMA2 saves the ~60 bytes of xz framing (the container checks every record by CRC and the
codec checks what it decodes to). :func:`unpack` never produces more than ``limit`` bytes, so
a crafted stream cannot exhaust memory.
"""

from __future__ import annotations

import lzma

from latentzip.errors import ContainerError

STORED, XZ, ZSTD, BROTLI = range(4)
NAMES = {STORED: "stored", XZ: "xz", ZSTD: "zstd", BROTLI: "brotli"}
_LZMA2 = [{"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME}]
_ZSTD_WINDOW_LOG = 27  # --long: a 128 MiB window
_BROTLI_MAX = 8 * 2**20  # brotli -11 is slow; larger inputs try xz and zstd only
_CHUNK = 2**22


def compress(data: bytes, method: int) -> bytes:
    """``data`` compressed by one method (without the method byte)."""
    if method == STORED:
        return bytes(data)
    if method == XZ:
        return lzma.compress(data, format=lzma.FORMAT_RAW, filters=_LZMA2)
    if method == ZSTD:
        import zstandard

        params = zstandard.ZstdCompressionParameters.from_level(
            19, window_log=_ZSTD_WINDOW_LOG, enable_ldm=True, source_size=len(data)
        )
        return zstandard.ZstdCompressor(compression_params=params).compress(data)
    if method == BROTLI:
        import brotli

        return brotli.compress(data, quality=11, lgwin=24)
    raise ValueError(f"unknown method {method}")


def pack(data: bytes, methods: tuple[int, ...] | None = None) -> bytes:
    """The smallest of ``methods`` (default: all; brotli only up to 8 MiB), tagged."""
    if methods is None:
        methods = (STORED, XZ, ZSTD) + ((BROTLI,) if len(data) <= _BROTLI_MAX else ())
    if not data:
        return bytes([STORED])
    best = min(((bytes([m]) + compress(data, m)) for m in methods), key=len)
    return best


def method_of(packed: bytes) -> str:
    return NAMES.get(packed[0], "unknown") if packed else "empty"


def unpack(packed: bytes, limit: int, what: str) -> bytes:
    """Inverse of :func:`pack`; :class:`ContainerError` on damage or beyond ``limit`` bytes."""
    if not packed:
        raise ContainerError(f"{what}: empty stream")
    method, body = packed[0], memoryview(packed)[1:]
    if method == STORED:
        if len(body) > limit:
            raise ContainerError(f"{what}: {len(body)} bytes, over the limit of {limit}")
        return bytes(body)
    try:
        if method == XZ:
            return _inflate_xz(bytes(body), limit, what)
        if method == ZSTD:
            return _inflate_zstd(bytes(body), limit, what)
        if method == BROTLI:
            return _inflate_brotli(bytes(body), limit, what)
    except (lzma.LZMAError, ValueError, MemoryError) as exc:
        raise ContainerError(f"{what}: damaged {NAMES[method]} stream ({exc})") from exc
    except Exception as exc:  # zstandard.ZstdError, brotli.error
        if type(exc).__name__ in ("ZstdError", "error"):
            raise ContainerError(f"{what}: damaged {NAMES[method]} stream ({exc})") from exc
        raise
    raise ContainerError(f"{what}: unknown compression method {method}")


def _too_big(what: str, limit: int) -> ContainerError:
    return ContainerError(f"{what}: the stream inflates beyond {limit} bytes")


def _inflate_xz(body: bytes, limit: int, what: str) -> bytes:
    d = lzma.LZMADecompressor(format=lzma.FORMAT_RAW, filters=_LZMA2)
    parts, size, feed = [], 0, body
    while not d.eof:
        chunk = d.decompress(feed, max_length=_CHUNK)
        feed = b""
        size += len(chunk)
        if size > limit:
            raise _too_big(what, limit)
        parts.append(chunk)
        if not chunk and d.needs_input:
            break
    if not d.eof or d.unused_data:
        raise ContainerError(f"{what}: truncated or padded xz stream")
    return b"".join(parts)


def _inflate_zstd(body: bytes, limit: int, what: str) -> bytes:
    import zstandard

    size = zstandard.frame_content_size(body)  # our frames state it; checked, then allocated
    if size < 0:
        raise ContainerError(f"{what}: zstd frame without a content size")
    if size > limit:
        raise _too_big(what, limit)
    dctx = zstandard.ZstdDecompressor(max_window_size=2**_ZSTD_WINDOW_LOG)
    out = dctx.decompress(body, max_output_size=size, allow_extra_data=False)
    if len(out) != size:
        raise ContainerError(f"{what}: truncated zstd stream")
    return out


def _inflate_brotli(body: bytes, limit: int, what: str) -> bytes:
    import brotli

    d = brotli.Decompressor()
    parts = [d.process(body, output_buffer_limit=_CHUNK)]
    size = len(parts[0])
    while not d.is_finished() and size <= limit:
        chunk = d.process(b"", output_buffer_limit=_CHUNK)
        if not chunk and d.can_accept_more_data():
            break  # wants input that is not there
        parts.append(chunk)
        size += len(chunk)
    if size > limit:
        raise _too_big(what, limit)
    if not d.is_finished():
        raise ContainerError(f"{what}: truncated brotli stream")
    return b"".join(parts)
