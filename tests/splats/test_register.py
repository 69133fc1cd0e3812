"""Silhouette registration: visual hull in a box, chamfer, and recovering a fast swing."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from latentzip.errors import DataError
from latentzip.splats.cameras import ring_cameras
from latentzip.splats.fit import FitConfig, visual_hull_points
from latentzip.splats.register import HullTarget, chamfer, register_to_hull, skin_subset
from latentzip.splats.track import Binding, bind, farthest_points, knn_graph


def _sphere_views(radius: float, centre, size: int = 48):
    cams = ring_cameras(8, size=size, radius=3.0, heights=(0.0, 1.0), target=(0, 0, 0))
    rng = np.random.default_rng(0)
    d = rng.normal(size=(20000, 3))
    surface = np.asarray(centre) + radius * d / np.linalg.norm(d, axis=1, keepdims=True)
    masks = []
    for c in cams:
        m = np.zeros((c.height, c.width), np.float32)
        uvz = c.project(surface)
        u, v = np.round(uvz[:, 0]).astype(int), np.round(uvz[:, 1]).astype(int)
        ok = (u >= 0) & (u < c.width) & (v >= 0) & (v < c.height)
        m[v[ok], u[ok]] = 1.0
        masks.append(m)
    return SimpleNamespace(cameras=cams, masks=torch.from_numpy(np.stack(masks)))


def test_visual_hull_in_a_box_stays_near_the_object():
    centre = np.array([0.1, 0.0, -0.05])
    views = _sphere_views(0.3, centre)
    pts = visual_hull_points(views, 2000, resolution=40, box=(centre, 0.5))
    dist = np.linalg.norm(pts - centre, axis=1)
    assert dist.max() < 0.3 + 0.1  # a hull of 8 views is a little fatter than the sphere
    assert np.abs(pts - centre).max() <= 0.5 + 1e-9  # inside the box
    assert dist.mean() > 0.15  # fills the volume, not a point
    with pytest.raises(DataError, match="empty"):
        visual_hull_points(views, 10, resolution=16, box=(centre + 2.0, 0.2))


def test_chamfer_is_zero_on_equal_sets_and_truncates():
    a = torch.randn(50, 3)
    assert float(chamfer(a, a, 1.0)) == 0.0
    skin, hull = torch.zeros(4, 3), torch.tensor([[3.0, 4.0, 0.0]])  # 5 apart
    # the skin's distances count whole, the hull points' are truncated
    assert float(chamfer(skin, hull, 0.5)) == pytest.approx((5.0 + 0.5) / 2)


def test_chamfer_matches_the_dense_definition_in_value_and_gradient():
    gen = torch.Generator().manual_seed(0)
    points = torch.randn(300, 6, generator=gen, dtype=torch.float64).requires_grad_()
    target = torch.randn(200, 6, generator=gen, dtype=torch.float64)
    d = torch.cdist(points, target, compute_mode="donot_use_mm_for_euclid_dist")
    dense = (d.min(1).values.mean() + d.min(0).values.clamp(max=1.2).mean()) / 2
    (want,) = torch.autograd.grad(dense, points)
    value = chamfer(points, target, 1.2)
    (got,) = torch.autograd.grad(value, points)
    assert value.item() == pytest.approx(dense.item(), rel=1e-12)
    torch.testing.assert_close(got, want)


def _capsule(rng, start, end, radius, n):
    t = rng.uniform(size=(n, 1))
    d = rng.normal(size=(n, 3))
    d *= radius * rng.uniform(size=(n, 1)) ** (1 / 3) / np.linalg.norm(d, axis=1, keepdims=True)
    return np.asarray(start) + t * (np.asarray(end) - np.asarray(start)) + d


def _body(rng, arm_angle: float, n: int):
    """A torso along y and an arm from the shoulder (0, 0.5, 0), at ``arm_angle`` below
    the horizontal: points sampled in its volume, and the arm's mask."""
    shoulder = np.array([0.0, 0.5, 0.0])
    hand = shoulder + 0.6 * np.array([np.cos(arm_angle), -np.sin(arm_angle), 0.0])
    torso = _capsule(rng, (0, -0.5, 0), (0, 0.5, 0), 0.15, n)
    arm = _capsule(rng, shoulder + 0.15 * (hand - shoulder) / 0.6, hand, 0.05, n // 2)
    return np.concatenate([torso, arm]), np.r_[np.zeros(n, bool), np.ones(n // 2, bool)]


def test_registration_follows_an_arm_that_swung_past_its_width():
    rng = np.random.default_rng(1)
    rest, is_arm = _body(rng, 0.0, 600)
    target, _ = _body(rng, 0.6, 1500)  # the hand moves by about 35 cm, the arm is 10 cm wide
    joint_index = farthest_points(rest, 40)
    joints = rest[joint_index]
    idx, w = bind(rest, joints)
    t = torch.from_numpy
    binding = Binding(
        rest_joint_means=t(joints).float(),
        rest_joint_rotations=torch.tensor([[1.0, 0, 0, 0]]).repeat(len(joints), 1),
        rest_means=t(rest).float(),
        rest_rotations=torch.tensor([[1.0, 0, 0, 0]]).repeat(len(rest), 1),
        skin_joints=t(idx.astype(np.int64)),
        skin_weights=t(w),
        neighbours=t(knn_graph(joints, 6)),
    )
    config = FitConfig(hull_iters=150, hull_voxel=0.02, lr_joint_means=1e-2, hull_colour=0.0)
    subset, pick = skin_subset(binding, torch.full((len(rest),), 3.0), 500, seed=0)
    grey = lambda n: torch.full((n, 3), 0.5)  # noqa: E731
    hull = HullTarget(subset, grey(len(pick)), t(target).float(), grey(len(target)), config)
    means = binding.rest_joint_means.clone().requires_grad_()
    rots = binding.rest_joint_rotations.clone().requires_grad_()
    register_to_hull(hull, means, rots, config, lambda m, q: 2.0 * binding.arap(m, q))
    with torch.no_grad():
        moved, _ = binding.warp(means, rots)
    # where each arm point should be: rotated about the shoulder by 0.6 rad (clockwise in xy)
    c, s = np.cos(-0.6), np.sin(-0.6)
    rot = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    shoulder = np.array([0.0, 0.5, 0.0])
    truth = (rest[is_arm] - shoulder) @ rot.T + shoulder
    before = np.linalg.norm(rest[is_arm] - truth, axis=1).mean()
    after = np.linalg.norm(moved.numpy()[is_arm] - truth, axis=1).mean()
    assert after < 0.35 * before, (before, after)


def test_config_refuses_negative_hull_settings():
    with pytest.raises(DataError, match="hull_iters"):
        FitConfig(hull_iters=-1)
    with pytest.raises(DataError, match="hull_voxel"):
        FitConfig(hull_voxel=0)


def test_colour_tells_apart_limbs_that_geometry_cannot():
    """Two touching blobs of different colours: the right colours cost less than swapped."""
    rng = np.random.default_rng(2)
    left = _capsule(rng, (-0.2, 0, 0), (0, 0, 0), 0.1, 200)
    right = _capsule(rng, (0, 0, 0), (0.2, 0, 0), 0.1, 200)
    pts = torch.from_numpy(np.concatenate([left, right])).float()
    red, green = torch.tensor([0.9, 0.1, 0.1]), torch.tensor([0.1, 0.8, 0.2])
    colours = torch.cat([red.repeat(200, 1), green.repeat(200, 1)])
    identity = torch.tensor([[1.0, 0, 0, 0]])
    binding = Binding(
        rest_joint_means=torch.zeros(1, 3),
        rest_joint_rotations=identity,
        rest_means=pts,
        rest_rotations=identity.repeat(400, 1),
        skin_joints=torch.zeros(400, 8, dtype=torch.long),
        skin_weights=torch.full((400, 8), 1 / 8),
        neighbours=torch.zeros(1, 0, dtype=torch.long),
    )
    config = FitConfig(hull_colour=0.3)
    right_way = HullTarget(binding, colours, pts, colours, config)
    swapped = HullTarget(binding, colours, pts, colours.flip(0), config)
    assert float(right_way.loss(torch.zeros(1, 3), identity)) < 1e-5  # warp rounding
    assert float(swapped.loss(torch.zeros(1, 3), identity)) > 2.0  # cells of 2 cm
    # without colour the two are the same
    plain = FitConfig(hull_colour=0.0)
    assert float(HullTarget(binding, colours, pts, colours.flip(0), plain).loss(
        torch.zeros(1, 3), identity)) < 1e-5  # fmt: skip
