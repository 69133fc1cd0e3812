"""CSV bytes <-> a :class:`Table` of cell strings, with everything needed to give the bytes back.

::

    bytes --utf-8--> text --csv.reader--> records (header?, rows of cells)
                       \\--canonical csv.writer per record == raw record text?--/
                            no: that record's raw text is kept verbatim

Cells stay the exact strings of the file (``"1.0"`` and ``"1"`` differ; an empty cell is a
missing value), so the values alone restore the file whenever it is written the way Python's
``csv.writer`` writes it with the detected delimiter, line ending and quoting (minimal, or
every field quoted). A record that is not (a field quoted without need, a stray ``\\n`` in a
``\\r\\n`` file, ...) keeps its raw text in :attr:`Table.verbatim`, so :func:`format_csv`
always gives back the same bytes; :attr:`Table.exact_from_values` says whether the values
alone would have.

Fields of any length are read (up to 2 GiB, not the csv module's default 128 KiB), but a table
may have at most :data:`MAX_COLUMNS` columns: wider ones are refused while reading, before the
rest of the file is parsed (the column model learns from all pairs of columns, so its cost
grows with the square of the width).
"""

from __future__ import annotations

import csv
import re
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from latentzip.data.loaders import read_maybe_gzip
from latentzip.errors import DataError
from latentzip.tables.csvwrite import QUOTING, format_chunks, writer_for

__all__ = [
    "MAX_COLUMNS",
    "CsvFormat",
    "Table",
    "format_csv",
    "is_csv_path",
    "is_number",
    "parse_csv",
    "read_csv",
]

#: Widest table accepted (Excel's limit). The column model's pairwise statistics take
#: ``8 * columns**2`` bytes: 2 GiB here, 2 TiB for 500,000 columns.
MAX_COLUMNS = 16384
#: Longest field read: the largest value ``csv.field_size_limit`` takes on every platform
#: (a C long, 32 bits on Windows).
MAX_FIELD_CHARS = 2**31 - 1

_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


@dataclass(frozen=True)
class CsvFormat:
    """How a table is written as text.

    Attributes
    ----------
    delimiter : str
        One character between fields (``","``).
    lineterminator : str
        ``"\\n"`` or ``"\\r\\n"``, the majority ending of the records (ties: "\\r\\n").
    quoting : str
        ``"minimal"`` (quote only fields that need it) or ``"all"``.
    header : bool
        Whether the first record is a header.
    final_newline : bool
        Whether the file ends with a line terminator.
    bom : bool
        Whether the file starts with a UTF-8 byte order mark.
    """

    delimiter: str = ","
    lineterminator: str = "\n"
    quoting: str = "minimal"
    header: bool = False
    final_newline: bool = True
    bom: bool = False

    def to_json(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @classmethod
    def from_json(cls, d: dict) -> CsvFormat:
        """The format of :meth:`to_json`; anything it could not have written is refused."""
        if not isinstance(d, dict):
            raise DataError(f"unknown CSV format {d!r}")
        fmt = cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})
        flags = (fmt.header, fmt.final_newline, fmt.bom)
        if (
            fmt.quoting not in QUOTING
            or fmt.lineterminator not in ("\n", "\r\n")
            or not isinstance(fmt.delimiter, str)
            or len(fmt.delimiter) != 1
            or fmt.delimiter in '"\r\n'
            or not all(isinstance(f, bool) for f in flags)
        ):
            raise DataError(f"unknown CSV format {d!r}")
        return fmt


@dataclass(frozen=True, eq=False)
class Table:
    """A parsed CSV file.

    Attributes
    ----------
    columns : tuple of tuple of str
        ``columns[j][i]`` is the cell of data row ``i`` (header excluded) in column ``j``.
    header : tuple of str or None
        The header cells, if the file has a header.
    format : CsvFormat
    verbatim : dict of int to str
        Raw text (terminator included, except for a last line without one) of the records
        that the canonical writer does not reproduce; record 0 is the header if there is one.
    """

    columns: tuple[tuple[str, ...], ...]
    header: tuple[str, ...] | None
    format: CsvFormat
    verbatim: dict[int, str] = field(default_factory=dict)

    @property
    def n_rows(self) -> int:
        return len(self.columns[0]) if self.columns else 0

    @property
    def n_columns(self) -> int:
        return len(self.columns)

    @property
    def exact_from_values(self) -> bool:
        """True if the values and :attr:`format` alone restore the original bytes."""
        return not self.verbatim

    def records(self) -> Iterator[list[str]]:
        """Header (if any) then data rows, as lists of cells."""
        if self.header is not None:
            yield list(self.header)
        for row in zip(*self.columns, strict=True):
            yield list(row)


def is_csv_path(path: str | Path) -> bool:
    """Whether a path names a CSV file (``.csv`` or ``.csv.gz``, any case)."""
    return str(path).lower().removesuffix(".gz").endswith(".csv")


def is_number(cell: str) -> bool:
    """Whether a cell is a plain decimal number (``-1``, ``2.50``, ``1e-3``)."""
    return _NUMBER.fullmatch(cell) is not None


def read_csv(
    path: str | Path, *, header: bool | None = None, delimiter: str = ","
) -> tuple[Table, bytes]:
    """Read a CSV file (``.gz`` is decompressed first): the table and the CSV bytes."""
    raw = read_maybe_gzip(Path(path))
    return parse_csv(raw, header=header, delimiter=delimiter, source=str(path)), raw


def parse_csv(
    raw: bytes, *, header: bool | None = None, delimiter: str = ",", source: str = "<bytes>"
) -> Table:
    """Parse CSV bytes (UTF-8) into a :class:`Table` that :func:`format_csv` turns back into them.

    Parameters
    ----------
    raw : bytes
        The file's content.
    header : bool or None
        Whether the first record is a header; ``None`` guesses: a first record of distinct,
        non-empty, non-numeric cells that do not recur in their columns.
    delimiter : str
        The field separator, one character.
    source : str
        Name used in error messages.

    Raises
    ------
    DataError
        Not UTF-8, empty, bare ``\\r`` line endings, a quote that is never closed, more than
        :data:`MAX_COLUMNS` columns. Ragged rows are not an error: the table takes the most
        common row length and keeps the other rows verbatim.

    Examples
    --------
    >>> raw = b'id,name\\r\\n1,"Smith, J."\\r\\n2,\\r\\n'
    >>> t = parse_csv(raw)
    >>> t.header, t.columns, t.format.lineterminator
    (('id', 'name'), (('1', '2'), ('Smith, J.', '')), '\\r\\n')
    >>> format_csv(t) == raw
    True
    """
    if len(delimiter) != 1 or delimiter in '"\r\n':
        raise DataError(
            f"delimiter must be one character other than quote or newline: {delimiter!r}"
        )
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DataError(f"{source}: UTF-16 text is not supported; re-encode the file as UTF-8")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{source}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start} "
            "cannot be decoded); re-encode the file as UTF-8"
        ) from exc
    bom = text.startswith("\ufeff")
    text = text.removeprefix("\ufeff")
    if not text:
        raise DataError(f"{source}: empty file")
    final_newline = text.endswith("\n")
    records, raws = _records(_lines(text), delimiter, source)
    ended = [r for r in raws if r.endswith("\n")]  # the record terminators, not quoted newlines
    crlf = sum(r.endswith("\r\n") for r in ended)
    term = "\r\n" if ended and 2 * crlf >= len(ended) else "\n"
    if all(len(rec) <= 1 for rec in records):  # one column: an empty line is a missing value
        records = [rec or [""] for rec in records]
    # ragged rows: the most common width wins; the others are padded (or cut) to it and kept
    # verbatim below, since the canonical writer cannot give them back
    lengths = Counter(len(rec) for rec in records)
    width = max(lengths, key=lambda w: (w > 0, lengths[w], w == len(records[0])))
    records = [rec if len(rec) == width else (rec + [""] * width)[:width] for rec in records]
    has_header = _guess_header(records) if header is None else bool(header)
    quoting, verbatim = _best_quoting(records, raws, delimiter, term, final_newline)
    fmt = CsvFormat(delimiter, term, quoting, has_header, final_newline, bom)
    head = tuple(records[0]) if has_header else None
    body = records[1:] if has_header else records
    columns = tuple(zip(*body, strict=True)) if body else tuple(() for _ in range(width))
    return Table(columns, head, fmt, verbatim)


def format_csv(table: Table) -> bytes:
    """The bytes of ``table``: inverse of :func:`parse_csv` (UTF-8, BOM if it had one)."""
    return format_chunks(table.format, table.header, table.verbatim, [table.columns])


def _lines(text: str) -> list[str]:
    """Lines split after each ``\\n`` only (``str.splitlines`` also splits on \\x0b, ...)."""
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def _records(lines: list[str], delimiter: str, source: str) -> tuple[list[list[str]], list[str]]:
    """Parsed records and the raw text of each (the lines the reader consumed for it)."""
    with _long_fields():
        records, raws = _read_records(lines, delimiter, source)
        _check_closed(records, raws, delimiter, source)
    return records, raws


def _read_records(
    lines: list[str], delimiter: str, source: str
) -> tuple[list[list[str]], list[str]]:
    reader = csv.reader(iter(lines), delimiter=delimiter, quotechar='"', doublequote=True)
    records, raws, used = [], [], 0
    try:
        for rec in reader:
            if len(rec) > MAX_COLUMNS:  # refuse before reading (and storing) the rest
                line = 1 + sum(r.count("\n") for r in raws)
                raise DataError(
                    f"{source}: line {line} has {len(rec)} fields; at most {MAX_COLUMNS} "
                    "columns are supported"
                )
            records.append(rec)
            raws.append("".join(lines[used : reader.line_num]))
            used = reader.line_num
    except csv.Error as exc:
        hint = " (bare \\r line endings are not supported)" if "new-line" in str(exc) else ""
        raise DataError(f"{source}: line {reader.line_num}: malformed CSV: {exc}{hint}") from exc
    if not records:
        raise DataError(f"{source}: no records")
    return records, raws


def _check_closed(records: list[list[str]], raws: list[str], delimiter: str, source: str) -> None:
    try:  # only the last record can hold a quote that is never closed: it runs to the end
        list(csv.reader([raws[-1]], delimiter=delimiter, quotechar='"', strict=True))
    except csv.Error as exc:
        if "unexpected end of data" in str(exc):
            line = 1 + sum(r.count("\n") for r in raws[:-1])
            raise DataError(
                f"{source}: line {line}: malformed CSV: a quoted field is never closed"
            ) from exc


_limit_lock = threading.Lock()
_limit_users = 0
_limit_saved = 0


@contextmanager
def _long_fields():
    """Raise the csv module's global field size limit while any of our parses runs.

    The limit is process-wide, so concurrent parses share one raise: the first in saves the
    old value, the last out restores it.
    """
    global _limit_users, _limit_saved
    with _limit_lock:
        if _limit_users == 0:
            _limit_saved = csv.field_size_limit(MAX_FIELD_CHARS)
        _limit_users += 1
    try:
        yield
    finally:
        with _limit_lock:
            _limit_users -= 1
            if _limit_users == 0:
                csv.field_size_limit(_limit_saved)


def _best_quoting(
    records: list[list[str]], raws: list[str], delimiter: str, term: str, final_newline: bool
) -> tuple[str, dict[int, str]]:
    """The quoting style that reproduces the most records, and the records it does not."""
    best: tuple[str, dict[int, str]] | None = None
    for quoting in QUOTING:
        writer, buf = writer_for(delimiter, term, quoting)
        writer.writerows(records)
        canonical = buf.getvalue()
        if not final_newline:
            canonical = canonical.removesuffix(term)
        if canonical == "".join(raws):
            return quoting, {}
        verbatim = {}
        last = len(records) - 1
        for i, (rec, raw_text) in enumerate(zip(records, raws, strict=True)):
            buf.seek(0)
            buf.truncate()
            writer.writerow(rec)
            line = buf.getvalue()
            if i == last and not final_newline:
                line = line.removesuffix(term)
            if line != raw_text:
                verbatim[i] = raw_text
        if best is None or len(verbatim) < len(best[1]):
            best = (quoting, verbatim)
    assert best is not None
    return best


def _guess_header(records: list[list[str]]) -> bool:
    if len(records) < 2:
        return False
    first = records[0]
    if any(not c or is_number(c) for c in first) or len(set(first)) != len(first):
        return False
    body = records[1:]
    return all(cell not in {row[j] for row in body} for j, cell in enumerate(first))
