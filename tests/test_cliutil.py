import pytest

from latentzip.cliutil import given, guard_output, read_input
from latentzip.errors import LatentzipError


def test_guard_output(tmp_path):
    a, b, out = tmp_path / "a", tmp_path / "b", tmp_path / "out"
    a.write_bytes(b"x")
    b.write_bytes(b"y")
    assert guard_output(out, [a, b], force=False) == out
    with pytest.raises(LatentzipError, match="overwrite the input"):
        guard_output(b, [a, b], force=True)
    with pytest.raises(LatentzipError, match="--force"):
        guard_output(a, b, force=False)
    assert guard_output(a, b, force=True) == a
    assert guard_output(tmp_path, a, force=False, folder_ok=True) == tmp_path


def test_given_and_read_input(tmp_path):
    assert given(a=None, b=0, c="") == {"b": 0, "c": ""}
    with pytest.raises(LatentzipError, match="cannot read"):
        read_input(tmp_path / "missing")
