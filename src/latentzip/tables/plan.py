"""How each column of a table is coded: the circuit's variables, residuals and text.

Every column gets a :class:`~latentzip.tables.columns.ColumnCodec` (exact cell text <->
integers) and a role::

    category  one circuit variable: the category's index
    number    (integer, decimal, datetime) one circuit variable: the bin of the value (or of
              its difference to the previous row's, ``delta``); the offset inside the bin is
              a residual, coded uniformly over the bin's width
    text      no variable: the cells go to the best general compressor
    derived   no variable: looked up from other columns' cells (:mod:`.derived`)

A modelled column's alphabet is its values (categories or bins), then one symbol per missing
token seen in training (``NA``, empty, ...), then EXCEPTION: a cell kept as text because it
is not in canonical form, an unseen category, or a number outside the trained range. Bins are
quantiles of the training values (every value its own bin when there are few), so the circuit
models numbers, dates and categories jointly and the residual carries only what is left
inside a bin. Deltas restart at every block of rows (from the column's ``anchor``), so a
block decodes on its own.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from latentzip.coding.fields import Fields
from latentzip.errors import DataError, ModelError
from latentzip.tables import derived as derivations
from latentzip.tables.columns import MISSING_TOKENS, ColumnCodec, EncodedColumn, infer_column
from latentzip.tables.numbers import MAX_DICTIONARY, VALUE_LIMIT, NumberCoding, fit_number

ROLES = ("category", "number", "text", "derived")
BLOCK_ROWS = 4096  # rows per record of a table file: deltas restart once per block


@dataclass(frozen=True)
class PlanConfig:
    """max_bins: circuit symbols of a number column; max_categories: of a category column
    (more distinct values make the column text); min_rows_per_symbol: fewer bins on small
    tables (each symbol costs leaf parameters in the model)."""

    max_bins: int = 64
    max_categories: int = 256
    min_rows_per_symbol: int = 8
    max_exception_fraction: float = 0.01
    derived_map_weight: float = 1.0  # 1: lookup tables are paid for in the file; 0: never


@dataclass(frozen=True)
class ColumnPlan:
    name: str
    codec: ColumnCodec
    role: str
    number: NumberCoding | None = None  # number: how a value becomes a bin and a residual
    derived: derivations.Derivation | None = None  # derived: the lookup

    @property
    def n_values(self) -> int:
        if self.role == "category":
            return len(self.codec.categories)
        return len(self.number.edges) if self.number is not None else 0

    @property
    def n_symbols(self) -> int:
        """Circuit alphabet: values, missing tokens, EXCEPTION (0 for a text column)."""
        if self.role in ("text", "derived"):
            return 0
        return self.n_values + len(self.codec.missing_tokens) + 1

    @property
    def exception(self) -> int:
        return self.n_symbols - 1

    @property
    def widths(self) -> np.ndarray:
        """Residual alphabet of each symbol: a bin's width, 1 for every other symbol."""
        out = np.ones(max(1, self.n_symbols), np.int64)
        if self.number is not None:
            out[: self.n_values] = self.number.widths
        return out

    def to_json(self) -> dict:
        d = {"name": self.name, "codec": self.codec.to_json(), "role": self.role}
        if self.number is not None:
            d["number"] = self.number.to_json()
        if self.derived is not None:
            d["derived"] = self.derived.to_json()
        return d

    @classmethod
    def from_json(cls, d, n_columns: int = 1, own: int = 0) -> ColumnPlan:
        f = Fields(d, "table column", ModelError)
        role = f.str("role", ROLES)
        codec = ColumnCodec.from_json(f.obj("codec").data)
        plan = cls(f.str("name", max_len=2**20), codec, role)
        if role == "derived":
            rule = derivations.Derivation.from_json(f.obj("derived"), n_columns, own)
            plan = cls(plan.name, codec, role, derived=rule)
        elif role == "number":
            if codec.kind not in ("integer", "decimal", "datetime"):
                raise ModelError(f"table column: a {codec.kind} column cannot be a number")
            plan = cls(plan.name, codec, role, NumberCoding.from_json(f.obj("number")))
        elif (role == "category") != (codec.kind == "category"):
            raise ModelError(f"table column: role {role} does not fit a {codec.kind} codec")
        if plan.n_symbols > 2**16:
            raise ModelError(f"table column: {plan.n_symbols} symbols (at most 65536)")
        return plan


@dataclass
class CodedColumns:
    """A table's columns as the codec stores them (see :meth:`TablePlan.encode`)."""

    symbols: np.ndarray  # (n, D) int64: the circuit's variables
    offsets: np.ndarray  # (n, R) int64: each number column's offset inside its bin
    exceptions: dict[int, dict[int, str]]  # column -> row -> cell
    text: dict[int, list[str]]  # text column -> its cells


def fit_column(name: str, cells, config: PlanConfig) -> ColumnPlan:
    """The plan of one column from its cells."""
    counts = Counter(cells)
    tokens = tuple(sorted((t for t in MISSING_TOKENS if t in counts), key=lambda t: -counts[t]))
    codec = infer_column(
        cells, max_categories=config.max_categories, missing_tokens=tokens,
        max_exception_fraction=config.max_exception_fraction,
    )  # fmt: skip
    text = ColumnPlan(name, ColumnCodec("text", missing_tokens=tokens), "text")
    if codec.kind == "text" or (codec.kind == "category" and not codec.categories):
        return text
    if codec.kind == "category":
        return ColumnPlan(name, codec, "category")
    enc = codec.encode(cells)
    present = enc.values[enc.missing == 0]
    if not len(present) or np.abs(present).max() > VALUE_LIMIT:
        return text
    n_bins = max(1, min(config.max_bins, len(cells) // config.min_rows_per_symbol))
    max_dictionary = min(MAX_DICTIONARY, len(cells) // 4)
    return ColumnPlan(name, codec, "number", fit_number(present, n_bins, max_dictionary))


@dataclass(frozen=True)
class TablePlan:
    """Every column's plan, and the CSV dialect of the tables it codes."""

    columns: tuple[ColumnPlan, ...]
    header: bool = False
    delimiter: str = ","

    @classmethod
    def fit(cls, table, config: PlanConfig | None = None) -> TablePlan:
        cfg = config or PlanConfig()
        if table.n_rows == 0:
            raise DataError("the table has no data rows")
        names = table.header or tuple(f"column {j + 1}" for j in range(table.n_columns))
        cols = [fit_column(n, c, cfg) for n, c in zip(names, table.columns, strict=True)]
        if cfg.derived_map_weight > 0:
            for j, rule in derivations.find(table.columns, cfg.derived_map_weight).items():
                text = ColumnCodec("text", missing_tokens=())
                cols[j] = ColumnPlan(cols[j].name, text, "derived", derived=rule)
        return cls(tuple(cols), table.format.header, table.format.delimiter)

    @classmethod
    def categorical(
        cls, n_columns: int, categories, header: bool = False, delimiter: str = ","
    ) -> TablePlan:
        """Every column a category column over the same known values (binary data sets)."""
        codec = ColumnCodec("category", categories=tuple(categories), missing_tokens=())
        names = [f"column {j + 1}" for j in range(n_columns)]
        return cls(tuple(ColumnPlan(n, codec, "category") for n in names), header, delimiter)

    def describe(self, j: int) -> str:
        """``column 3 ('price')``: how messages name a column."""
        return f"column {j + 1} ({self.columns[j].name!r})"

    @property
    def modelled(self) -> tuple[int, ...]:
        return tuple(j for j, c in enumerate(self.columns) if c.role not in ("text", "derived"))

    @property
    def numbers(self) -> tuple[int, ...]:
        return tuple(j for j, c in enumerate(self.columns) if c.role == "number")

    @property
    def n_categories(self) -> np.ndarray:
        return np.array([self.columns[j].n_symbols for j in self.modelled], dtype=np.int64)

    def check(self, table) -> None:
        if table.n_columns != len(self.columns) or table.format.delimiter != self.delimiter:
            raise DataError(
                f"the table has {table.n_columns} columns delimited by "
                f"{table.format.delimiter!r}; the model's have {len(self.columns)} and "
                f"{self.delimiter!r}"
            )

    def residual_widths(self, symbols: np.ndarray) -> np.ndarray:
        """(n, R): the residual alphabet of each number column's cell, from the symbols."""
        out = np.ones((len(symbols), len(self.numbers)), np.int64)
        for r, j in enumerate(self.numbers):
            out[:, r] = self.columns[j].widths[symbols[:, self.modelled.index(j)]]
        return out

    # ------------------------------------------------------------------ rows <-> arrays
    def encode(self, table, block: int) -> CodedColumns:
        """Symbols, residual offsets, exceptions and text of ``table``; deltas restart at
        every ``block`` rows, so blocks decode on their own."""
        self.check(table)
        n = table.n_rows
        symbols = np.zeros((n, len(self.modelled)), np.int64)
        offsets = np.zeros((n, len(self.numbers)), np.int64)
        exceptions, text = {}, {}
        for j, col in enumerate(self.columns):
            cells = table.columns[j]
            if col.role == "text":
                text[j] = list(cells)
                continue
            if col.role == "derived":
                looked = col.derived.cells([table.columns[s] for s in col.derived.sources])
                exc = {
                    i: c for i, (c, got) in enumerate(zip(cells, looked, strict=True)) if c != got
                }
                if exc:
                    exceptions[j] = exc
                continue
            enc = col.codec.encode(cells)
            sym, off, outside = _encode_column(col, enc, block)
            symbols[:, self.modelled.index(j)] = sym
            if col.role == "number":
                offsets[:, self.numbers.index(j)] = off
            exc = dict(enc.exceptions)
            exc.update({int(i): cells[i] for i in outside})
            if exc:
                exceptions[j] = exc
        return CodedColumns(symbols, offsets, exceptions, text)

    def decode(self, coded: CodedColumns, block: int) -> tuple[tuple[str, ...], ...]:
        """The cells of every column (:class:`DataError` if the parts do not fit together)."""
        n = len(coded.symbols)
        out = []
        for j, col in enumerate(self.columns):
            if col.role == "derived":
                out.append(None)  # once its sources are known
                continue
            if col.role == "text":
                cells = coded.text.get(j, [])
                if len(cells) != n:
                    raise DataError(f"text column {j + 1}: {len(cells)} cells for {n} rows")
                out.append(tuple(cells))
                continue
            sym = coded.symbols[:, self.modelled.index(j)]
            off = coded.offsets[:, self.numbers.index(j)] if col.role == "number" else None
            enc = _decode_column(col, sym, off, coded.exceptions.get(j, {}), block)
            out.append(col.codec.decode(enc))
        for j, col in enumerate(self.columns):
            if col.role == "derived":
                sources = [out[s] for s in col.derived.sources]
                exc = coded.exceptions.get(j, {})
                try:
                    out[j] = derivations.restore(sources, col.derived, exc)
                except DataError as e:
                    raise DataError(f"{self.describe(j)}: {e}") from e
        return tuple(out)

    def to_json(self) -> dict:
        return {
            "header": self.header,
            "delimiter": self.delimiter,
            "columns": [c.to_json() for c in self.columns],
        }

    @classmethod
    def from_json(cls, d) -> TablePlan:
        f = Fields(d, "table plan", ModelError)
        cols = f._get("columns")
        if not isinstance(cols, list) or not cols or len(cols) > 2**14:
            raise ModelError("table plan: columns must be a non-empty list")
        delimiter = f.str("delimiter", max_len=1)
        if len(delimiter) != 1 or delimiter in '"\r\n':
            raise ModelError(f"table plan: delimiter {delimiter!r} is not usable")
        columns = tuple(ColumnPlan.from_json(c, len(cols), j) for j, c in enumerate(cols))
        for c in columns:
            if c.derived and any(columns[s].role == "derived" for s in c.derived.sources):
                raise ModelError("table plan: a derived column's source is derived")
        return cls(columns, f.bool("header"), delimiter)


def _encode_column(col: ColumnPlan, enc: EncodedColumn, block: int):
    """(symbols, offsets, rows outside the trained values) of one modelled column."""
    missing = enc.missing.astype(np.int64)
    sym = col.n_values + missing - 1  # missing token k, or EXCEPTION
    present = missing == 0
    if col.role == "category":
        return np.where(present, enc.values, sym), None, []
    bins, offsets, inside = col.number.encode(enc.values, present, block)
    outside = np.flatnonzero(present & ~inside)  # kept as text
    sym = np.where(inside, bins, np.where(present, col.exception, sym))
    return sym, offsets, outside.tolist()


def _decode_column(col: ColumnPlan, sym, offsets, exceptions, block: int) -> EncodedColumn:
    sym = np.asarray(sym, np.int64)
    n_values = col.n_values
    value_rows = sym < n_values
    missing = np.where(value_rows, 0, sym - n_values + 1).astype(np.uint8)
    exceptions = {int(k): v for k, v in exceptions.items()}
    if col.role == "category":
        return EncodedColumn(np.where(value_rows, sym, 0), missing, exceptions)
    known = np.zeros(len(sym), np.int64)
    known_mask = np.zeros(len(sym), np.bool_)
    for i, cell in exceptions.items():  # values kept as text still carry delta chains
        v = col.codec.parse(cell)
        if v is not None and -VALUE_LIMIT <= v <= VALUE_LIMIT and 0 <= i < len(sym):
            known[i], known_mask[i] = v, True
    values = col.number.decode(np.where(value_rows, sym, 0), offsets, value_rows, known,
                               known_mask, block)  # fmt: skip
    if values is None:
        raise DataError("a decoded number lies outside the coded range")
    return EncodedColumn(values, missing, exceptions)
