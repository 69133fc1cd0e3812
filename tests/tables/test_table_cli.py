import contextlib
import gzip
import io

import pytest
from table_helpers import MIXED

from latentzip.cli import main


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("tables")
    (root / "t.csv").write_bytes(MIXED)
    args = ["train", str(root / "t.csv"), "-o", str(root / "m.model"), "-q", "--epochs", "1"]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main([*args, "--valid", str(root / "t.csv"), "--test", str(root / "t.csv")]) == 0
    (root / "train.log").write_text(out.getvalue())
    return root


def test_train_compress_decompress_restores_the_bytes(trained, capsys):
    root = trained
    log = (root / "train.log").read_text()
    assert "column 1 ('id') is not modelled" in log and "test  log-likelihood" in log
    model, lz, back = root / "m.model", root / "t.lz", root / "back.csv"
    assert main(["compress", str(root / "t.csv"), "-m", str(model), "-o", str(lz)]) == 0
    assert "bits/row" in capsys.readouterr().out
    assert main(["decompress", str(lz), "-m", str(model), "-o", str(back)]) == 0
    assert back.read_bytes() == MIXED
    assert main(["info", str(lz)]) == 0
    assert "tables" in capsys.readouterr().out


def test_gzip_input_comes_back_uncompressed(trained, capsys):
    root = trained
    (root / "g.csv.gz").write_bytes(gzip.compress(MIXED))
    model = str(root / "m.model")
    assert main(["compress", str(root / "g.csv.gz"), "-m", model, "-o", str(root / "g.lz")]) == 0
    assert "uncompressed CSV" in capsys.readouterr().out
    assert main(["decompress", str(root / "g.lz"), "-m", model, "-o", str(root / "g.csv")]) == 0
    assert (root / "g.csv").read_bytes() == MIXED


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (MIXED.replace(b"New York", b"Oslo", 1), "does not fit the model"),
        (MIXED.replace(b"Paris,", b"Paris,,", 1), "ragged rows"),
        (MIXED.replace(b"Paris", b"P\xffris", 1), "not UTF-8"),
    ],
)
def test_bad_tables_write_nothing(trained, capsys, content, message):
    root = trained
    (root / "bad.csv").write_bytes(content)
    out = root / "bad.lz"
    assert (
        main(["compress", str(root / "bad.csv"), "-m", str(root / "m.model"), "-o", str(out)]) == 2
    )
    assert message in capsys.readouterr().err
    assert not out.exists()
    assert main(["train", str(root / "bad.csv"), "-o", str(root / "bad.model"), "-q"]) == (
        0 if "fit the model" in message else 2
    )


def test_image_model_is_refused_for_tables(trained, tmp_path, capsys):
    from latentzip.circuits import HCLT, HCLTConfig
    from latentzip.data import load_digits

    HCLT(HCLTConfig.quick(epochs=1)).fit(load_digits().data[:200], 17, progress=False).save(
        tmp_path / "img.model"
    )
    out = tmp_path / "x.lz"
    assert (
        main(
            ["compress", str(trained / "t.csv"), "-m", str(tmp_path / "img.model"), "-o", str(out)]
        )
        == 2
    )
    assert "not trained on a table" in capsys.readouterr().err
    assert not out.exists()
