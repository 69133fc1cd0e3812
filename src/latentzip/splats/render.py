"""Render fitted frames to images and videos: a capture's camera, or a turntable orbit."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from latentzip.errors import DataError
from latentzip.files import atomic_write
from latentzip.splats.cameras import Camera, ring_cameras
from latentzip.splats.gaussians import Gaussians
from latentzip.splats.raster import render_numpy

__all__ = ["MEDIA", "orbit_cameras", "render_sequence", "write_media"]

MEDIA = (".png", ".gif", ".mp4")


def orbit_cameras(
    gaussians: Gaussians, n: int, *, size: int = 128, fov_deg: float = 40.0, up=(0.0, 1.0, 0.0)
) -> list[Camera]:
    """``n`` cameras circling the Gaussians at the distance that frames them."""
    m = gaussians.means
    lo, hi = np.percentile(m, 1, axis=0), np.percentile(m, 99, axis=0)
    centre = (lo + hi) / 2
    extent = float(np.linalg.norm(hi - lo)) / 2
    radius = 1.1 * extent / np.tan(np.radians(fov_deg) / 2)
    return ring_cameras(
        n, size=size, radius=radius, heights=(0.3 * radius,), target=centre, up=up, fov_deg=fov_deg
    )


def render_sequence(frames: list[Gaussians], cameras: list[Camera], *, background=(0, 0, 0)):
    """Frame ``i`` of ``frames`` seen by ``cameras[i]`` (or the one camera), uint8 images."""
    if len(cameras) not in (1, len(frames)):
        raise DataError(f"{len(cameras)} cameras for {len(frames)} frames")
    out = []
    for i, g in enumerate(frames):
        img = render_numpy(g, cameras[i if len(cameras) > 1 else 0], background=background)
        out.append(np.clip(np.round(img * 255), 0, 255).astype(np.uint8))
    return out


def write_media(path: str | Path, images: list[np.ndarray], *, fps: float = 30.0, force=True):
    """One image -> PNG; several -> a horizontal strip (.png), a GIF or an MP4."""
    import imageio.v3 as iio

    path = Path(path)
    ext = path.suffix.lower()
    if ext not in MEDIA:
        raise DataError(f"{path}: write .png, .gif or .mp4")
    if ext == ".png":
        data = iio.imwrite("<bytes>", np.concatenate(images, axis=1), extension=".png")
    elif ext == ".gif":
        data = iio.imwrite(
            "<bytes>", np.stack(images), extension=".gif", duration=1000 / fps, loop=0
        )
    else:
        h, w = images[0].shape[:2]
        pad = [(0, (-h) % 16), (0, (-w) % 16), (0, 0)]  # codec-friendly block sizes
        stack = np.stack([np.pad(im, pad) for im in images])
        data = iio.imwrite("<bytes>", stack, extension=".mp4", fps=fps, codec="libx264")
    return atomic_write(path, data, force=force)
