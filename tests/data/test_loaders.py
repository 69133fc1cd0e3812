import gzip
import io
import struct
import warnings
import zlib

import numpy as np
import pytest
from conftest import shared_file
from PIL import Image

from latentzip.data import load, load_digits, load_idx, validate_symbols
from latentzip.data.loaders import MAX_PNG_PIXELS
from latentzip.errors import DataError


def idx_bytes(array: np.ndarray) -> bytes:
    head = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(s).to_bytes(4, "big") for s in array.shape
    )
    return head + array.tobytes()


@pytest.fixture
def images():
    return np.random.default_rng(0).integers(0, 256, (5, 4, 3), dtype=np.uint8)


def test_idx_raw_and_gzip(tmp_path, images):
    (tmp_path / "a-idx3-ubyte").write_bytes(idx_bytes(images))
    (tmp_path / "b-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(images)))
    for name in ("a-idx3-ubyte", "b-idx3-ubyte.gz"):
        data = load(tmp_path / name)
        assert data.shape == (4, 3) and data.n_categories == 256
        assert np.array_equal(data.data, images.reshape(5, -1))


def test_npy_and_png_folder(tmp_path, images):
    np.save(tmp_path / "x.npy", images)
    assert np.array_equal(load(tmp_path / "x.npy").data, images.reshape(5, -1))
    folder = tmp_path / "pngs"
    folder.mkdir()
    for i, im in enumerate(images):
        Image.fromarray(im, mode="L").save(folder / f"{i}.png")
    data = load(folder)
    assert data.names == tuple(f"{i}.png" for i in range(5))
    assert np.array_equal(data.data, images.reshape(5, -1))


def test_digits_are_bundled():
    d = load_digits()
    assert d.data.shape == (1797, 64) and d.shape == (8, 8) and d.data.max() == 16


def test_unsupported_inputs_get_clear_errors(tmp_path, images):
    with pytest.raises(DataError, match="no such file"):
        load(tmp_path / "missing.npy")
    np.save(tmp_path / "f.npy", images.astype(np.float32))
    with pytest.raises(DataError, match="dtype float32"):
        load(tmp_path / "f.npy")
    np.save(tmp_path / "e.npy", np.zeros((0, 4), np.uint8))
    with pytest.raises(DataError, match="non-empty"):
        load(tmp_path / "e.npy")
    (tmp_path / "bad-idx3-ubyte").write_bytes(b"\x00\x00\x0d\x03" + bytes(12))
    with pytest.raises(DataError, match="element type"):
        load_idx(tmp_path / "bad-idx3-ubyte")
    (tmp_path / "short-idx3-ubyte").write_bytes(idx_bytes(images)[:-1])
    with pytest.raises(DataError, match="body"):
        load_idx(tmp_path / "short-idx3-ubyte")
    (tmp_path / "data.txt").write_text("hello")
    with pytest.raises(DataError, match="unsupported input"):
        load(tmp_path / "data.txt")
    rgb = tmp_path / "rgb"
    rgb.mkdir()
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(rgb / "a.png")
    with pytest.raises(DataError, match="mode 'RGB'"):
        load(rgb)


def test_validate_symbols():
    assert validate_symbols(np.array([[True, False]]), 2).dtype == np.int64
    with pytest.raises(DataError, match="2-D"):
        validate_symbols(np.zeros(3, np.int64), 2)
    with pytest.raises(DataError, match="variable 1"):
        validate_symbols(np.array([[0, 3]]), np.array([2, 3]))


def test_mnist_from_shared_data():
    data = load(shared_file("mnist/t10k-images-idx3-ubyte.gz"))
    assert data.data.shape == (10_000, 784) and data.shape == (28, 28)


def test_corrupt_png_is_a_data_error(tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(DataError, match="not a readable PNG"):
        load(folder)


def test_load_labels(tmp_path):
    from latentzip.data import load_labels

    labels = bytes([3, 1, 4, 1, 5])
    path = tmp_path / "l-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(bytes([0, 0, 8, 1]) + (5).to_bytes(4, "big") + labels))
    assert load_labels(path).tolist() == [3, 1, 4, 1, 5]
    assert load_labels(path).dtype == np.int64
    images = bytes([0, 0, 8, 2]) + (2).to_bytes(4, "big") + (2).to_bytes(4, "big") + bytes(4)
    (tmp_path / "i-idx2-ubyte").write_bytes(images)
    with pytest.raises(DataError, match="not an idx1"):
        load_labels(tmp_path / "i-idx2-ubyte")
    short = tmp_path / "short-idx1-ubyte"
    short.write_bytes(bytes([0, 0, 8, 1]) + (9).to_bytes(4, "big") + labels)
    with pytest.raises(DataError, match="header says 9"):
        load_labels(short)


# ---------------------------------------------------------------- crafted and odd inputs
def npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def png_header(width: int, height: int) -> bytes:
    """A PNG that claims ``width x height`` 8-bit grey pixels and holds none."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


@pytest.mark.parametrize("extra", [b"\x00", b"xy", bytes(4096)])
def test_npy_with_trailing_bytes_is_refused(tmp_path, images, extra):
    path = tmp_path / "x.npy"
    path.write_bytes(npy_bytes(images) + extra)
    with pytest.raises(DataError, match="trailing bytes"):
        load(path)
    gz = tmp_path / "x.npy.gz"
    gz.write_bytes(gzip.compress(npy_bytes(images) + extra))
    with pytest.raises(DataError, match="trailing bytes"):
        load(gz)


def test_npy_gz_and_fortran_order(tmp_path, images):
    gz = tmp_path / "x.npy.gz"
    gz.write_bytes(gzip.compress(npy_bytes(np.asfortranarray(images))))
    data = load(gz)
    assert np.array_equal(data.data, images.reshape(5, -1))
    (tmp_path / "short.npy").write_bytes(npy_bytes(images)[:-1])
    with pytest.raises(DataError, match="missing bytes"):
        load(tmp_path / "short.npy")


def _with_header(text: bytes) -> bytes:
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text


@pytest.mark.parametrize(
    "header",
    [
        b"{'descr': '|u1', 'fortran_order': False, 'shape': (2, \"\"\"",  # tokenize.TokenError
        b"{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3",  # SyntaxError
        b"[" * 3000,  # too deeply nested for the parser
        b"{'descr': '|u1', 'fortran_order': False, 'shape': (2, -3)}",
        b"{'descr': 'not a dtype', 'fortran_order': False, 'shape': (2,)}",
        b"{'descr': '|u1', 'fortran_order': 1, 'shape': (2,)}",
        b"{'descr': '|u1', 'shape': (2,)}",
        b"\xff\xfe",
        b"",
    ],
)
def test_garbled_npy_header_is_a_data_error(tmp_path, header):
    path = tmp_path / "g.npy"
    path.write_bytes(_with_header(header) + bytes(6))
    with pytest.raises(DataError, match=r"g\.npy"):
        load(path)


def test_npy_with_an_absurd_shape_is_refused_before_allocating(tmp_path):
    header = b"{'descr': '|u1', 'fortran_order': False, 'shape': (4294967296, 4294967296), }"
    path = tmp_path / "huge.npy"
    path.write_bytes(_with_header(header.ljust(118) + b"\n") + bytes(8))
    with pytest.raises(DataError, match="needs 18446744073709551616 bytes"):
        load(path)
    (tmp_path / "v9.npy").write_bytes(b"\x93NUMPY\x09\x00" + bytes(20))
    with pytest.raises(DataError, match="version"):
        load(tmp_path / "v9.npy")


@pytest.mark.parametrize(
    "dims", [(2**31, 2**31), (2**32 - 1,) * 3, (2**16, 2**16, 2**16, 2**16), (0, 2**32 - 1)]
)
def test_idx_with_absurd_dims_is_refused(tmp_path, dims):
    head = bytes([0, 0, 0x08, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims)
    path = tmp_path / "h-idx3-ubyte"
    path.write_bytes(head + bytes(16))
    with pytest.raises(DataError, match="idx body is 16 bytes"):
        load_idx(path)


def test_idx_with_trailing_bytes_is_refused(tmp_path, images):
    (tmp_path / "t-idx3-ubyte").write_bytes(idx_bytes(images) + b"\x00")
    with pytest.raises(DataError, match="body is 61 bytes"):
        load(tmp_path / "t-idx3-ubyte")
    (tmp_path / "t-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(images) + b"ab"))
    with pytest.raises(DataError, match="body is 62 bytes"):
        load(tmp_path / "t-idx3-ubyte.gz")


def test_corrupt_gzip_is_a_data_error(tmp_path, images):
    raw = bytearray(gzip.compress(bytes(range(256)) * 64))
    raw[10] ^= 0xFF  # the deflate stream: zlib.error, not a gzip error
    (tmp_path / "c-idx3-ubyte.gz").write_bytes(bytes(raw))
    with pytest.raises(DataError, match="cannot read"):
        load(tmp_path / "c-idx3-ubyte.gz")


@pytest.mark.parametrize("size", [(20000, 20000), (9000, 9000), (2**26 + 1, 1)])
def test_huge_png_is_refused_before_decoding(tmp_path, size):
    folder = tmp_path / "big"
    folder.mkdir()
    (folder / "a.png").write_bytes(png_header(*size))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no DecompressionBombWarning either
        with pytest.raises(DataError, match=r"a\.png: image too large"):
            load(folder)


def test_png_at_the_limit_is_not_refused_for_its_size(tmp_path):
    folder = tmp_path / "edge"
    folder.mkdir()
    (folder / "a.png").write_bytes(png_header(2**13, 2**13))  # exactly MAX_PNG_PIXELS, no data
    with pytest.raises(DataError, match="not a readable PNG"):
        load(folder)
    assert MAX_PNG_PIXELS == 2**26


def test_truncated_and_animated_pngs_are_data_errors(tmp_path, images):
    folder = tmp_path / "t"
    folder.mkdir()
    buf = io.BytesIO()
    noise = np.random.default_rng(1).integers(0, 256, (64, 64), dtype=np.uint8)
    Image.fromarray(noise, mode="L").save(buf, format="PNG")
    (folder / "a.png").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(DataError, match=r"a\.png: not a readable PNG"):
        load(folder)
    (folder / "a.png").unlink()
    frames = [Image.fromarray(im, mode="L") for im in images[:2]]
    frames[0].save(folder / "b.png", save_all=True, append_images=frames[1:])
    with pytest.raises(DataError, match="animated PNG"):
        load(folder)
    (folder / "b.png").unlink()
    (folder / "c.png").mkdir()
    with pytest.raises(DataError, match=r"c\.png: not a readable PNG"):
        load(folder)


def test_gzip_inputs_are_read_whole_and_bombs_stop_at_the_limit(tmp_path, monkeypatch):
    from latentzip.data import loaders

    array = np.arange(600, dtype=np.uint8).reshape(6, 10, 10) % 7
    raw = idx_bytes(array)
    path = tmp_path / "x-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(raw[:100]) + gzip.compress(raw[100:]) + bytes(3))
    np.testing.assert_array_equal(load(path).data.reshape(array.shape), array)

    monkeypatch.setattr(loaders, "MAX_GUNZIP_BYTES", len(raw) - 1)
    with pytest.raises(DataError, match="inflates beyond 615 bytes; gunzip it first"):
        load(path)
    monkeypatch.undo()
    for bad in (gzip.compress(raw)[:-9], gzip.compress(raw) + b"junk"):
        path.write_bytes(bad)
        with pytest.raises(DataError, match="cannot read"):
            load(path)
