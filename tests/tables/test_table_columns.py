import json
from datetime import datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from latentzip.errors import DataError, ModelError
from latentzip.tables.columns import (
    LAYOUTS,
    MISSING_TOKENS,
    ColumnCodec,
    EncodedColumn,
    infer_column,
)

CODECS = [
    ColumnCodec("integer"),
    ColumnCodec("decimal", scale=1),
    ColumnCodec("decimal", scale=2),
    ColumnCodec("datetime", layout="%Y-%m-%d"),
    ColumnCodec("datetime", layout="%m/%d/%Y"),
    ColumnCodec("datetime", layout="%Y-%m-%d %H:%M"),
    ColumnCodec("datetime", layout="%Y-%m-%dT%H:%M:%SZ"),
    ColumnCodec("datetime", layout="%Y-%m-%d %H:%M:%S.%3f"),
    ColumnCodec("datetime", layout="%d.%m.%Y %H:%M:%S.%9f"),
    ColumnCodec("category", categories=("red", "12", "")),
    ColumnCodec("text"),
    ColumnCodec("integer", missing_tokens=("?", "0")),
]
INTEGERS = ["12", "-12", "0", "9223372036854775807", "-9223372036854775808"]
TRICKY = [
    *INTEGERS, "1.5", "0.0", "12.30", "-0.05", " 12", "12 ", "-0", "-0.0", "-0.00", "007",
    "+5", "1e3", "1E-3", "1_000", "0x1F", "\u0661\u0662", "\u0661.\u0665", "inf", "-inf",
    "NaN", "nan", "", "NA", "-", "null", ".5", "5.", "1,5", "12.3", "9223372036854775808",
    "-9223372036854775809", "9" * 5000, "1.50", "12\n", "\u200b1",
    "2013-01-01", "2013-1-1", "2013-02-30", "2012-02-29", "0000-01-01", "9999-12-31",
    "\u0662\u0660\u0661\u0663-\u0660\u0661-\u0660\u0661", "2013-01-01 ", "2013-01-01 24:00",
    "2013-01-01 23:59", "01/31/2013", "31/01/2013", "2013-01-01T23:59:60Z",
    "2013-01-01T10:00:00Z", "2013-01-01T10:00:00z", "2013-01-01 10:00:00.123",
    "2013-01-01 10:00:00.12", "01.02.2013 10:00:00.123456789",
    "red", "Red", "héllo, wörld", "💾", "\x00", "\r\n",
]  # fmt: skip


def roundtrip(codec: ColumnCodec, cells) -> EncodedColumn:
    enc = codec.encode(cells)
    n = len(cells)
    assert enc.values.dtype == np.int64 and enc.values.shape == (n,)
    assert enc.missing.dtype == np.uint8 and enc.missing.shape == (n,)
    exc_rows = np.flatnonzero(enc.missing == codec.exception_code).tolist()
    assert sorted(enc.exceptions) == exc_rows
    assert not enc.values[enc.missing != 0].any()
    assert codec.decode(enc) == tuple(cells)
    return enc


# ------------------------------------------------------------------ inference
@pytest.mark.parametrize(
    ("cells", "kind", "detail"),
    [
        (["1", "-20", "345", "0"], "integer", None),
        (["12.30", "-0.05", "3.00", "NA"], "decimal", 2),
        (["0.5", "1.0", "-3.5"], "decimal", 1),
        (["2013-01-01", "2014-12-31", ""], "datetime", "%Y-%m-%d"),
        (["2013/01/31", "2014/12/01"], "datetime", "%Y/%m/%d"),
        (["2013-01-01 10:20:30", "2014-12-31 00:00:00"], "datetime", "%Y-%m-%d %H:%M:%S"),
        (["2013-01-01T10:20:30", "N/A"], "datetime", "%Y-%m-%dT%H:%M:%S"),
        (["2013-01-01 10:20", "2013-01-01 23:59"], "datetime", "%Y-%m-%d %H:%M"),
        (["2013-01-01T10:20:30Z"], "datetime", "%Y-%m-%dT%H:%M:%SZ"),
        (["2013-01-01 10:20:30.125", "null"], "datetime", "%Y-%m-%d %H:%M:%S.%3f"),
        (["01/31/2013", "12/01/2014"], "datetime", "%m/%d/%Y"),
        (["31/01/2013", "12/01/2014"], "datetime", "%d/%m/%Y"),
        (["31.01.2013", "12.01.2014"], "datetime", "%d.%m.%Y"),
        (["red", "blue", "red", "NA"], "category", ("red", "blue")),
        (["1.5", "2.25", "3"], "decimal", (2, "r")),  # R and JavaScript write numbers so
        (["1.5", "2.25", "3.0"], "decimal", (2, "python")),  # Python and pandas write floats so
        (["1.50", "2.25", "3.00"], "decimal", (2, "")),
        (["1.5", "2.2.5", "3"], "category", ("1.5", "2.2.5", "3")),
        ([f"word {i}" for i in range(300)], "text", None),
        (["NA", "", "-"], "category", ()),
        ([], "category", ()),
    ],
)
def test_kind_inference(cells, kind, detail):
    codec = infer_column(cells)
    assert codec.kind == kind
    if kind == "decimal":
        assert (codec.scale, codec.trim) == (detail if isinstance(detail, tuple) else (detail, ""))
    if kind == "datetime":
        assert codec.layout == detail
    if kind == "category":
        assert codec.categories == detail
    roundtrip(codec, cells)


def test_missing_tokens_are_coded_per_cell():
    cells = ["1", "NA", "", "null", "2", "None", "-", "N/A", "NaN", "nan", "NULL"]
    codec = infer_column(cells)
    enc = roundtrip(codec, cells)
    assert codec.kind == "integer" and codec.missing_tokens == MISSING_TOKENS
    assert enc.values.tolist() == [1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0]
    assert enc.missing.tolist() == [0, 2, 1, 6, 0, 8, 9, 3, 4, 5, 7]
    custom = infer_column(["1", "?", "2"], missing_tokens=("?",))
    assert custom.kind == "integer" and custom.encode(["?", "NA"]).missing.tolist() == [1, 2]


def test_rare_exceptions_keep_the_type_frequent_ones_fall_back():
    cells = [str(i) for i in range(199)] + ["007", "NA"]  # 1 exception in 201 cells
    codec = infer_column(cells)
    enc = roundtrip(codec, cells)
    assert codec.kind == "integer" and enc.exceptions == {199: "007"}
    assert enc.missing[199] == codec.exception_code == len(MISSING_TOKENS) + 1
    worse = [*cells, "+5", "1e3", " 12"]
    assert infer_column(worse).kind == "category"
    assert infer_column(worse, max_categories=10).kind == "text"
    assert infer_column(worse, max_exception_fraction=0.05).kind == "integer"
    scaled = ["1.50"] * 99 + ["1.5"]  # the most common scale wins
    codec = infer_column(scaled)
    assert (codec.kind, codec.scale) == ("decimal", 2)
    assert roundtrip(codec, scaled).exceptions == {99: "1.5"}
    with pytest.raises(ValueError, match="max_exception_fraction"):
        infer_column(cells, max_exception_fraction=2)


# ------------------------------------------------------------------ exact values
def test_values_are_exact_integers():
    big = ["9223372036854775807", "-9223372036854775808", "-12"]
    assert ColumnCodec("integer").encode(big).values.tolist() == [2**63 - 1, -(2**63), -12]
    dec = ColumnCodec("decimal", scale=2).encode(
        ["12.30", "-0.05", "0.00", "-92233720368547758.08"]
    )
    assert dec.values.tolist() == [1230, -5, 0, -(2**63)]
    epoch = datetime(1970, 1, 1)
    for text, layout, unit in [
        ("2013-06-15", "%Y-%m-%d", timedelta(days=1)),
        ("0001-01-01", "%Y-%m-%d", timedelta(days=1)),
        ("1969-12-31 23:59", "%Y-%m-%d %H:%M", timedelta(minutes=1)),
        ("2000-02-29T12:34:56Z", "%Y-%m-%dT%H:%M:%SZ", timedelta(seconds=1)),
        ("1900-03-01 00:00:00.250", "%Y-%m-%d %H:%M:%S.%3f", timedelta(milliseconds=1)),
        ("12/31/9999 23:59:59.999999", "%m/%d/%Y %H:%M:%S.%6f", timedelta(microseconds=1)),
    ]:
        fmt = layout.replace("%3f", "%f").replace("%6f", "%f").replace("Z", "")
        expected = (datetime.strptime(text.rstrip("Z"), fmt) - epoch) // unit
        enc = ColumnCodec("datetime", layout=layout).encode([text])
        assert enc.values.tolist() == [expected] and not enc.exceptions, text


@pytest.mark.parametrize("codec", CODECS, ids=lambda c: f"{c.kind}:{c.scale}:{c.layout}")
def test_tricky_cells_roundtrip(codec):
    enc = roundtrip(codec, TRICKY)
    parsed = {c for c, m in zip(TRICKY, enc.missing.tolist(), strict=True) if m == 0}
    expected = {
        "integer": set(INTEGERS),
        "decimal": {"1.5", "0.0", "12.3"} if codec.scale == 1 else {"12.30", "-0.05", "1.50"},
        "category": {"red", "12"},
        "text": set(),
    }
    if codec.kind == "datetime":
        assert all(codec.render(codec.parse(c)) == c for c in parsed)
        if codec.layout == "%Y-%m-%d":
            assert parsed == {"2013-01-01", "2012-02-29", "9999-12-31"}
    elif codec.missing_tokens == ("?", "0"):
        assert parsed == expected["integer"] - {"0"}  # "0" is a missing token here
    else:
        assert parsed == expected[codec.kind]
    roundtrip(codec, TRICKY[::-1])
    roundtrip(infer_column(TRICKY), TRICKY)


# ------------------------------------------------------------------ property tests
def _decimal(mantissa: int, scale: int) -> str:
    return f"{Decimal(mantissa).scaleb(-scale):f}"


@st.composite
def date_cells(draw, layout=None):
    """A date-like cell; in a given ``layout`` (date, time, fraction digits) mostly valid."""
    valid = layout is not None
    y = draw(st.integers(1, 9999) if valid else st.integers(0, 10000))
    mo = draw(st.integers(1, 12) if valid else st.integers(0, 13))
    d = draw(st.integers(1, 28) if valid else st.integers(0, 32))
    h, mi, s = (draw(st.integers(0, top if valid else top + 2)) for top in (23, 59, 59))
    i, j, k = layout or (draw(st.integers(0, 3)), draw(st.integers(0, 4)), draw(st.integers(1, 10)))
    frac = draw(st.text("0123456789", min_size=k, max_size=k))
    dates = [f"{y:04d}-{mo:02d}-{d:02d}", f"{mo:02d}/{d:02d}/{y:04d}", f"{y}/{mo}/{d}"]
    dates.append(f"{d:02d}.{mo:02d}.{y:04d}")
    times = ["", f" {h:02d}:{mi:02d}", f"T{h:02d}:{mi:02d}:{s:02d}Z", f" {h}:{mi}:{s}"]
    times.append(f" {h:02d}:{mi:02d}:{s:02d}.{frac}")
    return dates[i] + times[j]


CORRUPT = [
    lambda s: "+" + s, lambda s: "0" + s, lambda s: " " + s, lambda s: s + " ",
    lambda s: "-" + s, lambda s: s + "e3", lambda s: s.replace("1", "\u0661"),
    lambda s: s[:1] + "_" + s[1:], lambda s: s.replace(".", ","), lambda s: s + ".0",
]  # fmt: skip
numbers = st.one_of(
    st.integers(-(10**20), 10**20).map(str),
    st.builds(_decimal, st.integers(-(10**20), 10**20), st.integers(0, 20)),
)
anything = st.one_of(
    numbers,
    date_cells(),
    st.text(max_size=6),
    st.sampled_from(MISSING_TOKENS),
    st.builds(lambda s, f: f(s), numbers, st.sampled_from(CORRUPT)),
)


@given(st.lists(anything, max_size=30), st.sampled_from(CODECS))
def test_roundtrip_any_cells(cells, codec):
    roundtrip(infer_column(cells), cells)
    roundtrip(infer_column(cells, max_categories=2, max_exception_fraction=0.5), cells)
    roundtrip(codec, cells)


@st.composite
def typed_columns(draw):
    family = draw(st.integers(0, 2))
    if family == 0:
        cell = st.integers(-(2**63), 2**63 - 1).map(str)
    elif family == 1:
        scale = draw(st.integers(1, 6))
        cell = st.integers(-(10**12), 10**12).map(lambda m: _decimal(m, scale))
    else:
        layout = draw(st.integers(0, 3)), draw(st.integers(0, 4)), draw(st.integers(1, 9))
        cell = date_cells(layout=layout)
    cells = draw(st.lists(cell, min_size=1, max_size=40))
    for _ in range(draw(st.integers(0, 3))):
        cells.insert(draw(st.integers(0, len(cells))), draw(anything))
    return cells


@given(typed_columns(), st.sampled_from([0.0, 0.01, 0.1, 0.5]))
def test_roundtrip_typed_columns(cells, fraction):
    codec = infer_column(cells, max_exception_fraction=fraction)
    enc = roundtrip(codec, cells)
    if codec.kind in ("integer", "decimal", "datetime"):
        assert len(enc.exceptions) <= fraction * len(cells)
        assert (enc.missing == 0).any()
    assert ColumnCodec.from_json(json.loads(json.dumps(codec.to_json()))) == codec


# ------------------------------------------------------------------ persistence and errors
@pytest.mark.parametrize("codec", CODECS, ids=lambda c: c.kind)
def test_json_roundtrip(codec):
    blob = json.dumps(codec.to_json())
    again = ColumnCodec.from_json(json.loads(blob))
    assert again == codec
    assert again.decode(codec.encode(TRICKY)) == tuple(TRICKY)


def test_every_layout_is_accepted():
    for layout in LAYOUTS:
        codec = ColumnCodec.from_json({"kind": "datetime", "layout": layout, "missing_tokens": []})
        assert codec.parse(codec.render(0)) == 0


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        ([], "column codec is a JSON list"),
        ("integer", "column codec is a JSON str"),
        ({"missing_tokens": []}, "field 'kind' is missing"),
        ({"kind": "float", "missing_tokens": []}, "kind = 'float' is not one of"),
        ({"kind": "integer"}, "field 'missing_tokens' is missing"),
        ({"kind": "integer", "missing_tokens": ["", ""]}, "distinct"),
        ({"kind": "integer", "missing_tokens": [1]}, "strings only"),
        ({"kind": "integer", "missing_tokens": [""] * 300}, "at most 254"),
        ({"kind": "decimal", "missing_tokens": []}, "scale 0 is not usable"),
        ({"kind": "decimal", "scale": 19, "missing_tokens": []}, r"scale = 19 is outside"),
        ({"kind": "decimal", "scale": "2", "missing_tokens": []}, "must be an integer"),
        ({"kind": "integer", "scale": 2, "missing_tokens": []}, "not usable for a integer"),
        ({"kind": "datetime", "missing_tokens": []}, "unknown datetime layout ''"),
        ({"kind": "datetime", "layout": "%s", "missing_tokens": []}, "unknown datetime layout"),
        ({"kind": "text", "layout": "%Y-%m-%d", "missing_tokens": []}, "not usable for a text"),
        ({"kind": "category", "categories": ["a", "a"], "missing_tokens": []}, "distinct"),
        ({"kind": "category", "categories": "ab", "missing_tokens": []}, "list of at most"),
        ({"kind": "text", "categories": ["a"], "missing_tokens": []}, "only for a category"),
    ],
)
def test_invalid_json_is_a_clear_error(blob, message):
    with pytest.raises(ModelError, match=message):
        ColumnCodec.from_json(blob)


def test_inconsistent_arrays_are_refused():
    codec = ColumnCodec("integer")
    exc = codec.exception_code
    good = codec.encode(["1", "x", "NA"])
    z = np.zeros(3, dtype=np.int64)
    m = good.missing
    for enc, message in [
        (EncodedColumn(z[:2], m), "do not match"),
        (EncodedColumn(z.astype(float), m), "integer arrays"),
        (EncodedColumn(z, np.array([0, exc + 1, 2])), "missing codes must be in"),
        (EncodedColumn(np.array([1, 5, 0]), m, {1: "x"}), "non-zero value"),
        (EncodedColumn(z, m, {}), "exceptions do not match"),
        (EncodedColumn(z, m, {1: "x", 2: "y"}), "exceptions do not match"),
        (EncodedColumn(z, m, {1: 5}), "exceptions do not match"),
    ]:
        with pytest.raises(DataError, match=message):
            codec.decode(enc)
    with pytest.raises(DataError, match="no cell in a category"):
        ColumnCodec("category", categories=("a",)).decode(EncodedColumn(z + 1, z))
    with pytest.raises(DataError, match="no cell in a text"):
        ColumnCodec("text").decode(EncodedColumn(z, z))
    with pytest.raises(DataError, match=r"outside years 1\.\.9999"):
        ColumnCodec("datetime", layout="%Y-%m-%d").decode(EncodedColumn(z + 10**7, z))
    with pytest.raises(DataError, match="not a string"):
        codec.encode(["1", 2])
    with pytest.raises(DataError, match="cells must be strings"):
        infer_column(["1", None])


TYPED = [c for c in CODECS if c.kind in ("integer", "decimal", "datetime")]


@given(st.one_of(st.integers(-(10**12), 10**12), st.integers(-(2**63), 2**63 - 1)), st.data())
def test_render_then_parse_is_the_identity(value, data):
    codec = data.draw(st.sampled_from(TYPED))
    try:
        cell = codec.render(value)
    except DataError:
        assert codec.kind == "datetime"  # only dates have a range narrower than int64
        return
    assert codec.parse(cell) == value
