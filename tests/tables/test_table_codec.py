import hashlib
import json
import lzma

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from table_helpers import MIXED, TINY, fit, mixed_model

from latentzip.coding import container
from latentzip.errors import ContainerError, DataError, ModelError
from latentzip.tables import (
    CODEC_TABLE,
    TableModel,
    TablePlan,
    compress,
    compress_report,
    decompress,
    decompress_table,
    parse_csv,
)
from latentzip.tables.codec import describe


def learned(raw: bytes, model=None, embed=True):
    """The learned container (no safeguard), with a tiny model trained on ``raw``."""
    return compress_report(raw, model or fit(raw), embed=embed, safeguard=False)


def test_learned_container_layout_and_embedded_model():
    model = mixed_model()
    blob, report = learned(MIXED, model)
    assert report.mode == "model" and report.n_rows == 120 and report.model_bytes > 0
    c = container.unpack(blob, CODEC_TABLE)
    assert c.codec_version == 3 and c.header["mode"] == "model" and c.header["n_rows"] == 120
    assert [e.n_samples for e in c.index] == [0, 120]  # side data, then one block of rows
    assert decompress(blob) == MIXED and decompress(blob, model) == MIXED
    assert decompress_table(blob).columns == parse_csv(MIXED).columns
    labels = dict(describe(c))
    assert "120 rows x 5 columns" in labels["content"] and "embedded" in labels["model"]


def test_self_contained_is_the_default():
    rng = np.random.default_rng(3)
    k = rng.integers(0, 2, 3000)
    hours = np.cumsum(rng.integers(1, 4, 3000))
    temp = np.round(rng.normal(10 + 8 * k, 3, 3000), 1)
    raw = b"t,temp,k\n" + b"".join(
        b"2024-%02d-%02d %02d:00:00,%.1f,%s\n"
        % (1 + h // 720, 1 + (h // 24) % 30, h % 24, x, [b"low", b"high"][c])
        for h, x, c in zip(hours, temp, k, strict=True)
    )
    blob, report = compress_report(raw)
    assert decompress(blob) == raw
    assert report.mode == "model" and report.model_bytes > 0
    assert len(blob) < 0.8 * len(lzma.compress(raw, preset=9 | lzma.PRESET_EXTREME))


def test_rows_span_several_blocks_and_deltas_restart():
    rng = np.random.default_rng(0)
    n = 10_000
    t = 1_700_000_000 + np.cumsum(rng.integers(1, 90, n))
    price = rng.integers(100, 400, n) * 5
    raw = b"ts,price,side\n" + b"".join(
        b"%d,%d.%02d,%s\n" % (a, p // 100, p % 100, b"BS"[a % 2 : a % 2 + 1])
        for a, p in zip(t, price, strict=True)
    )
    model = fit(raw)
    col = model.plan_.columns[0]
    assert col.role == "number" and col.number.delta
    assert model.plan_.columns[1].number.step == 5  # prices in steps of 5 cents
    blob, _ = learned(raw, model, embed=False)
    c = container.unpack(blob)
    assert [e.n_samples for e in c.index] == [0, 4096, 4096, 1808]
    assert decompress(blob, model) == raw
    assert len(blob) < len(raw) / 4


def test_long_tables_decode_chunk_by_chunk():
    # past 16 blocks of 4096 rows the cells are rebuilt chunk by chunk: exceptions, text,
    # missing values and a verbatim line on both sides of the chunk boundary come back
    model = mixed_model()
    lines = MIXED.split(b"\r\n")[1:-1]
    rows = [lines[i % len(lines)] for i in range(70_000)]
    rows[65_535] = rows[65_535].replace(b"Paris", b"Oslo")  # unseen: an exception
    rows[65_536] = rows[65_536].replace(b"Paris", b"Lima")
    rows[65_537] = b'"' + rows[65_537].split(b",", 1)[0] + b'",' + rows[65_537].split(b",", 1)[1]
    raw = MIXED.split(b"\r\n")[0] + b"\r\n" + b"\r\n".join(rows)  # no final newline
    blob = compress(raw, model)
    assert decompress(blob, model) == raw
    table = decompress_table(blob, model)
    assert table.n_rows == 70_000 and table.columns[1][65_536] == "Lima"


def test_wide_tables_with_few_rows_are_stored_without_training():
    # NCI60-like: 40 rows x 600 numeric columns took minutes of structure learning for a
    # model that could never pay for itself
    rng = np.random.default_rng(0)
    rows = [",".join(f"{v:.3f}" for v in rng.normal(size=600)) for _ in range(40)]
    raw = ("\n".join(rows) + "\n").encode()
    blob, report = compress_report(raw)
    assert report.mode == "stored" and "600 columns" in report.why
    assert decompress(blob) == raw


def test_other_files_of_the_same_layout():
    model = mixed_model()
    lines = MIXED.split(b"\r\n")
    other = b"\r\n".join([lines[0], *lines[50:10:-3], b""])
    other = other.replace(b"0,", b'"0",', 1)  # a needless quote: that line is kept verbatim
    other = other.replace(b"Paris", b"Berlin", 1)  # an unseen category: kept as text
    other = other.replace(b",34,", b",99999,", 1)  # a number outside the trained range
    blob = compress(other, model)
    assert decompress(blob, model) == other
    header_only = lines[0] + b"\r\n"
    assert decompress(compress(header_only, model), model) == header_only


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (MIXED.replace(b"Paris", b"Par\xe9s", 1), "not UTF-8"),
        (b"a,b\r\n1,2\r\n", "the table has 2 columns"),
        (MIXED.replace(b",", b";"), "the table has 1 columns"),
    ],
)
def test_tables_that_do_not_fit_a_given_model_are_refused(raw, message):
    with pytest.raises(DataError, match=message):
        compress(raw, mixed_model())


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"only,a,header\n",
        b"caf\xe9,1\nna\xefve,2\n",  # Latin-1
        bytes(range(256)) * 20,
        b'a,b\n"never closed,1\n',
        b"a,b\r1,2\r",  # bare CR line ends
    ],
    ids=["empty", "header-only", "latin-1", "binary", "open-quote", "bare-cr"],
)
def test_self_contained_takes_any_bytes(raw):
    blob, report = compress_report(raw)
    assert report.mode == "stored" and decompress(blob) == raw
    labels = dict(describe(container.unpack(blob)))
    assert "stored by" in labels["content"]


def test_never_much_larger_than_xz():
    rng = np.random.default_rng(1)
    words = [bytes(rng.integers(97, 123, 12).astype(np.uint8)) for _ in range(50)]
    rows = [b"%s,%s\n" % (words[i % 50], words[(i * 7) % 50]) for i in range(2000)]
    for raw in (b"".join(rows), b"x\n" * 5000, b"".join(rows[:50]) * 40):
        xz = len(lzma.compress(raw, preset=9 | lzma.PRESET_EXTREME))
        blob = compress(raw)
        assert decompress(blob) == raw
        assert len(blob) <= xz + 160, (len(blob), xz)


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
    header["format"]["final_newline"] = False  # resealed below: only the SHA-256 can tell
    records = [(c.record(i), e.n_samples, e.check) for i, e in enumerate(c.index)]
    with pytest.raises(ContainerError, match="SHA-256"):
        decompress(container.pack(CODEC_TABLE, c.codec_version, header, records), model)


cell = st.sampled_from(
    ["", "a", "b", "0", "1", "007", "-0", "1e3", "2.50", "2.5", "NA", "x,y", 'q"', "n\nl", "é",
     " ", "2024-02-29", "2024-13-01", "12:30"]
)  # fmt: skip


@st.composite
def csv_files(draw):
    width = draw(st.integers(1, 4))
    lengths = st.integers(max(1, width - 1), width + 1) if draw(st.booleans()) else st.just(width)
    rows = draw(st.lists(lengths.flatmap(lambda w: st.lists(cell, min_size=w, max_size=w)),
                         min_size=1, max_size=30))  # fmt: skip
    term = draw(st.sampled_from(["\n", "\r\n"]))
    out = []
    for row in rows:
        fields = []
        for c in row:
            quote = any(ch in c for ch in ',"\n\r') or draw(st.integers(0, 9)) == 0
            fields.append('"' + c.replace('"', '""') + '"' if quote else c)
        out.append(",".join(fields) + draw(st.sampled_from([term, term, term, "\n"])))
    text = ("\ufeff" if draw(st.integers(0, 5)) == 0 else "") + "".join(out)
    if draw(st.booleans()):
        text = text.removesuffix("\n").removesuffix("\r")
    return text.encode()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(csv_files())
def test_property_csv_round_trips_byte_exact(raw):
    """Quotes, embedded newlines, CRLF, BOM, unicode, empty fields, ragged rows, odd numbers."""
    assert decompress(compress(raw)) == raw  # self-contained: whatever mode it picks
    try:
        table = parse_csv(raw)
    except DataError as exc:  # only a bare BOM: nothing to model
        assert "empty file" in str(exc)
        return
    if table.n_rows:
        blob, report = learned(raw)
        assert report.mode == "model" and decompress(blob) == raw


def _random_table_model(seed: int = 42):
    from conftest import random_circuit

    from latentzip.circuits import HCLT

    plan = TablePlan.categorical(6, ("a", "", "1.5", "x,y"), header=True)
    circuit = random_circuit(6, 3, 5, seed=seed, concentration=0.5)
    hclt = HCLT()
    hclt.circuit_ = circuit
    model = TableModel()
    model.plan_, model.hclt_ = plan, hclt
    rows = circuit.sample(40, np.random.default_rng(7))
    values = np.array(["a", "", "1.5", '"x,y"', "b"])[rows]
    raw = ("c1,c2,c3,c4,c5,c6\r\n" + "".join(",".join(r) + "\r\n" for r in values)).encode()
    return model, raw


def test_bitstream_is_pinned():
    """Golden bytes: a deliberate format change updates these numbers (and docs/format.md)."""
    model, raw = _random_table_model()
    blob, _ = compress_report(raw, model, safeguard=False)
    assert decompress(blob, model) == raw
    assert len(blob) == 620
    assert hashlib.sha256(blob).hexdigest() == (
        "e6c3a4e4b62649381a2901519a36c1ccb1c6dc20e641e53c22c1263dca993094"
    )


def test_per_variable_categories_in_one_circuit():
    import itertools

    rng = np.random.default_rng(0)
    z = rng.integers(0, 7, 300)
    cols = [np.zeros(300, int), z % 2, (z + rng.integers(0, 2, 300)) % 3, z]
    raw = "".join(",".join(f"v{c}" for c in row) + "\n" for row in zip(*cols, strict=True)).encode()
    model = TableModel(TINY).fit(parse_csv(raw), progress=False)
    circuit = model.hclt_.circuit_
    assert circuit.n_categories.tolist() == [2, 3, 4, 8]  # values and EXCEPTION
    for v, c in enumerate(circuit.n_categories):
        assert not circuit.leaves[v, c:].any()
    every = np.array(list(itertools.product(*(range(c) for c in circuit.n_categories))))
    assert np.exp(model.hclt_.score_samples(every)).sum() == pytest.approx(1.0)
    assert decompress(compress(raw, model), model) == raw
