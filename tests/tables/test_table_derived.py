"""Derived columns: cells looked up from other columns instead of being coded."""

from pathlib import Path

import numpy as np
import pytest
from table_helpers import MIXED, TINY

from latentzip.errors import ContainerError, DataError, ModelError
from latentzip.tables import TableModel, compress_report, decompress, parse_csv
from latentzip.tables import derived as derivations
from latentzip.tables.plan import PlanConfig, TablePlan

LEGACY = Path(__file__).resolve().parents[1] / "legacy"


def flights(n: int, seed: int = 0, broken: int = 0) -> bytes:
    """Departures: ``sched`` (HHMM) determines ``hour`` and ``minute``; ``origin`` and
    ``dest`` together determine ``distance``; ``broken`` rows break the distance rule."""
    rng = np.random.default_rng(seed)
    hours, minutes = rng.integers(5, 23, n), rng.choice([0, 5, 15, 30, 45, 59], n)
    origin, dest = rng.integers(0, 3, n), rng.integers(0, 40, n)
    km = (np.arange(3)[:, None] * 977 + np.arange(40)[None, :] * 131) % 4000 + 100
    distance = km[origin, dest]
    distance[rng.choice(n, broken, replace=False)] += 1
    delay = rng.integers(-20, 90, n)
    rows = [
        f"{h * 100 + m},{h},{m},O{o},D{d:02d},{dist},{dl}\n"
        for h, m, o, d, dist, dl in zip(hours, minutes, origin, dest, distance, delay, strict=True)
    ]
    return ("sched,hour,minute,origin,dest,distance,delay\n" + "".join(rows)).encode()


def test_rules_of_one_and_of_two_columns_are_found():
    table = parse_csv(flights(20_000))
    found = derivations.find(table.columns, map_weight=1.0)
    names = {table.header[b]: [table.header[a] for a in d.sources] for b, d in found.items()}
    assert names["distance"] == ["origin", "dest"]
    # sched <-> (hour, minute) is one-to-one: either side may be looked up from the other
    assert "sched" in names or {"hour", "minute"} <= names.keys()
    assert "delay" not in names and "origin" not in names and "dest" not in names
    for b, d in found.items():  # every listed key maps to the cell it has in the table
        for key, value in zip(d.keys, d.values, strict=True):
            rows = [i for i in range(table.n_rows)
                    if tuple(table.columns[a][i] for a in d.sources) == key]  # fmt: skip
            assert rows and all(table.columns[b][i] == value for i in rows)


def test_a_rule_broken_too_often_is_not_used():
    n = 20_000
    ok = parse_csv(flights(n, broken=int(0.005 * n)))
    bad = parse_csv(flights(n, broken=int(0.05 * n)))
    assert 5 in derivations.find(ok.columns, 1.0)  # distance, with its breaks as exceptions
    assert 5 not in derivations.find(bad.columns, 1.0)


def test_nothing_is_derived_from_independent_columns_or_tiny_tables():
    rng = np.random.default_rng(1)
    raw = "a,b\n" + "".join(f"{x},{y}\n" for x, y in rng.integers(0, 50, (2000, 2)))
    assert derivations.find(parse_csv(raw.encode()).columns, 1.0) == {}
    assert derivations.find(parse_csv(flights(40)).columns, 0.01) == {}


def test_the_plan_config_can_turn_the_search_off():
    table = parse_csv(flights(20_000))
    plan = TablePlan.fit(table, PlanConfig(derived_map_weight=0))
    assert "derived" not in {c.role for c in plan.columns}
    plan = TablePlan.fit(table)
    assert plan.columns[5].role == "derived" and 5 not in plan.modelled


def test_round_trip_with_breaks_and_unseen_keys_through_a_separate_model():
    train = flights(20_000, seed=0, broken=10)
    model = TableModel(TINY).fit(parse_csv(train), progress=False)
    plan = model.plan_
    assert plan.columns[5].role == "derived"
    later = flights(2000, seed=5, broken=15).replace(b"O2,D39", b"O9,D39")  # an unseen origin
    blob, report = compress_report(later, model, embed=False, safeguard=False)
    assert report.mode == "model" and decompress(blob, model) == later
    blob, _ = compress_report(train, safeguard=False)  # trained on itself, embedded
    assert decompress(blob) == train


def test_derivations_round_trip_through_the_plan_json_and_bad_ones_are_refused():
    plan = TablePlan.fit(parse_csv(flights(20_000)))
    data = plan.to_json()
    assert TablePlan.from_json(data) == plan
    j = next(j for j, c in enumerate(plan.columns) if c.role == "derived")
    col = data["columns"][j]
    for bad in (
        {**col["derived"], "sources": [j]},  # itself
        {**col["derived"], "sources": [0, 0]},
        {**col["derived"], "values": col["derived"]["values"][:-1]},
        {**col["derived"], "keys": [k + k[:1] for k in col["derived"]["keys"]]},  # a key twice
    ):
        cols = list(data["columns"])
        cols[j] = {**col, "derived": bad}
        with pytest.raises(ModelError):
            TablePlan.from_json({**data, "columns": cols})
    source = col["derived"]["sources"][0]
    cols = list(data["columns"])
    values = col["derived"]["values"]
    rule = {"sources": [j], "keys": [[str(i) for i in range(len(values))]], "values": values}
    cols[source] = {**col, "derived": rule}
    with pytest.raises(ModelError, match="source is derived"):
        TablePlan.from_json({**data, "columns": cols})


def test_a_missing_exception_is_a_clean_error():

    plan = TablePlan.fit(parse_csv(flights(20_000)))
    table = parse_csv(flights(500, seed=9).replace(b"O1,D07", b"O7,D07"))
    coded = plan.encode(table, 4096)
    j = 5
    assert coded.exceptions.get(j)  # the unseen origin's distances are kept
    coded.exceptions[j] = {}
    with pytest.raises(DataError, match="no derived cell"):
        plan.decode(coded, 4096)


def test_files_of_bitstream_version_2_still_decode():
    blob = (LEGACY / "table_v2_mixed.lz").read_bytes()  # written before derived columns
    assert decompress(blob) == (LEGACY / "table_v2_mixed.csv").read_bytes() == MIXED


def test_a_newer_bitstream_is_refused_naming_the_versions():
    from latentzip.coding import container
    from latentzip.tables.codec import CODEC_TABLE

    c = container.unpack((LEGACY / "table_v2_mixed.lz").read_bytes())
    records = [(c.record(i), e.n_samples, e.check) for i, e in enumerate(c.index)]
    blob = container.pack(CODEC_TABLE, 4, c.header, records, c.model)
    with pytest.raises(ContainerError, match=r"versions 2\.\.3\), found codec 2 version 4"):
        decompress(blob)


def test_long_tables_are_searched_on_a_sample_and_ruled_on_every_row(monkeypatch):
    table = parse_csv(flights(20_000))
    whole = derivations.find(table.columns, 1.0)
    monkeypatch.setattr(derivations, "SEARCH_ROWS", 3000)
    sampled = derivations.find(table.columns, 1.0)
    assert sampled.keys() == whole.keys()
    for b, d in sampled.items():  # the lookup covers every row's keys, not the sample's only
        looked = d.cells([table.columns[a] for a in d.sources])
        assert looked == list(table.columns[b])
