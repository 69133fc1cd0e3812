"""DataFrames and Parquet through the table codec: equal frames back, or a clear refusal."""

import numpy as np
import pytest

pd = pytest.importorskip("pandas")

from latentzip.errors import DataError  # noqa: E402
from latentzip.tables import compress_frame, decompress_frame  # noqa: E402


def frame(n=300):
    rng = np.random.default_rng(0)
    when = pd.Series(pd.date_range("2024-03-01", periods=n, freq="17min"))
    return pd.DataFrame(
        {
            "i": np.arange(n),
            "f": np.round(rng.normal(0, 1, n), 3),
            "f32": rng.normal(0, 1, n).astype(np.float32),
            "nan": np.where(np.arange(n) % 5, rng.normal(0, 1, n), np.nan),
            "s": pd.array([None if i % 9 == 0 else f"s{i % 7}" for i in range(n)], dtype="str"),
            "o": pd.Series(["", "x", None] * (n // 3), dtype=object),
            "c": pd.Categorical(rng.choice(["lo", "hi"], n), categories=["lo", "hi", "unused"]),
            "b": np.arange(n) % 2 == 0,
            "I": pd.array([None if i % 4 == 0 else i for i in range(n)], dtype="Int64"),
            "B": pd.array([None if i % 3 == 0 else i % 2 == 0 for i in range(n)], dtype="boolean"),
            "t": when,
            "tz": when.dt.tz_localize("Europe/Paris", nonexistent="shift_forward"),
        }
    )


def test_frames_come_back_equal():
    df = frame()
    back = decompress_frame(compress_frame(df))
    pd.testing.assert_frame_equal(back, df, check_exact=True)
    indexed = df.set_index(["i", "s"])
    pd.testing.assert_frame_equal(decompress_frame(compress_frame(indexed)), indexed)
    empty = df.iloc[:0]
    pd.testing.assert_frame_equal(decompress_frame(compress_frame(empty)), empty)


def test_parquet_tables_come_back_equal(tmp_path):
    df = frame()
    df.to_parquet(tmp_path / "a.parquet")
    read = pd.read_parquet(tmp_path / "a.parquet")
    pd.testing.assert_frame_equal(decompress_frame(compress_frame(read)), read)


@pytest.mark.parametrize(
    ("df", "message"),
    [
        (pd.DataFrame({"a": [1, "x"]}), "object column must hold strings"),
        (pd.DataFrame({"a": pd.to_timedelta([1, 2], unit="s")}), "not supported"),
        (pd.DataFrame([[1, 2]], columns=["a", "a"]), "distinct strings"),
        (pd.DataFrame({"a": pd.Categorical([1, 2])}), "categories of strings"),
    ],
)
def test_frames_that_cannot_come_back_are_refused(df, message):
    with pytest.raises(DataError, match=message):
        compress_frame(df)
