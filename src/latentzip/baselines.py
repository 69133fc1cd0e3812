"""Classical lossless codecs to compare against, each verified by a round trip.

Per-image codecs (PNG, WebP, JPEG-XL, JPEG-LS, JPEG 2000) come from ``imagecodecs``; general
compressors on raw bytes from the standard library, ``imagecodecs`` and ``brotli``/``zstandard``
when installed.
"""

from __future__ import annotations

import bz2
import lzma
from collections.abc import Callable
from dataclasses import dataclass

import imagecodecs as ic
import numpy as np


@dataclass(frozen=True)
class Codec:
    name: str
    encode: Callable[[np.ndarray], bytes]
    decode: Callable[[bytes], np.ndarray]


def _webp_encode(img: np.ndarray) -> bytes:
    # WebP has no grey mode; lossless WebP codes R=G=B through its subtract-green transform.
    return ic.webp_encode(np.repeat(img[..., None], 3, -1), lossless=True, level=100, method=6)


def image_codecs() -> list[Codec]:
    """Per-image lossless codecs, at their strongest settings."""
    return [
        Codec("PNG (level 9)", lambda a: ic.png_encode(a, level=9), ic.png_decode),
        Codec("WebP lossless", _webp_encode, lambda b: ic.webp_decode(b)[..., 0]),
        Codec(
            "JPEG-XL lossless e7",
            lambda a: ic.jpegxl_encode(a, lossless=True, effort=7),
            ic.jpegxl_decode,
        ),
        Codec(
            "JPEG-XL lossless e9",
            lambda a: ic.jpegxl_encode(a, lossless=True, effort=9),
            ic.jpegxl_decode,
        ),
        Codec("JPEG-LS", ic.jpegls_encode, ic.jpegls_decode),
        Codec("JPEG 2000 lossless", lambda a: ic.jpeg2k_encode(a, level=0), ic.jpeg2k_decode),
    ]


def _raw(decompress: Callable[[bytes], bytes]) -> Callable[[bytes], np.ndarray]:
    return lambda b: np.frombuffer(decompress(b), dtype=np.uint8)


def byte_codecs() -> list[Codec]:
    """General-purpose compressors on the raw concatenated bytes."""
    codecs = [
        Codec("zstd -19", lambda a: ic.zstd_encode(a.tobytes(), level=19), _raw(ic.zstd_decode)),
        Codec(
            "xz -9e",
            lambda a: lzma.compress(a.tobytes(), preset=9 | lzma.PRESET_EXTREME),
            _raw(lzma.decompress),
        ),
        Codec("bzip2 -9", lambda a: bz2.compress(a.tobytes(), 9), _raw(bz2.decompress)),
    ]
    try:
        import zstandard

        def zstd_long(a: np.ndarray) -> bytes:
            params = zstandard.ZstdCompressionParameters.from_level(
                19, enable_ldm=True, window_log=27
            )
            return zstandard.ZstdCompressor(compression_params=params).compress(a.tobytes())

        codecs.append(
            Codec(
                "zstd -19 --long",
                zstd_long,
                _raw(lambda b: zstandard.ZstdDecompressor().decompress(b)),
            )
        )
    except ImportError:
        pass
    try:
        import brotli

        codecs.append(
            Codec(
                "brotli -11",
                lambda a: brotli.compress(a.tobytes(), quality=11),
                _raw(brotli.decompress),
            )
        )
    except ImportError:
        pass
    return codecs


def measure(codec: Codec, images: np.ndarray, per_image: bool) -> int:
    """Total compressed bytes of ``images`` (n, H, W) uint8, round trip verified."""
    items = list(images) if per_image else [images]
    total = 0
    for item in items:
        blob = codec.encode(np.ascontiguousarray(item))
        back = codec.decode(blob)
        if not np.array_equal(np.asarray(back).reshape(item.shape), item):
            raise AssertionError(f"{codec.name}: round trip failed")
        total += len(blob)
    return total
