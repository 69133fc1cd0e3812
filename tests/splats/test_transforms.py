"""nerfstudio / Blender ``transforms.json`` sequences: import, fit, track and compress."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from blob import blob, moved, turn
from PIL import Image

from latentzip.cli import main
from latentzip.errors import DataError
from latentzip.splats.cameras import ring_cameras
from latentzip.splats.codec import SplatCodecConfig, skin_coding_order
from latentzip.splats.fit import FitConfig
from latentzip.splats.pipeline import fit_sequence, load_frames
from latentzip.splats.ply import read_ply
from latentzip.splats.raster import rasterise
from latentzip.splats.sequence import DualGSSequence
from latentzip.splats.transforms import import_transforms, read_transforms

GL = np.diag([1.0, -1.0, -1.0, 1.0])


@pytest.fixture(scope="module")
def scene():
    """A turning blob of Gaussians seen by 4 cameras at 24 px over 3 frames."""
    base = blob(1)
    cams = ring_cameras(4, size=24, radius=3.0, heights=(0.5, 1.0), target=[0, 0, 0], held_out=0)
    colours, alphas = [], []
    for t in range(3):
        g = moved(base, turn(0.05 * t))
        out = rasterise(g, cams)
        colours.append(np.clip(out.colour.numpy(), 0, 1))
        alphas.append(out.alpha.numpy())
    return cams, np.array(colours), np.array(alphas)


def _png(path, arr):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.clip(np.round(arr * 255), 0, 255).astype(np.uint8)).save(path)


def _ns_frame(cam, **extra) -> dict:
    """The camera as nerfstudio writes it: OpenGL camera-to-world, pixel centres at +0.5."""
    c2w = np.linalg.inv(cam.world_to_camera) @ GL
    return {
        "fl_x": cam.K[0, 0],
        "fl_y": cam.K[1, 1],
        "cx": cam.K[0, 2] + 0.5,
        "cy": cam.K[1, 2] + 0.5,
        "w": cam.width,
        "h": cam.height,
        "transform_matrix": c2w.tolist(),
        **extra,
    }


def _one_file(root, scene) -> None:
    """Layout 1: one transforms.json, named cameras, integer timesteps, mask files."""
    cams, colours, alphas = scene
    frames = []
    for t in range(len(colours)):
        for i, cam in enumerate(cams):
            _png(root / "rgb" / f"{cam.name}_{t}.png", colours[t, i])
            _png(root / "mask" / f"{cam.name}_{t}.png", alphas[t, i])
            files = {
                "file_path": f"rgb/{cam.name}_{t}.png",
                "mask_path": f"mask/{cam.name}_{t}.png",
            }
            frames.append(_ns_frame(cam, timestep=t, camera=cam.name, **files))
    frames.reverse()  # order in the file must not matter
    (root / "transforms.json").write_text(json.dumps({"frames": frames, "fps": 24}))


def _per_time(root, scene) -> None:
    """Layout 2: one Blender-style folder per time, RGBA images, cameras told by pose."""
    cams, colours, alphas = scene
    angle = 2 * math.atan(0.5 * cams[0].width / cams[0].K[0, 0])
    for t in range(len(colours)):
        frames = []
        for i, cam in enumerate(cams):
            a = alphas[t, i][..., None]
            rgba = np.concatenate([colours[t, i] / np.maximum(a, 1e-6), a], axis=-1)
            _png(root / f"{t:03d}" / "train" / f"r_{i}.png", np.clip(rgba, 0, 1))
            c2w = np.linalg.inv(cam.world_to_camera) @ GL
            frames.append({"file_path": f"./train/r_{i}", "transform_matrix": c2w.tolist()})
        meta = {"camera_angle_x": angle, "frames": frames}
        (root / f"{t:03d}" / "transforms.json").write_text(json.dumps(meta))


@pytest.mark.parametrize("layout", [_one_file, _per_time])
def test_import_recovers_cameras_images_and_masks(layout, scene, tmp_path):
    cams, colours, alphas = scene
    layout(tmp_path / "src", scene)
    cap = import_transforms(tmp_path / "src", tmp_path / "cap", held_out=[])
    assert cap.n_frames == 3 and len(cap.cameras) == 4 and cap.has_masks
    pts = np.random.default_rng(0).normal(scale=0.5, size=(20, 3))
    by_pose = {}
    for cam in cap.cameras:  # the per-time layout names cameras by first appearance
        match = [c for c in cams if np.allclose(c.world_to_camera, cam.world_to_camera)]
        assert len(match) == 1
        by_pose[cam.name] = cams.index(match[0])
        np.testing.assert_allclose(cam.project(pts), match[0].project(pts), atol=1e-6)
    for t in range(3):
        for name, i in by_pose.items():
            assert np.abs(cap.mask(name, t) - alphas[t, i]).max() <= 1 / 255
            # RGBA goes through un-premultiplying and 8 bits twice: a few levels at edges
            assert np.abs(cap.image(name, t) - colours[t, i]).max() <= 4 / 255


def test_transforms_capture_fits_tracks_and_round_trips_the_codec(scene, tmp_path, capsys):
    _one_file(tmp_path / "src", scene)
    args = ["splats", "import", str(tmp_path / "src"), "-o", str(tmp_path / "cap"), "-q"]
    assert main([*args, "--held-out", "c01"]) == 0
    assert "3 frames x 4 cameras (24x24 px; held out: c01; masks: yes)" in capsys.readouterr().out
    fit_sequence(tmp_path / "cap", tmp_path / "fit", FitConfig.quick(), frames=3)
    info = json.loads((tmp_path / "fit" / "fit.json").read_text())
    assert [r["frame"] for r in info["metrics"]["per_frame"]] == [0, 1, 2]
    assert info["metrics"]["mean"]["test_psnr"] > 15
    frames = load_frames(tmp_path / "fit")
    assert len(frames) == 3 and len(read_ply(tmp_path / "fit" / "frames" / "0002.ply").means)

    blob = tmp_path / "video.lz"
    assert main(["splats", "compress", str(tmp_path / "fit"), "-o", str(blob), "-q"]) == 0
    assert main(["splats", "decompress", str(blob), "-o", str(tmp_path / "back"), "-q"]) == 0
    back = sorted((tmp_path / "back").glob("*.ply"))
    assert len(back) == 3
    seq = DualGSSequence.load(tmp_path / "fit" / "dualgs.npz")
    order = skin_coding_order(seq, SplatCodecConfig.from_quality(3))  # the file's order
    for g, path in zip(frames, back, strict=True):
        restored = read_ply(path)
        assert restored.means.shape == g.means.shape
        assert np.abs(restored.means - g.means[order]).max() < 0.05  # quantised motion


def _write(root, frames, **top):
    root.mkdir(parents=True, exist_ok=True)
    _png(root / "a.png", np.zeros((4, 4, 3)))
    (root / "transforms.json").write_text(json.dumps({**top, "frames": frames}))


EYE = np.eye(4).tolist()
SHIFTED = [[1, 0, 0, 1], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]


@pytest.mark.parametrize(
    ("frames", "top", "message"),
    [
        ([{"file_path": "a.png", "transform_matrix": EYE}], {"k1": 0.1, "fl_x": 4},
         "lens distortion"),
        ([{"file_path": "a.png", "transform_matrix": EYE}],
         {"camera_model": "OPENCV_FISHEYE", "fl_x": 4}, "only pinhole"),
        ([{"file_path": "a.png", "transform_matrix": (2 * np.eye(4)).tolist()}], {"fl_x": 4},
         "not a rigid motion"),
        ([{"file_path": "a.png", "transform_matrix": [[1, 0], [0, 1]]}], {"fl_x": 4},
         "4x4"),
        ([{"file_path": "a.png", "transform_matrix": EYE}], {}, "no focal length"),
        ([{"file_path": "b.png", "transform_matrix": EYE}], {"fl_x": 4}, "not found"),
        ([{"file_path": "a.png", "transform_matrix": EYE, "timestep": 0},
          {"file_path": "a.png", "transform_matrix": SHIFTED, "timestep": 0},
          {"file_path": "a.png", "transform_matrix": EYE, "timestep": 1}], {"fl_x": 4},
         "no image from camera"),
        ([{"file_path": "a.png", "transform_matrix": EYE, "camera": "x"},
          {"file_path": "a.png", "transform_matrix": EYE, "camera": "x"}], {"fl_x": 4},
         "two images at one time"),
        ([], {}, "no frames"),
        ([{"file_path": "a.png", "transform_matrix": EYE}], {"fl_x": 4, "fps": "fast"}, "bad fps"),
        ([{"file_path": "transforms.json", "transform_matrix": EYE}], {"fl_x": 4},
         "not a readable image"),
    ],
)  # fmt: skip
def test_bad_transforms_are_refused_clearly(frames, top, message, tmp_path):
    _write(tmp_path / "src", frames, **top)
    with pytest.raises(DataError, match=message):
        read_transforms(tmp_path / "src")


def test_import_refuses_unknown_or_all_held_out_cameras(tmp_path):
    _write(tmp_path / "src", [{"file_path": "a.png", "transform_matrix": EYE}], fl_x=4)
    assert read_transforms(tmp_path / "src").cameras[0].name == "cam00"
    with pytest.raises(DataError, match="no camera named"):
        import_transforms(tmp_path / "src", tmp_path / "cap", held_out=["nope"])
    with pytest.raises(DataError, match="every camera is held out"):
        import_transforms(tmp_path / "src", tmp_path / "cap", held_out=["cam00"])
    assert not (tmp_path / "cap").exists()
