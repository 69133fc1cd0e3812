"""Fit 3-D Gaussians to one frame of a multi-view capture (3DGS, on the CPU).

After Kerbl et al. (SIGGRAPH 2023): start from points in the visual hull of the masks, then
Adam on ``(1 - l) L1 + l (1 - SSIM)`` (``l = 0.2``) plus a mask term on the rendered alpha,
with periodic densification (clone small / split large Gaussians whose screen-space
positional gradient is largest) and pruning of transparent or oversized ones. The image
background is black, as in the captures.

:class:`FitConfig` holds every setting of this module and of the tracking in
:mod:`latentzip.splats.track`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from latentzip.errors import DataError
from latentzip.splats.cameras import Camera, Capture
from latentzip.splats.gaussians import Gaussians, sh_bands
from latentzip.splats.metrics import ssim_torch
from latentzip.splats.raster import SH_C0, gaussian_tensors, rasterise
from latentzip.splats.sequence import quat_to_matrix

__all__ = [
    "FitConfig",
    "FrameViews",
    "fit_gaussians",
    "median_colours",
    "photometric_loss",
    "visual_hull_points",
]

PARAMS = ("means", "log_scales", "rotations", "opacity_logits", "sh")


@dataclass(frozen=True)
class FitConfig:
    """Settings of the frame-0 fit and of the tracking (see ``track``).

    Learning rates are per parameter group as in 3DGS (positions in scene units, here
    metres). ``views`` training views are drawn at random for every iteration.
    """

    # frame 0 (3DGS)
    sh_degree: int = 1
    n_init: int = 2500
    max_gaussians: int = 5000
    iters: int = 600
    views: int = 6
    densify_every: int = 100
    densify_until: float = 0.75  # fraction of iters
    densify_fraction: float = 0.15
    min_opacity: float = 0.02
    max_scale: float = 0.15
    lr_means: float = 1e-3
    lr_log_scales: float = 5e-3
    lr_rotations: float = 2e-3
    lr_opacity: float = 3e-2
    lr_sh: float = 1e-2
    ssim_weight: float = 0.2
    mask_weight: float = 0.2
    # tracking (DualGS)
    n_joints: int = 300
    joint_knn: int = 8
    # dance_a, 128 px, frames 0-7: iterations at full size pay more than coarse ones, and
    # more steps on fewer views more than fewer steps on more views (40/15 on 6 views,
    # joints at 0.3x in the fine stage, appearance lr 5e-3 / temporal 10: 35.2 dB, 2.4 cm;
    # these: 39.1 dB, 1.1 cm, in less time)
    coarse_iters: int = 20
    fine_iters: int = 40
    track_views: int = 3
    lr_joint_means: float = 5e-3
    lr_joint_rotations: float = 5e-3
    # appearance lr 2e-2 / temporal 1 against 5e-3 / 10 (dance_a, 30 frames): 36.9 vs 35.2 dB,
    # 3.0 vs 2.6 cm, but the codec's q3 file (bitstream v1) grows from 105 to 151 KB
    lr_appearance: float = 2e-2
    track_scales: bool = True  # skin scales adapt per frame (False: frame 0's throughout)
    # ARAP 2 held neighbouring joints of different limbs together through fast turns
    # (cartwheel frames 0-11: 36.2 dB, 2.1 cm; 0.5: 38.4, 1.0; 0.2: 39.1, 1.0; dance_a
    # frames 0-15: 37.9, 1.7; 0.5: 38.8, 1.4; 0.2: 38.8, 1.8)
    arap_weight: float = 0.2
    smooth_weight: float = 0.005  # 0.05 held limbs back (dance_a frame 1: 30.6 vs 37.0 dB)
    temporal_weight: float = 1.0
    # the coarse stage renders the skin with frame 0's appearance, not the previous frame's:
    # spinkick (ARAP 0.2, 30 frames, one frame-0 fit) 3.04 -> 2.93 dB below frame 0, joint
    # error 2.73 -> 2.82 cm mean, 4.60 -> 4.15 cm worst frame
    anchor_appearance: bool = True
    fine_joint_lr_scale: float = 1.0
    # the coarse stage sees the views box-filtered by the largest whole factor that keeps
    # them at least this wide (0: full size); the fine stage always sees them whole
    coarse_size: int = 0
    pyramid: tuple[int, ...] = (1, 4, 8)
    pyramid_weight: float = 3.0
    # coloured visual-hull registration (splats.register) before the photometric stage
    # (hull_iters; 0: off) and as a term in it (hull_weight)
    hull_iters: int = 50  # 100: same result on dance_a, slower
    hull_points: int = 3000
    hull_voxel: float = 0.02  # metres
    hull_margin: float = 0.3
    hull_truncate: float = 0.6
    hull_colour: float = 0.3  # metres per unit of colour in the coloured chamfer
    hull_weight: float = 1.0
    hull_until: float = 0.5  # share of the coarse stage that keeps the hull term
    seed: int = 0

    def __post_init__(self) -> None:
        sh_bands(self.sh_degree)
        positive = [f.name for f in dataclasses.fields(self) if f.name.startswith(("lr_", "n_"))]
        positive += ["iters", "views", "track_views", "max_gaussians"]
        positive += ["hull_points", "hull_voxel", "hull_truncate"]
        for name in positive:
            if getattr(self, name) <= 0:
                raise DataError(f"FitConfig.{name} must be positive, not {getattr(self, name)}")
        if self.joint_knn < 1 or self.densify_every < 1:
            raise DataError("FitConfig.joint_knn and densify_every must be at least 1")
        for name in ("hull_iters", "hull_margin", "hull_weight", "hull_colour", "coarse_size"):
            if getattr(self, name) < 0:
                raise DataError(f"FitConfig.{name} must not be negative, not {getattr(self, name)}")
        if not 0 <= self.hull_until <= 1:
            raise DataError(f"FitConfig.hull_until must be in [0, 1], not {self.hull_until}")

    @classmethod
    def quick(cls, **overrides) -> FitConfig:
        """A few iterations of everything, for tests and smoke runs."""
        base = dict(
            n_init=300,
            max_gaussians=600,
            iters=40,
            views=2,
            densify_every=15,
            n_joints=24,
            coarse_iters=4,
            fine_iters=2,
            track_views=2,
            hull_iters=5,
            hull_points=300,
        )
        return cls(**{**base, **overrides})

    def coarse_factor(self, width: int) -> int:
        """The box filter's factor for the coarse stage on images ``width`` pixels wide."""
        return max(1, width // self.coarse_size) if self.coarse_size else 1

    def to_json(self) -> dict:
        d = dataclasses.asdict(self)
        d["pyramid"] = list(self.pyramid)
        return d


class FrameViews:
    """The training images and masks of one frame as tensors, grouped by camera size."""

    def __init__(self, capture: Capture, t: int, cameras: list[Camera] | None = None) -> None:
        self.cameras = list(cameras if cameras is not None else capture.train_cameras)
        self.images = torch.from_numpy(np.stack([capture.image(c, t) for c in self.cameras]))
        self.masks = torch.from_numpy(np.stack([capture.mask(c, t) for c in self.cameras]))
        self.has_masks = capture.has_masks
        if len({(c.width, c.height) for c in self.cameras}) != 1:
            raise DataError("fitting needs training cameras of one image size")

    def __len__(self) -> int:
        return len(self.cameras)

    def downsampled(self, factor: int) -> FrameViews:
        """The same views at ``1 / factor`` of the size: cameras downsampled, images and masks
        box-filtered (partial blocks at the right and bottom dropped)."""
        if factor == 1:
            return self
        small = object.__new__(FrameViews)
        small.cameras = [c.downsampled(factor) for c in self.cameras]
        pool = lambda x: torch.nn.functional.avg_pool2d(x, factor)  # noqa: E731
        small.images = pool(self.images.permute(0, 3, 1, 2)).permute(0, 2, 3, 1).contiguous()
        small.masks = pool(self.masks[:, None])[:, 0]
        small.has_masks = self.has_masks
        return small

    def loss(
        self,
        params,
        index: list[int],
        config: FitConfig,
        *,
        retain_uv: bool = False,
        pyramid: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Photometric + mask loss over the views ``index``; also returns the projected uv.

        With ``pyramid``, L1 on box-filtered copies of colour and alpha (factors
        ``config.pyramid``) is added: it widens the basin of attraction when tracking moves
        thin limbs by more than their width between frames.
        """
        cams = [self.cameras[i] for i in index]
        out = rasterise(params, cams)
        if retain_uv:
            out.uv.retain_grad()
        images, masks = self.images[index], self.masks[index]
        loss = photometric_loss(out.colour, images, config)
        if self.has_masks:
            loss = loss + config.mask_weight * (out.alpha - masks).abs().mean()
        if pyramid and config.pyramid_weight > 0:
            x, y = out.colour, images
            if self.has_masks:
                x = torch.cat([x, out.alpha[..., None]], -1)
                y = torch.cat([y, masks[..., None]], -1)
            x, y = x.permute(0, 3, 1, 2), y.permute(0, 3, 1, 2)
            for f in config.pyramid:
                a = torch.nn.functional.avg_pool2d(x, f) if f > 1 else x
                b = torch.nn.functional.avg_pool2d(y, f) if f > 1 else y
                loss = loss + config.pyramid_weight * (a - b).abs().mean()
        return loss, out.uv


def photometric_loss(
    rendered: torch.Tensor, target: torch.Tensor, config: FitConfig
) -> torch.Tensor:
    """``(1 - l) L1 + l (1 - SSIM)`` of image batches (V, H, W, 3)."""
    l1 = (rendered - target).abs().mean()
    if config.ssim_weight == 0:
        return l1
    return (1 - config.ssim_weight) * l1 + config.ssim_weight * (1 - ssim_torch(rendered, target))


def scene_box(cameras: list[Camera]) -> tuple[np.ndarray, float]:
    """Centre and half-width of a cube that every camera sees: the point nearest to all
    optical axes, and half the narrowest field of view at that point's distance."""
    a = np.zeros((3, 3))
    b = np.zeros(3)
    for c in cameras:
        d = c.world_to_camera[2, :3]  # optical axis in world coordinates
        proj = np.eye(3) - np.outer(d, d)
        a += proj
        b += proj @ c.center
    centre = np.linalg.lstsq(a, b, rcond=None)[0]
    half = min(
        0.5 * np.linalg.norm(c.center - centre) * min(c.width / c.K[0, 0], c.height / c.K[1, 1])
        for c in cameras
    )
    return centre, half


def visual_hull_points(
    views: FrameViews,
    n: int,
    *,
    resolution: int = 64,
    threshold: float = 0.5,
    seed: int = 0,
    box: tuple[np.ndarray, float] | None = None,
) -> np.ndarray:
    """``n`` points sampled uniformly in the voxels that project inside every mask (every
    image, for a capture without masks), in the cube ``box`` (centre, half-width; default
    the cube every camera sees) cut into ``resolution``^3 cells."""
    centre, half = box if box is not None else scene_box(views.cameras)
    g = (np.arange(resolution) + 0.5) / resolution * 2 - 1
    grid = centre + half * np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)
    cells = grid
    for c, m in zip(views.cameras, views.masks.numpy(), strict=True):  # carve view by view
        uvz = c.project(cells)
        u = np.round(uvz[:, 0]).astype(int)
        v = np.round(uvz[:, 1]).astype(int)
        ok = (uvz[:, 2] > 0) & (u >= 0) & (u < c.width) & (v >= 0) & (v < c.height)
        ok[ok] = m[v[ok], u[ok]] >= threshold
        cells = cells[ok]
    if len(cells) == 0:
        raise DataError("the masks' visual hull is empty: do the cameras and masks agree?")
    rng = np.random.default_rng(seed)
    pick = cells[rng.integers(0, len(cells), n)]
    return pick + rng.uniform(-1, 1, pick.shape) * half / resolution


def median_colours(views: FrameViews, points: np.ndarray) -> np.ndarray:
    """The median over the training views of the pixel each point projects to (n, 3)."""
    samples = []
    for c, img in zip(views.cameras, views.images.numpy(), strict=True):
        uvz = c.project(points)
        u = np.clip(np.round(uvz[:, 0]).astype(int), 0, c.width - 1)
        v = np.clip(np.round(uvz[:, 1]).astype(int), 0, c.height - 1)
        samples.append(img[v, u])
    return np.median(np.stack(samples), axis=0)


def _initial_gaussians(views: FrameViews, config: FitConfig) -> Gaussians:
    from scipy.spatial import cKDTree

    pts = visual_hull_points(views, config.n_init, seed=config.seed)
    colour = median_colours(views, pts)
    dist, _ = cKDTree(pts).query(pts, k=4)
    scale = np.maximum(dist[:, 1:].mean(axis=1), 1e-4)
    sh = np.zeros((len(pts), sh_bands(config.sh_degree), 3))
    sh[:, 0] = (colour - 0.5) / SH_C0
    return Gaussians(
        means=pts,
        log_scales=np.log(np.repeat(scale[:, None], 3, axis=1)),
        rotations=np.tile([1.0, 0, 0, 0], (len(pts), 1)),
        opacity_logits=np.full(len(pts), np.log(0.3 / 0.7)),
        sh=sh,
    )


def _as_gaussians(params: dict[str, torch.Tensor]) -> Gaussians:
    return Gaussians(**{k: params[k].detach().numpy() for k in PARAMS})


def _optimiser(params: dict[str, torch.Tensor], config: FitConfig) -> torch.optim.Adam:
    lrs = {
        "means": config.lr_means,
        "log_scales": config.lr_log_scales,
        "rotations": config.lr_rotations,
        "opacity_logits": config.lr_opacity,
        "sh": config.lr_sh,
    }
    return torch.optim.Adam([{"params": [params[k]], "lr": lrs[k]} for k in PARAMS], eps=1e-15)


def _densify(g: Gaussians, grad: np.ndarray, config: FitConfig, rng) -> Gaussians:
    """Prune, then clone (small) or split (large) the Gaussians with the largest gradients."""
    opacity = 1 / (1 + np.exp(-g.opacity_logits))
    keep = (opacity >= config.min_opacity) & (np.exp(g.log_scales).max(axis=1) <= config.max_scale)
    g, grad = g.take(np.nonzero(keep)[0]), grad[keep]
    room = config.max_gaussians - len(g)
    k = min(int(config.densify_fraction * len(g)), room)
    if k <= 0:
        return g
    top = np.argsort(-grad)[:k]
    top = top[grad[top] > 0]
    scales = np.exp(g.log_scales[top])
    small = scales.max(axis=1) <= np.median(np.exp(g.log_scales).max(axis=1))
    clone = g.take(top[small])
    big = g.take(top[~small])
    # split: the parent becomes two children sampled from it, scales / 1.6
    rot = quat_to_matrix(big.rotations)
    s = np.exp(big.log_scales)
    samples = [
        big.means + np.einsum("nab,nb->na", rot, rng.normal(size=s.shape) * s) for _ in range(2)
    ]
    halves = [
        Gaussians(m, big.log_scales - np.log(1.6), big.rotations, big.opacity_logits, big.sh)
        for m in samples
    ]
    rest = np.ones(len(g), bool)
    rest[top[~small]] = False
    parts = [g.take(np.nonzero(rest)[0]), clone, *halves]
    return Gaussians(*(np.concatenate([getattr(p, f) for p in parts]) for f in PARAMS))


def fit_gaussians(
    capture: Capture,
    t: int = 0,
    config: FitConfig | None = None,
    *,
    init: Gaussians | None = None,
    progress: bool = False,
) -> Gaussians:
    """Fit Gaussians to frame ``t`` of ``capture`` from its training views.

    Starts from the visual hull of the masks unless ``init`` is given. Deterministic for a
    fixed ``config.seed`` (and thread count).
    """
    from tqdm import tqdm

    config = config or FitConfig()
    views = FrameViews(capture, t)
    g = init if init is not None else _initial_gaussians(views, config)
    rng = np.random.default_rng(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    params = {k: v.clone().requires_grad_() for k, v in gaussian_tensors(g).items()}
    opt = _optimiser(params, config)
    grad_sum = np.zeros(len(g))
    grad_n = np.zeros(len(g))
    until = int(config.densify_until * config.iters)
    bar = tqdm(range(config.iters), desc=f"3DGS frame {t}", disable=not progress)
    for it in bar:
        index = torch.randperm(len(views), generator=gen)[: config.views].tolist()
        loss, uv = views.loss(params, index, config, retain_uv=True)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            norm = uv.grad.norm(dim=-1)  # (V, N)
            grad_sum += norm.sum(0).numpy()
            grad_n += (norm > 0).sum(0).numpy()
        if (it + 1) % config.densify_every == 0 and it + 1 < until:
            g = _densify(_as_gaussians(params), grad_sum / np.maximum(grad_n, 1), config, rng)
            params = {k: v.clone().requires_grad_() for k, v in gaussian_tensors(g).items()}
            opt = _optimiser(params, config)
            grad_sum, grad_n = np.zeros(len(g)), np.zeros(len(g))
        if progress and it % 10 == 0:
            bar.set_postfix(loss=f"{loss.item():.4f}", n=len(params["means"]))
    g = _as_gaussians(params)
    opacity = 1 / (1 + np.exp(-g.opacity_logits))
    return g.take(np.nonzero(opacity >= config.min_opacity)[0])
