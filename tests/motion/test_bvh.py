"""BVH parsing, writing, Euler conventions, forward kinematics, mirroring."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import shared_file
from scipy.spatial.transform import Rotation

from latentzip.errors import DataError
from latentzip.motion.bvh import Bvh, parse_bvh, read_bvh, save_bvh, write_bvh
from latentzip.motion.rotations import euler_to_matrix, matrix_to_euler
from latentzip.motion.synthetic import toy_motion, toy_skeleton

CLIPS = [
    "motion/m21/style/HAPPY.bvh",
    "motion/m21/style/STRUTTING-2.bvh",
    "motion/m21/content/kick.bvh",
    "motion/m21/t.bvh",
    "motion/xia-test/angry_13_000.bvh",
    "motion/xia-test/sexy_01_001.bvh",
]


@pytest.mark.parametrize("order", ["XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX"])
def test_euler_matches_scipy_intrinsic(order):
    ang = np.random.default_rng(0).uniform(-170, 170, size=(50, 3))
    ang[:, 1] /= 2  # keep away from gimbal lock for the inverse
    ref = Rotation.from_euler(order, ang, degrees=True).as_matrix()
    assert np.allclose(euler_to_matrix(ang, order), ref, atol=1e-12)
    # by hand for one: R = R_a(a) R_b(b) R_c(c)
    a, b, c = np.radians(ang[0])
    axes = {"X": np.array([1.0, 0, 0]), "Y": np.array([0, 1.0, 0]), "Z": np.array([0, 0, 1.0])}
    pairs = zip(order, (a, b, c), strict=True)
    mats = [Rotation.from_rotvec(axes[o] * v).as_matrix() for o, v in pairs]
    assert np.allclose(euler_to_matrix(ang[:1], order)[0], mats[0] @ mats[1] @ mats[2])
    assert np.allclose(matrix_to_euler(ref, order), ang, atol=1e-9)


@pytest.mark.parametrize("rel", CLIPS)
def test_round_trip_on_shared_clips(rel):
    path = shared_file(rel)
    a = read_bvh(path)
    b = parse_bvh(write_bvh(a))
    assert b.skeleton.names == a.skeleton.names
    assert b.skeleton.channels == a.skeleton.channels
    assert np.array_equal(b.skeleton.parents, a.skeleton.parents)
    assert np.allclose(b.skeleton.offsets, a.skeleton.offsets, atol=1e-6)
    assert len(b.skeleton.end_sites) == len(a.skeleton.end_sites)
    assert abs(b.frame_time - a.frame_time) < 1e-6
    assert np.abs(b.values - a.values).max() < 1e-5
    pa, pb = a.to_motion().positions(), b.to_motion().positions()
    assert np.abs(pa - pb).max() < 1e-4
    # matrices -> Euler -> matrices keeps every joint where it was
    c = a.to_motion().to_bvh()
    assert np.abs(c.to_motion().positions() - pa).max() < 1e-6


def test_fk_of_a_shared_clip_against_a_naive_chain():
    bvh = read_bvh(shared_file("motion/m21/style/HAPPY.bvh"))
    sk, row = bvh.skeleton, bvh.values[10]
    # independent reference: walk the chain of LeftToeBase with 4x4 homogeneous matrices
    j = sk.names.index("LeftToeBase")
    chain = []
    while j >= 0:
        chain.append(j)
        j = int(sk.parents[j])
    slices = sk.channel_slices()
    M = np.eye(4)
    for j in reversed(chain):
        vals = dict(zip(sk.channels[j], row[slices[j]], strict=True))
        T = np.eye(4)
        T[:3, 3] = (
            [vals["Xposition"], vals["Yposition"], vals["Zposition"]] if j == 0 else sk.offsets[j]
        )
        for ch in sk.channels[j]:
            if ch.endswith("rotation"):
                R = np.eye(4)
                R[:3, :3] = Rotation.from_euler(ch[0].lower(), vals[ch], degrees=True).as_matrix()
                T = T @ R
        M = M @ T
    pos = bvh.to_motion().positions()[10, sk.names.index("LeftToeBase")]
    assert np.allclose(pos, M[:3, 3], atol=1e-9)


def test_save_refuses_to_overwrite(tmp_path):
    bvh = toy_motion(5).to_bvh()
    path = save_bvh(bvh, tmp_path / "a.bvh")
    assert read_bvh(path).n_frames == 5
    with pytest.raises(Exception, match="exists"):
        save_bvh(bvh, path)
    save_bvh(bvh, path, force=True)


def test_toy_round_trip_mixed_orders():
    m = toy_motion(12, seed=3)
    bvh = m.to_bvh()
    back = parse_bvh(write_bvh(bvh)).to_motion()
    assert np.abs(back.positions() - m.positions()).max() < 1e-4
    assert np.allclose(back.rotations, m.rotations, atol=1e-6)


GOOD = write_bvh(Bvh(toy_skeleton(), np.zeros((2, toy_skeleton().n_channels)), 1 / 30))


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "ends early"),
        ("HIERARCHY\nROOT Hips\n{\nOFFSET 0 0\n", "bad number|ends early|expected"),
        (GOOD.replace("Frames: 2", "Frames: 3"), "need"),
        (GOOD.replace("Frame Time: 0.033333", "Frame Time: 0"), "positive"),
        (
            GOOD.replace("CHANNELS 3 ZXY", "CHANNELS 3 Q").replace(
                "Zrotation Xrotation Yrotation", "Zrotation Xrotation Wrotation", 1
            ),
            "bad channels",
        ),
        (GOOD.replace("MOTION", "MOTIONS"), "expected"),
        (
            GOOD.rsplit("\n", 2)[0] + "\n0 0 nan" + " 0" * (toy_skeleton().n_channels - 3) + "\n",
            "non-finite",
        ),
        (GOOD.replace("JOINT LeftUpLeg", "BONE LeftUpLeg"), "unexpected"),
    ],
)
def test_malformed_bvh_raises_data_error(text, message):
    with pytest.raises(DataError, match=message):
        parse_bvh(text)


def test_unreadable_file(tmp_path):
    with pytest.raises(DataError, match="cannot read"):
        read_bvh(tmp_path / "missing.bvh")


def test_mirror_swaps_sides_and_is_an_involution():
    m = toy_motion(10, seed=1)
    mm = m.mirror()
    sk = m.skeleton
    assert sk.mirror_map().tolist() == [0, 4, 5, 6, 1, 2, 3, 7, 8]
    assert np.allclose(mm.mirror().rotations, m.rotations)
    # the toy skeleton is symmetric: mirrored positions are reflected and swapped
    p, q = m.positions(), mm.positions()
    assert np.allclose(q[:, sk.mirror_map()] * [-1, 1, 1], p, atol=1e-9)


def test_mirror_map_cmu_names():
    sk = read_bvh(shared_file("motion/xia-test/angry_13_000.bvh")).skeleton
    mp = sk.mirror_map()
    assert sk.names[mp[sk.names.index("LThumb")]] == "RThumb"
    assert sk.names[mp[sk.names.index("LHipJoint")]] == "RHipJoint"
    assert sk.names[mp[sk.names.index("LeftHand")]] == "RightHand"
    assert mp[sk.names.index("Head")] == sk.names.index("Head")


def test_downsample():
    m = toy_motion(40, fps=120.0)
    d = m.downsample(30)
    assert d.fps == 30 and d.n_frames == 10
    assert np.array_equal(d.rotations[1], m.rotations[4])


# ---------------------------------------------------------------- crafted and odd files
N_CH = toy_skeleton().n_channels
FRAME = " ".join(["0"] * N_CH)
FIRST_FRAME_LINE = GOOD.split("\n").index("Frame Time: 0.033333") + 2  # 1-based


def _frames(text: str, *rows: str) -> str:
    """``text`` with its frame lines replaced by ``rows`` (``Frames:`` updated)."""
    head = text.split("Frame Time:")[0].replace("Frames: 2", f"Frames: {len(rows)}")
    return head + "Frame Time: 0.033333\n" + "".join(r + "\n" for r in rows)


def chain(n: int, frames: int = 1) -> str:
    """A BVH file with ``n`` joints each nested in the previous one."""
    ch = "CHANNELS 3 Zrotation Xrotation Yrotation\n"
    text = "HIERARCHY\nROOT j0\n{\nOFFSET 0 0 0\n" + ch
    text += "".join(f"JOINT j{i}\n{{\nOFFSET 0 1 0\n{ch}" for i in range(1, n))
    text += "}\n" * n + f"MOTION\nFrames: {frames}\nFrame Time: 0.04\n"
    return text + (" ".join(["0"] * 3 * n) + "\n") * frames


def siblings(n: int) -> str:
    """A BVH file with a root and ``n - 1`` children."""
    ch = "CHANNELS 3 Zrotation Xrotation Yrotation\n"
    text = "HIERARCHY\nROOT j0\n{\nOFFSET 0 0 0\n" + ch
    text += "".join(f"JOINT j{i}\n{{\nOFFSET 0 1 0\n{ch}}}\n" for i in range(1, n))
    return text + "}\nMOTION\nFrames: 1\nFrame Time: 0.04\n" + " 0" * 3 * n + "\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD.replace("Frames: 2", "Frames: 0"), "at least one frame"),
        (_frames(GOOD), "at least one frame"),
        (GOOD.replace("Frames: 2", "Frames: -4"), "at least one frame"),
        (GOOD.replace("Frames: 2", "Frames: two"), "bad frame count"),
        (GOOD.replace("Frames: 2", "Frames: 99999999999999999999"), "need 99999999999999999999"),
        (GOOD.replace("Frames: 2", "Frames: 3"), "need 3 frame lines, found 2"),
        (GOOD.replace("Frames: 2", "Frames: 1"), "need 1 frame lines, found 2"),
    ],
)
def test_frame_count_must_match_the_frame_lines(text, message):
    with pytest.raises(DataError, match=message):
        parse_bvh(text)


@pytest.mark.parametrize("value", ["inf", "0", "-0.03", "nan", "-inf", "1e-320", "0.0000001"])
def test_frame_time_must_be_positive_and_finite(value):
    text = GOOD.replace("Frame Time: 0.033333", f"Frame Time: {value}")
    with pytest.raises(DataError, match=r"line \d+: frame time must be positive and finite"):
        parse_bvh(text)
    with pytest.raises(DataError, match="bad frame time 'fast'"):
        parse_bvh(GOOD.replace("Frame Time: 0.033333", "Frame Time: fast"))
    assert parse_bvh(GOOD.replace("Frame Time: 0.033333", "Frame Time: 0.000001")).n_frames == 2


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf", "1e999", "x"])
def test_non_finite_or_bad_offsets(bad):
    root = GOOD.replace("OFFSET 0.000000 0.000000 0.000000", f"OFFSET 0 {bad} 0", 1)
    with pytest.raises(
        DataError, match=r"BVH line 4: (non-finite|bad) number in the OFFSET of Hips"
    ):
        parse_bvh(root)
    end = GOOD.replace("OFFSET 0.000000 0.000000 0.500000", f"OFFSET {bad} 0 0.5", 1)
    with pytest.raises(DataError, match=r"line 20: .* number in the End Site OFFSET"):
        parse_bvh(end)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("0 nan" + " 0" * (N_CH - 2), "line {}: non-finite channel values"),
        ("inf" + " 0" * (N_CH - 1), "line {}: non-finite channel values"),
        ("1e400" + " 0" * (N_CH - 1), "line {}: non-finite channel values"),
        ("0 zero" + " 0" * (N_CH - 2), "line {}: bad number 'zero' in a frame"),
        ("0 1,5" + " 0" * (N_CH - 2), "line {}: bad number '1,5'"),
        (FRAME + " 0", f"line {{}}: {N_CH + 1} values, the skeleton has {N_CH} channels"),
        (" ".join(["0"] * (N_CH - 1)), f"line {{}}: {N_CH - 1} values"),
    ],
)
def test_bad_frame_lines_name_their_line(row, message):
    text = _frames(GOOD, FRAME, row, FRAME)
    with pytest.raises(DataError, match=message.format(FIRST_FRAME_LINE + 1)):
        parse_bvh(text)


def test_blank_lines_between_frames_are_skipped():
    text = _frames(GOOD, FRAME, "", "  ", FRAME).replace("Frames: 4", "Frames: 2")
    assert parse_bvh(text).n_frames == 2
    assert parse_bvh(GOOD.replace("\n", "\r\n")).n_frames == 2


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "CHANNELS 3 Zrotation Xrotation Yrotation",
            "CHANNELS 3 Zrotation Xrotation",
            "is followed by 2",
        ),
        (
            "CHANNELS 3 Zrotation Xrotation Yrotation",
            "CHANNELS 2 Zrotation Xrotation Yrotation",
            "CHANNELS 2",
        ),
        (
            "CHANNELS 3 Zrotation Xrotation Yrotation",
            "CHANNELS three Zrotation",
            "bad channel count",
        ),
        (
            "CHANNELS 3 Zrotation Xrotation Yrotation",
            "CHANNELS 3 Zrotation Xrotation Qrotation",
            "bad channels",
        ),
        (
            "CHANNELS 3 Zrotation Xrotation Yrotation",
            "CHANNELS 3 Zrotation Zrotation Yrotation",
            "repeated",
        ),
        (
            "CHANNELS 3 Zrotation Xrotation Yrotation",
            "CHANNELS 2 Zrotation Xrotation",
            "needs 0 or 3",
        ),
        (
            "CHANNELS 3 Zrotation Xrotation Yrotation",
            "CHANNELS 1000000000 Zrotation",
            "followed by 1",
        ),
    ],
)
def test_bad_channel_lines(old, new, message):
    text = GOOD.replace(old, new, 1)
    with pytest.raises(DataError, match=rf"BVH line 9: .*{message}"):
        parse_bvh(text)


@pytest.mark.parametrize(
    "cut", ["\tJOINT LeftUpLeg", "\t\t\t\tEnd Site", "MOTION", "Frames:", "Frame Time:"]
)
def test_file_that_ends_early(cut):
    text = GOOD[: GOOD.index(cut) + len(cut)]
    with pytest.raises(DataError, match=r"ends early|need 2 frame lines"):
        parse_bvh(text)
    with pytest.raises(DataError, match="ends early"):
        parse_bvh(GOOD[: GOOD.index("MOTION")])


def test_deep_nesting_and_many_joints_are_refused():
    from latentzip.motion.bvh import MAX_DEPTH, MAX_JOINTS

    assert parse_bvh(chain(MAX_DEPTH)).skeleton.n_joints == MAX_DEPTH
    with pytest.raises(DataError, match=f"nested deeper than {MAX_DEPTH} levels"):
        parse_bvh(chain(MAX_DEPTH + 1))
    with pytest.raises(DataError, match=f"nested deeper than {MAX_DEPTH}"):
        parse_bvh(chain(3000))  # no RecursionError
    assert parse_bvh(siblings(MAX_JOINTS)).skeleton.n_joints == MAX_JOINTS
    with pytest.raises(DataError, match=f"more than {MAX_JOINTS} joints"):
        parse_bvh(siblings(MAX_JOINTS + 1))
    deep = parse_bvh(chain(MAX_DEPTH, frames=2))
    assert parse_bvh(write_bvh(deep)).skeleton.n_joints == MAX_DEPTH  # the writer copes too


def test_read_bvh_names_the_file(tmp_path):
    path = tmp_path / "x.bvh"
    path.write_text(GOOD.replace("Frame Time: 0.033333", "Frame Time: inf"))
    with pytest.raises(DataError, match=r"x\.bvh: BVH line \d+: frame time"):
        read_bvh(path)


@pytest.mark.parametrize("fps", [0.0, -30.0, float("nan"), float("inf"), 1e-320])
def test_downsample_refuses_bad_rates(fps):
    with pytest.raises(DataError, match="cannot resample"):
        toy_motion(10).downsample(fps)
