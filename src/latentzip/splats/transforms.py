"""Multi-view sequences described by nerfstudio / Blender ``transforms.json`` files.

:func:`import_transforms` turns such a sequence into a capture folder (the layout of
:mod:`latentzip.splats.cameras`) that ``latentzip splats fit`` reads. Two layouts:

* **one file**: ``SRC/transforms.json`` whose frames carry a time, either ``"time"`` (0..1,
  as D-NeRF and nerfstudio's dynamic data sets write it) or an integer ``"timestep"`` /
  ``"frame_index"``; a file without times is one frame (a static scene);
* **a folder per time**: ``SRC/0000/transforms.json``, ``SRC/0001/transforms.json``, ...
  (sorted by number), each a static scene holding one image per camera.

A frame's camera is its ``"camera"`` (or ``"camera_id"``, ``"camera_idx"``) entry; without one,
cameras are told apart by their pose and intrinsics (a fixed rig repeats them exactly). Every
camera needs an image at every time. Example (one file, two cameras, two times)::

    {"fl_x": 560.0, "fl_y": 560.0, "cx": 256.0, "cy": 256.0, "w": 512, "h": 512,
     "frames": [
       {"file_path": "images/cam0/0000.png", "camera": "cam0", "timestep": 0,
        "transform_matrix": [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 4], [0, 0, 0, 1]]},
       {"file_path": "images/cam1/0000.png", "camera": "cam1", "timestep": 0, ...},
       {"file_path": "images/cam0/0001.png", "camera": "cam0", "timestep": 1, ...},
       {"file_path": "images/cam1/0001.png", "camera": "cam1", "timestep": 1, ...}]}

Intrinsics are read from the frame, else from the top level: ``fl_x``, ``fl_y``, ``cx``, ``cy``,
``w``, ``h`` (nerfstudio; ``cx``, ``cy`` default to the image centre) or ``camera_angle_x`` /
``camera_angle_y`` (Blender). Pinhole cameras only: a fisheye model or non-zero distortion
(``k1``..``k4``, ``p1``, ``p2``) is refused. ``transform_matrix`` is camera-to-world in the
OpenGL convention (x right, y up, z backwards), as both tools write it. Masks come from a
frame's ``mask_path``, else from the image's alpha channel (the colour is then composited over
black, the background the fit assumes), else the capture has none. Paths are relative to the
``transforms.json`` that names them; a Blender path without extension gets ``.png``.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from latentzip.errors import DataError
from latentzip.files import atomic_folder
from latentzip.splats.cameras import Camera, Capture, _png_bytes, _write, load_capture

__all__ = ["TransformsSequence", "import_transforms", "read_transforms"]

_CAMERA_KEYS = ("camera", "camera_id", "camera_idx")
_INT_TIME_KEYS = ("timestep", "frame_index")
_DISTORTION = ("k1", "k2", "k3", "k4", "p1", "p2")
_PINHOLE_MODELS = ("OPENCV", "PINHOLE", "SIMPLE_PINHOLE")
# OpenGL camera axes (x right, y up, z back) -> OpenCV (x right, y down, z forward)
_GL_TO_CV = np.diag([1.0, -1.0, -1.0, 1.0])


@dataclass(frozen=True)
class _View:
    time: float
    camera_key: str
    named: bool  # the key is the frame's own camera entry (else pose and intrinsics)
    camera: Camera
    image: Path
    mask: Path | None


@dataclass(frozen=True)
class TransformsSequence:
    """What a ``transforms.json`` sequence holds: ``views[t][camera name]`` -> (image, mask)."""

    cameras: list[Camera]
    views: list[dict[str, tuple[Path, Path | None]]]
    fps: float
    name: str

    @property
    def n_frames(self) -> int:
        return len(self.views)


def read_transforms(src: str | Path) -> TransformsSequence:
    """Parse ``src`` (a ``transforms.json``, or a folder with one or with one per time)."""
    src = Path(src)
    files = _transform_files(src)
    views: list[_View] = []
    fps = None
    for t, path in enumerate(files):
        meta = _load_json(path)
        fps = fps or _number(meta, {}, "fps", str(path))
        per_time = len(files) > 1
        for i, frame in enumerate(meta["frames"]):
            views.append(_view(meta, frame, path, i, t if per_time else None))
    if fps is not None and fps <= 0:
        raise DataError(f"{src}: fps must be positive, not {fps}")
    return _assemble(views, fps or 30.0, (src if src.is_dir() else src.parent).name)


def _transform_files(src: Path) -> list[Path]:
    if src.is_file():
        return [src]
    if (src / "transforms.json").is_file():
        return [src / "transforms.json"]
    if not src.is_dir():
        raise DataError(f"{src}: no such file or folder")
    subs = [d for d in src.iterdir() if d.is_dir() and (d / "transforms.json").is_file()]
    if not subs:
        raise DataError(f"{src}: no transforms.json, neither here nor in per-time folders")
    numbered = [d for d in subs if re.fullmatch(r"\d+", d.name)]
    if len(numbered) != len(subs):
        odd = sorted(d.name for d in subs if d not in numbered)[:3]
        raise DataError(f"{src}: per-time folders must be named by number, not {odd}")
    return [d / "transforms.json" for d in sorted(numbered, key=lambda d: int(d.name))]


def _load_json(path: Path) -> dict:
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not readable JSON ({exc})") from exc
    if not isinstance(meta, dict) or not isinstance(meta.get("frames"), list):
        raise DataError(f"{path}: expected an object with a 'frames' list")
    if not meta["frames"]:
        raise DataError(f"{path}: no frames")
    return meta


def _view(meta: dict, frame, path: Path, i: int, time: int | None) -> _View:
    where = f"{path}: frame {i}"
    if not isinstance(frame, dict) or "file_path" not in frame:
        raise DataError(f"{where}: expected an object with 'file_path'")
    image = _resolve(path.parent, frame["file_path"], where)
    mask = _resolve(path.parent, frame["mask_path"], where) if frame.get("mask_path") else None
    camera = _camera(meta, frame, image, where)
    if time is None:
        time = _time_of(frame, where)
    key = next((str(frame[k]) for k in _CAMERA_KEYS if k in frame), None)
    if key is not None:
        return _View(float(time), key, True, camera, image, mask)
    # a fixed rig repeats pose and intrinsics exactly
    pose = [np.round(camera.world_to_camera, 6).tolist(), np.round(camera.K, 6).tolist()]
    return _View(float(time), json.dumps(pose), False, camera, image, mask)


def _resolve(folder: Path, name, where: str) -> Path:
    if not isinstance(name, str) or not name:
        raise DataError(f"{where}: bad file path {name!r}")
    path = folder / name
    if not path.suffix and not path.exists():
        path = path.with_suffix(".png")  # Blender writes "./train/r_0"
    if not path.is_file():
        raise DataError(f"{where}: {path} not found")
    return path


def _time_of(frame: dict, where: str) -> float:
    for key in ("time", *_INT_TIME_KEYS):
        if key in frame:
            try:
                value = float(frame[key])
            except (TypeError, ValueError) as exc:
                raise DataError(f"{where}: bad {key} {frame[key]!r}") from exc
            if not math.isfinite(value):
                raise DataError(f"{where}: bad {key} {frame[key]!r}")
            return value
    return 0.0


def _number(meta: dict, frame: dict, key: str, where: str, default=None):
    value = frame.get(key, meta.get(key, default))
    if value is None:
        return None
    try:
        value = float(value)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{where}: bad {key} {value!r}") from exc
    if not math.isfinite(value):
        raise DataError(f"{where}: bad {key} {value!r}")
    return value


def _camera(meta: dict, frame: dict, image: Path, where: str) -> Camera:
    model = frame.get("camera_model", meta.get("camera_model", "OPENCV"))
    if model not in _PINHOLE_MODELS:
        raise DataError(f"{where}: camera model {model!r}; only pinhole cameras are read")
    for key in _DISTORTION:
        if _number(meta, frame, key, where, 0.0):
            raise DataError(f"{where}: lens distortion ({key}); undistort the images first")
    w, h = _number(meta, frame, "w", where), _number(meta, frame, "h", where)
    if w is None or h is None:
        from PIL import Image

        try:
            with Image.open(image) as im:
                w, h = im.size
        except (OSError, Image.DecompressionBombError) as exc:
            raise DataError(f"{where}: {image} is not a readable image ({exc})") from exc
    fx, fy = _number(meta, frame, "fl_x", where), _number(meta, frame, "fl_y", where)
    angle_x = _number(meta, frame, "camera_angle_x", where)
    angle_y = _number(meta, frame, "camera_angle_y", where)
    fx = fx or (0.5 * w / math.tan(0.5 * angle_x) if angle_x else None)
    fy = fy or (0.5 * h / math.tan(0.5 * angle_y) if angle_y else fx)
    if not fx or not fy or fx <= 0 or fy <= 0:
        raise DataError(f"{where}: no focal length (fl_x / fl_y or camera_angle_x)")
    # nerfstudio puts pixel centres at +0.5, the capture layout on integers
    cx = _number(meta, frame, "cx", where, w / 2) - 0.5
    cy = _number(meta, frame, "cy", where, h / 2) - 0.5
    try:
        c2w = np.asarray(frame["transform_matrix"], np.float64)
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{where}: missing or bad transform_matrix") from exc
    if c2w.shape == (3, 4):
        c2w = np.vstack([c2w, [0, 0, 0, 1]])
    if c2w.shape != (4, 4) or not np.all(np.isfinite(c2w)):
        raise DataError(f"{where}: transform_matrix must be a finite 4x4 (or 3x4) matrix")
    rot = c2w[:3, :3]
    if abs(abs(np.linalg.det(rot)) - 1) > 1e-3:
        raise DataError(f"{where}: transform_matrix is not a rigid motion (scaled or sheared)")
    K = np.array([[fx, 0, cx], [0, fy, cy], [0, 0, 1]])
    return Camera(round(w), round(h), K, np.linalg.inv(c2w @ _GL_TO_CV))


def _assemble(views: list[_View], fps: float, name: str) -> TransformsSequence:
    if len({v.named for v in views}) > 1:
        raise DataError("some frames name their camera and others do not")
    keys = list(dict.fromkeys(v.camera_key for v in views))
    times = sorted({v.time for v in views})
    names = _camera_names(keys, explicit=views[0].named)
    cameras = {}
    grid: list[dict] = [{} for _ in times]
    index = {t: i for i, t in enumerate(times)}
    for v in views:
        cam_name = names[v.camera_key]
        cameras.setdefault(cam_name, v.camera)
        slot = grid[index[v.time]]
        if cam_name in slot:
            raise DataError(f"{v.image}: camera {cam_name} has two images at one time")
        slot[cam_name] = (v.image, v.mask)
    for t, slot in enumerate(grid):
        missing = [n for n in cameras if n not in slot]
        if missing:
            raise DataError(f"time {t}: no image from camera(s) {', '.join(missing[:4])}")
    ordered = [Camera(c.width, c.height, c.K, c.world_to_camera, n) for n, c in cameras.items()]
    if len({m is not None for slot in grid for _, m in slot.values()}) > 1:
        raise DataError("some frames have a mask_path and others do not")
    return TransformsSequence(ordered, grid, fps, name)


def _camera_names(keys: list[str], explicit: bool) -> dict[str, str]:
    if explicit:
        safe = {k: re.sub(r"[^A-Za-z0-9_-]", "_", k) for k in keys}
        if len(set(safe.values())) == len(keys):
            return {k: (f"cam{s}" if s.isdigit() else s) for k, s in safe.items()}
    return {k: f"cam{i:02d}" for i, k in enumerate(keys)}


def import_transforms(
    src: str | Path,
    dest: str | Path,
    *,
    held_out: tuple[str, ...] | list[str] = (),
    force: bool = False,
    progress: bool = False,
) -> Capture:
    """Write the sequence at ``src`` as a capture folder ``dest`` and open it.

    ``held_out`` names cameras kept for evaluation (:attr:`Capture.test_cameras`). Images are
    stored as 8-bit RGB PNG, masks as 8-bit grey; the folder appears whole or not at all.
    """
    from tqdm import tqdm

    seq = read_transforms(src)
    names = [c.name for c in seq.cameras]
    unknown = [n for n in held_out if n not in names]
    if unknown:
        raise DataError(f"no camera named {', '.join(unknown)}; cameras: {', '.join(names)}")
    if len(set(held_out)) >= len(names):
        raise DataError("every camera is held out; none is left to fit")
    cameras = [
        Camera(c.width, c.height, c.K, c.world_to_camera, c.name, c.name in held_out)
        for c in seq.cameras
    ]
    total = seq.n_frames * len(cameras)
    masked = None  # whether the first view had a mask (mask_path or alpha): all must agree
    with atomic_folder(Path(dest), force=force) as tmp:
        bar = tqdm(total=total, desc="import", disable=not progress)
        for t, slot in enumerate(seq.views):
            for cam in cameras:
                image, mask = _pixels(*slot[cam.name], cam)
                masked = mask is not None if masked is None else masked
                if masked != (mask is not None):
                    raise DataError(f"{slot[cam.name][0]}: some views have a mask (or alpha), "
                                    "this one has not")  # fmt: skip
                _write(tmp / "images" / cam.name / f"{t:04d}.png", _png_bytes(image))
                if mask is not None:
                    _write(tmp / "masks" / cam.name / f"{t:04d}.png", _png_bytes(mask))
                bar.update()
        bar.close()
        meta = {
            "clip": seq.name,
            "fps": seq.fps,
            "frames": seq.n_frames,
            "cameras": [c.to_json() for c in cameras],
        }
        _write(tmp / "cameras.json", (json.dumps(meta, indent=1) + "\n").encode())
    return load_capture(dest)


def _pixels(image: Path, mask: Path | None, cam: Camera):
    """(H, W, 3) colour over black and the (H, W) mask (``None`` without one), in [0, 1]."""
    from latentzip.splats.cameras import _read_png

    img = _read_png(image)
    img = img[..., None] if img.ndim == 2 else img
    alpha = img[..., -1] if img.shape[2] in (2, 4) else None
    colour = img[..., :3] if img.shape[2] >= 3 else np.repeat(img[..., :1], 3, axis=2)
    if mask is not None:
        m = _read_png(mask)
        alpha = m[..., 0] if m.ndim == 3 else m
    elif alpha is not None:
        colour = colour * alpha[..., None]
    for what, arr in (("image", colour), ("mask", alpha)):
        if arr is not None and arr.shape[:2] != (cam.height, cam.width):
            raise DataError(
                f"{image}: {what} is {arr.shape[1]}x{arr.shape[0]}, the camera says "
                f"{cam.width}x{cam.height}"
            )
    return colour, alpha
