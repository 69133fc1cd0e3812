"""Pinhole cameras and multi-view captures on disk.

A capture is a folder::

    <capture>/
      cameras.json              cameras and clip metadata (below)
      images/<cam>/<t:04d>.png  RGB images, 8-bit
      masks/<cam>/<t:04d>.png   foreground masks, 8-bit grey (0 background, 255 foreground)
      joints.npy                (T, J, 3) float ground-truth joint positions (optional)

``cameras.json``::

    {"clip": "dance_a", "fps": 30.0, "frames": 49,
     "cameras": [{"name": "c00", "width": 64, "height": 64,
                  "fx": 80.0, "fy": 80.0, "cx": 31.5, "cy": 31.5,
                  "world_to_camera": [[...4 numbers...], ...4 rows...],
                  "held_out": false}, ...]}

Cameras follow the OpenCV convention: camera x points right, y down, z forward (into the
scene); ``world_to_camera`` maps homogeneous world points to camera coordinates, and pixel
``(u, v) = (fx x / z + cx, fy y / z + cy)``. Pixel centres sit on integer coordinates
(the pixel in column ``j`` covers ``u`` in ``[j - 0.5, j + 0.5]``), so a centred camera has
``cx = width / 2 - 0.5``. Any multi-view sequence written in this layout loads with
:func:`load_capture`; ``joints.npy`` is only needed for tracking-error metrics.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from latentzip.errors import DataError
from latentzip.files import atomic_folder

__all__ = ["Camera", "Capture", "load_capture", "look_at", "ring_cameras", "write_capture"]


@dataclass(frozen=True, eq=False)
class Camera:
    """A pinhole camera (OpenCV convention, see the module docstring).

    Examples
    --------
    >>> cam = look_at([0, 0, -3], [0, 0, 0], [0, -1, 0], width=32, height=32, fov_deg=40)
    >>> np.round(cam.project(np.zeros((1, 3))), 3).tolist()
    [[15.5, 15.5, 3.0]]
    """

    width: int
    height: int
    K: np.ndarray
    world_to_camera: np.ndarray
    name: str = "cam"
    held_out: bool = False

    def __post_init__(self) -> None:
        k = np.asarray(self.K, np.float64)
        w2c = np.asarray(self.world_to_camera, np.float64)
        if k.shape != (3, 3) or w2c.shape != (4, 4):
            raise DataError(
                f"camera {self.name}: K must be 3x3 and world_to_camera 4x4, "
                f"not {k.shape} and {w2c.shape}"
            )
        if not (np.all(np.isfinite(k)) and np.all(np.isfinite(w2c))):
            raise DataError(f"camera {self.name}: non-finite intrinsics or extrinsics")
        if int(self.width) <= 0 or int(self.height) <= 0:
            raise DataError(f"camera {self.name}: size {self.width}x{self.height}")
        object.__setattr__(self, "K", k)
        object.__setattr__(self, "world_to_camera", w2c)
        object.__setattr__(self, "width", int(self.width))
        object.__setattr__(self, "height", int(self.height))

    @property
    def center(self) -> np.ndarray:
        """Camera centre in world coordinates, (3,)."""
        r, t = self.world_to_camera[:3, :3], self.world_to_camera[:3, 3]
        return -r.T @ t

    def project(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) world points -> (N, 3) array of pixel u, pixel v and depth z."""
        cam = points @ self.world_to_camera[:3, :3].T + self.world_to_camera[:3, 3]
        z = cam[:, 2]
        uv = cam[:, :2] / z[:, None] * np.diag(self.K)[:2] + self.K[:2, 2]
        return np.concatenate([uv, z[:, None]], axis=1)

    def downsampled(self, factor: int) -> Camera:
        """The camera whose pixel ``(i, j)`` is the ``factor`` x ``factor`` block of ours
        starting at ``(factor i, factor j)`` (partial blocks at the right and bottom dropped).

        >>> cam = look_at([0, 0, -3], [0, 0, 0], [0, -1, 0], width=32, height=32, fov_deg=40)
        >>> half = cam.downsampled(2)
        >>> (half.width, np.round(half.project(np.zeros((1, 3)))[0, :2], 3).tolist())
        (16, [7.5, 7.5])
        """
        if factor < 1:
            raise DataError(f"camera {self.name}: downsampling factor {factor} < 1")
        k = self.K.copy()
        k[:2, :2] /= factor
        k[:2, 2] = (k[:2, 2] - (factor - 1) / 2) / factor  # pixel centres at integers
        w, h = self.width // factor, self.height // factor
        return dataclasses.replace(self, width=w, height=h, K=k)

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "width": self.width,
            "height": self.height,
            "fx": float(self.K[0, 0]),
            "fy": float(self.K[1, 1]),
            "cx": float(self.K[0, 2]),
            "cy": float(self.K[1, 2]),
            "world_to_camera": self.world_to_camera.tolist(),
            "held_out": bool(self.held_out),
        }

    @classmethod
    def from_json(cls, d: dict) -> Camera:
        try:
            k = np.array([[d["fx"], 0, d["cx"]], [0, d["fy"], d["cy"]], [0, 0, 1]], np.float64)
            return cls(
                width=int(d["width"]),
                height=int(d["height"]),
                K=k,
                world_to_camera=np.asarray(d["world_to_camera"], np.float64),
                name=str(d["name"]),
                held_out=bool(d.get("held_out", False)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"camera entry {d!r:.80} is incomplete ({exc})") from exc


def look_at(
    eye, target, up, *, width: int, height: int, fov_deg: float, name: str = "cam"
) -> Camera:
    """A camera at ``eye`` looking at ``target``; ``up`` is the world direction shown upwards.

    ``fov_deg`` is the vertical field of view; pixels are square.
    """
    eye, target, up = (np.asarray(v, np.float64) for v in (eye, target, up))
    forward = target - eye
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, up)  # image x = forward x up (y points down)
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    rot = np.stack([right, down, forward])
    w2c = np.eye(4)
    w2c[:3, :3] = rot
    w2c[:3, 3] = -rot @ eye
    f = 0.5 * height / np.tan(np.radians(fov_deg) / 2)
    k = np.array([[f, 0, width / 2 - 0.5], [0, f, height / 2 - 0.5], [0, 0, 1]])
    return Camera(width, height, k, w2c, name)


def ring_cameras(
    n: int,
    *,
    size: int,
    radius: float,
    heights: tuple[float, ...],
    target,
    up=(0.0, 1.0, 0.0),
    fov_deg: float = 45.0,
    held_out: int = 0,
) -> list[Camera]:
    """``n`` cameras on rings around ``target`` (alternating between ``heights``).

    Heights are measured along ``up`` from the target. ``held_out`` cameras, spread evenly
    round the ring, are flagged for evaluation only.
    """
    target, up = np.asarray(target, np.float64), np.asarray(up, np.float64)
    up = up / np.linalg.norm(up)
    a = np.cross(up, [1.0, 0.0, 0.0] if abs(up[0]) < 0.9 else [0.0, 0.0, 1.0])
    a /= np.linalg.norm(a)
    b = np.cross(up, a)
    held = (
        set(
            np.round(
                np.linspace(0, n, held_out, endpoint=False) + n / (2 * max(held_out, 1))
            ).astype(int)
            % n
        )
        if held_out
        else set()
    )
    cams = []
    for i in range(n):
        phi = 2 * np.pi * i / n
        eye = target + radius * (np.cos(phi) * a + np.sin(phi) * b) + heights[i % len(heights)] * up
        cam = look_at(eye, target, up, width=size, height=size, fov_deg=fov_deg, name=f"c{i:02d}")
        cams.append(Camera(cam.width, cam.height, cam.K, cam.world_to_camera, cam.name, i in held))
    return cams


@dataclass
class Capture:
    """A multi-view capture folder opened with :func:`load_capture`.

    Attributes
    ----------
    folder : the capture folder.
    cameras : every camera (training and held out), in file order.
    held_out : names of the cameras kept for evaluation.
    n_frames, fps, clip : from ``cameras.json``.
    """

    folder: Path
    cameras: list[Camera]
    n_frames: int
    fps: float = 30.0
    clip: str = ""
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def held_out(self) -> list[str]:
        return [c.name for c in self.cameras if c.held_out]

    @property
    def train_cameras(self) -> list[Camera]:
        return [c for c in self.cameras if not c.held_out]

    @property
    def test_cameras(self) -> list[Camera]:
        return [c for c in self.cameras if c.held_out]

    def camera(self, name: str) -> Camera:
        for c in self.cameras:
            if c.name == name:
                return c
        raise DataError(f"{self.folder}: no camera named {name!r}")

    def _name(self, cam: Camera | str) -> str:
        return cam if isinstance(cam, str) else cam.name

    def _check_frame(self, t: int) -> None:
        if not 0 <= t < self.n_frames:
            raise DataError(f"{self.folder}: frame {t} is outside 0..{self.n_frames - 1}")

    def image(self, cam: Camera | str, t: int) -> np.ndarray:
        """(H, W, 3) float32 image in [0, 1]."""
        self._check_frame(t)
        name = self._name(cam)
        img = _read_png(self.folder / "images" / name / f"{t:04d}.png")
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, axis=2)
        img = img[..., :3]
        self._check_size(name, img)
        return img

    def mask(self, cam: Camera | str, t: int) -> np.ndarray:
        """(H, W) float32 foreground mask in [0, 1]; all ones when the capture has no masks."""
        self._check_frame(t)
        name = self._name(cam)
        path = self.folder / "masks" / name / f"{t:04d}.png"
        if not path.exists() and not (self.folder / "masks").exists():
            c = self.camera(name)
            return np.ones((c.height, c.width), np.float32)
        m = _read_png(path)
        m = m[..., 0] if m.ndim == 3 else m
        self._check_size(name, m)
        return m

    def joints(self, t: int | None = None) -> np.ndarray:
        """Ground-truth joint positions: (J, 3) for frame ``t`` or (T, J, 3) for all."""
        if "joints" not in self._cache:
            path = self.folder / "joints.npy"
            if not path.exists():
                raise DataError(f"{self.folder}: no joints.npy (ground-truth joints)")
            j = np.load(path, allow_pickle=False).astype(np.float32)
            if j.ndim != 3 or j.shape[0] != self.n_frames or j.shape[2] != 3:
                raise DataError(f"{path}: shape {j.shape}, expected ({self.n_frames}, J, 3)")
            self._cache["joints"] = j
        j = self._cache["joints"]
        if t is None:
            return j
        self._check_frame(t)
        return j[t]

    @property
    def has_masks(self) -> bool:
        return (self.folder / "masks").is_dir()

    @property
    def has_joints(self) -> bool:
        return (self.folder / "joints.npy").exists()

    def _check_size(self, name: str, img: np.ndarray) -> None:
        c = self.camera(name)
        if img.shape[:2] != (c.height, c.width):
            raise DataError(
                f"{self.folder}: {name} image is {img.shape[1]}x{img.shape[0]}, "
                f"cameras.json says {c.width}x{c.height}"
            )


def _read_png(path: Path) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as im:
            arr = np.asarray(im)
    except FileNotFoundError as exc:
        raise DataError(f"{path}: no such file") from exc
    except Image.DecompressionBombError as exc:  # a crafted header claiming gigapixels
        raise DataError(f"{path}: image too large to decode ({exc})") from exc
    except OSError as exc:
        raise DataError(f"{path}: not a readable image ({exc})") from exc
    if arr.dtype == np.uint16:
        return arr.astype(np.float32) / 65535.0
    return arr.astype(np.float32) / 255.0


def _png_bytes(arr: np.ndarray) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.clip(np.round(arr * 255), 0, 255).astype(np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def load_capture(folder: str | Path) -> Capture:
    """Open a capture folder (layout in the module docstring); images load lazily."""
    folder = Path(folder)
    meta_path = folder / "cameras.json"
    try:
        meta = json.loads(meta_path.read_text())
    except FileNotFoundError as exc:
        raise DataError(f"{folder}: no cameras.json (not a capture folder)") from exc
    except (OSError, ValueError) as exc:
        raise DataError(f"{meta_path}: not readable JSON ({exc})") from exc
    if not isinstance(meta, dict) or not isinstance(meta.get("cameras"), list):
        raise DataError(f"{meta_path}: expected an object with a 'cameras' list")
    cameras = [Camera.from_json(d) for d in meta["cameras"]]
    if not cameras:
        raise DataError(f"{meta_path}: no cameras")
    names = [c.name for c in cameras]
    if len(set(names)) != len(names):
        raise DataError(f"{meta_path}: camera names repeat")
    if not any(not c.held_out for c in cameras):
        raise DataError(f"{meta_path}: every camera is held out; none is left to fit")
    try:
        n_frames = int(meta["frames"])
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{meta_path}: missing or bad 'frames' count") from exc
    if n_frames < 1:
        raise DataError(f"{meta_path}: {n_frames} frames")
    return Capture(
        folder, cameras, n_frames, float(meta.get("fps", 30.0)), str(meta.get("clip", ""))
    )


def write_capture(
    folder: str | Path,
    cameras: list[Camera],
    images: np.ndarray,
    masks: np.ndarray | None = None,
    joints: np.ndarray | None = None,
    *,
    fps: float = 30.0,
    clip: str = "",
    force: bool = False,
) -> Capture:
    """Write a capture: ``images`` (T, C, H, W, 3) in [0, 1], ``masks`` (T, C, H, W) in [0, 1].

    All cameras must share one image size here (the loader itself allows mixed sizes). The
    folder appears whole or not at all; an existing non-empty one is replaced only with
    ``force``.
    """
    folder = Path(folder)
    images = np.asarray(images)
    t, c = images.shape[:2]
    if images.ndim != 5 or c != len(cameras) or images.shape[4] != 3:
        raise DataError(f"images have shape {images.shape}, expected (T, {len(cameras)}, H, W, 3)")
    if masks is not None and np.shape(masks) != images.shape[:4]:
        raise DataError(f"masks have shape {np.shape(masks)}, expected {images.shape[:4]}")
    if joints is not None and (
        np.ndim(joints) != 3 or len(joints) != t or np.shape(joints)[2] != 3
    ):
        raise DataError(f"joints have shape {np.shape(joints)}, expected ({t}, J, 3)")
    with atomic_folder(folder, force=force) as tmp:
        for i, cam in enumerate(cameras):
            for f in range(t):
                name = f"{cam.name}/{f:04d}.png"
                _write(tmp / "images" / name, _png_bytes(images[f, i]))
                if masks is not None:
                    _write(tmp / "masks" / name, _png_bytes(masks[f, i]))
        if joints is not None:
            np.save(tmp / "joints.npy", np.asarray(joints, np.float32))
        meta = {"clip": clip, "fps": fps, "frames": t, "cameras": [c.to_json() for c in cameras]}
        _write(tmp / "cameras.json", (json.dumps(meta, indent=1) + "\n").encode())
    return load_capture(folder)


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
