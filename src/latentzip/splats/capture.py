"""Synthetic multi-view captures of a moving humanoid, rendered with pybullet.

The DeepMimic humanoid (``pybullet_data/humanoid/humanoid.urdf``, scaled 0.25 as DeepMimic
loads it, y up) plays a DeepMimic motion clip (``pybullet_data/data/motions/humanoid3d_*.txt``)
in front of a ring of cameras. Each link gets its own colour, the background is black, masks
come from the segmentation buffer, and ground-truth joints are the link frames' world
positions (``getLinkState``). Images are rendered by pybullet's TinyRenderer at 4x the output
size and box-filtered down (anti-aliased images, fractional masks).

A DeepMimic frame is ``[duration, root position (3), root quaternion (w, x, y, z), then per
joint a quaternion (w, x, y, z) or a revolute angle]`` in the joint order below; pybullet wants
quaternions as (x, y, z, w).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

from latentzip.errors import DataError
from latentzip.splats.cameras import Camera, Capture, ring_cameras, write_capture

__all__ = ["CLIPS", "capture_humanoid", "clip_frames", "performer_urdf", "pybullet_matrices"]

SUPERSAMPLE = 4
# TinyRenderer samples pixels offset by about half a (supersampled) pixel; measured with a
# sphere at a known position, this shift puts its centroid on the projected centre.
TINY_SHIFT = (-0.5, 0.5)
NEAR, FAR = 0.05, 50.0
# (link index, degrees of freedom) in DeepMimic's frame order
JOINT_ORDER = (
    (1, 4),  # chest
    (2, 4),  # neck
    (3, 4),  # right hip
    (4, 1),  # right knee
    (5, 4),  # right ankle
    (6, 4),  # right shoulder
    (7, 1),  # right elbow
    (9, 4),  # left hip
    (10, 1),  # left knee
    (11, 4),  # left ankle
    (12, 4),  # left shoulder
    (13, 1),  # left elbow
)
PALETTE = (
    (0.85, 0.85, 0.80),  # root
    (0.90, 0.30, 0.20),  # chest
    (0.95, 0.75, 0.55),  # neck / head
    (0.20, 0.40, 0.85),  # right hip (thigh)
    (0.30, 0.75, 0.90),  # right knee (shin)
    (0.15, 0.20, 0.45),  # right ankle (foot)
    (0.30, 0.80, 0.30),  # right shoulder (upper arm)
    (0.75, 0.90, 0.30),  # right elbow (forearm)
    (0.95, 0.95, 0.20),  # right wrist (hand)
    (0.80, 0.30, 0.70),  # left hip
    (0.95, 0.55, 0.80),  # left knee
    (0.45, 0.15, 0.40),  # left ankle
    (0.95, 0.55, 0.15),  # left shoulder
    (0.60, 0.35, 0.15),  # left elbow
    (0.55, 0.95, 0.75),  # left wrist
)


def _data_path() -> Path:
    import pybullet_data

    return Path(pybullet_data.getDataPath())


def performer_urdf(folder: Path, *, limb_scale: float = 1.6, sphere_scale: float = 1.25) -> Path:
    """A copy of the DeepMimic humanoid with thicker limbs, written to ``folder``.

    At 64-96 px the stock capsules are one or two pixels wide; thicker limbs give the
    Gaussians something to fit. Spherical joints get an explicit axis (pybullet warns
    about each missing one otherwise).
    """
    import re

    text = (_data_path() / "humanoid" / "humanoid.urdf").read_text()

    def scaled(factor: float):
        return lambda m: f'{m.group(1)}"{float(m.group(2)) * factor:.6f}"'

    text = re.sub(r'(<capsule length="[0-9.]+" radius=)"([0-9.]+)"', scaled(limb_scale), text)
    text = re.sub(r'(<sphere radius = )"([0-9.]+)"', scaled(sphere_scale), text)
    text = re.sub(r'(type="spherical" >)', r'\1\n\t\t<axis xyz = "0 0 1" />', text)
    path = folder / "performer.urdf"
    path.write_text(text)
    return path


def _clip_path(clip: str) -> Path:
    return _data_path() / "data" / "motions" / f"humanoid3d_{clip}.txt"


CLIPS = (
    "backflip", "cartwheel", "crawl", "dance_a", "dance_b", "getup_facedown", "getup_faceup",
    "jump", "kick", "punch", "roll", "run", "spin", "spinkick", "walk",
)  # fmt: skip


def clip_frames(clip: str) -> np.ndarray:
    """The DeepMimic clip's frames, (n, 44) float64 (see the module docstring)."""
    path = _clip_path(clip)
    if not path.exists():
        raise DataError(f"no DeepMimic clip {clip!r}; choose one of {', '.join(CLIPS)}")
    frames = np.asarray(json.loads(path.read_text())["Frames"], np.float64)
    if frames.ndim != 2 or frames.shape[1] != 44:
        raise DataError(f"{path}: frames of shape {frames.shape}, expected (n, 44)")
    return frames


def _xyzw(q) -> list[float]:
    q = np.asarray(q, np.float64)
    q = q / np.linalg.norm(q)
    return [q[1], q[2], q[3], q[0]]


def pybullet_matrices(cam: Camera, supersample: int = 1) -> tuple[list, list]:
    """OpenGL view and projection matrices (column-major lists) that reproduce ``cam``."""
    w, h = cam.width * supersample, cam.height * supersample
    fx, fy = cam.K[0, 0] * supersample, cam.K[1, 1] * supersample
    cx = (cam.K[0, 2] + 0.5) * supersample - 0.5 + TINY_SHIFT[0]
    cy = (cam.K[1, 2] + 0.5) * supersample - 0.5 + TINY_SHIFT[1]
    proj = np.zeros((4, 4))
    proj[0, 0] = 2 * fx / w
    proj[0, 2] = 1 - 2 * (cx + 0.5) / w
    proj[1, 1] = 2 * fy / h
    proj[1, 2] = 2 * (cy + 0.5) / h - 1
    proj[2, 2] = -(FAR + NEAR) / (FAR - NEAR)
    proj[2, 3] = -2 * FAR * NEAR / (FAR - NEAR)
    proj[3, 2] = -1
    view = np.diag([1.0, -1.0, -1.0, 1.0]) @ cam.world_to_camera  # OpenCV -> OpenGL axes
    return view.T.reshape(-1).tolist(), proj.T.reshape(-1).tolist()


def capture_humanoid(
    folder: str | Path,
    *,
    clip: str = "dance_a",
    frames: int = 40,
    step: int = 2,
    start: int = 0,
    n_cameras: int = 20,
    size: int = 64,
    held_out: int = 3,
    radius: float = 2.6,
    heights: tuple[float, ...] = (0.2, 1.2),
    fov_deg: float = 50.0,
    progress: bool = False,
    force: bool = False,
) -> Capture:
    """Render ``frames`` frames (every ``step``-th clip frame) of ``clip`` into ``folder``
    (an existing capture there is replaced only with ``force``).

    Cameras sit on a ring of ``radius`` metres around the clip's mean root position, at
    ``heights`` above it (alternating), all looking at it; ``held_out`` of them are kept for
    evaluation. Returns the loaded :class:`Capture`.
    """
    import pybullet as p
    from tqdm import tqdm

    data = clip_frames(clip)
    rows = start + step * np.arange(frames)
    if frames < 1 or step < 1 or start < 0 or rows[-1] >= len(data):
        raise DataError(
            f"clip {clip!r} has {len(data)} frames; {frames} frames every {step} "
            f"from {start} do not fit"
        )
    fps = 1.0 / (float(np.mean(data[:, 0])) * step)
    data = data[rows]
    target = data[:, 1:4].mean(axis=0)
    target[1] = 0.9  # look at the hips' height, not the root's bobbing
    cams = ring_cameras(
        n_cameras,
        size=size,
        radius=radius,
        heights=heights,
        target=target,
        fov_deg=fov_deg,
        held_out=held_out,
    )
    client = p.connect(p.DIRECT)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            urdf = performer_urdf(Path(tmp))
            body = p.loadURDF(
                str(urdf),
                [0, 0.9, 0],
                globalScaling=0.25,
                useFixedBase=True,
                flags=p.URDF_MAINTAIN_LINK_ORDER,
                physicsClientId=client,
            )
        n_links = p.getNumJoints(body, physicsClientId=client)
        for link in range(-1, n_links):
            rgb = PALETTE[max(link, 0) % len(PALETTE)]
            p.changeVisualShape(body, link, rgbaColor=[*rgb, 1.0], physicsClientId=client)
        matrices = [pybullet_matrices(c, SUPERSAMPLE) for c in cams]
        images = np.zeros((frames, len(cams), size, size, 3), np.float32)
        masks = np.zeros((frames, len(cams), size, size), np.float32)
        joints = np.zeros((frames, n_links, 3), np.float32)
        for t in tqdm(range(frames), desc=f"capture {clip}", disable=not progress):
            row = data[t]
            p.resetBasePositionAndOrientation(
                body, row[1:4].tolist(), _xyzw(row[4:8]), physicsClientId=client
            )
            i = 8
            for link, dof in JOINT_ORDER:
                value = _xyzw(row[i : i + 4]) if dof == 4 else [row[i]]
                p.resetJointStateMultiDof(body, link, value, physicsClientId=client)
                i += dof
            for link in range(n_links):
                joints[t, link] = p.getLinkState(body, link, physicsClientId=client)[4]
            for c, (view, proj) in enumerate(matrices):
                s = SUPERSAMPLE
                out = p.getCameraImage(
                    size * s,
                    size * s,
                    view,
                    proj,
                    lightDirection=[0.4, 1.0, 0.6],
                    lightColor=[1, 1, 1],
                    shadow=0,
                    lightAmbientCoeff=0.55,
                    lightDiffuseCoeff=0.45,
                    lightSpecularCoeff=0.0,
                    renderer=p.ER_TINY_RENDERER,
                    physicsClientId=client,
                )
                rgb = np.reshape(out[2], (size * s, size * s, 4))[..., :3] / 255.0
                seg = (np.reshape(out[4], (size * s, size * s)) == body).astype(np.float64)
                rgb = rgb * seg[..., None]
                images[t, c] = rgb.reshape(size, s, size, s, 3).mean((1, 3))
                masks[t, c] = seg.reshape(size, s, size, s).mean((1, 3))
    finally:
        p.disconnect(client)
    return write_capture(folder, cams, images, masks, joints, fps=fps, clip=clip, force=force)
