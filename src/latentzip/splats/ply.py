"""Read and write Gaussians as standard 3DGS ``.ply`` files (the INRIA layout).

Vertex properties, all float32, in this order: ``x y z nx ny nz f_dc_0..2 f_rest_0..
opacity scale_0..2 rot_0..3``. ``f_rest`` is channel-major (all red coefficients of bands
1.., then green, then blue), as the reference implementation writes it, so files open in
other 3DGS viewers. Normals are written as zeros and ignored on reading.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
from plyfile import PlyData, PlyElement

from latentzip.errors import DataError
from latentzip.files import atomic_write
from latentzip.splats.gaussians import Gaussians, sh_bands

__all__ = ["ply_bytes", "ply_properties", "read_ply", "write_ply"]


def ply_properties(degree: int) -> list[str]:
    """Vertex property names in file order for SH ``degree``."""
    rest = 3 * (sh_bands(degree) - 1)
    return (
        ["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"]
        + [f"f_rest_{i}" for i in range(rest)]
        + ["opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"]
    )


def ply_bytes(gaussians: Gaussians) -> bytes:
    """The binary little-endian ``.ply`` file for ``gaussians``.

    >>> g = Gaussians.random(3, degree=2)
    >>> read_ply(io.BytesIO(ply_bytes(g))).equals(g)
    True
    """
    g = gaussians
    n, bands = len(g), g.sh.shape[1]
    columns = [
        g.means,
        np.zeros((n, 3), np.float32),
        g.sh[:, 0, :],
        g.sh[:, 1:, :].transpose(0, 2, 1).reshape(n, 3 * (bands - 1)),
        g.opacity_logits[:, None],
        g.log_scales,
        g.rotations,
    ]
    names = ply_properties(g.degree)
    table = np.concatenate(columns, axis=1).astype("<f4")
    vertex = np.empty(n, dtype=[(name, "<f4") for name in names])
    for i, name in enumerate(names):
        vertex[name] = table[:, i]
    buf = io.BytesIO()
    PlyData([PlyElement.describe(vertex, "vertex")], text=False, byte_order="<").write(buf)
    return buf.getvalue()


def write_ply(path: str | Path, gaussians: Gaussians, *, force: bool = True) -> Path:
    """Write ``gaussians`` to ``path`` atomically."""
    return atomic_write(path, ply_bytes(gaussians), force=force)


def read_ply(source: str | Path | io.BufferedIOBase) -> Gaussians:
    """Read a 3DGS ``.ply`` file (path or binary file object)."""
    name = getattr(source, "name", None) or str(source)
    try:
        ply = PlyData.read(source)
        vertex = ply["vertex"].data
    except FileNotFoundError as exc:
        raise DataError(f"{name}: no such file") from exc
    except (OSError, ValueError, KeyError, TypeError, EOFError) as exc:
        raise DataError(f"{name}: not a readable 3DGS .ply file ({exc})") from exc
    fields = set(vertex.dtype.names or ())
    required = set(ply_properties(0)) - {"nx", "ny", "nz"}
    missing = sorted(required - fields)
    if missing:
        raise DataError(f"{name}: not a 3DGS .ply file, missing {', '.join(missing)}")
    rest_names = sorted(
        (f for f in fields if re.fullmatch(r"f_rest_\d+", f)), key=lambda f: int(f[7:])
    )
    if len(rest_names) % 3 or rest_names != [f"f_rest_{i}" for i in range(len(rest_names))]:
        raise DataError(f"{name}: f_rest properties are not f_rest_0..f_rest_(3k-1)")
    n, rest = len(vertex), len(rest_names) // 3

    def stack(names: list[str]) -> np.ndarray:
        return np.stack([np.asarray(vertex[f], np.float32) for f in names], axis=1).reshape(
            n, len(names)
        )

    dc = stack(["f_dc_0", "f_dc_1", "f_dc_2"])[:, None, :]
    higher = stack(rest_names).reshape(n, 3, rest).transpose(0, 2, 1)
    return Gaussians(
        means=stack(["x", "y", "z"]),
        log_scales=stack(["scale_0", "scale_1", "scale_2"]),
        rotations=stack(["rot_0", "rot_1", "rot_2", "rot_3"]),
        opacity_logits=np.asarray(vertex["opacity"], np.float32),
        sh=np.concatenate([dc, higher], axis=1),
    )
