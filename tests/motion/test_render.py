"""Stick-figure GIF and PNG strip."""

from __future__ import annotations

import pytest
from PIL import Image

from latentzip.errors import DataError
from latentzip.motion.render import save_gif, save_strip
from latentzip.motion.synthetic import toy_motion


def test_gif_and_strip(tmp_path):
    m = toy_motion(6)
    p = m.positions()
    path = save_gif([("a", p), ("b", p + 1.0)], m.skeleton.parents, tmp_path / "x.gif")
    with Image.open(path) as im:
        assert im.n_frames == 6
        assert im.size[0] > im.size[1]  # two panels side by side
    png = save_strip([("a", p)], m.skeleton.parents, tmp_path / "x.png", n=3)
    assert png.stat().st_size > 0
    with pytest.raises(Exception, match="exists"):
        save_gif([("a", p)], m.skeleton.parents, path)
    with pytest.raises(DataError):
        save_gif([], m.skeleton.parents, tmp_path / "y.gif")
