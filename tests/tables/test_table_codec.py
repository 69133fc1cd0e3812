import hashlib
import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from table_helpers import MIXED, TINY, fit, mixed_model

from latentzip.circuits.codec import CodecConfig
from latentzip.coding import container
from latentzip.errors import ContainerError, DataError, ModelError
from latentzip.tables import (
    CODEC_TABLE,
    TableModel,
    compress,
    decompress,
    decompress_table,
    parse_csv,
)


def test_mixed_table_round_trip_is_byte_exact():
    model = mixed_model()
    assert model.schema_.fallback == (0,)  # the id column: every value distinct
    blob = compress(MIXED, model)
    assert decompress(blob, model) == MIXED
    c = container.unpack(blob, CODEC_TABLE)
    assert c.header["codec"] == "tables" and c.header["n_samples"] == 120
    assert c.header["sample_shape"] == [4] and c.header["meta"]["kind"] == "csv"
    assert len(blob) < len(MIXED) / 2
    table = decompress_table(blob, model)
    assert table.columns == parse_csv(MIXED).columns


@pytest.mark.parametrize("block_size", [1, 7, 1024])
def test_block_sizes_and_embedded_model(block_size):
    model = mixed_model()
    blob = compress(MIXED, model, CodecConfig(block_size=block_size, embed_model=True))
    assert decompress(blob) == MIXED
    assert len(container.unpack(blob).index) == -(-120 // block_size)


def test_other_rows_of_the_same_columns():
    model = mixed_model()
    lines = MIXED.split(b"\r\n")
    other = b"\r\n".join([lines[0], *lines[50:10:-3], b""])
    other = other.replace(b"0,", b'"0",', 1)  # a needless quote: that line is kept verbatim
    assert decompress(compress(other, model), model) == other
    header_only = lines[0] + b"\r\n"
    assert decompress(compress(header_only, model), model) == header_only


@pytest.mark.parametrize(
    ("raw", "error", "message"),
    [
        (MIXED.replace(b"New York", b"Berlin", 1), DataError, "column 2 ('city') does not fit"),
        (MIXED.replace(b"Paris,", b"Paris,1,", 1), DataError, "ragged rows"),
        (MIXED.replace(b"Paris", b"Par\xe9s", 1), DataError, "not UTF-8"),
        (b"a,b\r\n1,2\r\n", DataError, "the table has 2 columns, the model was trained on 5"),
    ],
)
def test_tables_that_do_not_fit_are_refused(raw, error, message):
    with pytest.raises(error) as info:
        compress(raw, mixed_model())
    assert message in str(info.value)


def test_wrong_model_and_damage_are_refused():
    blob = compress(MIXED, mixed_model())
    other = fit(MIXED.replace(b"Paris", b"Lyon"))
    with pytest.raises(ContainerError, match="wrong model"):
        decompress(blob, other)
    with pytest.raises(ContainerError):
        decompress(blob[:-3], mixed_model())
    with pytest.raises(ModelError, match="fitted TableModel"):
        compress(MIXED, TableModel(TINY))
    with pytest.raises(ContainerError, match="no embedded model"):
        decompress(blob)


def test_tampered_metadata_fails_the_sha256_check():
    model = mixed_model()
    c = container.unpack(compress(MIXED, model))
    header = json.loads(json.dumps(c.header))
    header["meta"]["format"]["final_newline"] = False
    records = [(c.record(i), e.n_samples, e.check) for i, e in enumerate(c.index)]
    with pytest.raises(ContainerError, match="SHA-256"):
        decompress(container.pack(CODEC_TABLE, c.codec_version, header, records), model)


cell = st.sampled_from(["", "a", "b", "0", "1", "2.5", "x,y", 'q"', "n\nl", "é", " "])


@st.composite
def csv_files(draw):
    width = draw(st.integers(1, 4))
    rows = draw(st.lists(st.lists(cell, min_size=width, max_size=width), min_size=1, max_size=30))
    term = draw(st.sampled_from(["\n", "\r\n"]))
    out = []
    for row in rows:
        fields = []
        for c in row:
            quote = any(ch in c for ch in ',"\n\r') or draw(st.integers(0, 9)) == 0
            fields.append('"' + c.replace('"', '""') + '"' if quote else c)
        out.append(",".join(fields) + draw(st.sampled_from([term, term, term, "\n"])))
    text = "".join(out)
    if draw(st.booleans()):
        text = text.removesuffix("\n").removesuffix("\r")
    return text.encode()


@given(csv_files())
def test_property_hypothesis_tables_round_trip_byte_exact(raw):
    try:
        table = parse_csv(raw)
    except DataError as exc:  # a last empty line in a multi-column table
        assert "fields" in str(exc)
        return
    model = TableModel(TINY).fit(table, progress=False)
    assert decompress(compress(raw, model), model) == raw


def _random_table_model(seed: int = 42):
    from conftest import random_circuit

    from latentzip.circuits import HCLT
    from latentzip.tables import TableSchema

    circuit = random_circuit(6, 3, 4, seed=seed, concentration=0.5)
    hclt = HCLT()
    hclt.circuit_ = circuit
    model = TableModel()
    model.hclt_ = hclt
    model.schema_ = TableSchema.categorical(6, ("a", "", "1.5", "x,y"), header=True)
    rows = circuit.sample(40, np.random.default_rng(7))
    values = np.array(["a", "", "1.5", '"x,y"'])[rows]
    raw = ("c1,c2,c3,c4,c5,c6\r\n" + "".join(",".join(r) + "\r\n" for r in values)).encode()
    return model, raw


def test_bitstream_is_pinned():
    """Golden bytes: a deliberate format change updates these numbers (and docs/format.md)."""
    model, raw = _random_table_model()
    blob = compress(raw, model, CodecConfig(block_size=16))
    assert decompress(blob, model) == raw
    assert len(blob) == 668
    assert hashlib.sha256(blob).hexdigest() == (
        "f6645fb00de10827ed2468eb158f6704d1019135f137028934e4370121388958"
    )


def test_per_variable_categories_in_one_circuit():
    import itertools

    rng = np.random.default_rng(0)
    z = rng.integers(0, 7, 300)
    cols = [np.zeros(300, int), z % 2, (z + rng.integers(0, 2, 300)) % 3, z]
    raw = "".join(",".join(f"v{c}" for c in row) + "\n" for row in zip(*cols, strict=True)).encode()
    model = TableModel(TINY).fit(parse_csv(raw), progress=False)
    circuit = model.circuit_
    assert circuit.n_categories.tolist() == [1, 2, 3, 7]
    for v, c in enumerate(circuit.n_categories):
        assert not circuit.leaves[v, c:].any()
    every = np.array(list(itertools.product(*(range(c) for c in circuit.n_categories))))
    assert np.exp(model.hclt_.score_samples(every)).sum() == pytest.approx(1.0)
    assert decompress(compress(raw, model), model) == raw
