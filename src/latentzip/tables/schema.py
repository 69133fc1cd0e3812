"""Column dictionaries: which cell strings a model knows, and the code of each.

Every column with few distinct values becomes a categorical variable of the circuit, with a
dictionary ``values`` (code ``i`` <-> ``values[i]``; the empty string, a missing value, is a
value like any other). Numbers are categories too: ``"1"`` and ``"1.0"`` are two values. A
column with too many distinct values (free text, identifiers, continuous numbers) is not
modelled: it falls back to a general-purpose compressor, column by column.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from latentzip.errors import DataError, ModelError
from latentzip.tables.csvfile import Table, is_number

__all__ = ["ColumnSpec", "TableConfig", "TableSchema"]


@dataclass(frozen=True)
class TableConfig:
    """When a column is modelled.

    A column falls back to the general compressor if it has more than ``max_categories``
    distinct values, or more than ``free_text_min`` distinct values making up more than
    ``free_text_fraction`` of its rows (mostly unique: names, identifiers, free text).
    """

    max_categories: int = 256
    free_text_min: int = 32
    free_text_fraction: float = 0.5

    def __post_init__(self):
        if self.max_categories < 1:
            raise ValueError("max_categories must be positive")


@dataclass(frozen=True)
class ColumnSpec:
    """One column: its name and dictionary, or ``values=None`` with the reason it falls back."""

    name: str
    values: tuple[str, ...] | None
    reason: str = ""

    @property
    def fallback(self) -> bool:
        return self.values is None


@dataclass(frozen=True)
class TableSchema:
    """The columns of the tables a model codes, and how cells map to symbols.

    Attributes
    ----------
    columns : tuple of ColumnSpec
        All columns of the table, in file order.
    header : bool
        Whether the tables have a header line.
    delimiter : str

    Examples
    --------
    >>> from latentzip.tables.csvfile import parse_csv
    >>> t = parse_csv(b"size,colour\\n2,red\\n10,\\n2,blue\\n")
    >>> schema = TableSchema.infer(t)
    >>> [c.values for c in schema.columns]
    [('2', '10'), ('', 'blue', 'red')]
    >>> schema.encode(t).tolist()
    [[0, 2], [1, 0], [0, 1]]
    """

    columns: tuple[ColumnSpec, ...]
    header: bool = False
    delimiter: str = ","

    # ------------------------------------------------------------ construction
    @classmethod
    def infer(cls, tables: Table | Sequence[Table], config: TableConfig | None = None):
        """Dictionaries from the values of one or more tables (same columns, same format)."""
        cfg = config or TableConfig()
        tables = [tables] if isinstance(tables, Table) else list(tables)
        if not tables:
            raise DataError("no table to learn the columns from")
        first = tables[0]
        for t in tables[1:]:
            if t.n_columns != first.n_columns:
                raise DataError(f"tables have {first.n_columns} and {t.n_columns} columns")
        n_rows = sum(t.n_rows for t in tables)
        if n_rows == 0:
            raise DataError("the table has no data rows")
        specs = []
        for j in range(first.n_columns):
            counts: Counter[str] = Counter()
            for t in tables:
                counts.update(t.columns[j])
            name = first.header[j] if first.header is not None else f"column {j + 1}"
            specs.append(_column(name, counts, n_rows, cfg))
        return cls(tuple(specs), first.format.header, first.format.delimiter)

    @classmethod
    def categorical(
        cls,
        n_columns: int,
        values: Sequence[str],
        *,
        header: bool = False,
        delimiter: str = ",",
        names: Sequence[str] | None = None,
    ) -> TableSchema:
        """Every column takes the same known ``values`` (e.g. ``("0", "1")`` for binary data)."""
        names = list(names) if names is not None else [f"column {j + 1}" for j in range(n_columns)]
        if len(names) != n_columns:
            raise ValueError(f"{len(names)} names for {n_columns} columns")
        if len(set(values)) != len(values) or not values:
            raise ValueError("values must be distinct and non-empty")
        vals = tuple(values)
        return cls(tuple(ColumnSpec(n, vals) for n in names), header, delimiter)

    # ------------------------------------------------------------ queries
    @property
    def modelled(self) -> tuple[int, ...]:
        """Indices of the columns that are variables of the circuit."""
        return tuple(j for j, c in enumerate(self.columns) if not c.fallback)

    @property
    def fallback(self) -> tuple[int, ...]:
        """Indices of the columns coded by the general-purpose compressor."""
        return tuple(j for j, c in enumerate(self.columns) if c.fallback)

    @property
    def n_categories(self) -> np.ndarray:
        """(D,) int64: dictionary sizes of the modelled columns."""
        return np.array([len(self.columns[j].values) for j in self.modelled], dtype=np.int64)

    def describe(self, j: int) -> str:
        return f"column {j + 1} ({self.columns[j].name!r})"

    # ------------------------------------------------------------ coding
    def check(self, table: Table) -> None:
        """Raise :class:`DataError` if ``table`` does not have this schema's shape."""
        if table.n_columns != len(self.columns):
            raise DataError(
                f"the table has {table.n_columns} columns, the model was trained on "
                f"{len(self.columns)}"
            )
        if table.format.delimiter != self.delimiter:
            raise DataError(
                f"the table is delimited by {table.format.delimiter!r}, the model's tables "
                f"by {self.delimiter!r}"
            )

    def encode(self, table: Table) -> np.ndarray:
        """Codes (n, D) int64 of the modelled columns.

        Raises
        ------
        DataError
            A cell whose value is not in its column's dictionary (the column does not fit
            the model), or a table with another number of columns.
        """
        self.check(table)
        codes = np.empty((table.n_rows, len(self.modelled)), dtype=np.int64)
        for out, j in enumerate(self.modelled):
            lookup = {v: i for i, v in enumerate(self.columns[j].values)}
            try:
                codes[:, out] = [lookup[c] for c in table.columns[j]]
            except KeyError as exc:
                row = table.columns[j].index(exc.args[0])
                raise DataError(
                    f"{self.describe(j)} does not fit the model: value {exc.args[0]!r} on data "
                    f"row {row + 1} is not one of the {len(lookup)} values the model was "
                    "trained on; retrain on data that contains it"
                ) from None
        return codes

    def decode(self, codes: np.ndarray, fallback: dict[int, tuple[str, ...]]) -> tuple:
        """Columns of cell strings from codes (n, D) and the fallback columns' cells."""
        codes = np.asarray(codes)
        out: list[tuple[str, ...]] = []
        modelled = {j: i for i, j in enumerate(self.modelled)}
        for j, spec in enumerate(self.columns):
            if spec.fallback:
                cells = tuple(fallback[j])
                if len(cells) != len(codes):
                    raise DataError(f"{self.describe(j)}: {len(cells)} cells for {len(codes)} rows")
                out.append(cells)
            else:
                values = np.array(spec.values, dtype=object)
                out.append(tuple(values[codes[:, modelled[j]]].tolist()))
        return tuple(out)

    # ------------------------------------------------------------ persistence
    def to_json(self) -> dict:
        return {
            "header": self.header,
            "delimiter": self.delimiter,
            "columns": [
                {
                    "name": c.name,
                    "values": None if c.fallback else list(c.values),
                    "reason": c.reason,
                }
                for c in self.columns
            ],
        }

    @classmethod
    def from_json(cls, d: dict) -> TableSchema:
        """The schema of :meth:`to_json`, every field checked (it comes from a file)."""
        from latentzip.coding.fields import Fields

        f = Fields(d, "table schema", ModelError)
        columns = f._get("columns")
        if not isinstance(columns, list) or not columns:
            raise ModelError("table schema: columns must be a non-empty list")
        cols = []
        for j, c in enumerate(columns):
            col = Fields(c, f"table schema column {j + 1}", ModelError)
            values = None
            if col._get("values") is not None:
                values = tuple(col.strs("values", 2**24))
                if not values or len(set(values)) != len(values):
                    raise ModelError(f"table schema column {j + 1}: values must be distinct")
            cols.append(ColumnSpec(col.str("name", max_len=2**20), values, col.str("reason")))
        delimiter = f.str("delimiter", max_len=1)
        if len(delimiter) != 1 or delimiter in '"\r\n':
            raise ModelError(f"table schema: delimiter {delimiter!r} is not usable")
        return cls(tuple(cols), f.bool("header"), delimiter)

    @property
    def fingerprint(self) -> str:
        """Hex SHA-256 of the canonical JSON of the schema."""
        blob = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()


def _column(name: str, counts: Counter[str], n_rows: int, cfg: TableConfig) -> ColumnSpec:
    n = len(counts)
    if n > cfg.max_categories:
        return ColumnSpec(name, None, f"{n} distinct values > {cfg.max_categories}")
    if n > cfg.free_text_min and n > cfg.free_text_fraction * n_rows:
        return ColumnSpec(name, None, f"{n} distinct values in {n_rows} rows (mostly unique)")
    cells = list(counts)
    if all(is_number(c) for c in cells if c):
        values = sorted(cells, key=lambda c: (c != "", float(c) if c else 0.0, c))
    else:
        values = sorted(cells, key=lambda c: (-counts[c], c))
    return ColumnSpec(name, tuple(values))
