"""Byte-exact round trips of every Twenty Datasets test file (needs ../shared/data)."""

import gzip

import pytest
from conftest import SHARED, shared_file

from latentzip.circuits import HCLTConfig
from latentzip.tables import Table, TableModel, TablePlan, compress, decompress, parse_csv

NAMES = sorted(p.name for p in (SHARED / "twenty-datasets").glob("*") if p.is_dir()) or ["nltcs"]


@pytest.mark.parametrize("name", NAMES)
def test_test_file_round_trip_is_byte_exact(name):
    raw = gzip.decompress(shared_file(f"twenty-datasets/{name}/{name}.test.data.gz").read_bytes())
    table = parse_csv(raw, header=False)
    assert table.exact_from_values and table.format.lineterminator == "\n"
    plan = TablePlan.categorical(table.n_columns, ("0", "1"))
    head = Table(tuple(c[:300] for c in table.columns), None, table.format)
    cfg = HCLTConfig.quick(n_latents=2, epochs=1, full_batch_epochs=0)
    model = TableModel(cfg).fit(head, plan=plan, progress=False)
    blob = compress(raw, model)
    assert decompress(blob, model) == raw
    assert len(blob) < len(raw) / 4
