"""Clips to windows: retargeting a finer skeleton, resampling phases, the split by clip."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import shared_file

from latentzip.errors import DataError
from latentzip.motion.bvh import Motion, Skeleton, save_bvh
from latentzip.motion.data import DataConfig, build, retarget
from latentzip.motion.rotations import euler_to_matrix
from latentzip.motion.synthetic import toy_motion


def _finer(sk: Skeleton) -> tuple[Skeleton, list[int]]:
    """``sk`` with a zero-offset joint inserted above every child of the root (CMU's
    LHipJoint, LowerBack); returns it and the new index of every old joint."""
    names, parents, offsets, channels, new_of = [], [], [], [], {}
    for j, name in enumerate(sk.names):
        p = int(sk.parents[j])
        if p == 0:
            names.append(f"{name}Joint")
            parents.append(new_of[0])
            offsets.append(np.zeros(3))
            channels.append(("Zrotation", "Yrotation", "Xrotation"))
            p_new = len(names) - 1
        else:
            p_new = new_of.get(p, -1)
        new_of[j] = len(names)
        names.append(name)
        parents.append(p_new)
        offsets.append(sk.offsets[j])
        channels.append(sk.channels[j])
    fine = Skeleton(names, np.array(parents), np.array(offsets), channels)
    return fine, [new_of[j] for j in range(sk.n_joints)]


def test_retarget_folds_dropped_joints_into_their_children():
    coarse = toy_motion(12, seed=3)
    fine_sk, idx = _finer(coarse.skeleton)
    rng = np.random.default_rng(0)
    rot = np.tile(np.eye(3), (coarse.n_frames, fine_sk.n_joints, 1, 1))
    rot[:, idx] = coarse.rotations
    extra = [j for j in range(fine_sk.n_joints) if j not in idx]
    rot[:, extra] = euler_to_matrix(rng.uniform(-30, 30, (coarse.n_frames, len(extra), 3)), "ZYX")
    fine = Motion(fine_sk, coarse.root, rot, coarse.fps)
    back = retarget(fine, coarse.skeleton)
    # every kept joint keeps its global rotation
    g_fine, _ = fine.global_transforms()
    g_back = back.global_transforms()[0]
    assert np.allclose(g_back, g_fine[:, idx], atol=1e-9)
    # with the inserted joints at rest the positions are exact too
    rot[:, extra] = np.eye(3)
    rest = retarget(Motion(fine_sk, coarse.root, rot, coarse.fps), coarse.skeleton)
    assert np.allclose(rest.positions(), coarse.positions(), atol=1e-9)
    assert np.allclose(rest.rotations, coarse.rotations, atol=1e-9)


def test_retarget_refuses_trees_that_do_not_fold():
    m = toy_motion(5)
    fine_sk, _ = _finer(m.skeleton)
    with pytest.raises(DataError, match="missing"):
        retarget(m, fine_sk)  # the coarse clip lacks the inserted joints
    sk = m.skeleton
    moved = Skeleton(sk.names, np.array([-1, 0, 1, 2, 0, 4, 5, 0, 0]), sk.offsets, sk.channels)
    with pytest.raises(DataError, match="Head hangs elsewhere"):
        retarget(m, moved)


def test_downsample_phases_cover_every_frame():
    m = toy_motion(40, fps=120.0)
    phases = [m.downsample(30, p) for p in range(m.downsample_step(30))]
    assert len(phases) == 4 and all(p.fps == 30 for p in phases)
    assert np.array_equal(phases[3].rotations[1], m.rotations[7])
    got = np.sort(np.concatenate([p.root[:, 0] for p in phases]))
    assert np.array_equal(got, np.sort(m.root[:, 0]))


def test_split_by_clip(tmp_path):
    """Long clips lend their tail; a short clip is held out whole only when its style and
    source train on another clip; a clip without a window is skipped; phases and mirrors add
    training windows but never frames from the held-out tail."""
    (tmp_path / "a" / "style").mkdir(parents=True)
    (tmp_path / "b").mkdir()
    clips = {
        "a/style/calm-1.bvh": 400,  # 99 rows at 30 fps: split
        "a/style/calm-2.bvh": 200,  # 49 rows: held out whole (calm trains in a)
        "a/style/wild-1.bvh": 200,  # short, the only wild clip of a: trains whole
        "b/calm_1.bvh": 200,  # short, calm has not trained in b: trains whole
        "b/calm_2.bvh": 100,  # 24 rows: no window
    }
    for i, (name, frames) in enumerate(clips.items()):
        save_bvh(toy_motion(frames, seed=i, fps=120.0).to_bvh(), tmp_path / name)
    data = build([tmp_path / "a", tmp_path / "b"])
    assert data.roles == {
        "calm-1": "split",
        "calm-2": "test",
        "wild-1": "train",
        "calm_1": "train",
        "calm_2": "skip",
    }
    names = data.train.clips
    assert names == ["calm-1", "calm-2", "wild-1", "calm_1"]
    assert 1 not in data.train.clip and {0, 1} == set(data.test_style.clip.tolist())
    assert data.fps == pytest.approx(30, rel=1e-3)  # BVH frame times have six decimals
    plain = build([tmp_path / "a", tmp_path / "b"], DataConfig(phases=False, mirror=False))
    per_clip = np.bincount(data.train.clip), np.bincount(plain.train.clip)
    assert np.all(per_clip[0][[0, 2, 3]] > 4 * per_clip[1][[0, 2, 3]] - 8)


def test_split_keeps_the_tail_out_of_training(tmp_path):
    """Every phase's training rows come from frames before the first held-out frame."""
    (tmp_path / "style").mkdir()
    m = toy_motion(480, seed=1, fps=120.0)
    root = m.root.copy()
    root[:, 1] = 10.0 + np.arange(m.n_frames) / 100.0  # the height tells the frame
    save_bvh(Motion(m.skeleton, root, m.rotations, m.fps).to_bvh(), tmp_path / "style/calm.bvh")
    data = build(tmp_path)
    height = data.normalizer.inverse(data.train.x)[..., 3]
    held = data.normalizer.inverse(data.test_style.x)[..., 3]
    assert height.max() < held.min()
    assert len(data.train) > 4 * len(build(tmp_path, DataConfig(phases=False)).train) - 8


def test_m21_and_xia_share_one_skeleton():
    data = build([shared_file("motion/m21"), shared_file("motion/xia-test")])
    assert data.skeleton.n_joints == 21
    assert {"angry", "sexy", "neutral", "zombie"} <= set(data.styles)
    assert data.roles["sexy_01_001"] == "test" and data.roles["angry_13_000"] == "train"
    assert set(data.roles.values()) <= {"split", "train", "test", "skip"}


def test_clips_on_another_skeleton_are_skipped_with_a_warning(tmp_path):
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
    save_bvh(toy_motion(200, seed=0).to_bvh(), tmp_path / "a" / "calm-1.bvh")
    m = toy_motion(200, seed=1)
    sk = m.skeleton
    other = Skeleton(["Root", *sk.names[1:]], sk.parents, sk.offsets, sk.channels, sk.end_sites)
    save_bvh(Motion(other, m.root, m.rotations, m.fps).to_bvh(), tmp_path / "b" / "wild-1.bvh")
    with pytest.warns(UserWarning, match="wild-1.bvh: skipped"):
        data = build([tmp_path / "a", tmp_path / "b"])
    assert data.styles == ["calm"] and "wild-1" not in data.roles
