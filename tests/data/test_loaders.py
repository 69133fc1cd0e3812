import gzip

import numpy as np
import pytest
from conftest import shared_file
from PIL import Image

from latentzip.data import load, load_digits, load_idx, validate_symbols
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
