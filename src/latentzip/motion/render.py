"""Stick-figure renders: side-by-side panels (e.g. input and output) as a GIF or a PNG strip.

Joint positions (T, J, 3) are projected to 2-D with an oblique view (y up, the floor seen
from 30 degrees to the side of +z), one panel per motion, bones from the skeleton's parents.

>>> from latentzip.motion.synthetic import toy_motion
>>> m = toy_motion(8)
>>> frames = render_frames([("toy", m.positions())], m.skeleton.parents, size=(2, 2))
>>> frames.shape[0], frames.shape[-1]
(8, 3)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from latentzip.errors import DataError

VIEW_DEG = 30.0


def project(pos: np.ndarray) -> np.ndarray:
    """(..., 3) -> (..., 2): horizontal axis across the view, y up."""
    a = np.radians(VIEW_DEG)
    u = pos[..., 2] * np.sin(a) + pos[..., 0] * np.cos(a)
    return np.stack([u, pos[..., 1]], axis=-1)


def _check(panels) -> int:
    if not panels:
        raise DataError("nothing to render")
    lengths = {p[1].shape[0] for p in panels}
    for _, pos in panels:
        if pos.ndim != 3 or pos.shape[-1] != 3:
            raise DataError(f"positions must be (T, J, 3), got {pos.shape}")
    return min(lengths)


def _figure(panels, parents, size):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(size[0] * len(panels), size[1]))
    return fig, np.atleast_1d(axes)


def _limits(p2: np.ndarray) -> tuple[tuple[float, float], tuple[float, float]]:
    lo, hi = p2.reshape(-1, 2).min(0), p2.reshape(-1, 2).max(0)
    c, r = (lo + hi) / 2, max((hi - lo).max() / 2, 1e-6) * 1.1
    return (c[0] - r, c[0] + r), (min(lo[1], 0.0) - 0.05 * r, min(lo[1], 0.0) + 2.05 * r)


def _draw(ax, p2: np.ndarray, parents: np.ndarray, color: str) -> None:
    for j, p in enumerate(parents.tolist()):
        if p >= 0:
            ax.plot(p2[[p, j], 0], p2[[p, j], 1], "-", color=color, lw=2)
    ax.plot(p2[:, 0], p2[:, 1], "o", color="k", ms=2)


_COLORS = ("tab:blue", "tab:red", "tab:green", "tab:purple", "tab:orange")


def render_frames(panels, parents: np.ndarray, size=(3.0, 3.0), stride: int = 1) -> np.ndarray:
    """RGB frames (T', H, W, 3) uint8 of the panels ``[(title, positions (T, J, 3)), ...]``."""
    T = _check(panels)
    fig, axes = _figure(panels, parents, size)
    proj = [project(pos[:T]) for _, pos in panels]
    bones = [(p, j) for j, p in enumerate(parents.tolist()) if p >= 0]
    artists = []
    for k, (ax, (title, _)) in enumerate(zip(axes, panels, strict=True)):
        lim = _limits(proj[k])
        ax.set_xlim(*lim[0])
        ax.set_ylim(*lim[1])
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(title, fontsize=9)
        color = _COLORS[k % len(_COLORS)]
        lines = [ax.plot([], [], "-", color=color, lw=2)[0] for _ in bones]
        dots = ax.plot([], [], "o", color="k", ms=2)[0]
        artists.append((lines, dots))
    frames = []
    for t in range(0, T, stride):
        for k, (lines, dots) in enumerate(artists):
            p2 = proj[k][t]
            for line, (p, j) in zip(lines, bones, strict=True):
                line.set_data(p2[[p, j], 0], p2[[p, j], 1])
            dots.set_data(p2[:, 0], p2[:, 1])
        fig.canvas.draw()
        frames.append(np.asarray(fig.canvas.buffer_rgba())[..., :3].copy())
    import matplotlib.pyplot as plt

    plt.close(fig)
    return np.stack(frames)


def save_gif(panels, parents, path: str | Path, fps: float = 30.0, *, force: bool = False):
    """Write an animated GIF of the panels (every frame, at ``fps``)."""
    import io

    from PIL import Image

    from latentzip.files import atomic_write

    frames = render_frames(panels, parents)
    images = [Image.fromarray(f) for f in frames]
    buf = io.BytesIO()
    images[0].save(
        buf, format="GIF", save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0
    )
    return atomic_write(path, buf.getvalue(), force=force)


def save_strip(panels, parents, path: str | Path, n: int = 6, *, force: bool = False):
    """A PNG with one row per panel and ``n`` evenly spaced frames per row (onion strip)."""
    T = _check(panels)
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    from latentzip.files import save_figure

    times = np.linspace(0, T - 1, n).round().astype(int)
    fig, axes = plt.subplots(len(panels), n, figsize=(1.6 * n, 2.2 * len(panels)), squeeze=False)
    for r, (title, pos) in enumerate(panels):
        p2 = project(pos[:T])
        lim = _limits(p2)
        for c, t in enumerate(times):
            ax = axes[r, c]
            _draw(ax, p2[t], parents, _COLORS[r % len(_COLORS)])
            ax.set_xlim(*lim[0])
            ax.set_ylim(*lim[1])
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(title, fontsize=8)
            if r == 0:
                ax.set_title(f"frame {t}", fontsize=8)
    fig.tight_layout()
    out = save_figure(fig, path, force=force)
    plt.close(fig)
    return out


__all__ = ["project", "render_frames", "save_gif", "save_strip"]
