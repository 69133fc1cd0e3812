"""Silhouette registration: pull the tracked skin onto the frame's visual hull.

Photometric tracking only sees a limb that still overlaps its image; one that swings by more
than its width between frames falls outside the basin and is lost for good. The masks'
visual hull does not have that problem: wherever the limb went, the hull has its volume.
Before the photometric stage, :func:`register_to_hull` moves the joints so that the warped
skin centres and points sampled in the hull agree (a symmetric chamfer distance), held
together by the same as-rigid-as-possible term. No rasterisation, so it is cheap.

Geometry alone is ambiguous where a limb passes close to the body: the arm's skin settles
on the nearest hull volume, often the torso's. So each point also carries a colour (the skin
its base colour, a hull point the median of the training pixels it projects to), scaled by
``config.hull_colour`` metres per unit of colour, and the chamfer runs on (x, y, z, r, g, b).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from latentzip.splats.fit import FitConfig, FrameViews, median_colours, visual_hull_points

__all__ = [
    "HullTarget",
    "chamfer",
    "hull_target",
    "register_to_hull",
    "skin_subset",
]


def hull_target(
    views: FrameViews, around: np.ndarray, config: FitConfig, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Points (n, 3) sampled in the masks' visual hull, in a cube around the points
    ``around`` (the predicted skin) widened by ``config.hull_margin``, cells of
    ``config.hull_voxel``; and their colours (n, 3), the median over the training views."""
    lo, hi = around.min(0), around.max(0)
    centre = (lo + hi) / 2
    half = float((hi - lo).max() / 2 + config.hull_margin)
    resolution = int(np.clip(np.ceil(2 * half / config.hull_voxel), 8, 160))
    points = visual_hull_points(
        views, config.hull_points, resolution=resolution, seed=seed, box=(centre, half)
    )
    return points, median_colours(views, points)


def chamfer(points: torch.Tensor, target: torch.Tensor, truncate: float) -> torch.Tensor:
    """Symmetric chamfer distance: the mean distance from each point to the nearest target
    point and back. Every point belongs inside the hull, so its distance counts whole (a lost
    limb is pulled back from anywhere); a hull point's distance is truncated at ``truncate``,
    so that hull volume the skin cannot explain (a carving ghost) does not dominate.

    The nearest neighbours come from k-d trees (exact, no gradient needed: the minimum's
    gradient flows through the chosen pair only), then the distances of the chosen pairs are
    differentiated: the same value and gradient as a dense distance matrix, without one."""
    from scipy.spatial import cKDTree

    p, t = points.detach().numpy(), target.detach().numpy()
    near = torch.from_numpy(cKDTree(t).query(p)[1])
    back_near = torch.from_numpy(cKDTree(p).query(t)[1])
    there = (points - target[near]).norm(dim=1).mean()
    back = (target - points[back_near]).norm(dim=1).clamp(max=truncate).mean()
    return (there + back) / 2


def skin_subset(binding, opacity_logits: torch.Tensor, n: int, seed: int):
    """The binding restricted to at most ``n`` of the skin Gaussians that are opaque enough
    to be part of the silhouette (opacity above 0.3), drawn at random; and their indices."""
    solid = torch.nonzero(torch.sigmoid(opacity_logits) > 0.3).flatten()
    if len(solid) == 0:
        solid = torch.arange(len(opacity_logits))
    gen = torch.Generator().manual_seed(seed)
    pick = solid[torch.randperm(len(solid), generator=gen)[:n]]
    subset = dataclasses.replace(
        binding,
        rest_means=binding.rest_means[pick],
        rest_rotations=binding.rest_rotations[pick],
        skin_joints=binding.skin_joints[pick],
        skin_weights=binding.skin_weights[pick],
    )
    return subset, pick


class HullTarget:
    """What the silhouette terms compare: a subset of the skin (a binding) with its colours
    (s, 3), and hull points (n, 3) with theirs (n, 3); colours in [0, 1]."""

    def __init__(self, subset, skin_colour, points, point_colour, config: FitConfig):
        self.subset = subset
        self.skin_colour = config.hull_colour * skin_colour
        self.target = torch.cat([points, config.hull_colour * point_colour], 1)
        self.truncate, self.cell = config.hull_truncate, config.hull_voxel

    def loss(self, means: torch.Tensor, rotations: torch.Tensor) -> torch.Tensor:
        """The coloured chamfer distance of the subset warped by the joints, in hull cells."""
        moved, _ = self.subset.warp(means, rotations)
        points = torch.cat([moved, self.skin_colour], 1)
        return chamfer(points, self.target, self.truncate) / self.cell


def register_to_hull(
    hull: HullTarget,
    means: torch.Tensor,
    rotations: torch.Tensor,
    config: FitConfig,
    regulariser,
) -> None:
    """Move the joints ``means``/``rotations`` (leaf tensors, updated in place) so that the
    warped skin subset matches the hull; ``regulariser(means, rotations)`` adds the
    tracking's ARAP and smoothness terms."""
    opt = torch.optim.Adam(
        [
            {"params": [means], "lr": config.lr_joint_means},
            {"params": [rotations], "lr": config.lr_joint_rotations},
        ]
    )
    for _ in range(config.hull_iters):
        loss = hull.loss(means, rotations) + regulariser(means, rotations)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
