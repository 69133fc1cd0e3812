"""``latentzip motion`` verbs end to end on a tiny synthetic data folder; bundle persistence."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from latentzip.cli import main
from latentzip.errors import DataError, ModelError
from latentzip.motion.bvh import read_bvh, save_bvh
from latentzip.motion.data import build
from latentzip.motion.model import StyleConfig
from latentzip.motion.pipeline import Bundle
from latentzip.motion.synthetic import toy_motion


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("clips")
    (root / "style").mkdir()
    (root / "content").mkdir()
    clips = [("style/calm-1.bvh", 110), ("style/wild-1.bvh", 110), ("style/wild_2.bvh", 60)]
    for i, (name, frames) in enumerate(clips):
        save_bvh(toy_motion(frames, seed=i).to_bvh(), root / name)
    save_bvh(toy_motion(80, seed=9).to_bvh(), root / "content/act.bvh")
    return root


@pytest.fixture(scope="module")
def model_file(folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("model") / "m.pt"
    argv = ["motion", "train", str(folder), "-o", str(out), "--quick", "--epochs", "1"]
    assert main([*argv, "--ae-epochs", "1", "--threads", "1", "-q"]) == 0
    return out


def test_build_splits_every_clip(folder):
    data = build(folder)
    assert data.styles == ["calm", "wild"]
    assert sorted(np.unique(data.test_style.clip).tolist()) == [0, 1, 2]
    # long clips lend their tail; a short one is held out whole, its style training elsewhere
    assert data.roles == {"calm-1": "split", "wild-1": "split", "wild_2": "test", "act": "split"}
    assert 2 not in data.train.clip
    assert len(data.test_content) > 0
    # held-out windows come from the end: the train part never reaches the last window
    assert data.train.x.shape[1:] == data.test_style.x.shape[1:] == (32, data.dim)
    assert abs(float(data.train.x.reshape(-1, data.dim).mean())) < 1e-3


def test_stylize_verbs(model_file, folder, tmp_path, capsys):
    content = str(folder / "content/act.bvh")
    out = tmp_path / "o.bvh"
    gif = tmp_path / "o.gif"
    argv = ["motion", "stylize", str(model_file), content, "-o", str(out), "--style", "wild"]
    assert main([*argv, "--gif", str(gif)]) == 0
    b = read_bvh(out)
    assert b.skeleton.names == read_bvh(content).skeleton.names
    with Image.open(gif) as im:
        assert im.n_frames == b.n_frames
    assert main(argv) == 2  # exists
    assert "--force" in capsys.readouterr().err
    ref = str(folder / "style/calm-1.bvh")
    argv = ["motion", "stylize", str(model_file), content, "-o", str(tmp_path / "r.bvh")]
    assert main([*argv, "--reference", ref]) == 0
    argv = ["motion", "stylize", str(model_file), content, "-o", str(tmp_path / "p.bvh")]
    assert main([*argv, "--samples", "2", "--seed", "3"]) == 0
    a, c = read_bvh(tmp_path / "p_0.bvh"), read_bvh(tmp_path / "p_1.bvh")
    assert not np.allclose(a.values, c.values)
    argv = ["motion", "stylize", str(model_file), content, "-o", str(tmp_path / "u.bvh")]
    assert main([*argv, "--style", "sleepy"]) == 2
    assert "unknown style" in capsys.readouterr().err


def test_evaluate_verb(model_file, folder, capsys):
    assert main(["motion", "evaluate", str(model_file), str(folder), "--threads", "1"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert 0.0 <= res["classifier_heldout_accuracy"] <= 1.0
    assert len(res) > 1


def test_render_verb(folder, tmp_path):
    a, b = str(folder / "style/calm-1.bvh"), str(folder / "style/wild-1.bvh")
    assert main(["motion", "render", a, b, "-o", str(tmp_path / "x.gif")]) == 0
    assert main(["motion", "render", a, "-o", str(tmp_path / "x.png")]) == 0
    assert main(["motion", "render", a, "-o", a]) == 2


def test_bundle_round_trip(model_file, folder, tmp_path):
    b = Bundle.load(model_file)
    m = read_bvh(folder / "content/act.bvh").to_motion()
    one = b.stylize(m, style="calm", n=2, seed=4)
    two = Bundle.load(model_file).stylize(m, style="calm", n=2, seed=4)
    assert np.array_equal(one[1].rotations, two[1].rotations)
    with pytest.raises(DataError, match="unknown style"):
        b.stylize(m, style="zombie")
    with pytest.raises(DataError, match="n=1"):
        b.stylize(m, reference=m, n=2)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a model")
    with pytest.raises(ModelError):
        Bundle.load(bad)
    with pytest.raises(ModelError):
        Bundle.load(tmp_path / "missing.pt")


def test_train_on_clips_directly():
    clips = [("a", 0, toy_motion(40, seed=0)), ("b", 1, toy_motion(40, seed=1))]
    b = Bundle.train_on(
        clips, ["x", "y"], StyleConfig.tiny(space="pose"), window=16, progress=False
    )
    assert b.model.ae_ is None and b.classifier is not None
    with pytest.raises(DataError, match="shorter"):
        Bundle.train_on([("a", 0, toy_motion(10))], ["x"], StyleConfig.tiny(), progress=False)


@pytest.mark.parametrize("fps", ["0", "-30", "nan", "inf", "-inf", "fast"])
def test_render_refuses_a_bad_fps(folder, tmp_path, capsys, fps):
    clip = str(folder / "style/calm-1.bvh")
    with pytest.raises(SystemExit) as info:
        main(["motion", "render", clip, "-o", str(tmp_path / "x.gif"), f"--fps={fps}"])
    assert info.value.code == 2
    assert "--fps" in capsys.readouterr().err
    assert not (tmp_path / "x.gif").exists()


def test_render_refuses_a_rate_too_small_to_resample(folder, tmp_path, capsys):
    clip = str(folder / "style/calm-1.bvh")
    assert main(["motion", "render", clip, "-o", str(tmp_path / "x.gif"), "--fps", "1e-320"]) == 2
    assert "cannot resample" in capsys.readouterr().err
    assert main(["motion", "render", clip, "-o", str(tmp_path / "x.gif"), "--fps", "7.5"]) == 0
