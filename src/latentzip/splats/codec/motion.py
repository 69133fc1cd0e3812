"""Closed-loop quantisation and coding of per-frame parameter tracks (motion, opacity, scale).

A track is a float array ``x`` (F, M, d): F frames of M elements with d components. With step
``delta`` every frame is put on the grid ``k_t = round(x_t / delta)`` and decoded as
``k_t * delta``, so ``|decoded - x| <= delta / 2``. The coded residual of frame t is
``k_t - pred_t`` with ``pred_t = k_{t-1}`` (previous *decoded* frame) or the constant-velocity
``2 k_{t-1} - k_{t-2}``, whichever is smaller for the segment; since ``k_{t-1} * delta`` is the
previous decoded frame, ``k_t - k_{t-1} = round((x_t - decoded_{t-1}) / delta)``: closed-loop
prediction, errors do not accumulate.

::

    x (F, M, d) --/delta, round--> k --frame 0--> intra (minus median, delta along M or d)
                                     \\-frames 1..--> k_t - pred_t [- neighbours' mean, .spatial]
                                                   --contexts |coded_{t-1}|--> rANS

Quaternions are normalised and given the sign closest to the previous decoded frame (``w >= 0``
on a segment's first frame), so a rotation never jumps between its two representations.
"""

from __future__ import annotations

import numpy as np

from latentzip.errors import ContainerError
from latentzip.splats.codec.entropy import (
    IntDecoder,
    IntEncoder,
    pack_parts,
    read_varint,
    unpack_parts,
    varint,
)
from latentzip.splats.codec.spatial import Levels

__all__ = [
    "decode_intra",
    "decode_track",
    "encode_intra",
    "encode_track",
    "first_frame",
    "grid",
    "grid_quaternions",
    "grid_sticky",
]

_RESIDUAL_CONTEXTS = 4  # |previous residual| 0, 1, >= 2, and "first residual frame"


def grid(x: np.ndarray, step: float) -> np.ndarray:
    """``round(x / step)`` as int64 (ties to even, like numpy)."""
    return np.round(np.asarray(x, np.float64) / step).astype(np.int64)


def grid_sticky(x: np.ndarray, step: float, deadzone: float = 0.5) -> np.ndarray:
    """Grid values (F, ...) of ``x`` that keep frame t-1's value while within ``deadzone``
    steps of it (0.5: plain rounding); ``|k * step - x| <= max(0.5, deadzone) * step``."""
    x = np.asarray(x, np.float64)
    k = grid(x, step)
    if deadzone > 0.5:
        for t in range(1, len(k)):
            keep = np.abs(x[t] - k[t - 1] * step) <= deadzone * step
            k[t] = np.where(keep, k[t - 1], k[t])
    return k


def grid_quaternions(q: np.ndarray, step: float) -> np.ndarray:
    """Grid values (F, M, 4) of quaternions (F, M, 4): normalised, sign-continuous.

    Frame 0 takes ``w >= 0``; frame t the sign closer to the decoded frame t-1.
    """
    q = np.asarray(q, np.float64)
    q = q / np.maximum(np.linalg.norm(q, axis=-1, keepdims=True), 1e-30)
    out = np.empty(q.shape, np.int64)
    prev = None
    for t in range(len(q)):
        if prev is None:
            sign = np.where(q[t, :, :1] < 0, -1.0, 1.0)
        else:
            sign = np.where(np.sum(q[t] * prev, axis=-1, keepdims=True) < 0, -1.0, 1.0)
        out[t] = grid(q[t] * sign, step)
        prev = out[t].astype(np.float64)
    return out


def _zigzag(v: int) -> int:
    return 2 * v if v >= 0 else -2 * v - 1


def _unzigzag(u: int) -> int:
    return u // 2 if u % 2 == 0 else -(u + 1) // 2


def encode_intra(k: np.ndarray) -> bytes:
    """One frame ``k`` (M, d) of grid values, losslessly; cheaper of two predictions."""
    k = np.asarray(k, np.int64)
    m, d = k.shape
    ctx = np.broadcast_to(np.arange(d), (m, d)).ravel()
    best = None
    med = np.median(k, axis=0).round().astype(np.int64) if m else np.zeros(d, np.int64)
    candidates = [(0, k - med), (1, np.diff(k, axis=0, prepend=0))]
    if d > 1:
        candidates.append((2, np.diff(k - med, axis=1, prepend=0)))
    for mode, values in candidates:
        enc = IntEncoder(d)
        enc.add(values.ravel(), ctx)
        head = b"".join(varint(_zigzag(int(v))) for v in med) if mode != 1 else b""
        blob = bytes([mode]) + head + enc.finish()
        if best is None or len(blob) < len(best):
            best = blob
    return best


def decode_intra(data: bytes, m: int, d: int, what: str = "intra frame") -> np.ndarray:
    """Inverse of :func:`encode_intra`: (M, d) int64."""
    if not data:
        raise ContainerError(f"{what}: empty")
    mode, pos = data[0], 1
    med = np.zeros(d, np.int64)
    if mode not in (0, 1, 2):
        raise ContainerError(f"{what}: unknown prediction mode {mode}")
    if mode != 1:
        for j in range(d):
            u, pos = read_varint(data, pos, what)
            med[j] = _unzigzag(u)
    dec = IntDecoder(data[pos:], d, what)
    values = dec.read(np.broadcast_to(np.arange(d), (m, d)).ravel()).reshape(m, d)
    dec.finish()
    if mode == 1:
        return np.cumsum(values, axis=0)
    return (np.cumsum(values, axis=1) if mode == 2 else values) + med


def _contexts(prev_residual: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
    if prev_residual is None:
        return np.full(int(np.prod(shape)), 3, np.int64)
    return np.minimum(np.abs(prev_residual), 2).ravel()


def _residuals(k: np.ndarray, order: int) -> np.ndarray:
    r = np.empty_like(k[1:])
    for t in range(1, len(k)):
        pred = 2 * k[t - 1] - k[t - 2] if order == 2 and t >= 2 else k[t - 1]
        r[t - 1] = k[t] - pred
    return r


def encode_track(
    k: np.ndarray, orders: tuple[int, ...] = (1, 2), levels: Levels | None = None
) -> bytes:
    """A segment's grid values ``k`` (F, M, d) int64 -> bytes (see the module docstring);
    with ``levels``, residuals are also predicted from neighbours (:mod:`.spatial`)."""
    k = np.asarray(k, np.int64)
    intra = encode_intra(k[0])
    best = b"" if len(k) == 1 else None
    for order in orders if len(k) > 2 else (1,) if len(k) == 2 else ():
        r = _residuals(k, order)
        enc = IntEncoder(_RESIDUAL_CONTEXTS)
        prev = None
        for t in range(len(r)):
            coded = _spatial_residual(r[t], levels)
            ctx = _contexts(prev, r[t].shape).reshape(r[t].shape)
            for rows in _chunks(levels, len(r[t])):
                enc.add(coded[rows].ravel(), ctx[rows].ravel())
            prev = coded
        blob = bytes([order]) + enc.finish()
        if best is None or len(blob) < len(best):
            best = blob
    return pack_parts([intra, best or b""])


def _chunks(levels: Levels | None, m: int) -> tuple:
    return (slice(0, m),) if levels is None else levels.members


def _spatial_residual(r: np.ndarray, levels: Levels | None) -> np.ndarray:
    """``r`` (M, d) minus its prediction from lower levels (``r`` itself without levels)."""
    if levels is None:
        return r
    out = r.copy()
    for lv, rows in enumerate(levels.members):
        out[rows] -= levels.predict(r, lv)
    return out


def first_frame(data: bytes, m: int, d: int, what: str = "track") -> np.ndarray:
    """Frame 0 (M, d) of an encoded track, without its residuals."""
    return decode_intra(unpack_parts(data, 2, what)[0], m, d, f"{what} (first frame)")


def decode_track(
    data: bytes, f: int, m: int, d: int, what: str = "track", levels: Levels | None = None
) -> np.ndarray:
    """Inverse of :func:`encode_track`: (F, M, d) int64 (``levels`` as given to it)."""
    intra, rest = unpack_parts(data, 2, what)
    k = np.empty((f, m, d), np.int64)
    k[0] = decode_intra(intra, m, d, f"{what} (first frame)")
    if f == 1:
        if rest:
            raise ContainerError(f"{what}: residuals for a single-frame segment")
        return k
    if not rest or rest[0] not in (1, 2):
        raise ContainerError(f"{what}: unknown predictor")
    order = rest[0]
    dec = IntDecoder(rest[1:], _RESIDUAL_CONTEXTS, what)
    prev = None
    for t in range(1, f):
        ctx = _contexts(prev, (m, d)).reshape(m, d)
        coded = np.empty((m, d), np.int64)
        r = np.empty((m, d), np.int64)
        for lv, rows in enumerate(_chunks(levels, m)):
            coded[rows] = dec.read(ctx[rows].ravel()).reshape(-1, d)
            r[rows] = coded[rows] + (0 if levels is None else levels.predict(r, lv))
        pred = 2 * k[t - 1] - k[t - 2] if order == 2 and t >= 2 else k[t - 1]
        k[t] = pred + r
        prev = coded
    dec.finish()
    return k
