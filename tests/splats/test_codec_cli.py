"""``latentzip splats compress / decompress / info`` on a folder of .ply frames."""

from __future__ import annotations

import numpy as np

from latentzip.cli import main
from latentzip.splats import DualGSSequence, Gaussians, read_ply, write_ply
from latentzip.splats.codec import SplatDecoder


def test_cli_round_trip_of_a_ply_folder(tmp_path, capsys):
    rng = np.random.default_rng(0)
    g0 = Gaussians.random(50, degree=1, seed=0)
    src = tmp_path / "frames"
    src.mkdir()
    frames = []
    for t in range(6):
        g = Gaussians(
            g0.means + 0.01 * t,
            g0.log_scales,
            g0.rotations,
            g0.opacity_logits,
            g0.sh + rng.normal(scale=0.01, size=g0.sh.shape),
        )
        frames.append(g)
        write_ply(src / f"{t:04d}.ply", g)
    out = tmp_path / "seq.lz"
    args = ["splats", "compress", str(src), "-o", str(out), "--segment-length", "4"]
    assert main(args) == 0
    assert "KB/frame" in capsys.readouterr().out
    assert main(args) == 2  # refuses to overwrite without --force
    assert "--force" in capsys.readouterr().err
    assert main([*args, "-f", "-q"]) == 0

    assert main(["splats", "info", str(out)]) == 0
    info = capsys.readouterr().out
    assert "6 (" in info and "segments:    2" in info
    assert main(["info", str(out)]) == 0  # the top-level verb dispatches on the codec
    assert capsys.readouterr().out == info

    restored = tmp_path / "restored"
    assert main(["decompress", str(out), "-o", str(tmp_path / "top")]) == 0
    assert sorted(p.name for p in (tmp_path / "top").iterdir())[0] == "0000.ply"
    assert main(["splats", "decompress", str(out), "-o", str(restored)]) == 0
    step = SplatDecoder(out.read_bytes()).steps.position
    for t, g in enumerate(frames):
        back = read_ply(restored / f"{t:04d}.ply")
        assert np.abs(back.means - g.means).max() <= step / 2 + 1e-6

    one = tmp_path / "one"
    assert main(["splats", "decompress", str(out), "-o", str(one), "--frame", "5"]) == 0
    assert "segment 1 of 2" in capsys.readouterr().out
    assert read_ply(one / "0005.ply").equals(read_ply(restored / "0005.ply"))

    bad = tmp_path / "bad.lz"
    bad.write_bytes(out.read_bytes()[:-10])
    assert main(["splats", "decompress", str(bad), "-o", str(tmp_path / "x")]) == 2
    assert "truncated" in capsys.readouterr().err


def test_cli_compresses_a_dualgs_model(tmp_path, capsys):
    seq = DualGSSequence.random(frames=4, joints=3, skins=20, seed=2)
    (tmp_path / "fit").mkdir()
    seq.save(tmp_path / "fit" / "dualgs.npz")
    assert main(["splats", "compress", str(tmp_path / "fit"), "--quality", "high"]) == 0
    assert "DualGS model" in capsys.readouterr().out
    blob = tmp_path / "fit.lz"
    assert main(["splats", "decompress", str(blob)]) == 0
    restored = tmp_path / "fit.restored"
    assert DualGSSequence.load(restored / "dualgs.npz").n_frames == 4
    assert len(list(restored.glob("*.ply"))) == 4
    assert main(["splats", "compress", str(tmp_path / "nothing")]) == 2
