"""DualGS tracking: joint Gaussians carry the motion, skin Gaussians the appearance.

After Jiang et al. ("Robust Dual Gaussian Splatting for Immersive Human-centric Volumetric
Videos", SIGGRAPH Asia 2024), simplified for a CPU:

* joints: a farthest-point subsample of the frame-0 Gaussians, with a kNN graph among them;
* skin: every frame-0 Gaussian, bound to its 8 nearest joints with weights
  ``exp(-d^2 / r^2)`` (``r``: distance to the 4th nearest joint), normalised;
* per new frame: joints start from a constant-velocity prediction and are first registered
  to the frame's visual hull with a coloured chamfer distance (:mod:`.register`: a limb
  that swung further than its width is found again); the *coarse* stage moves the joints
  (positions and rotations) to fit the training views through the skin warp (:func:`warp`,
  the PyTorch twin of :meth:`DualGSSequence.frame`; the skin wears frame 0's appearance, so
  drift is measured against the first texture), with an as-rigid-as-possible term on
  the joint graph (neighbour offsets follow the joint's rotation), the hull term again
  (``hull_weight``) and a small temporal smoothness term; the *fine* stage, on the full-size
  views, refines the joints together with the skin's per-frame appearance (scales,
  opacities, SH), which is pulled towards the previous frame's.

The ablation :func:`track_direct` spends the same photometric iterations optimising every
Gaussian's position and rotation directly (no joints, no ARAP, no hull).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from latentzip.splats.fit import FitConfig, FrameViews
from latentzip.splats.gaussians import Gaussians
from latentzip.splats.raster import SH_C0, quat_to_matrix, take
from latentzip.splats.register import HullTarget, hull_target, register_to_hull, skin_subset

__all__ = [
    "Appearance",
    "Binding",
    "bind",
    "carry",
    "farthest_points",
    "knn_graph",
    "make_binding",
    "predict",
    "quat_multiply",
    "track_direct",
    "track_dualgs",
    "warp",
]

BIND_K = 8
SMOOTH_SCALE = 0.05**2  # squared length (m^2) that the temporal smoothness term is relative to


def quat_normalise(q: torch.Tensor) -> torch.Tensor:
    return q / q.norm(dim=-1, keepdim=True)


def quat_conjugate(q: torch.Tensor) -> torch.Tensor:
    return q * torch.tensor([1.0, -1.0, -1.0, -1.0], dtype=q.dtype)


def quat_multiply(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Hamilton product of (..., 4) quaternions (w, x, y, z)."""
    aw, ax, ay, az = a.unbind(-1)
    bw, bx, by, bz = b.unbind(-1)
    return torch.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        dim=-1,
    )


def relative_rotation(q_t: torch.Tensor, q_0: torch.Tensor) -> torch.Tensor:
    """``normalise(q_t) * conj(normalise(q_0))``: the rotation since frame 0."""
    return quat_multiply(quat_normalise(q_t), quat_conjugate(quat_normalise(q_0)))


def warp(
    joint_means: torch.Tensor,
    joint_rotations: torch.Tensor,
    rest_joint_means: torch.Tensor,
    rest_joint_rotations: torch.Tensor,
    rest_means: torch.Tensor,
    rest_rotations: torch.Tensor,
    skin_joints: torch.Tensor,
    skin_weights: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Skin positions (S, 3) and rotations (S, 4) for joints at ``joint_means/rotations``.

    The same linear blend skinning as :meth:`DualGSSequence.frame` (see
    :mod:`latentzip.splats.sequence`), differentiable in every argument.
    """
    idx, w = skin_joints.long(), skin_weights
    q_rel = take(relative_rotation(joint_rotations, rest_joint_rotations), idx)  # (S, 8, 4)
    r_rel = quat_to_matrix(q_rel)
    offset = rest_means[:, None, :] - take(rest_joint_means, idx)
    moved = torch.einsum("skab,skb->ska", r_rel, offset) + take(joint_means, idx)
    means = torch.einsum("sk,ska->sa", w, moved)
    dot = (q_rel * q_rel[:, :1]).sum(-1, keepdim=True)
    sign = torch.where(dot < 0, -1.0, 1.0).to(q_rel.dtype)
    blend = quat_normalise(torch.einsum("sk,ska->sa", w, q_rel * sign))
    return means, quat_multiply(blend, quat_normalise(rest_rotations))


def farthest_points(points: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """Indices of ``k`` points chosen by farthest-point sampling (first one at random)."""
    k = min(k, len(points))
    rng = np.random.default_rng(seed)
    chosen = np.empty(k, np.int64)
    chosen[0] = rng.integers(len(points))
    dist = np.linalg.norm(points - points[chosen[0]], axis=1)
    for i in range(1, k):
        chosen[i] = int(np.argmax(dist))
        dist = np.minimum(dist, np.linalg.norm(points - points[chosen[i]], axis=1))
    return chosen


def knn_graph(points: np.ndarray, k: int) -> np.ndarray:
    """(n, k) indices of each point's ``k`` nearest other points."""
    from scipy.spatial import cKDTree

    k = min(k, len(points) - 1)
    if k < 1:
        return np.zeros((len(points), 0), np.int64)
    _, idx = cKDTree(points).query(points, k=k + 1)
    return idx[:, 1:].astype(np.int64)


def bind(points: np.ndarray, anchors: np.ndarray, k: int = BIND_K) -> tuple[np.ndarray, np.ndarray]:
    """Bind ``points`` to their ``k`` nearest ``anchors``: (indices int32, weights) (n, k).

    Weights ``exp(-d^2 / r^2)`` with ``r`` the distance to the 4th nearest anchor, normalised.
    With fewer than ``k`` anchors the nearest ones repeat (with their share of the weight).
    """
    from scipy.spatial import cKDTree

    kk = min(k, len(anchors))
    dist, idx = cKDTree(anchors).query(points, k=kk)
    dist, idx = dist.reshape(len(points), kk), idx.reshape(len(points), kk)
    r = np.maximum(dist[:, min(3, kk - 1)], 1e-6)[:, None]
    w = np.exp(-((dist / r) ** 2))
    if kk < k:  # pad by repeating the nearest anchor with zero weight
        idx = np.concatenate([idx, np.repeat(idx[:, :1], k - kk, axis=1)], axis=1)
        w = np.concatenate([w, np.zeros((len(points), k - kk))], axis=1)
    w = w / w.sum(axis=1, keepdims=True)
    return idx.astype(np.int32), w.astype(np.float32)


def carry(
    points: np.ndarray,
    idx: np.ndarray,
    weights: np.ndarray,
    means_0: np.ndarray,
    rotations_0: np.ndarray,
    means_t: np.ndarray,
    rotations_t: np.ndarray,
) -> np.ndarray:
    """Move frame-0 ``points`` bound to anchors ``(idx, weights)`` with the anchors' motion."""

    def t(x) -> torch.Tensor:
        return torch.from_numpy(np.asarray(x, np.float64))

    identity = torch.tensor([[1.0, 0, 0, 0]], dtype=torch.float64).expand(len(points), 4)
    with torch.no_grad():
        moved, _ = warp(
            t(means_t), t(rotations_t), t(means_0), t(rotations_0), t(points), identity,
            torch.from_numpy(np.asarray(idx, np.int64)), t(weights),
        )  # fmt: skip
    return moved.numpy()


@dataclass
class Appearance:
    """Per-frame skin appearance tensors (S, ...)."""

    log_scales: torch.Tensor
    opacity_logits: torch.Tensor
    sh: torch.Tensor

    def tensors(self) -> list[torch.Tensor]:
        return [self.log_scales, self.opacity_logits, self.sh]

    def detached(self) -> Appearance:
        return Appearance(*(x.detach().clone() for x in self.tensors()))

    def trainable(self) -> Appearance:
        return Appearance(*(x.detach().clone().requires_grad_() for x in self.tensors()))

    def distance(self, other: Appearance) -> torch.Tensor:
        return sum(
            ((a - b) ** 2).mean() for a, b in zip(self.tensors(), other.tensors(), strict=True)
        )


@dataclass
class Binding:
    """The fixed DualGS structure from frame 0 (torch tensors)."""

    rest_joint_means: torch.Tensor  # (J, 3)
    rest_joint_rotations: torch.Tensor  # (J, 4)
    rest_means: torch.Tensor  # (S, 3)
    rest_rotations: torch.Tensor  # (S, 4)
    skin_joints: torch.Tensor  # (S, 8) long
    skin_weights: torch.Tensor  # (S, 8)
    neighbours: torch.Tensor  # (J, K) long

    def warp(self, joint_means: torch.Tensor, joint_rotations: torch.Tensor):
        return warp(
            joint_means,
            joint_rotations,
            self.rest_joint_means,
            self.rest_joint_rotations,
            self.rest_means,
            self.rest_rotations,
            self.skin_joints,
            self.skin_weights,
        )

    def rest_offsets(self) -> torch.Tensor:
        m = self.rest_joint_means
        return take(m, self.neighbours) - m[:, None, :]

    def arap(self, joint_means: torch.Tensor, joint_rotations: torch.Tensor) -> torch.Tensor:
        """Mean squared deviation of neighbour offsets from their rotated rest offsets,
        relative to the mean squared rest offset (unitless)."""
        d0 = self.rest_offsets()
        r = quat_to_matrix(relative_rotation(joint_rotations, self.rest_joint_rotations))
        pred = torch.einsum("jab,jkb->jka", r, d0)
        cur = take(joint_means, self.neighbours) - joint_means[:, None, :]
        return ((cur - pred) ** 2).sum(-1).mean() / (d0**2).sum(-1).mean()


def make_binding(g: Gaussians, config: FitConfig) -> tuple[Binding, np.ndarray]:
    """Choose joints among ``g`` (farthest points), bind every Gaussian as skin."""
    joints = farthest_points(g.means.astype(np.float64), config.n_joints, config.seed)
    jm = g.means[joints]
    idx, w = bind(g.means, jm)
    b = Binding(
        rest_joint_means=torch.from_numpy(jm.copy()),
        rest_joint_rotations=torch.tensor([[1.0, 0, 0, 0]]).repeat(len(jm), 1),
        rest_means=torch.from_numpy(g.means.copy()),
        rest_rotations=torch.from_numpy(g.rotations.copy()),
        skin_joints=torch.from_numpy(idx.astype(np.int64)),
        skin_weights=torch.from_numpy(w),
        neighbours=torch.from_numpy(knn_graph(jm, config.joint_knn)),
    )
    return b, joints


def predict(
    prev: torch.Tensor, prev2: torch.Tensor | None, quaternion: bool = False
) -> torch.Tensor:
    """Constant-velocity prediction from the last two frames (positions or quaternions)."""
    if prev2 is None:
        return prev.clone()
    if not quaternion:
        return 2 * prev - prev2
    step = quat_multiply(quat_normalise(prev), quat_conjugate(quat_normalise(prev2)))
    return quat_normalise(quat_multiply(step, quat_normalise(prev)))


def _views(n: int, k: int, gen: torch.Generator) -> list[int]:
    return torch.randperm(n, generator=gen)[:k].tolist()


def _smooth(x: torch.Tensor, pred: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return ((x - pred) ** 2).sum(-1).mean() / scale


def track_dualgs(
    views: FrameViews,
    binding: Binding,
    joints: tuple[torch.Tensor, torch.Tensor],
    joints_prev: tuple[torch.Tensor, torch.Tensor] | None,
    appearance: Appearance,
    config: FitConfig,
    seed: int,
    first: Appearance | None = None,
) -> tuple[torch.Tensor, torch.Tensor, Appearance]:
    """Fit one new frame: returns its joint means, joint rotations and skin appearance.

    ``joints`` are the previous frame's (means, rotations), ``joints_prev`` the frame
    before (None at frame 1), ``appearance`` the previous frame's skin appearance, ``first``
    frame 0's (the coarse stage's reference with ``config.anchor_appearance``).
    """
    gen = torch.Generator().manual_seed(seed)
    pm = predict(joints[0], joints_prev[0] if joints_prev else None)
    pq = predict(joints[1], joints_prev[1] if joints_prev else None, quaternion=True)
    jm = pm.clone().requires_grad_()
    jq = pq.clone().requires_grad_()
    scale = torch.tensor(SMOOTH_SCALE)
    prev_app = appearance.detached()

    def regulariser(m: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        smooth = _smooth(m, pm, scale) + _smooth(q, pq, 1.0)
        return config.arap_weight * binding.arap(m, q) + config.smooth_weight * smooth

    hull = _hull(views, binding, pm, pq, appearance, config, seed)
    if hull is not None and config.hull_iters:
        register_to_hull(hull, jm, jq, config, regulariser)
    coarse = _coarse_views(views, config)

    def loss_of(app: Appearance, temporal: bool, with_hull: bool) -> torch.Tensor:
        means, rots = binding.warp(jm, jq)
        params = {
            "means": means,
            "rotations": rots,
            "log_scales": app.log_scales,
            "opacity_logits": app.opacity_logits,
            "sh": app.sh,
        }
        index = _views(len(views), config.track_views, gen)
        loss, _ = (views if temporal else coarse).loss(params, index, config, pyramid=True)
        loss = loss + regulariser(jm, jq)
        if hull is not None and config.hull_weight and with_hull:
            loss = loss + config.hull_weight * hull.loss(jm, jq)
        if temporal:
            loss = loss + config.temporal_weight * app.distance(prev_app)
        return loss

    app = _coarse_then_fine(loss_of, jm, jq, prev_app, config, first)
    return jm.detach(), quat_normalise(jq.detach()), app.detached()


def _coarse_views(views: FrameViews, config: FitConfig) -> FrameViews:
    """The views the coarse stage compares against (``config.coarse_size``)."""
    return views.downsampled(config.coarse_factor(views.cameras[0].width))


def _hull(views, binding, pm, pq, appearance, config, seed) -> HullTarget | None:
    """The silhouette terms' target, or None when they are off or the capture has no masks."""
    if not (config.hull_iters or config.hull_weight) or not views.has_masks:
        return None
    with torch.no_grad():
        predicted, _ = binding.warp(pm, pq)
    points, colours = hull_target(views, predicted.numpy(), config, seed)
    subset, pick = skin_subset(binding, appearance.opacity_logits, config.hull_points, seed)
    skin_colour = (appearance.sh[pick, 0].detach() * SH_C0 + 0.5).to(pm.dtype)
    as_t = lambda a: torch.from_numpy(np.asarray(a)).to(pm.dtype)  # noqa: E731
    return HullTarget(subset, skin_colour, as_t(points), as_t(colours), config)


def track_direct(
    views: FrameViews,
    state: tuple[torch.Tensor, torch.Tensor],
    state_prev: tuple[torch.Tensor, torch.Tensor] | None,
    appearance: Appearance,
    config: FitConfig,
    seed: int,
    first: Appearance | None = None,
) -> tuple[torch.Tensor, torch.Tensor, Appearance]:
    """The ablation: every Gaussian's position and rotation optimised directly.

    Same schedule as :func:`track_dualgs` (constant-velocity start, ``coarse_iters`` on
    motion, ``fine_iters`` on appearance and motion), no joints and no ARAP.
    """
    gen = torch.Generator().manual_seed(seed)
    pm = predict(state[0], state_prev[0] if state_prev else None)
    pq = predict(state[1], state_prev[1] if state_prev else None, quaternion=True)
    m = pm.clone().requires_grad_()
    q = pq.clone().requires_grad_()
    prev_app = appearance.detached()
    scale = torch.tensor(SMOOTH_SCALE)
    coarse = _coarse_views(views, config)

    def loss_of(app: Appearance, temporal: bool, with_hull: bool) -> torch.Tensor:
        params = {
            "means": m,
            "rotations": q,
            "log_scales": app.log_scales,
            "opacity_logits": app.opacity_logits,
            "sh": app.sh,
        }
        index = _views(len(views), config.track_views, gen)
        loss, _ = (views if temporal else coarse).loss(params, index, config, pyramid=True)
        loss = loss + config.smooth_weight * (_smooth(m, pm, scale) + _smooth(q, pq, 1.0))
        if temporal:
            loss = loss + config.temporal_weight * app.distance(prev_app)
        return loss

    app = _coarse_then_fine(loss_of, m, q, prev_app, config, first)
    return m.detach(), quat_normalise(q.detach()), app.detached()


def _coarse_then_fine(
    loss_of, means, rotations, prev_app: Appearance, config: FitConfig, first: Appearance | None
):
    """Coarse stage: motion only, appearance held at the previous frame's, or at ``first``
    (frame 0's) with ``config.anchor_appearance``; the hull term (``loss_of``'s
    ``with_hull``) stays for the first ``hull_until`` of it. Fine stage: appearance (with the
    temporal term) and motion at a lower rate, no hull term. Returns the appearance."""
    # against frame 0's texture a small slide is not absorbed by the next frame's reference
    anchored = config.anchor_appearance and first is not None
    target = first.detached() if anchored else prev_app
    opt = torch.optim.Adam(
        [
            {"params": [means], "lr": config.lr_joint_means},
            {"params": [rotations], "lr": config.lr_joint_rotations},
        ]
    )
    n = config.coarse_iters
    for it in range(n):
        loss = loss_of(target, temporal=False, with_hull=it < config.hull_until * n)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    app = prev_app.trainable()
    s = config.fine_joint_lr_scale
    learnt = app.tensors() if config.track_scales else [app.opacity_logits, app.sh]
    opt = torch.optim.Adam(
        [
            {"params": learnt, "lr": config.lr_appearance},
            {"params": [means], "lr": config.lr_joint_means * s},
            {"params": [rotations], "lr": config.lr_joint_rotations * s},
        ]
    )
    for _ in range(config.fine_iters):
        loss = loss_of(app, temporal=True, with_hull=False)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return app
