import os

import pytest

from latentzip.errors import LatentzipError
from latentzip.files import atomic_write


def test_atomic_write_gives_the_usual_file_mode(tmp_path):
    mask = os.umask(0o022)
    try:
        path = atomic_write(tmp_path / "out.bin", b"abc")
    finally:
        os.umask(mask)
    assert path.read_bytes() == b"abc"
    assert path.stat().st_mode & 0o777 == 0o644


def test_atomic_write_refuses_clobbering_and_reports_os_errors(tmp_path):
    (tmp_path / "keep").write_bytes(b"old")
    with pytest.raises(LatentzipError, match="--force"):
        atomic_write(tmp_path / "keep", b"new", force=False)
    assert (tmp_path / "keep").read_bytes() == b"old"
    with pytest.raises(LatentzipError, match="is a folder"):
        atomic_write(tmp_path, b"x")
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(LatentzipError, match="does not exist"):
        atomic_write(tmp_path / "file" / "below", b"x")  # parent is a file
    with pytest.raises(LatentzipError, match="cannot write"):
        atomic_write(tmp_path / "file" / "below", b"x", parents=True)
    with pytest.raises(LatentzipError, match="does not exist"):
        atomic_write(tmp_path / "a" / "b" / "c.lz", b"x")  # never creates folders silently
    assert not (tmp_path / "a").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
