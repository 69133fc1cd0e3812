import contextlib
import gzip
import io

import numpy as np
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


def test_train_then_compress_later_files_with_the_model(trained, capsys):
    root = trained
    log = (root / "train.log").read_text()
    assert "column 1 ('id'): integer, deltas" in log
    assert "column 2 ('city'): looked up from 'score' (4 entries)" in log  # i % 4 both
    assert "test:" in log and "bits/row" in log
    model, lz, back = root / "m.model", root / "t.lz", root / "back.csv"
    assert main(["compress", str(root / "t.csv"), "-m", str(model), "-o", str(lz)]) == 0
    assert "model separate" in capsys.readouterr().out
    assert main(["decompress", str(lz), "-m", str(model), "-o", str(back)]) == 0
    assert back.read_bytes() == MIXED
    assert main(["info", str(lz)]) == 0
    out = capsys.readouterr().out
    assert "tables" in out and "120 rows x 5 columns" in out


def test_self_contained_without_a_model(tmp_path, capsys):
    rng = np.random.default_rng(0)
    rows = [b"%d,%s,%d.%d\n" % (i, [b"x", b"y"][r % 2], r, i % 10) for i, r in
            enumerate(rng.integers(0, 50, 3000))]  # fmt: skip
    raw = b"n,k,v\n" + b"".join(rows)
    (tmp_path / "a.csv").write_bytes(raw)
    assert main(["compress", str(tmp_path / "a.csv")]) == 0
    assert "model embedded" in capsys.readouterr().out
    assert main(["decompress", str(tmp_path / "a.csv.lz")]) == 0
    assert (tmp_path / "a.csv.restored").read_bytes() == raw
    assert main(["info", str(tmp_path / "a.csv.lz")]) == 0
    assert "embedded" in capsys.readouterr().out


def test_parquet_in_and_out(tmp_path, capsys):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(
        {
            "when": pd.date_range("2024-01-01", periods=500, freq="37min"),
            "price": np.round(np.random.default_rng(0).normal(100, 5, 500), 2),
            "side": pd.Categorical(np.where(np.arange(500) % 3, "buy", "sell")),
            "note": [None if i % 7 else f"n{i}" for i in range(500)],
        }
    )
    df.to_parquet(tmp_path / "t.parquet")
    assert main(["compress", str(tmp_path / "t.parquet")]) == 0
    assert main(["decompress", str(tmp_path / "t.parquet.lz")]) == 0
    assert "restored as Parquet" in capsys.readouterr().out
    back = pd.read_parquet(tmp_path / "t.restored.parquet")
    pd.testing.assert_frame_equal(back, pd.read_parquet(tmp_path / "t.parquet"))


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
        (MIXED.replace(b",", b";"), "the table has 1 columns"),
        (MIXED.replace(b"Paris", b"P\xffris", 1), "not UTF-8"),
    ],
)
def test_tables_that_do_not_fit_the_model_write_nothing(trained, capsys, content, message):
    root = trained
    (root / "bad.csv").write_bytes(content)
    out = root / "bad.lz"
    args = ["compress", str(root / "bad.csv"), "-m", str(root / "m.model"), "-o", str(out)]
    assert main(args) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_image_model_is_refused_for_tables(trained, tmp_path, capsys):
    from latentzip.circuits import HCLT, HCLTConfig
    from latentzip.data import load_digits

    HCLT(HCLTConfig.quick(epochs=1)).fit(load_digits().data[:200], 17, progress=False).save(
        tmp_path / "img.model"
    )
    out = tmp_path / "x.lz"
    args = ["compress", str(trained / "t.csv"), "-m", str(tmp_path / "img.model"), "-o", str(out)]
    assert main(args) == 2
    assert "not trained on a table" in capsys.readouterr().err
    assert not out.exists()


def test_arrays_still_need_a_model(tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.zeros((4, 3), np.uint8))
    assert main(["compress", str(tmp_path / "x.npy")]) == 2
    assert "arrays need a model" in capsys.readouterr().err
