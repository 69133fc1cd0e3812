import json

import numpy as np
from PIL import Image

from latentzip.cli import main
from latentzip.splats import DualGSSequence


def test_capture_fit_render(tmp_path, capsys):
    cap, fit = tmp_path / "cap", tmp_path / "fit"
    args = ["splats", "capture", "-o", str(cap), "--frames", "2", "--step", "3", "-q"]
    assert main([*args, "--cameras", "3", "--held-out", "1", "--size", "32"]) == 0
    assert main([*args, "--cameras", "3"]) == 2  # exists, no --force
    assert "already holds a capture" in capsys.readouterr().err
    fit_args = ["splats", "fit", str(cap), "-o", str(fit), "--quick", "--threads", "1", "-q"]
    assert main(fit_args) == 0
    info = json.loads((fit / "fit.json").read_text())
    assert info["frames_done"] == 2 and len(info["metrics"]["per_frame"]) == 2
    assert main(["splats", "render", str(fit), "-o", str(tmp_path / "v.png")]) == 0
    strip = np.asarray(Image.open(tmp_path / "v.png"))
    assert strip.shape == (32, 64, 3) and strip.max() > 0  # two frames side by side
    turn = ["splats", "render", str(fit / "frames" / "0000.ply"), "-o", str(tmp_path / "t.gif")]
    assert main([*turn, "--turntable", "--views", "3", "--size", "24"]) == 0
    assert (tmp_path / "t.gif").stat().st_size > 0
    assert main(["splats", "render", str(fit), "-o", str(tmp_path / "v.png")]) == 2  # exists
    fixed = tmp_path / "fixed"
    assert main([*fit_args[:4], str(fixed), *fit_args[5:], "--fixed-scales"]) == 0
    for folder, constant in ((fit, False), (fixed, True)):
        scales = DualGSSequence.load(folder / "dualgs.npz").skin_log_scales
        assert np.array_equal(scales[1], scales[0]) == constant


def test_bad_inputs(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["splats", "fit", str(tmp_path / "empty"), "-o", str(tmp_path / "f")]) == 2
    assert "cameras.json" in capsys.readouterr().err
    assert main(["splats", "capture", "-o", str(tmp_path / "c"), "--clip", "moonwalk"]) == 2
    assert "no DeepMimic clip" in capsys.readouterr().err
    assert main(["splats", "render", str(tmp_path / "nothing"), "-o", str(tmp_path / "x.png")]) == 2
