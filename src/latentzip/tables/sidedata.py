"""What a table file holds beside the circuit's streams: text columns, exceptions, header line
and verbatim records, each group through the best general compressor.

Layout of the side record: a varint count of sections, then each as a varint length and its
bytes. Section 0 is the JSON description (header cells, verbatim records, exceptions, which
text columns follow and how), packed by :func:`latentzip.coding.general.pack`; then the text
columns, either one section per column or all in one section, whichever is smaller. A text
section is its cells joined by NUL (or, if a cell holds a NUL, a JSON list), packed.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field

from latentzip.coding import general, limits
from latentzip.coding.fields import Fields
from latentzip.coding.parts import pack_parts, unpack_parts
from latentzip.errors import ContainerError

_MAX_SECTIONS = 2**15


@dataclass
class SideData:
    """The parts of a table the circuit does not code."""

    header: tuple[str, ...] | None = None
    verbatim: dict[int, str] = field(default_factory=dict)
    exceptions: dict[int, dict[int, str]] = field(default_factory=dict)
    text: dict[int, list[str]] = field(default_factory=dict)


def encode(side: SideData) -> bytes:
    """The side record of ``side``."""
    columns = sorted(side.text)
    blobs = [_cells_bytes(side.text[j]) for j in columns]
    separate = [general.pack(b) for b in blobs]
    joined = None
    if len(blobs) > 1:
        joined = [general.pack(_cells_bytes([c for j in columns for c in side.text[j]]))]
    text_sections = joined if joined and len(joined[0]) < sum(map(len, separate)) else separate
    misc = {
        "verbatim": {str(i): t for i, t in sorted(side.verbatim.items())},
        "exceptions": {str(j): _rows_cells(e) for j, e in sorted(side.exceptions.items())},
        "text": {"columns": columns, "joined": text_sections is joined},
    }
    if side.header is not None:
        misc["header"] = list(side.header)
    return pack_parts([general.pack(json.dumps(misc, ensure_ascii=False).encode()), *text_sections])


def decode(data: bytes, n_rows: int, n_columns: int, budget: int) -> SideData:
    """Inverse of :func:`encode` for a table of ``n_rows`` x ``n_columns``; every claim is
    checked against ``budget`` bytes."""
    sections = unpack_parts(data, None, "side record", _MAX_SECTIONS)
    if not sections:
        raise ContainerError("side record: no sections")
    misc = limits.parse_json(general.unpack(sections[0], budget // 4, "side record"),
                             "side record", budget // 2)  # fmt: skip
    f = Fields(misc, "side record")
    header = tuple(f.strs("header", n_columns)) if f.has("header") else None
    if header is not None and len(header) != n_columns:
        raise ContainerError("side record: the header line has the wrong number of cells")
    verbatim = {_row(k, n_rows + 1): v for k, v in _str_map(f.obj("verbatim").data).items()}
    exceptions = {}
    for key, value in f.obj("exceptions").data.items():
        j = _row(key, n_columns - 1)
        exceptions[j] = _exceptions(value, n_rows)
    t = f.obj("text")
    columns = t.ints("columns", 0, n_columns - 1, max_len=n_columns)
    if len(set(columns)) != len(columns) or columns != sorted(columns):
        raise ContainerError("side record: text columns must be distinct and ascending")
    joined = t.bool("joined")
    parts = sections[1:]
    if len(parts) != (min(1, len(columns)) if joined else len(columns)):
        raise ContainerError("side record: wrong number of text sections")
    cells = [_cells(general.unpack(p, budget // 4, "text column"), budget) for p in parts]
    if joined and cells:
        flat = cells[0]
        if len(flat) != n_rows * len(columns):
            raise ContainerError("side record: the text columns do not have one cell per row")
        cells = [flat[i * n_rows : (i + 1) * n_rows] for i in range(len(columns))]
    if any(len(c) != n_rows for c in cells):
        raise ContainerError("side record: a text column does not have one cell per row")
    return SideData(header, verbatim, exceptions, dict(zip(columns, cells, strict=True)))


def _cells_bytes(cells: list[str]) -> bytes:
    if any("\0" in c for c in cells):
        return b"J" + json.dumps(cells, ensure_ascii=False).encode()
    return b"N" + "\0".join(cells).encode()


def _cells(data: bytes, budget: int) -> list[str]:
    kind, body = data[:1], data[1:]
    if kind == b"J":
        cells = limits.parse_json(body, "text column", budget // 2)
        if not isinstance(cells, list) or not all(isinstance(c, str) for c in cells):
            raise ContainerError("text column: not a list of cells")
        return cells
    if kind != b"N":
        raise ContainerError("text column: unknown layout")
    limits.check_claim(64 * (body.count(b"\0") + 1) + 4 * len(body), budget, "text column")
    try:
        return body.decode("utf-8").split("\0")
    except UnicodeDecodeError as exc:
        raise ContainerError("text column: not UTF-8") from exc


def _rows_cells(exc: dict[int, str]) -> list:
    rows = sorted(exc)
    gaps = [rows[0]] + [b - a for a, b in itertools.pairwise(rows)] if rows else []
    return [gaps, [exc[i] for i in rows]]


def _exceptions(value, n_rows: int) -> dict[int, str]:
    if not (isinstance(value, list) and len(value) == 2 and _lists(value)):
        raise ContainerError("side record: invalid exceptions")
    gaps, cells = value
    if len(gaps) != len(cells) or not all(isinstance(c, str) for c in cells):
        raise ContainerError("side record: invalid exceptions")
    if not all(type(g) is int and g >= (1 if i else 0) for i, g in enumerate(gaps)):
        raise ContainerError("side record: exception rows must ascend")
    out, row = {}, 0
    for g, c in zip(gaps, cells, strict=True):
        row += g
        out[row] = c
    if row >= n_rows and out:
        raise ContainerError("side record: an exception lies beyond the last row")
    return out


def _lists(value: list) -> bool:
    return all(isinstance(v, list) for v in value)


def _str_map(d) -> dict[str, str]:
    if not all(isinstance(v, str) for v in d.values()):
        raise ContainerError("side record: verbatim records must be strings")
    return d


def _row(key: str, hi: int) -> int:
    if not (isinstance(key, str) and key.isdigit() and len(key) < 19 and int(key) <= hi):
        raise ContainerError(f"side record: invalid index {key!r}")
    return int(key)
