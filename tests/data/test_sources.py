"""read_source -> write_source gives the input back byte for byte (pixel for pixel for PNGs)."""

import gzip
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from latentzip.data import sources
from latentzip.data.sources import read_source, write_source
from latentzip.errors import ContainerError, DataError, LatentzipError


@pytest.fixture
def images():
    return np.random.default_rng(0).integers(0, 256, (5, 4, 3), dtype=np.uint8)


def idx_bytes(array: np.ndarray) -> bytes:
    head = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(s).to_bytes(4, "big") for s in array.shape
    )
    return head + array.tobytes()


def npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def round_trip(src: Path, out: Path) -> bytes:
    samples, meta = read_source(src)
    write_source(samples, meta, out, force=False)
    return out.read_bytes()


@pytest.mark.parametrize("shape", [(5, 4, 3), (7,), (3, 2, 2, 2)])
def test_idx_round_trips_byte_for_byte(tmp_path, shape):
    array = np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8)
    raw = idx_bytes(array)
    (tmp_path / "a-idx3-ubyte").write_bytes(raw)
    assert round_trip(tmp_path / "a-idx3-ubyte", tmp_path / "back-idx") == raw
    # idx.gz comes back as the raw idx bytes
    (tmp_path / "b-idx3-ubyte.gz").write_bytes(gzip.compress(raw))
    assert round_trip(tmp_path / "b-idx3-ubyte.gz", tmp_path / "back-gz-idx") == raw


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("shape", [(5, 4, 3), (6,), (2, 3)])
def test_npy_round_trips_byte_for_byte(tmp_path, order, shape):
    array = np.random.default_rng(2).integers(0, 256, shape, dtype=np.uint8)
    raw = npy_bytes(np.asarray(array, order=order))
    (tmp_path / "a.npy").write_bytes(raw)
    samples, meta = read_source(tmp_path / "a.npy")
    assert meta["fortran"] is (order == "F" and len(shape) > 1)
    assert np.array_equal(samples.reshape(array.shape), array)
    write_source(samples, meta, tmp_path / "b.npy", force=False)
    assert (tmp_path / "b.npy").read_bytes() == raw
    (tmp_path / "c.npy.gz").write_bytes(gzip.compress(raw))
    assert round_trip(tmp_path / "c.npy.gz", tmp_path / "d.npy") == raw


def test_npy_v2_header_round_trips(tmp_path, images):
    from numpy.lib import format as npy_format

    buf = io.BytesIO()
    npy_format.write_array(buf, images, version=(2, 0))
    (tmp_path / "v2.npy").write_bytes(buf.getvalue())
    assert round_trip(tmp_path / "v2.npy", tmp_path / "out.npy") == buf.getvalue()


def test_trailing_bytes_are_refused_not_shifted(tmp_path, images):
    (tmp_path / "a.npy").write_bytes(npy_bytes(images) + b"xy")
    with pytest.raises(DataError, match="trailing bytes"):
        read_source(tmp_path / "a.npy")
    (tmp_path / "a-idx3-ubyte").write_bytes(idx_bytes(images) + b"xy")
    with pytest.raises(DataError, match="body is 62 bytes"):
        read_source(tmp_path / "a-idx3-ubyte")
    with pytest.raises(DataError, match="not a file"):
        read_source("digits")


def test_png_folder_round_trips_pixels(tmp_path, images):
    folder = tmp_path / "pngs"
    folder.mkdir()
    names = ["b.png", "a.PNG", "c d.png"]
    for name, im in zip(names, images, strict=False):
        Image.fromarray(im, mode="L").save(folder / name, format="PNG")
    (folder / "notes.txt").write_text("ignored")
    samples, meta = read_source(folder)
    out = tmp_path / "restored"
    write_source(samples, meta, out, force=False)
    assert sorted(p.name for p in out.iterdir()) == sorted(names)
    for name in names:
        assert np.array_equal(
            np.asarray(Image.open(out / name)), np.asarray(Image.open(folder / name))
        )
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def _pngs(tmp_path, images):
    return images, {"kind": "png", "names": [f"{i}.png" for i in range(len(images))]}


def test_png_output_into_an_empty_folder_and_force(tmp_path, images):
    samples, meta = _pngs(tmp_path, images)
    out = tmp_path / "out"
    out.mkdir()  # an existing empty folder is replaced
    write_source(samples, meta, out, force=False)
    assert len(list(out.iterdir())) == 5
    with pytest.raises(LatentzipError, match="not empty"):
        write_source(samples, meta, out, force=False)
    (out / "stale.png").write_bytes(b"old")
    write_source(samples[:2], {"kind": "png", "names": ["x.png", "y.png"]}, out, force=True)
    assert sorted(p.name for p in out.iterdir()) == ["x.png", "y.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temporary folder left
    (out / "keep.txt").write_text("mine")
    with pytest.raises(LatentzipError, match="would not write"):
        write_source(samples, meta, out, force=True)
    assert (out / "keep.txt").exists()
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(LatentzipError, match="not a folder"):
        write_source(samples, meta, tmp_path / "file", force=True)


def test_png_output_is_all_or_nothing(tmp_path, images, monkeypatch):
    samples, meta = _pngs(tmp_path, images)
    calls = []

    def failing(image):
        calls.append(1)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real(image)

    real = sources._png_bytes
    monkeypatch.setattr(sources, "_png_bytes", failing)
    out = tmp_path / "out"
    with pytest.raises(LatentzipError, match="No space left"):
        write_source(samples, meta, out, force=False)
    assert list(tmp_path.iterdir()) == []  # neither a partial folder nor the temporary one
    # with --force over an existing folder, a failure keeps the old folder as it was
    out.mkdir()
    (out / "old.png").write_bytes(b"old")
    calls.clear()
    monkeypatch.setattr(sources, "_png_bytes", failing)
    with pytest.raises(LatentzipError):
        write_source(samples, meta, out, force=True)
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    assert [p.name for p in out.iterdir()] == ["old.png"]
    calls.clear()

    def interrupted(image):
        raise KeyboardInterrupt

    monkeypatch.setattr(sources, "_png_bytes", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_source(samples, meta, tmp_path / "new", force=False)
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_png_output_folder_mode_is_not_private(tmp_path, images):
    samples, meta = _pngs(tmp_path, images)
    write_source(samples, meta, tmp_path / "out", force=False)
    plain = tmp_path / "plain"
    plain.mkdir()
    assert (tmp_path / "out").stat().st_mode == plain.stat().st_mode


@pytest.mark.parametrize("names", [["../x.png", "b.png"], ["a.png", "a.png"], ["..", "b.png"]])
def test_crafted_png_names_are_refused(tmp_path, images, names):
    with pytest.raises(ContainerError):
        write_source(images[:2], {"kind": "png", "names": names}, tmp_path / "o", force=False)
    assert list(tmp_path.iterdir()) == []


def test_missing_output_folder_is_an_error(tmp_path, images):
    (tmp_path / "a.npy").write_bytes(npy_bytes(images))
    samples, meta = read_source(tmp_path / "a.npy")
    with pytest.raises(LatentzipError, match="does not exist"):
        write_source(samples, meta, tmp_path / "no" / "such" / "b.npy", force=False)
    with pytest.raises(LatentzipError, match="does not exist"):
        write_source(samples, {"kind": "png"}, tmp_path / "no" / "pngs", force=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npy"]


def test_stored_header_must_match_the_samples(tmp_path, images):
    (tmp_path / "a.npy").write_bytes(npy_bytes(images))
    samples, meta = read_source(tmp_path / "a.npy")
    with pytest.raises(ContainerError, match="does not match"):
        write_source(samples[:4], meta, tmp_path / "b.npy", force=False)
    with pytest.raises(ContainerError, match="base64"):
        write_source(samples, {**meta, "header": "not base64!"}, tmp_path / "b.npy", force=False)
    (tmp_path / "a-idx3-ubyte").write_bytes(idx_bytes(images))
    samples, meta = read_source(tmp_path / "a-idx3-ubyte")
    with pytest.raises(ContainerError, match="does not match"):
        write_source(samples[:4], meta, tmp_path / "b-idx", force=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-idx3-ubyte", "a.npy"]
