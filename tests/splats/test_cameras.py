import json
import time

import numpy as np
import pytest

from latentzip.errors import DataError
from latentzip.splats.cameras import Camera, load_capture, look_at, ring_cameras, write_capture


def small_capture(tmp_path, frames=2, size=12):
    cams = ring_cameras(3, size=size, radius=2.0, heights=(0.5,), target=[0, 0, 0], held_out=1)
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(frames, 3, size, size, 3))
    masks = (rng.uniform(size=(frames, 3, size, size)) > 0.5).astype(float)
    joints = rng.normal(size=(frames, 5, 3))
    cap = write_capture(tmp_path / "cap", cams, images, masks, joints, fps=25, clip="noise")
    return cap, cams, images, masks, joints


def test_capture_round_trip(tmp_path):
    _, cams, images, masks, joints = small_capture(tmp_path)
    again = load_capture(tmp_path / "cap")
    assert again.n_frames == 2 and again.fps == 25 and again.clip == "noise"
    assert again.held_out == [c.name for c in cams if c.held_out] and len(again.held_out) == 1
    for a, b in zip(again.cameras, cams, strict=True):
        np.testing.assert_allclose(a.K, b.K)
        np.testing.assert_allclose(a.world_to_camera, b.world_to_camera)
    np.testing.assert_allclose(again.image(cams[1], 1), images[1, 1], atol=0.5 / 255 + 1e-6)
    np.testing.assert_allclose(again.mask("c02", 0), masks[0, 2], atol=1e-6)
    np.testing.assert_allclose(again.joints(1), joints[1], atol=1e-6)
    meta = json.loads((tmp_path / "cap" / "cameras.json").read_text())
    assert {
        "name",
        "width",
        "height",
        "fx",
        "fy",
        "cx",
        "cy",
        "world_to_camera",
        "held_out",
    } <= set(meta["cameras"][0])


def test_look_at_is_opencv():
    cam = look_at([0, 0, -2], [0, 0, 0], [0, 1, 0], width=21, height=21, fov_deg=60)
    # world up (+y) appears above the centre (smaller v), camera centre at the eye
    uvz = cam.project(np.array([[0.0, 0.5, 0.0], [0.5, 0.0, 0.0]]))
    assert uvz[0, 1] < 10 and uvz[0, 0] == pytest.approx(10)
    assert uvz[1, 0] < 10  # x to the viewer's left when looking along +z with y up
    np.testing.assert_allclose(cam.center, [0, 0, -2], atol=1e-12)


def test_bad_captures(tmp_path):
    with pytest.raises(DataError, match=r"cameras\.json"):
        load_capture(tmp_path)
    small_capture(tmp_path)
    folder = tmp_path / "cap"
    meta = json.loads((folder / "cameras.json").read_text())
    meta["cameras"][0]["width"] = 13
    (folder / "cameras.json").write_text(json.dumps(meta))
    with pytest.raises(DataError, match="13x12"):
        load_capture(folder).image("c00", 0)
    np.save(folder / "joints.npy", np.zeros((3, 5, 3)))
    with pytest.raises(DataError, match="joints"):
        load_capture(folder).joints(0)
    with pytest.raises(DataError, match="frame 5"):
        load_capture(folder).image("c01", 5)
    del meta["cameras"][1]["fx"]
    (folder / "cameras.json").write_text(json.dumps(meta))
    with pytest.raises(DataError, match="incomplete"):
        load_capture(folder)
    with pytest.raises(DataError, match="3x3"):
        Camera(4, 4, np.eye(4), np.eye(4))
    with pytest.raises(DataError, match="images have shape"):
        two = ring_cameras(2, size=4, radius=1, heights=(0,), target=[0, 0, 0])
        write_capture(tmp_path / "x", two, np.zeros((1, 3, 4, 4, 3)))


def test_pybullet_capture(tmp_path):
    from latentzip.splats.capture import capture_humanoid

    start = time.perf_counter()
    cap = capture_humanoid(tmp_path / "hum", frames=2, step=3, n_cameras=2, size=32, held_out=1)
    assert time.perf_counter() - start < 10
    assert cap.n_frames == 2 and len(cap.cameras) == 2 and cap.held_out == ["c01"]
    assert cap.joints().shape == (2, 15, 3)
    for cam in cap.cameras:
        m = cap.mask(cam, 1)
        img = cap.image(cam, 1)
        assert 0.01 < m.mean() < 0.5  # the performer is in view, not filling it
        assert img[m == 0].max() == 0  # black background
        # every ground-truth joint projects onto (or right next to) the performer
        uv = np.round(cam.project(cap.joints(1))[:, :2]).astype(int)
        near = [m[max(v - 1, 0) : v + 2, max(u - 1, 0) : u + 2].max() for u, v in uv]
        assert min(near) > 0


def test_png_too_large_to_decode_is_a_clear_error(tmp_path, monkeypatch):
    """A PNG whose header claims more pixels than Pillow's bomb limit: DataError, not a crash."""
    from PIL import Image

    from latentzip.splats.cameras import _read_png

    path = tmp_path / "big.png"
    Image.new("L", (64, 64)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 4096 > 2 x 1000: a "bomb"
    with pytest.raises(DataError, match="too large to decode"):
        _read_png(path)
