"""A differentiable Gaussian-splatting rasteriser in pure PyTorch (CPU), and a dense reference.

The forward model is 3DGS's (Kerbl et al., SIGGRAPH 2023): each Gaussian is projected with
the camera, its 2-D covariance is ``J W Sigma W^T J^T + 0.3 I`` (the EWA Jacobian ``J`` of the
perspective projection, plus 3DGS's 0.3 px^2 dilation), and pixels composite the Gaussians
front to back::

    alpha_i = min(0.99, opacity_i * exp(-0.5 d^T Sigma2d^-1 d))     (dropped if < 1/255)
    C = sum_i c_i alpha_i prod_{j<i} (1 - alpha_j) + (1 - sum_i alpha_i T_i) * background

with colours ``c_i = max(0, SH(view direction) + 0.5)`` (degree 0-3, the standard real SH
constants). Instead of 3DGS's tiles, every Gaussian lists the pixels of its 3-sigma bounding
box (index arithmetic on a flat range), pairs beyond 3 sigma are dropped, the pairs are sorted
by (pixel, depth) and transmittance is a segmented exclusive cumulative sum of
``log(1 - alpha)``. All of it is ordinary autograd, so gradients reach every parameter.

``render`` takes either a :class:`~latentzip.splats.gaussians.Gaussians` (numpy) or any
object or mapping with torch tensors ``means (N,3)``, ``log_scales (N,3)``, ``rotations
(N,4)`` (w, x, y, z, unnormalised), ``opacity_logits (N,)`` and ``sh (N,B,3)`` — the same
fields, with gradients where wanted. :func:`render_dense` evaluates every Gaussian at every
pixel in an explicit loop; the tests hold ``render`` to it.

There is no CUDA path: on a GPU, gsplat's ``rasterization`` computes the same image much
faster and could stand in for :func:`rasterise` (not required, not installed here).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from latentzip.errors import DataError
from latentzip.splats.cameras import Camera
from latentzip.splats.gaussians import Gaussians, sh_degree

__all__ = [
    "Rendered",
    "gaussian_tensors",
    "rasterise",
    "render",
    "render_dense",
    "render_numpy",
    "sh_to_colour",
    "take",
]

FIELDS = ("means", "log_scales", "rotations", "opacity_logits", "sh")
NEAR = 0.05
MIN_ALPHA = 1.0 / 255.0
MAX_ALPHA = 0.99
DILATION = 0.3
CUTOFF = 3.0  # sigmas

SH_C0 = 0.28209479177387814
SH_C1 = 0.4886025119029199
SH_C2 = (
    1.0925484305920792,
    -1.0925484305920792,
    0.31539156525252005,
    -1.0925484305920792,
    0.5462742152960396,
)
SH_C3 = (
    -0.5900435899266435,
    2.890611442640554,
    -0.4570457994644658,
    0.3731763325901154,
    -0.4570457994644658,
    1.445305721320277,
    -0.5900435899266435,
)


def gaussian_tensors(g, dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """The five parameter tensors of ``g`` (a ``Gaussians``, a mapping, or an object)."""
    if isinstance(g, Gaussians):
        return {f: torch.from_numpy(getattr(g, f)).to(dtype) for f in FIELDS}
    get = g.__getitem__ if isinstance(g, Mapping) else lambda f: getattr(g, f)
    try:
        out = {f: get(f) for f in FIELDS}
    except (KeyError, AttributeError) as exc:
        raise DataError(f"Gaussians need the fields {', '.join(FIELDS)} ({exc})") from exc
    n = len(out["means"])
    shapes = {"means": (n, 3), "log_scales": (n, 3), "rotations": (n, 4), "opacity_logits": (n,)}
    for f, shape in shapes.items():
        if tuple(out[f].shape) != shape:
            raise DataError(f"{f} has shape {tuple(out[f].shape)}, expected {shape}")
    sh = out["sh"]
    if sh.ndim != 3 or sh.shape[0] != n or sh.shape[2] != 3:
        raise DataError(f"sh has shape {tuple(sh.shape)}, expected (N, B, 3)")
    sh_degree(sh.shape[1])
    return out


def take(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``x[index]`` along the first axis by ``index_select``, whose backward (``index_add``)
    is deterministic on multi-threaded CPUs, unlike advanced indexing's."""
    return torch.index_select(x, 0, index.reshape(-1)).reshape(*index.shape, *x.shape[1:])


def quat_to_matrix(q: torch.Tensor) -> torch.Tensor:
    """(..., 4) quaternions (w, x, y, z; normalised here) -> (..., 3, 3)."""
    q = q / q.norm(dim=-1, keepdim=True)
    w, x, y, z = q.unbind(-1)
    return torch.stack(
        [
            1 - 2 * (y * y + z * z),
            2 * (x * y - w * z),
            2 * (x * z + w * y),
            2 * (x * y + w * z),
            1 - 2 * (x * x + z * z),
            2 * (y * z - w * x),
            2 * (x * z - w * y),
            2 * (y * z + w * x),
            1 - 2 * (x * x + y * y),
        ],
        dim=-1,
    ).reshape(*q.shape[:-1], 3, 3)


def sh_to_colour(sh: torch.Tensor, dirs: torch.Tensor) -> torch.Tensor:
    """Colours ``max(0, sum_b Y_b(dir) sh_b + 0.5)``; sh (..., B, 3), dirs (..., 3) unit."""
    degree = sh_degree(sh.shape[-2])
    x, y, z = dirs.unbind(-1)
    basis = [torch.full_like(x, SH_C0)]
    if degree >= 1:
        basis += [-SH_C1 * y, SH_C1 * z, -SH_C1 * x]
    if degree >= 2:
        xx, yy, zz = x * x, y * y, z * z
        basis += [
            SH_C2[0] * x * y,
            SH_C2[1] * y * z,
            SH_C2[2] * (2 * zz - xx - yy),
            SH_C2[3] * x * z,
            SH_C2[4] * (xx - yy),
        ]
    if degree >= 3:
        basis += [
            SH_C3[0] * y * (3 * xx - yy),
            SH_C3[1] * x * y * z,
            SH_C3[2] * y * (4 * zz - xx - yy),
            SH_C3[3] * z * (2 * zz - 3 * xx - 3 * yy),
            SH_C3[4] * x * (4 * zz - xx - yy),
            SH_C3[5] * z * (xx - yy),
            SH_C3[6] * x * (xx - 3 * yy),
        ]
    b = torch.stack(basis, dim=-1)  # (..., B)
    return torch.clamp((b.unsqueeze(-1) * sh).sum(-2) + 0.5, min=0.0)


@dataclass
class Projected:
    """Per (view, Gaussian) screen-space quantities, each (V, N, ...)."""

    uv: torch.Tensor  # (V, N, 2) pixel centres
    depth: torch.Tensor  # (V, N)
    conic: torch.Tensor  # (V, N, 3) inverse 2-D covariance (a, b, c)
    radius: torch.Tensor  # (V, N) 3-sigma radius in pixels (0 = culled), no grad
    opacity: torch.Tensor  # (N,)
    colour: torch.Tensor  # (V, N, 3)


def _camera_tensors(cameras: Sequence[Camera], dtype) -> tuple[torch.Tensor, ...]:
    w2c = torch.tensor(np.stack([c.world_to_camera for c in cameras]), dtype=dtype)
    k = torch.tensor(np.stack([c.K for c in cameras]), dtype=dtype)
    centres = torch.tensor(np.stack([c.center for c in cameras]), dtype=dtype)
    return w2c[:, :3, :3], w2c[:, :3, 3], k, centres


def project(p: dict[str, torch.Tensor], cameras: Sequence[Camera]) -> Projected:
    """Project Gaussians into every camera (all cameras the same size)."""
    means = p["means"]
    dtype = means.dtype
    rot, trans, k, centres = _camera_tensors(cameras, dtype)
    width, height = cameras[0].width, cameras[0].height
    cam = torch.einsum("vab,nb->vna", rot, means) + trans[:, None, :]
    x, y, z = cam.unbind(-1)
    in_front = z > NEAR
    zs = torch.where(in_front, z, torch.ones_like(z))
    fx, fy = k[:, 0, 0, None], k[:, 1, 1, None]
    cx, cy = k[:, 0, 2, None], k[:, 1, 2, None]
    u = fx * x / zs + cx
    v = fy * y / zs + cy
    # EWA: Jacobian of (fx x/z, fy y/z), with x/z clamped to 1.3x the field of view as 3DGS does
    limx = 1.3 * (0.5 * width / fx)
    limy = 1.3 * (0.5 * height / fy)
    tx = torch.clamp(x / zs, -limx, limx) * zs
    ty = torch.clamp(y / zs, -limy, limy) * zs
    zero = torch.zeros_like(zs)
    jac = torch.stack(
        [
            torch.stack([fx / zs, zero, -fx * tx / (zs * zs)], -1),
            torch.stack([zero, fy / zs, -fy * ty / (zs * zs)], -1),
        ],
        dim=-2,
    )  # (V, N, 2, 3)
    r = quat_to_matrix(p["rotations"])
    s = torch.exp(p["log_scales"])
    m = r * s[:, None, :]
    sigma = m @ m.transpose(-1, -2)  # (N, 3, 3)
    t = jac @ rot[:, None]  # (V, N, 2, 3)
    cov = t @ sigma[None] @ t.transpose(-1, -2)
    a = cov[..., 0, 0] + DILATION
    b = cov[..., 0, 1]
    c = cov[..., 1, 1] + DILATION
    det = a * c - b * b
    conic = torch.stack([c / det, -b / det, a / det], -1)
    with torch.no_grad():
        mid = 0.5 * (a + c)
        lam = mid + torch.sqrt(torch.clamp(mid * mid - det, min=0.1))
        radius = torch.ceil(CUTOFF * torch.sqrt(lam))
        radius = torch.where(in_front & (det > 0), radius, torch.zeros_like(radius))
    dirs = means[None] - centres[:, None, :]
    dirs = dirs / dirs.norm(dim=-1, keepdim=True)
    colour = sh_to_colour(p["sh"][None], dirs)
    opacity = torch.sigmoid(p["opacity_logits"])
    return Projected(torch.stack([u, v], -1), z, conic, radius, opacity, colour)


@dataclass
class Rendered:
    """Images from :func:`rasterise`: ``colour (V,H,W,3)``, ``alpha (V,H,W)``, ``uv (V,N,2)``.

    ``uv`` are the projected centres; call ``uv.retain_grad()`` before ``backward`` to get the
    screen-space positional gradient 3DGS densifies by.
    """

    colour: torch.Tensor
    alpha: torch.Tensor
    uv: torch.Tensor
    n_pairs: int


def _background(background, dtype) -> torch.Tensor:
    bg = torch.as_tensor(background, dtype=dtype)
    if bg.shape != (3,):
        raise DataError(f"background must be 3 numbers, not shape {tuple(bg.shape)}")
    return bg


def _power(q: torch.Tensor, pixel: torch.Tensor) -> torch.Tensor:
    """Gaussian exponent -0.5 d^T Sigma^-1 d for packed rows ``q`` and pixel centres."""
    dx = pixel[:, 0] - q[:, 0]
    dy = pixel[:, 1] - q[:, 1]
    return -0.5 * (q[:, 2] * dx * dx + q[:, 4] * dy * dy) - q[:, 3] * dx * dy


def _pairs(
    packed: torch.Tensor, proj: Projected, width: int, height: int
) -> tuple[torch.Tensor, ...]:
    """(row of ``packed``, pixel x, pixel y) of every pair within 3 sigma, front to back."""
    n_views, n = proj.depth.shape
    order = torch.argsort(proj.depth, dim=1)
    flat = (order + torch.arange(n_views)[:, None] * n).reshape(-1)
    q = packed[flat]
    visible = proj.radius.reshape(-1)[flat] > 0
    # 3-sigma extents along x and y: sqrt of the covariance diagonal (conic = its inverse)
    det = q[:, 2] * q[:, 4] - q[:, 3] ** 2
    rx = torch.ceil(CUTOFF * torch.sqrt(q[:, 4] / det))
    ry = torch.ceil(CUTOFF * torch.sqrt(q[:, 2] / det))
    x0 = torch.clamp(torch.ceil(q[:, 0] - rx), min=0)
    x1 = torch.clamp(torch.floor(q[:, 0] + rx), max=width - 1)
    y0 = torch.clamp(torch.ceil(q[:, 1] - ry), min=0)
    y1 = torch.clamp(torch.floor(q[:, 1] + ry), max=height - 1)
    bw = torch.clamp(x1 - x0 + 1, min=0).long()
    bh = torch.clamp(y1 - y0 + 1, min=0).long()
    count = torch.where(visible, bw * bh, 0)
    box = torch.repeat_interleave(torch.arange(len(flat)), count)
    off = torch.arange(len(box)) - (torch.cumsum(count, 0) - count)[box]
    bwb = bw[box]
    px = x0.long()[box] + off % bwb
    py = y0.long()[box] + off // bwb
    qb = q[box]
    power = _power(qb, torch.stack([px, py], -1).to(q.dtype))
    keep = (power >= -0.5 * CUTOFF**2) & (qb[:, 5] * torch.exp(power) >= MIN_ALPHA)
    return flat[box[keep]], px[keep], py[keep]


def rasterise(g, cameras: Sequence[Camera], *, background=(0.0, 0.0, 0.0)) -> Rendered:
    """Render ``g`` into every camera of ``cameras`` (all of one size) in one batch."""
    if not cameras:
        raise DataError("no cameras to render")
    if len({(c.width, c.height) for c in cameras}) != 1:
        raise DataError("rasterise renders cameras of one image size per call")
    p = gaussian_tensors(g)
    dtype = p["means"].dtype
    bg = _background(background, dtype)
    width, height = cameras[0].width, cameras[0].height
    n_views, n = len(cameras), len(p["means"])
    proj = project(p, cameras)
    hw = width * height
    # per (view, Gaussian): u, v, conic (3), opacity, colour (3), gathered once per pair
    packed = torch.cat(
        [
            proj.uv,
            proj.conic,
            proj.opacity[None, :, None].expand(n_views, n, 1),
            proj.colour,
        ],
        dim=-1,
    ).reshape(n_views * n, 9)
    with torch.no_grad():
        pair, px, py = _pairs(packed.detach(), proj, width, height)
        pix = (pair // n) * hw + py * width + px
        pix, perm = torch.sort(pix, stable=True)  # stable: depth order kept within a pixel
        pair, px, py = pair[perm], px[perm], py[perm]
        m = len(pix)
        # index of the first (front-most) pair of each pair's pixel
        is_first = torch.ones(m, dtype=torch.bool)
        is_first[1:] = pix[1:] != pix[:-1]
        first = torch.cummax(torch.where(is_first, torch.arange(m), 0), 0)[0]
        dxy = torch.stack([px, py], -1).to(dtype)
    q = take(packed, pair)
    alpha = torch.clamp(q[:, 5] * torch.exp(_power(q, dxy)), max=MAX_ALPHA)
    log_t = torch.log1p(-alpha).double()
    excl = torch.cumsum(log_t, 0) - log_t
    trans = torch.exp(excl - take(excl, first)).to(dtype)
    weight = alpha * trans
    img = torch.zeros(n_views * hw, 3, dtype=dtype).index_add(0, pix, weight[:, None] * q[:, 6:9])
    acc = torch.zeros(n_views * hw, dtype=dtype).index_add(0, pix, weight)
    img = img + (1 - acc)[:, None] * bg
    return Rendered(
        img.reshape(n_views, height, width, 3), acc.reshape(n_views, height, width), proj.uv, m
    )


def render(g, camera: Camera, *, background=(0.0, 0.0, 0.0)) -> torch.Tensor:
    """Render ``g`` (``Gaussians`` or torch tensors, see the module docstring) -> (H, W, 3).

    Differentiable with respect to every tensor field of ``g``.
    """
    return rasterise(g, [camera], background=background).colour[0]


def render_numpy(gaussians: Gaussians, camera: Camera, *, background=(0.0, 0.0, 0.0)) -> np.ndarray:
    """Render a ``Gaussians`` -> (H, W, 3) float32 numpy image."""
    with torch.no_grad():
        return render(gaussians, camera, background=background).numpy().astype(np.float32)


def render_dense(g, camera: Camera, *, background=(0.0, 0.0, 0.0)) -> torch.Tensor:
    """Reference renderer: every Gaussian at every pixel, composited in an explicit loop.

    Same model as :func:`render` but without the 3-sigma cut-off and pair lists; slow, for
    tests only.
    """
    p = gaussian_tensors(g)
    dtype = p["means"].dtype
    proj = project(p, [camera])
    ys, xs = torch.meshgrid(
        torch.arange(camera.height, dtype=dtype),
        torch.arange(camera.width, dtype=dtype),
        indexing="ij",
    )
    img = torch.zeros(camera.height, camera.width, 3, dtype=dtype)
    trans = torch.ones(camera.height, camera.width, dtype=dtype)
    for i in torch.argsort(proj.depth[0]).tolist():
        if proj.radius[0, i] <= 0:
            continue
        a, b, c = proj.conic[0, i]
        dx = xs - proj.uv[0, i, 0]
        dy = ys - proj.uv[0, i, 1]
        power = -0.5 * (a * dx * dx + 2 * b * dx * dy + c * dy * dy)
        alpha = torch.clamp(proj.opacity[i] * torch.exp(power), max=MAX_ALPHA)
        alpha = torch.where(alpha >= MIN_ALPHA, alpha, torch.zeros_like(alpha))
        img = img + (trans * alpha)[..., None] * proj.colour[0, i]
        trans = trans * (1 - alpha)
    return img + trans[..., None] * _background(background, dtype)
