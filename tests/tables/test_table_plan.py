"""Column plans: roles, number codings (delta, step, dictionary), JSON, exact inverses."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from latentzip.errors import ModelError
from latentzip.tables import PlanConfig, TablePlan, parse_csv
from latentzip.tables.numbers import VALUE_LIMIT, NumberCoding, fit_number
from latentzip.tables.plan import ColumnPlan


def test_roles_and_alphabets():
    rows = b"".join(
        b"%d,%s,%s,w%d,2024-01-%02d\n"
        % (
            i,
            b"ab"[i % 2 : i % 2 + 1],
            b"NA" if i % 5 == 0 else b"%d.5" % (i % 7),
            i * 7919,
            1 + i % 28,
        )
        for i in range(400)
    )
    t = parse_csv(b"id,k,x,word,day\n" + rows)
    plan = TablePlan.fit(t, PlanConfig(max_categories=100))
    roles = [c.role for c in plan.columns]
    assert roles == ["number", "category", "number", "text", "number"]
    ident, k, x = plan.columns[:3]
    assert ident.number.delta and ident.number.edges == (0, 1)  # 0 (from the anchor), then 1s
    assert k.n_symbols == 2 + 0 + 1  # two categories, no missing token seen, EXCEPTION
    assert x.codec.missing_tokens == ("NA",) and x.n_symbols == x.n_values + 2
    assert plan.n_categories.tolist() == [c.n_symbols for c in plan.columns if c.role != "text"]
    again = TablePlan.from_json(plan.to_json())
    assert again == plan
    coded = plan.encode(t, 128)
    assert plan.decode(coded, 128) == t.columns


@pytest.mark.parametrize(
    ("values", "delta", "step", "dictionary"),
    [
        (1_700_000_000 + 3600 * np.arange(500), True, 3600, False),  # hourly timestamps
        (
            np.round(np.random.default_rng(0).normal(500, 50, 500)).astype(int) * 18,
            False,
            18,
            False,
        ),
        (np.random.default_rng(1).choice([3, 17, 250, 4000, 9999], 500), False, 1, True),
    ],
    ids=["hourly", "lattice", "sparse"],
)
def test_number_codings(values, delta, step, dictionary):
    n = fit_number(values, 64, 10_000)
    assert (n.delta, n.step, bool(n.dictionary)) == (delta, step, dictionary)
    present = np.ones(len(values), bool)
    bins, offsets, inside = n.encode(values, present, 100)
    assert inside.mean() > 0.97  # block starts of a delta chain may fall outside
    back = n.decode(bins, offsets, inside, values, ~inside, 100)
    assert np.array_equal(back[inside], values[inside])
    assert NumberCoding.from_json(_fields(n.to_json())) == n


def _fields(d):
    from latentzip.coding.fields import Fields

    return Fields(d, "test", ModelError)


@given(
    st.lists(st.integers(-(2**62), 2**62), min_size=2, max_size=60),
    st.lists(st.integers(-(2**62), 2**62), min_size=1, max_size=60),
    st.integers(1, 7),
)
def test_property_numbers_round_trip_on_other_data(train, test, block):
    """Whatever the training values, any test values code exactly: inside or kept aside."""
    train = np.array([v for v in train if abs(v) <= VALUE_LIMIT] or [0, 1], np.int64)
    n = fit_number(train, 8, 16)
    x = np.array(test, np.int64)
    present = np.arange(len(x)) % 4 != 3
    bins, offsets, inside = n.encode(x, present, block)
    assert not (inside & ~present).any()
    assert (bins[inside] < len(n.edges)).all() and (offsets[inside] < n.widths[bins[inside]]).all()
    known = present & ~inside & (np.abs(x) <= VALUE_LIMIT)
    back = n.decode(bins, offsets, inside, np.where(known, x, 0), known, block)
    assert np.array_equal(back[inside], x[inside])


def test_invalid_plans_are_model_errors():
    good = TablePlan.fit(parse_csv(b"a,b\n1,x\n2,y\n")).to_json()
    for change in (
        {"delimiter": '"'},
        {"columns": []},
        {"columns": [{"role": "number", "name": "a", "codec": {"kind": "category",
                                                             "missing_tokens": []}}]},
    ):  # fmt: skip
        with pytest.raises(ModelError):
            TablePlan.from_json({**good, **change})
    col = good["columns"][0]
    bad = {**col, "number": {**col["number"], "edges": [5, -1]}}
    with pytest.raises(ModelError, match="ascend"):
        ColumnPlan.from_json(bad)
