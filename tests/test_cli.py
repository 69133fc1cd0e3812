import gzip

import numpy as np
import pytest
from PIL import Image

from latentzip.cli import main
from latentzip.data import load_digits


def idx_bytes(array: np.ndarray) -> bytes:
    head = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(s).to_bytes(4, "big") for s in array.shape
    )
    return head + array.tobytes()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    digits = load_digits().data.reshape(-1, 8, 8).astype(np.uint8)
    np.save(root / "train.npy", digits[:1500])
    np.save(root / "test.npy", digits[1500:])
    model = root / "m.model"
    assert (
        main(
            [
                "train",
                str(root / "train.npy"),
                "-o",
                str(model),
                "--test",
                str(root / "test.npy"),
                "-q",
                "--latents",
                "8",
                "--epochs",
                "2",
            ]
        )
        == 0
    )
    return root, digits[1500:], model


def test_train_prints_bits_per_dimension(workspace, capsys):
    root, _, _ = workspace
    assert (
        main(
            [
                "train",
                "digits",
                "-o",
                str(root / "d.model"),
                "-q",
                "--epochs",
                "1",
                "--full-batch-epochs",
                "0",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "train bits/dim:" in out


def test_npy_round_trip_restores_the_same_bytes(workspace, capsys, monkeypatch):
    from latentzip.coding import modelfile

    root, _, model = workspace
    src = root / "test.npy"
    before = src.read_bytes()
    reads = []
    load = modelfile.load
    monkeypatch.setattr(modelfile, "load", lambda path: reads.append(path) or load(path))
    assert main(["compress", str(src), "-m", str(model), "-o", str(root / "t.lz")]) == 0
    assert reads == [str(model)]  # the model file is read once
    monkeypatch.undo()
    assert (
        main(["decompress", str(root / "t.lz"), "-m", str(model), "-o", str(root / "back.npy")])
        == 0
    )
    assert (root / "back.npy").read_bytes() == before == src.read_bytes()
    assert main(["info", str(root / "t.lz")]) == 0
    assert "records:" in capsys.readouterr().out


def test_idx_gz_round_trip_restores_the_raw_idx(workspace):
    root, images, model = workspace
    raw = idx_bytes(images)
    (root / "t-idx3-ubyte.gz").write_bytes(gzip.compress(raw))
    assert (
        main(
            [
                "compress",
                str(root / "t-idx3-ubyte.gz"),
                "-m",
                str(model),
                "-o",
                str(root / "i.lz"),
                "--embed-model",
                "--block-size",
                "7",
            ]
        )
        == 0
    )
    assert main(["decompress", str(root / "i.lz"), "-o", str(root / "t-idx3-ubyte")]) == 0
    assert (root / "t-idx3-ubyte").read_bytes() == raw


def test_png_folder_round_trip_keeps_names_and_pixels(workspace):
    root, images, model = workspace
    folder = root / "pngs"
    folder.mkdir()
    for i, im in enumerate(images[:12]):
        Image.fromarray(im, mode="L").save(folder / f"digit_{i:02d}.png")
    assert main(["compress", str(folder), "-m", str(model), "-o", str(root / "p.lz")]) == 0
    assert (
        main(["decompress", str(root / "p.lz"), "-m", str(model), "-o", str(root / "restored")])
        == 0
    )
    for i, im in enumerate(images[:12]):
        back = np.asarray(Image.open(root / "restored" / f"digit_{i:02d}.png"))
        assert np.array_equal(back, im)


def test_existing_output_needs_force_and_errors_are_clean(workspace, capsys):
    root, _, model = workspace
    out = root / "exists.lz"
    out.write_bytes(b"keep me")
    args = ["compress", str(root / "test.npy"), "-m", str(model), "-o", str(out)]
    assert main(args) == 2
    assert out.read_bytes() == b"keep me"
    assert "--force" in capsys.readouterr().err
    assert main([*args, "--force"]) == 0
    assert main(["decompress", str(out), "-o", str(root / "x.npy")]) == 2
    assert "no embedded model" in capsys.readouterr().err
    assert main(["compress", str(model), "-m", str(model), "-o", str(model)]) == 2
    bad = root / "bad.lz"
    bad.write_bytes(out.read_bytes()[:-3])
    assert main(["decompress", str(bad), "-m", str(model), "-o", str(root / "y.npy")]) == 2
    assert "truncated" in capsys.readouterr().err
    assert (
        main(
            [
                "compress",
                str(root / "test.npy"),
                "-m",
                str(root / "missing"),
                "-o",
                str(root / "z.lz"),
            ]
        )
        == 2
    )


def test_demo_runs(capsys):
    assert main(["demo", "-q"]) == 0
    out = capsys.readouterr().out
    assert "round trip exact: yes" in out and "JPEG-XL" in out


def test_fortran_ordered_npy_comes_back_byte_identical(workspace):
    root, images, model = workspace
    src = root / "fortran.npy"
    np.save(src, np.asfortranarray(images))
    assert main(["compress", str(src), "-m", str(model), "-o", str(root / "f.lz")]) == 0
    assert (
        main(["decompress", str(root / "f.lz"), "-m", str(model), "-o", str(root / "f_back.npy")])
        == 0
    )
    assert (root / "f_back.npy").read_bytes() == src.read_bytes()


def test_train_never_overwrites_data_or_a_model_without_force(workspace, capsys):
    root, _, model = workspace
    data = root / "train.npy"
    before = data.read_bytes()
    assert main(["train", str(data), "-o", str(data), "-q", "--epochs", "1"]) == 2
    assert data.read_bytes() == before
    assert "overwrite the training data" in capsys.readouterr().err
    stamp = model.read_bytes()
    assert main(["train", str(data), "-o", str(model), "-q", "--epochs", "1"]) == 2
    assert model.read_bytes() == stamp
    again = root / "again.model"
    args = [
        "train",
        str(data),
        "-o",
        str(again),
        "-q",
        "--epochs",
        "1",
        "--valid",
        str(root / "test.npy"),
    ]
    assert main(args) == 0
    assert main([*args, "--force"]) == 0
