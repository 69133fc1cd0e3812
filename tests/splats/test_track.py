import numpy as np
import pytest
import torch

from latentzip.errors import DataError
from latentzip.splats.fit import FitConfig
from latentzip.splats.sequence import DualGSSequence, quat_multiply, quat_to_matrix
from latentzip.splats.track import (
    Appearance,
    _coarse_then_fine,
    bind,
    carry,
    farthest_points,
    knn_graph,
    predict,
    warp,
)


def torch_frame(seq: DualGSSequence, t: int):
    d = {k: torch.from_numpy(getattr(seq, k)).double() for k in seq.__dataclass_fields__}
    return warp(
        d["joint_means"][t],
        d["joint_rotations"][t],
        d["joint_means"][0],
        d["joint_rotations"][0],
        d["skin_rest_means"],
        d["skin_rest_rotations"],
        torch.from_numpy(seq.skin_joints).long(),
        d["skin_weights"],
    )


def test_torch_warp_matches_numpy_sequence_frame():
    seq = DualGSSequence.random(frames=4, joints=12, skins=50, degree=1, seed=3)
    for t in range(4):
        ref = seq.frame(t)
        means, rots = torch_frame(seq, t)
        np.testing.assert_allclose(means.numpy(), ref.means, atol=1e-5)
        np.testing.assert_allclose(rots.numpy(), ref.rotations, atol=1e-5)


def test_rigid_motion_moves_skin_rigidly():
    rng = np.random.default_rng(0)
    joints0 = rng.normal(size=(10, 3))
    skin = rng.normal(size=(30, 3))
    idx, w = bind(skin, joints0)
    np.testing.assert_allclose(w.sum(axis=1), 1, atol=1e-6)
    q = np.array([np.cos(0.3), 0, np.sin(0.3), 0])
    r = quat_to_matrix(q)
    shift = np.array([0.5, -0.2, 0.1])
    q0 = np.tile([1.0, 0, 0, 0], (10, 1))
    qt = quat_multiply(np.tile(q, (10, 1)), q0)
    moved = carry(skin, idx, w, joints0, q0, joints0 @ r.T + shift, qt)
    np.testing.assert_allclose(moved, skin @ r.T + shift, atol=1e-9)


def test_graph_helpers():
    pts = np.random.default_rng(1).normal(size=(40, 3))
    chosen = farthest_points(pts, 10)
    assert len(set(chosen.tolist())) == 10
    nb = knn_graph(pts, 4)
    assert nb.shape == (40, 4) and not (nb == np.arange(40)[:, None]).any()
    # fewer anchors than 8: padded with zero weight
    idx, w = bind(pts, pts[:3])
    assert idx.shape == (40, 8) and np.allclose(w[:, 3:], 0)


def test_constant_velocity_prediction():
    a, b = torch.tensor([[0.0, 1, 2]]), torch.tensor([[1.0, 1, 3]])
    torch.testing.assert_close(predict(b, a), torch.tensor([[2.0, 1, 4]]))
    torch.testing.assert_close(predict(b, None), b)
    q0 = torch.tensor([[1.0, 0, 0, 0]])
    q1 = torch.tensor([[np.cos(0.1), np.sin(0.1), 0, 0]], dtype=torch.float32)
    q2 = torch.tensor([[np.cos(0.2), np.sin(0.2), 0, 0]], dtype=torch.float32)
    torch.testing.assert_close(predict(q1, q0, quaternion=True), q2)


def _four_gaussians(sh: float = 0.0):
    """Trainable means and rotations of 4 Gaussians at rest, and an appearance for them."""
    means = torch.zeros(4, 3, requires_grad=True)
    rotations = torch.tensor([[1.0, 0, 0, 0]]).repeat(4, 1).requires_grad_()
    app = Appearance(torch.zeros(4, 3), torch.zeros(4), torch.full((4, 1, 3), sh))
    return means, rotations, app


def test_coarse_stage_drops_the_hull_term_on_schedule():
    config = FitConfig(coarse_iters=10, fine_iters=3, hull_until=0.5)
    means, rotations, app = _four_gaussians()
    calls = []

    def loss_of(a: Appearance, temporal: bool, with_hull: bool) -> torch.Tensor:
        calls.append((temporal, with_hull))
        return ((means - 1) ** 2).sum() + (rotations**2).sum() + a.sh.sum()

    _coarse_then_fine(loss_of, means, rotations, app, config, None)
    assert calls == [(False, True)] * 5 + [(False, False)] * 5 + [(True, False)] * 3
    with pytest.raises(DataError, match="hull_until"):
        FitConfig(hull_until=1.5)


@pytest.mark.parametrize("track_scales", [True, False])
def test_fine_stage_keeps_frame_scales_unless_told_to_track_them(track_scales):
    config = FitConfig(coarse_iters=2, fine_iters=5, track_scales=track_scales)
    means, rotations, prev = _four_gaussians()

    def loss_of(a: Appearance, temporal: bool, with_hull: bool) -> torch.Tensor:
        return ((a.log_scales - 1) ** 2).sum() + ((a.sh - 1) ** 2).sum() + (means**2).sum()

    app = _coarse_then_fine(loss_of, means, rotations, prev, config, None)
    assert app.sh.detach().min() > 0  # colour always adapts
    moved = bool((app.log_scales.detach() != 0).any())
    assert moved == track_scales


@pytest.mark.parametrize("anchor", [True, False])
def test_coarse_stage_renders_frame0_appearance_when_anchored(anchor):
    config = FitConfig(coarse_iters=3, fine_iters=2, anchor_appearance=anchor)
    means, rotations, prev = _four_gaussians()
    first = _four_gaussians(sh=1.0)[2]
    seen = []

    def loss_of(a: Appearance, temporal: bool, with_hull: bool) -> torch.Tensor:
        seen.append((temporal, float(a.sh.detach().mean())))
        return ((means - 1) ** 2).sum() + (rotations**2).sum() + ((a.sh - 0.5) ** 2).sum()

    app = _coarse_then_fine(loss_of, means, rotations, prev, config, first)
    coarse = 1.0 if anchor else 0.0
    assert seen[:3] == [(False, coarse)] * 3
    assert seen[3] == (True, 0.0)  # the fine stage starts from the previous frame's
    assert 0 < float(app.sh.detach().mean()) < 0.5
    assert float(first.sh.mean()) == 1.0  # frame 0's appearance is not trained
