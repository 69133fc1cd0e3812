"""Images as planes to code, and back: reversible colour transforms and the plane kinds.

An image is (h, w) or (h, w, c) of uint8 or uint16. With three or more channels the first
three go through one of the reversible colour transforms ``RCTS`` (integer lifting; the
encoder picks one per tile), so the first plane carries the structure and the two chroma
planes are coded after it and predicted with its help. Other channels (grey, alpha) are coded
as luma-kind planes of their own.

=====  ==========================================  =====================================
rct    planes                                      suits
=====  ==========================================  =====================================
0      YCoCg-R: Y, Co = R - B, Cg = G - (R+B)/2     most photos
1      G, R - G, B - (R+G)/2                       green-dominated sensors, JPEG output
2      G, then R and B as they are (each predicted  channels that differ in contrast
       from its own neighbours and G's gradients)   (the blend decides per pixel)
=====  ==========================================  =====================================
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from latentzip.errors import DataError

LUMA, CHROMA = 0, 1
DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16))
MAX_CHANNELS = 4
RCTS = (0, 1, 2)


@dataclass(frozen=True)
class Plane:
    """One plane of a tile: values 0..maxval; a chroma plane is predicted from plane 0."""

    values: np.ndarray  # (h, w) int64
    maxval: int
    kind: int


def check_image(img: np.ndarray) -> np.ndarray:
    """``img`` as a C-contiguous (h, w, c) array, or :class:`DataError` for what is not an
    8- or 16-bit image of 1..4 channels."""
    img = np.asarray(img)
    if img.dtype not in DTYPES:
        raise DataError(f"images must be uint8 or uint16, got {img.dtype}")
    if img.ndim == 2:
        img = img[:, :, None]
    if img.ndim != 3 or not 1 <= img.shape[2] <= MAX_CHANNELS:
        raise DataError(f"expected an (h, w) or (h, w, 1..4) image, got shape {img.shape}")
    if img.shape[0] == 0 or img.shape[1] == 0:
        raise DataError(f"empty image of shape {img.shape}")
    return np.ascontiguousarray(img)


def to_planes(img: np.ndarray, tops: list[int] | None = None, rct: int = 0) -> list[Plane]:
    """Planes of an (h, w, c) tile (see the module docstring); ``tops`` caps the values of the
    channels coded as planes of their own (compacted channels: their number of values - 1)."""
    top = (1 << (8 * img.dtype.itemsize)) - 1
    tops = tops or [top] * img.shape[2]
    ch = [img[:, :, k].astype(np.int64) for k in range(img.shape[2])]
    if len(ch) < 3:
        return [Plane(np.ascontiguousarray(p), t, LUMA) for p, t in zip(ch, tops, strict=True)]
    r, g, b = ch[:3]
    if rct == 0:
        co = r - b
        t = b + (co >> 1)
        cg = g - t
        values = [t + (cg >> 1), co + top, cg + top]
    elif rct == 1:
        values = [g, r - g + top, b - ((r + g) >> 1) + top]
    elif rct == 2:
        values = [g, r, b]
    else:
        raise DataError(f"unknown colour transform {rct}")
    planes = [Plane(values[0], top, LUMA)]
    chroma_top = top if rct == 2 else 2 * top
    planes += [Plane(v, chroma_top, CHROMA) for v in values[1:]]
    return planes + [
        Plane(np.ascontiguousarray(p), t, LUMA) for p, t in zip(ch[3:], tops[3:], strict=True)
    ]


def shapes(n_channels: int, dtype: np.dtype, tops: list[int] | None = None, rct: int = 0) -> list:
    """``(maxval, kind)`` of each plane of an image of ``n_channels`` and ``dtype``."""
    top = (1 << (8 * np.dtype(dtype).itemsize)) - 1
    tops = tops or [top] * n_channels
    if n_channels < 3:
        return [(t, LUMA) for t in tops]
    chroma_top = top if rct == 2 else 2 * top
    return [(top, LUMA), (chroma_top, CHROMA), (chroma_top, CHROMA)] + [(t, LUMA) for t in tops[3:]]


def from_planes(planes: list[np.ndarray], dtype: np.dtype, rct: int = 0) -> np.ndarray:
    """Inverse of :func:`to_planes`: the (h, w, c) tile."""
    top = (1 << (8 * np.dtype(dtype).itemsize)) - 1
    if len(planes) < 3:
        return np.stack(planes, -1).astype(dtype)
    if rct == 0:
        y, co, cg = planes[0], planes[1] - top, planes[2] - top
        t = y - (cg >> 1)
        g = cg + t
        b = t - (co >> 1)
        r = b + co
    elif rct == 1:
        g = planes[0]
        r = planes[1] - top + g
        b = planes[2] - top + ((r + g) >> 1)
    elif rct == 2:
        g, r, b = planes[:3]
    else:
        raise DataError(f"unknown colour transform {rct}")
    out = np.stack([r, g, b, *planes[3:]], -1)
    if out.min() < 0 or out.max() > top:
        raise DataError("the colour planes do not give pixels in range")
    return out.astype(dtype)
