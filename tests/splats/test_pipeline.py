import json

import numpy as np
import pytest
from blob import blob, moved, turn
from plyfile import PlyData

from latentzip.errors import LatentzipError
from latentzip.splats.cameras import ring_cameras, write_capture
from latentzip.splats.fit import FitConfig
from latentzip.splats.pipeline import FitState, fit_sequence, load_frames
from latentzip.splats.ply import read_ply
from latentzip.splats.raster import rasterise, render_numpy
from latentzip.splats.sequence import DualGSSequence

CONFIG = FitConfig.quick()


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    """A blob of Gaussians sliding and turning, seen by 4 cameras (24 px), one held out."""
    frames, base = 3, blob(0)
    cams = ring_cameras(4, size=24, radius=3.0, heights=(0.5, 1.0), target=[0, 0, 0], held_out=1)
    images, masks, joints = [], [], []
    anchors = np.random.default_rng(1).normal(scale=0.15, size=(5, 3))
    for t in range(frames):
        rot, shift = turn(0.05 * t), np.array([0.02 * t, 0, 0])
        g = moved(base, rot, shift)
        out = rasterise(g, cams)
        images.append(out.colour.numpy())
        masks.append(out.alpha.numpy())
        joints.append(anchors @ rot.T + shift)
    folder = tmp_path_factory.mktemp("splats") / "cap"
    return write_capture(folder, cams, np.array(images), np.array(masks), np.array(joints))


@pytest.fixture(scope="module")
def fitted(capture, tmp_path_factory):
    out = tmp_path_factory.mktemp("fit") / "fit"
    fit_sequence(capture, out, CONFIG, frames=3)
    return out


def test_fit_outputs(fitted, capture):
    info = json.loads((fitted / "fit.json").read_text())
    assert info["frames_done"] == 3 and info["settings"]["method"] == "dualgs"
    rows = info["metrics"]["per_frame"]
    assert [r["frame"] for r in rows] == [0, 1, 2]
    assert all(r["test_psnr"] > 15 and 0 < r["test_ssim"] <= 1 for r in rows)
    assert rows[0]["joint_error_cm"] == pytest.approx(0, abs=1e-3)
    assert (fitted / "checkpoint.npz").exists()
    seq = DualGSSequence.load(fitted / "dualgs.npz")
    assert seq.n_frames == 3 and seq.joint_means.shape[1] == CONFIG.n_joints


def test_exported_ply_loads_and_renders_identically(fitted, capture):
    seq = DualGSSequence.load(fitted / "dualgs.npz")
    cam = capture.test_cameras[0]
    for t in range(3):
        path = fitted / "frames" / f"{t:04d}.ply"
        vertex = PlyData.read(str(path))["vertex"]
        names = vertex.data.dtype.names
        assert names[:9] == ("x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2")
        assert len(vertex.data) == len(seq.skin_rest_means)
        again = read_ply(path)
        assert again.equals(seq.frame(t))
        np.testing.assert_array_equal(render_numpy(again, cam), render_numpy(seq.frame(t), cam))
    assert len(load_frames(fitted)) == 3


def test_resume_equals_uninterrupted(fitted, capture, tmp_path):
    out = tmp_path / "resumed"
    fit_sequence(capture, out, CONFIG, frames=2, evaluate_frames=False)
    assert FitState.load(out / "checkpoint.npz").n_done == 2
    fit_sequence(capture, out, CONFIG, frames=3, evaluate_frames=False)
    a = FitState.load(out / "checkpoint.npz")
    b = FitState.load(fitted / "checkpoint.npz")
    assert a.n_done == b.n_done == 3
    for name in ("motion_means", "motion_rotations", "log_scales", "opacity_logits", "sh"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.rest.equals(b.rest)


def test_other_settings_refuse_to_resume(fitted, capture):
    with pytest.raises(LatentzipError, match="other settings"):
        fit_sequence(capture, fitted, FitConfig.quick(seed=1), frames=3)


def test_direct_ablation(capture, tmp_path):
    state = fit_sequence(capture, tmp_path / "direct", CONFIG, frames=2, method="direct")
    assert state.n_done == 2 and not (tmp_path / "direct" / "dualgs.npz").exists()
    assert state.motion_means.shape == (2, len(state.rest), 3)
    info = json.loads((tmp_path / "direct" / "fit.json").read_text())
    assert "joint_error_cm" in info["metrics"]["mean"]


def test_capture_without_masks_or_joints(capture, tmp_path):
    images = np.array([[capture.image(c, t) for c in capture.cameras] for t in range(2)])
    bare = write_capture(tmp_path / "bare", capture.cameras, images)
    assert not bare.has_masks and not bare.has_joints
    assert bare.mask(bare.cameras[0], 0).min() == 1
    state = fit_sequence(bare, tmp_path / "fit", CONFIG, frames=2)
    assert state.n_done == 2
    info = json.loads((tmp_path / "fit" / "fit.json").read_text())
    assert "joint_error_cm" not in info["metrics"]["mean"]
