"""Small tables and models shared by the table tests (imported, not a conftest)."""

from __future__ import annotations

import functools

from latentzip.circuits import HCLTConfig
from latentzip.tables import TableModel, parse_csv

TINY = HCLTConfig.quick(n_latents=3, epochs=1, full_batch_epochs=0)

# mixed column types, missing values, quoted fields with commas, quotes and newlines, \r\n
MIXED = b"id,city,age,score,comment\r\n" + b"".join(
    b"%d,%s,%s,%s,%s\r\n"
    % (
        i,
        [b"Paris", b"", b"New York", b'"Rome, IT"'][i % 4],
        [b"34", b"", b"7", b"34.0"][i % 3],
        [b"1.5", b"-2", b"1e3", b""][i % 4],
        [b"", b'"said ""hi"""', b'"two\nlines"', b"plain text"][(i // 2) % 4],
    )
    for i in range(120)
)


def fit(raw: bytes, **kw) -> TableModel:
    """A one-epoch K=3 model on the CSV bytes ``raw``."""
    return TableModel(TINY, **kw).fit(parse_csv(raw), progress=False)


@functools.cache
def mixed_model() -> TableModel:
    return fit(MIXED)
