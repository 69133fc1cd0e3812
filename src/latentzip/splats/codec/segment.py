"""One segment of frames: its quantised form (:class:`SegmentCode`) and its bytes.

``quantise_segment`` / ``dequantise_segment`` are the lossy pair (each value within half a
step of the original, SH colour replaced by its codebook entry); ``encode_segment`` /
``decode_segment`` the lossless pair (a :class:`SegmentCode` comes back bit for bit).

Segment payload: the parts ``position``, ``rotation``, ``log_scale``, ``opacity`` (tracks, see
:mod:`.motion`) and one part per SH band (see :mod:`.appearance`), each preceded by
its varint length.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from latentzip.errors import ContainerError
from latentzip.splats.codec.appearance import band_slices, decode_band, encode_band, quantise_band
from latentzip.splats.codec.entropy import pack_parts, unpack_parts
from latentzip.splats.codec.motion import (
    decode_track,
    encode_track,
    first_frame,
    grid,
    grid_quaternions,
    grid_sticky,
)
from latentzip.splats.codec.spatial import levels_of

__all__ = [
    "SegmentCode",
    "SegmentFrames",
    "Steps",
    "decode_segment",
    "dequantise_segment",
    "encode_segment",
    "quantise_segment",
]


@dataclass(frozen=True)
class Steps:
    """Absolute quantisation steps: positions (scene units), unit-quaternion components of the
    moving elements (joints, or Gaussians of a .ply sequence), opacity logits, log scales and,
    for DualGS, the skin Gaussians' rest rotations."""

    position: float
    rotation: float
    opacity: float
    scale: float
    skin_rotation: float = 0.0


@dataclass(frozen=True, eq=False)
class SegmentFrames:
    """Float arrays of F frames: M moving elements (joints, or every Gaussian of a ply
    sequence) and N Gaussians' appearance.

    position (F, M, 3), rotation (F, M, 4) quaternions (w, x, y, z), log_scales (F, N, 3),
    opacity_logits (F, N), sh (F, N, B, 3).
    """

    position: np.ndarray
    rotation: np.ndarray
    log_scales: np.ndarray
    opacity_logits: np.ndarray
    sh: np.ndarray

    @property
    def n_frames(self) -> int:
        return len(self.position)


@dataclass(frozen=True, eq=False)
class SegmentCode:
    """The quantised segment: integer grids (int64), float16 codebooks and their indices.

    position (F, M, 3), rotation (F, M, 4), log_scale (F, N, 3), opacity (F, N) grid values
    (value = grid * step); ``codebooks[l]`` (L_l, (2l+1)*3) float16 and ``indices[l]`` (F, N)
    for SH band l (coefficients channel-minor: coefficient-major, then r, g, b).
    """

    position: np.ndarray
    rotation: np.ndarray
    log_scale: np.ndarray
    opacity: np.ndarray
    codebooks: tuple[np.ndarray, ...]
    indices: tuple[np.ndarray, ...]

    def checksum(self) -> int:
        """CRC-32 of every integer and codebook bit pattern: what the segment decodes to."""
        crc = 0
        for a in (self.position, self.rotation, self.log_scale, self.opacity, *self.indices):
            crc = zlib.crc32(np.ascontiguousarray(a, dtype="<i8").tobytes(), crc)
        for cb in self.codebooks:  # -0.0 is stored as 0.0: compare values, not signs of zero
            cb = np.where(cb == 0, 0, cb).astype("<f2")
            crc = zlib.crc32(np.ascontiguousarray(cb).view("<u2").tobytes(), crc)
        return crc

    def equals(self, other: SegmentCode) -> bool:
        """Bit-exact equality (codebooks compared as float16 bit patterns)."""
        same = all(
            np.array_equal(getattr(self, f), getattr(other, f))
            for f in ("position", "rotation", "log_scale", "opacity")
        )
        return (
            same
            and len(self.codebooks) == len(other.codebooks)
            and all(
                a.shape == b.shape and np.array_equal(a.view(np.uint16), b.view(np.uint16))
                for a, b in zip(self.codebooks, other.codebooks, strict=True)
            )
            and all(np.array_equal(a, b) for a, b in zip(self.indices, other.indices, strict=True))
        )


def quantise_segment(
    frames: SegmentFrames,
    steps: Steps,
    *,
    codebook_sizes: tuple[int, ...],
    hysteresis: float = 0.0,
    deadzone: float = 0.5,
    sh_grid_bits: int = 0,
    kmeans_samples: int = 32768,
    kmeans_iters: int = 12,
    seed: int = 0,
) -> SegmentCode:
    """Lossy: grids for the tracks, per-band codebooks and sticky indices for SH colour.

    Opacity and log scales keep their previous value while within ``deadzone`` steps of it.
    """
    f, n = frames.sh.shape[:2]
    books, idx = [], []
    for band, sl in enumerate(band_slices(frames.sh.shape[2])):
        vectors = frames.sh[:, :, sl, :].reshape(f, n, -1)
        cb, ix = quantise_band(
            vectors,
            codebook_sizes[min(band, len(codebook_sizes) - 1)],
            hysteresis=hysteresis,
            samples=kmeans_samples,
            iters=kmeans_iters,
            seed=seed + band,
            grid_bits=sh_grid_bits,
        )
        books.append(cb)
        idx.append(ix)
    return SegmentCode(
        position=grid(frames.position, steps.position),
        rotation=grid_quaternions(frames.rotation, steps.rotation),
        log_scale=grid_sticky(frames.log_scales, steps.scale, deadzone),
        opacity=grid_sticky(frames.opacity_logits, steps.opacity, deadzone),
        codebooks=tuple(books),
        indices=tuple(idx),
    )


def dequantise_segment(code: SegmentCode, steps: Steps) -> SegmentFrames:
    """The float32 frames a :class:`SegmentCode` stands for."""
    f, n = code.opacity.shape
    bands = len(code.codebooks)
    sh = np.empty((f, n, bands * bands, 3), np.float32)
    for sl, cb, ix in zip(band_slices(bands * bands), code.codebooks, code.indices, strict=True):
        sh[:, :, sl, :] = cb.astype(np.float32)[ix].reshape(f, n, sl.stop - sl.start, 3)
    return SegmentFrames(
        position=(code.position * steps.position).astype(np.float32),
        rotation=(code.rotation * steps.rotation).astype(np.float32),
        log_scales=(code.log_scale * steps.scale).astype(np.float32),
        opacity_logits=(code.opacity * steps.opacity).astype(np.float32),
        sh=sh,
    )


def encode_segment(code: SegmentCode) -> bytes:
    """Lossless: :class:`SegmentCode` -> bytes."""
    levels = levels_of(code.position[0])
    parts = [
        encode_track(code.position, levels=levels),
        encode_track(code.rotation, levels=levels),
        encode_track(code.log_scale, orders=(1,)),
        encode_track(code.opacity[..., None], orders=(1,)),
    ]
    parts += [encode_band(cb, ix) for cb, ix in zip(code.codebooks, code.indices, strict=True)]
    return pack_parts(parts)


def decode_segment(
    data: bytes, f: int, m: int, n: int, bands: int, what: str = "segment"
) -> SegmentCode:
    """Inverse of :func:`encode_segment` for F frames, M moving elements, N Gaussians and
    ``bands`` SH bands (degree + 1)."""
    parts = unpack_parts(data, 4 + bands, what)
    try:
        books, idx = [], []
        for band in range(bands):
            cb, ix = decode_band(parts[4 + band], f, n, 3 * (2 * band + 1), f"{what}, SH {band}")
            books.append(cb)
            idx.append(ix)
        levels = levels_of(first_frame(parts[0], m, 3, f"{what}, positions"))
        return SegmentCode(
            position=decode_track(parts[0], f, m, 3, f"{what}, positions", levels),
            rotation=decode_track(parts[1], f, m, 4, f"{what}, rotations", levels),
            log_scale=decode_track(parts[2], f, n, 3, f"{what}, scales"),
            opacity=decode_track(parts[3], f, n, 1, f"{what}, opacities")[..., 0],
            codebooks=tuple(books),
            indices=tuple(idx),
        )
    except (ValueError, IndexError, OverflowError) as exc:
        raise ContainerError(f"{what}: corrupted ({exc})") from exc
