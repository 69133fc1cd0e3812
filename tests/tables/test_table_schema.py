import numpy as np
import pytest
from table_helpers import MIXED

from latentzip.errors import DataError, ModelError
from latentzip.tables import TableConfig, TableSchema, parse_csv


def test_dictionaries_numbers_sorted_text_by_frequency():
    t = parse_csv(b"n,s\n10,b\n2,a\n,b\n2.0,c\n")
    schema = TableSchema.infer(t)
    assert schema.columns[0].values == ("", "2", "2.0", "10")
    assert schema.columns[1].values == ("b", "a", "c")
    assert schema.n_categories.tolist() == [4, 3]
    codes = schema.encode(t)
    assert codes.tolist() == [[3, 0], [1, 1], [0, 0], [2, 2]]
    assert schema.decode(codes, {}) == t.columns


def test_high_cardinality_and_free_text_fall_back():
    rows = b"".join(b"%d,%d,%s\n" % (i, i % 3, b"word%d" % (i * 7)) for i in range(300))
    t = parse_csv(b"id,k,text\n" + rows)
    schema = TableSchema.infer(t)
    assert schema.fallback == (0, 2) and schema.modelled == (1,)
    assert "300 distinct values > 256" in schema.columns[0].reason
    small = TableSchema.infer(t, TableConfig(max_categories=1000, free_text_min=1000))
    assert small.fallback == ()
    unique = TableSchema.infer(t, TableConfig(max_categories=1000))
    assert "mostly unique" in unique.columns[0].reason


def test_unknown_value_is_a_clear_error():
    schema = TableSchema.infer(parse_csv(b"a,b\nx,1\ny,2\n"))
    with pytest.raises(
        DataError, match=r"column 2 \('b'\) does not fit the model: value '3' on data row 2"
    ):
        schema.encode(parse_csv(b"a,b\nx,1\ny,3\n", header=True))
    with pytest.raises(DataError, match="3 columns, the model was trained on 2"):
        schema.encode(parse_csv(b"a,b,c\nx,1,1\n", header=True))


def test_json_round_trip_and_fingerprint():
    schema = TableSchema.infer(parse_csv(MIXED))
    again = TableSchema.from_json(schema.to_json())
    assert again == schema and again.fingerprint == schema.fingerprint
    other = TableSchema.categorical(5, ("0", "1"), header=True)
    assert other.fingerprint != schema.fingerprint
    assert np.array_equal(other.n_categories, [2] * 5)
    with pytest.raises(ModelError):
        TableSchema.from_json({"columns": [{}]})


def test_infer_over_several_tables():
    a, b = parse_csv(b"v\n1\n1\n", header=True), parse_csv(b"v\n2\n", header=True)
    assert TableSchema.infer([a, b]).columns[0].values == ("1", "2")
