"""pandas DataFrames and Parquet files through the table codec.

A frame is written as CSV (``DataFrame.to_csv``: floats in their shortest exact form,
datetimes in ISO form) and compressed like any CSV; the container's header keeps what CSV
loses (each column's dtype, categories, time zone, the missing-value token, the index), so
:func:`decompress_frame` gives back a frame equal to the original
(``pandas.testing.assert_frame_equal``). :func:`compress_frame` checks that before it returns:
a frame that would not come back equal is refused, never stored wrong.

Supported dtypes: (nullable) integers, floats, booleans, strings (``str``, ``string``, object
columns of strings), categoricals of strings, datetimes (naive or with a time zone).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from latentzip.coding import container
from latentzip.coding.fields import Fields
from latentzip.errors import ContainerError, DataError

__all__ = [
    "check_equal",
    "compress_frame",
    "csv_to_frame",
    "decompress_frame",
    "frame_to_csv",
    "parquet_bytes",
    "read_parquet",
]

_NA_TOKENS = ("", "NA", "\\N", "<NA>", "#N/A", "NULL", "\x00NA\x00")
_MAX_COLUMNS = 2**14


def _pd():
    try:
        import pandas
    except ImportError as exc:  # pragma: no cover - pandas is a dependency
        raise DataError("DataFrames need pandas (pip install pandas)") from exc
    return pandas


def frame_to_csv(df) -> tuple[bytes, dict]:
    """``(CSV bytes, schema)`` of a DataFrame; :class:`DataError` for what cannot come back."""
    pd = _pd()
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"expected a pandas DataFrame, got {type(df).__name__}")
    if df.shape[1] == 0 or df.shape[1] > _MAX_COLUMNS:
        raise DataError(f"a DataFrame of {df.shape[1]} columns cannot be compressed")
    index = None
    if not (isinstance(df.index, pd.RangeIndex) and df.index.start == 0 and df.index.step == 1):
        index = [None if n is None else str(n) for n in df.index.names]
        df = df.reset_index()
    names = list(df.columns)
    if not all(isinstance(n, str) for n in names) or len(set(names)) != len(names):
        raise DataError("DataFrame column names must be distinct strings")
    columns = [_column_schema(name, df[name]) for name in names]
    na = next((t for t in _NA_TOKENS if not _has_cell(df, t)), None)
    if na is None:
        raise DataError("every missing-value token occurs as a value: cannot mark missing cells")
    raw = df.to_csv(index=False, na_rep=na, lineterminator="\n").encode("utf-8")
    schema = {"columns": columns, "na": na, "index": index}
    return raw, schema


def csv_to_frame(raw: bytes, schema: dict):
    """Inverse of :func:`frame_to_csv`."""
    pd = _pd()
    f = Fields(schema, "frame schema")
    na = f.str("na", _NA_TOKENS)
    specs = f._get("columns")
    if not isinstance(specs, list) or not 1 <= len(specs) <= _MAX_COLUMNS:
        raise ContainerError("frame schema: columns must be a non-empty list")
    try:
        text = pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False, na_filter=False)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ContainerError(f"frame: the CSV does not read back ({exc})") from exc
    if text.shape[1] != len(specs):
        raise ContainerError("frame: the CSV has other columns than its schema")
    data = {}
    for j, spec in enumerate(specs):
        s = Fields(spec, "frame column")
        cells = text.iloc[:, j].to_numpy(dtype=object)
        data[s.str("name", max_len=2**16)] = _restore(s, cells, cells == na)
    if len(data) != len(specs):
        raise ContainerError("frame schema: column names repeat")
    df = pd.DataFrame(data)
    index = f._get("index", None)
    if index is not None:
        if not isinstance(index, list) or not 1 <= len(index) <= len(specs):
            raise ContainerError("frame schema: invalid index")
        df = df.set_index(list(df.columns[: len(index)]))
        df.index.names = index
    return df


def compress_frame(df, model=None, **kwargs) -> bytes:
    """Compress a DataFrame (see :func:`latentzip.tables.codec.compress_report` for the
    options); refused if it would not decompress to an equal frame."""
    from latentzip.tables.codec import compress_report

    raw, schema = frame_to_csv(df)
    check_equal(df, csv_to_frame(raw, schema))
    return compress_report(raw, model, extra={"frame": schema}, **kwargs)[0]


def decompress_frame(blob: bytes, model=None):
    """The DataFrame of a container made by :func:`compress_frame`."""
    from latentzip.tables.codec import restore_bytes

    c = container.unpack(blob)
    if "frame" not in c.header:
        raise ContainerError("this container holds a CSV file, not a DataFrame: use decompress")
    return csv_to_frame(restore_bytes(c, model), c.header["frame"])


def read_parquet(path: str | Path):
    """A Parquet file as a DataFrame (pyarrow)."""
    pd = _pd()
    try:
        return pd.read_parquet(path, engine="pyarrow")
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable Parquet file ({exc})") from exc


def parquet_bytes(df) -> bytes:
    """The Parquet file of a DataFrame (pyarrow), as bytes to write atomically."""
    buf = io.BytesIO()
    df.to_parquet(buf, engine="pyarrow")
    return buf.getvalue()


# ----------------------------------------------------------------------------- columns
def _column_schema(name: str, s) -> dict:
    pd = _pd()
    dtype = s.dtype
    d = {"name": name, "dtype": str(dtype)}
    if isinstance(dtype, pd.CategoricalDtype):
        cats = list(dtype.categories)
        if not all(isinstance(c, str) for c in cats):
            raise DataError(f"column {name!r}: only categories of strings are supported")
        d.update(dtype="category", categories=cats, ordered=bool(dtype.ordered))
    elif isinstance(dtype, pd.DatetimeTZDtype):
        d.update(dtype="datetime", unit=dtype.unit, tz=str(dtype.tz))
    elif dtype.kind == "M":
        d.update(dtype="datetime", unit=np.datetime_data(dtype)[0], tz=None)
    elif dtype.kind == "O":
        if not all(isinstance(v, str) for v in s.dropna()):
            raise DataError(f"column {name!r}: an object column must hold strings only")
    elif str(dtype) not in _PLAIN:
        raise DataError(f"column {name!r}: dtype {dtype} is not supported")
    return d


_PLAIN = {
    *(f"{p}{b}" for p in ("int", "uint", "Int", "UInt") for b in (8, 16, 32, 64)),
    "float32", "float64", "Float32", "Float64", "bool", "boolean", "str", "string",
}  # fmt: skip
_NULLABLE = {d for d in _PLAIN if d[0].isupper()} | {"boolean"}


def _restore(s: Fields, cells: np.ndarray, missing: np.ndarray):
    pd = _pd()
    dtype = s.str("dtype", max_len=64)
    present = cells[~missing]
    try:
        if dtype == "category":
            cats = s.strs("categories", 2**24)
            values = np.where(missing, None, cells)
            return pd.Categorical(values, categories=cats, ordered=s.bool("ordered"))
        if dtype == "datetime":
            unit = s.str("unit", ("s", "ms", "us", "ns"))
            tz = s._get("tz", None)
            out = pd.Series(pd.NaT, index=range(len(cells)), dtype=f"datetime64[{unit}]")
            if tz is not None:
                out = out.dt.tz_localize("UTC").dt.tz_convert(str(tz))
                parsed = pd.to_datetime(present, format="ISO8601", utc=True)
                parsed = parsed.tz_convert(str(tz)).as_unit(unit)
            else:
                parsed = pd.to_datetime(present, format="ISO8601").as_unit(unit)
            out[~missing] = parsed
            return out.to_numpy() if tz is None else out.array
        if dtype == "object":
            return pd.Series(np.where(missing, None, cells), dtype=object)
        if dtype in ("str", "string"):
            return pd.array(np.where(missing, None, cells), dtype=dtype)
        if dtype not in _PLAIN:
            raise ContainerError(f"frame schema: dtype {dtype!r} is not supported")
        if dtype in ("bool", "boolean"):
            values = [None if m else c == "True" for c, m in zip(cells, missing, strict=True)]
        elif "int" in dtype.lower():
            values = [None if m else int(c) for c, m in zip(cells, missing, strict=True)]
        else:
            values = [None if m else float(c) for c, m in zip(cells, missing, strict=True)]
        if dtype.startswith("float"):  # numpy floats: a missing cell is NaN
            return np.array([np.nan if v is None else v for v in values], dtype=dtype)
        if missing.any() and dtype not in _NULLABLE:
            raise ContainerError(f"frame: missing cells in a {dtype} column")
        return pd.array(values, dtype=dtype)
    except (ValueError, TypeError, OverflowError) as exc:
        raise ContainerError(f"frame: column {s.str('name')!r} does not read back ({exc})") from exc


def _has_cell(df, token: str) -> bool:
    for name in df.columns:
        s = df[name]
        text = s.dtype.kind == "O" or str(s.dtype) in ("str", "string", "category")
        if text and (s.astype(object) == token).any():
            return True
    return False


def check_equal(df, back) -> None:
    """:class:`DataError` unless ``back`` equals ``df`` exactly."""
    pd = _pd()
    try:
        pd.testing.assert_frame_equal(df, back, check_exact=True)
    except AssertionError as exc:
        first = str(exc).strip().splitlines()[0]
        raise DataError(f"this DataFrame would not come back equal through CSV: {first}") from exc
