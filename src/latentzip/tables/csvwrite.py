"""Writing CSV records exactly as Python's ``csv.writer`` does, chunk by chunk."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

QUOTING = {"minimal": csv.QUOTE_MINIMAL, "all": csv.QUOTE_ALL}


def writer_for(delimiter: str, term: str, quoting: str):
    buf = io.StringIO(newline="")
    writer = csv.writer(
        buf,
        delimiter=delimiter,
        quotechar='"',
        doublequote=True,
        lineterminator=term,
        quoting=QUOTING[quoting],
    )
    return writer, buf


def format_chunks(
    fmt,
    header: tuple[str, ...] | None,
    verbatim: dict[int, str],
    chunks: Iterable[tuple[tuple[str, ...], ...]],
) -> bytes:
    """The bytes of a table given as consecutive chunks of rows (each a tuple of columns), so
    that only one chunk's cells exist as Python strings at a time."""
    writer, buf = writer_for(fmt.delimiter, fmt.lineterminator, fmt.quoting)
    out = bytearray("\ufeff".encode() if fmt.bom else b"")
    record = 0
    last_verbatim = False

    def rows():
        if header is not None:
            yield list(header)
        for columns in chunks:
            yield from map(list, zip(*columns, strict=True))
            yield None  # end of chunk: flush

    pieces = []
    for rec in rows():
        if rec is None or len(pieces) >= 4096:
            out += "".join(pieces).encode("utf-8")
            pieces = []
            if rec is None:
                continue
        last_verbatim = record in verbatim
        if last_verbatim:
            pieces.append(verbatim[record])
        else:
            writer.writerow(rec)
            pieces.append(buf.getvalue())
            buf.seek(0)
            buf.truncate()
        record += 1
    out += "".join(pieces).encode("utf-8")
    term = fmt.lineterminator.encode()
    if record and not fmt.final_newline and not last_verbatim and out.endswith(term):
        del out[-len(term) :]
    return bytes(out)
