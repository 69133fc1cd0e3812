"""Lossless compression of CSV files: a learned model of the columns, or the best general
compressor when that is smaller.

::

    CSV bytes --parse_csv--> Table --TablePlan.encode--> symbols (n, D) --circuit--> rANS
                               |                     \\-> residuals (n, R) --uniform--> rANS
                               \\-- text columns, exceptions, header, verbatim --> xz/zstd/brotli

The container (codec 2, bitstream version 3, reads 2, ``docs/format.md``) holds, in ``mode: model``:
record 0, the side data (:mod:`.sidedata`); records 1.., one per block of rows: the circuit's
stream and the residuals' stream; the model, embedded unless it is given separately. In
``mode: stored`` record 0 is the whole file through xz or zstd, whichever is smaller
(:func:`compress` picks it when the learned file would be larger, or when the bytes are not a
table it can model). Either way the restored bytes are checked against a SHA-256 (128 bits).

With no model, :func:`compress` trains one on the file itself and embeds it (the default:
a self-contained file whose size counts the model); with a model trained on other files of
the same layout, the file holds a fingerprint and the rows only.
"""

from __future__ import annotations

import hashlib
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from latentzip.coding import container, general, limits, modelfile, records
from latentzip.coding.fields import Fields
from latentzip.errors import ContainerError, DataError, ModelError
from latentzip.tables import blocks, sidedata
from latentzip.tables.csvfile import CsvFormat, Table, format_chunks, parse_csv
from latentzip.tables.model import TableModel
from latentzip.tables.plan import BLOCK_ROWS, CodedColumns, TablePlan

__all__ = ["CODEC", "CODEC_TABLE", "Report", "compress", "compress_report", "decompress"]

CODEC = records.CodecId(2, "tables", 3)
READS = (2, 3)  # bitstream versions read: 3 added derived columns (a plan role) to 2
CODEC_TABLE = CODEC.id
_SHA_HEX = 32  # 128 bits of SHA-256
_CHUNK_BYTES = 64 * 2**20  # decoded rows' arrays per chunk
_WIDE = 256  # more columns than this and than rows: no model is trained on the file


@dataclass(frozen=True)
class Report:
    """What :func:`compress_report` wrote."""

    mode: str  # "model" or "stored"
    n_bytes: int  # the container
    n_rows: int
    method: str = ""  # stored: xz or zstd
    why: str = ""  # stored: why not the model
    model_bytes: int = 0  # embedded model
    circuit_bytes: int = 0
    residual_bytes: int = 0
    side_bytes: int = 0


def compress(data: bytes, model: TableModel | None = None, **kwargs) -> bytes:
    """Compress CSV bytes; see :func:`compress_report`."""
    return compress_report(data, model, **kwargs)[0]


def compress_report(
    data: bytes,
    model: TableModel | None = None,
    *,
    embed: bool | None = None,
    safeguard: bool | None = None,
    progress: bool = False,
    extra: dict | None = None,
) -> tuple[bytes, Report]:
    """Compress CSV bytes: ``(container, report)``.

    Parameters
    ----------
    model : TableModel, optional
        A model trained on tables of this layout. Without one, a model is trained on the file
        (:meth:`TableModel.for_table`) and embedded.
    embed : bool, optional
        Embed the model (default: only when it was trained here).
    safeguard : bool, optional
        Also compress the whole file with xz and zstd and store that if it is smaller
        (default: only when the model was trained here).
    extra : dict, optional
        More JSON header fields (a DataFrame's schema: :mod:`.frames`).

    Raises
    ------
    DataError
        With a model: the bytes are not a CSV of its layout (not UTF-8, other columns, other
        delimiter or header). Without one, any bytes compress (stored if not a table).

    Examples
    --------
    >>> raw = b"".join(b'%d,"x, %d",%d.5\\n' % (i % 4, i % 3, i) for i in range(300))
    >>> blob, report = compress_report(raw)
    >>> decompress(blob) == raw, len(blob) < len(raw) / 4, report.mode in ("model", "stored")
    (True, True, True)
    """
    raw = bytes(data)
    own = model is None
    embed = own if embed is None else embed
    safeguard = own if safeguard is None else safeguard
    with ThreadPoolExecutor(1) as pool:  # xz/zstd release the GIL: they run beside training
        fallback = pool.submit(general.pack, raw, (general.XZ, general.ZSTD)) if safeguard else None
        try:
            table = _parse(raw, model)
            if own and table.n_rows == 0:
                raise DataError("the table has no data rows")
            if own and table.n_columns > max(_WIDE, table.n_rows):
                # structure learning costs columns^2; with fewer rows than columns a model
                # trained on this file cannot pay for itself
                raise DataError(f"{table.n_columns} columns and only {table.n_rows} rows")
        except DataError as exc:
            if not own:
                raise
            packed = fallback.result() if fallback else general.pack(raw, (general.XZ,))
            return _stored(raw, packed, f"not a table it can model: {exc}", extra)
        if own:
            model = TableModel.for_table(table).fit(table, progress=progress)
        blob, report = _learned(raw, table, model, embed, extra)
        if fallback is not None:
            stored = _stored(raw, fallback.result(), "the general compressor is smaller", extra)
            if len(stored[0]) < len(blob):
                return stored
    return blob, report


def _parse(raw: bytes, model: TableModel | None) -> Table:
    if model is None:
        return parse_csv(raw)
    plan = _plan(model)
    table = parse_csv(raw, header=plan.header, delimiter=plan.delimiter)
    plan.check(table)
    return table


def _plan(model: TableModel):
    if not isinstance(model, TableModel) or not hasattr(model, "plan_"):
        raise ModelError("expected a fitted TableModel (a model trained on a table)")
    return model.plan_


def _stored(raw: bytes, packed: bytes, why: str, extra: dict | None) -> tuple[bytes, Report]:
    header = {**(extra or {}), "mode": "stored", "n_bytes": len(raw), "sha": _sha(raw)}
    if not why.startswith("the general"):
        header["why"] = why[:200]
    blob = container.pack(CODEC.id, CODEC.version, header, [(packed, 0, zlib.crc32(raw))])
    return blob, Report("stored", len(blob), 0, general.method_of(packed), why)


def _sha(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()[:_SHA_HEX]


def _learned(
    raw: bytes, table: Table, model: TableModel, embed: bool, extra: dict | None
) -> tuple[bytes, Report]:
    plan = _plan(model)
    coder = model.coding_model()
    block = BLOCK_ROWS if coder is None else min(BLOCK_ROWS, records.max_block(coder))
    coded = plan.encode(table, block)
    side = sidedata.encode(
        sidedata.SideData(table.header, table.verbatim, coded.exceptions, coded.text)
    )
    recs = [(side, 0, zlib.crc32(side))]
    sizes = [0, 0]
    if coder is not None:
        for payload, m, check, split in blocks.encode_blocks(plan, coder, coded, block):
            recs.append((payload, m, check))
            sizes[0] += split
            sizes[1] += len(payload) - split
    default = CsvFormat().to_json()
    header = {
        **(extra or {}),
        "mode": "model",
        "n_rows": table.n_rows,
        "n_columns": table.n_columns,
        "block_rows": block,
        "format": {k: v for k, v in table.format.to_json().items() if v != default[k]},
        "n_bytes": len(raw),
        "sha": _sha(raw),
        "model_fingerprint": model.fingerprint,
    }
    embedded = None
    if embed and coder is not None:
        embedded = model.to_bytes()
    elif embed:  # every column is text: the plan is the whole model
        header["plan"] = plan.to_json()
    blob = container.pack(CODEC.id, CODEC.version, header, recs, embedded)
    report = Report(
        "model", len(blob), table.n_rows, model_bytes=len(embedded or b""),
        circuit_bytes=sizes[0], residual_bytes=sizes[1], side_bytes=len(side),
    )  # fmt: skip
    return blob, report


# ----------------------------------------------------------------------------- decoding
def decompress(blob: bytes, model: TableModel | None = None) -> bytes:
    """Exact inverse of :func:`compress` (the model only if it was not embedded)."""
    return restore_bytes(container.unpack(blob), model)


def restore_bytes(c: container.Container, model: TableModel | None = None) -> bytes:
    """The CSV bytes of a parsed container, checked against their SHA-256."""
    if c.codec != CODEC.id or not READS[0] <= c.codec_version <= READS[1]:
        raise ContainerError(
            f"expected a tables container (codec {CODEC.id}, versions {READS[0]}..{READS[1]}), "
            f"found codec {c.codec} version {c.codec_version}"
        )
    h = Fields(c.header, "container header")
    budget = limits.memory_budget(len(c.blob))
    n_bytes = h.int("n_bytes", 0, 2**62)
    limits.check_claim(n_bytes, budget, "the restored file", "")
    if h.str("mode", ("model", "stored")) == "stored":
        if len(c.index) != 1:
            raise ContainerError("a stored table holds exactly one record")
        raw = general.unpack(c.record(0), n_bytes, "stored file")
        if zlib.crc32(raw) != c.index[0].check:
            raise ContainerError("stored file: decoded data fails its check (corrupted)")
    else:
        fmt, header, verbatim, chunks = _decode_chunks(c, h, model, budget)
        raw = format_chunks(fmt, header, verbatim, chunks)
    if len(raw) != n_bytes or _sha(raw) != h.str("sha", max_len=64):
        raise ContainerError("the restored CSV does not match the original's SHA-256")
    return raw


def decompress_table(blob: bytes, model: TableModel | None = None) -> Table:
    """The :class:`Table` of a learned container (not of a stored one: use decompress)."""
    c = container.unpack(blob)
    h = Fields(c.header, "container header")
    if h.str("mode", ("model", "stored")) != "model":
        raise ContainerError("this table was stored by a general compressor: use decompress")
    fmt, header, verbatim, chunks = _decode_chunks(c, h, model, limits.memory_budget(len(c.blob)))
    parts = list(chunks)
    n_columns = h.int("n_columns", 1, 2**14)
    columns = tuple(tuple(cell for part in parts for cell in part[j]) for j in range(n_columns))
    return Table(columns, header, fmt, verbatim)


def _decode_chunks(c, h: Fields, model: TableModel | None, budget: int):
    """``(format, header, verbatim, chunks)``: the rows' cells come chunk by chunk (a few
    blocks at a time), so a long table never exists as Python strings all at once."""
    model = _resolve_model(c, h, model)
    plan = model.plan_
    coder = model.coding_model()
    n = h.int("n_rows", 0, 2**40)
    n_columns = h.int("n_columns", 1, 2**14)
    block = h.int("block_rows", 1, BLOCK_ROWS)
    if n_columns != len(plan.columns):
        raise ContainerError("the container's columns do not match the model")
    width = 16 * (len(plan.modelled) + len(plan.numbers) + 1)  # bytes per row of arrays
    per_chunk = max(1, min(blocks.BLOCKS_PER_BATCH, _CHUNK_BYTES // (width * block)))
    limits.check_claim(2 * width * block * per_chunk, budget, f"decoding blocks of {block} rows")
    n_blocks = -(-n // block) if coder is not None else 0
    if len(c.index) != 1 + n_blocks or c.index[0].n_samples != 0:
        raise ContainerError(f"{len(c.index)} records for {n} rows in blocks of {block}")
    for i, e in enumerate(c.index[1:]):
        if e.n_samples != min(block, n - i * block):
            raise ContainerError(f"record {i + 1}: {e.n_samples} rows, expected a full block")
    try:
        fmt = CsvFormat.from_json({**CsvFormat().to_json(), **h.obj("format").data})
    except (DataError, TypeError) as exc:
        raise ContainerError(f"invalid table format in the container ({exc})") from exc
    side_raw = c.record(0)
    if zlib.crc32(side_raw) != c.index[0].check:
        raise ContainerError("record 0: fails its check")
    side = sidedata.decode(side_raw, n, n_columns, budget)
    if (side.header is not None) != fmt.header or set(side.text) != {
        j for j, col in enumerate(plan.columns) if col.role == "text"
    }:
        raise ContainerError("the container's header or text columns do not match the model")
    for j, cells in side.text.items():
        if len(cells) != n:
            raise ContainerError(f"text column {j + 1}: {len(cells)} cells for {n} rows")
    step = block * per_chunk
    exceptions = _exceptions_by_chunk(side.exceptions, n, step)

    def chunks():  # a chunk's records are decoded only when its rows are written
        for k, lo in enumerate(range(0, n, step)):
            hi = min(n, lo + step)
            symbols = np.zeros((hi - lo, len(plan.modelled)), np.int64)
            offsets = np.zeros((hi - lo, len(plan.numbers)), np.int64)
            if coder is not None:
                first = 1 + lo // block
                ids = range(first, first + -(-(hi - lo) // block))
                blocks.decode_blocks(c, plan, coder, block, ids, symbols, offsets)
            text = {j: cells[lo:hi] for j, cells in side.text.items()}
            try:
                yield plan.decode(CodedColumns(symbols, offsets, exceptions[k], text), block)
            except DataError as exc:
                raise ContainerError(str(exc)) from exc

    return fmt, side.header, side.verbatim, chunks()


def _exceptions_by_chunk(exceptions: dict, n: int, step: int) -> list[dict]:
    """Column -> row -> cell, split into chunks of ``step`` rows (rows counted in the chunk)."""
    out = [{} for _ in range(-(-n // step))]
    for j, rows in exceptions.items():
        for i, cell in rows.items():
            if not 0 <= i < n:
                raise ContainerError(f"column {j + 1}: exception in row {i} of {n}")
            out[i // step].setdefault(j, {})[i % step] = cell
    return out


def _resolve_model(c, h: Fields, model: TableModel | None) -> TableModel:
    if model is None and c.model is None and h.has("plan"):
        try:
            model = TableModel.from_plan(TablePlan.from_json(h.obj("plan").data))
        except (ModelError, DataError) as exc:
            raise ContainerError(f"the container's column plan is invalid ({exc})") from exc
    if model is None:
        if c.model is None:
            raise ContainerError("this container has no embedded model: pass the model")
        circuit, meta = modelfile.from_bytes(c.model, "embedded model")
        try:
            model = TableModel.from_model(circuit, meta, "embedded model")
        except ModelError as exc:
            raise ContainerError(str(exc)) from exc
    _plan(model)
    wanted = h.str("model_fingerprint", max_len=128)
    if model.fingerprint != wanted:
        raise ContainerError(
            f"wrong model: the container was made with model {wanted[:16]}, this model is "
            f"{model.fingerprint[:16]}"
        )
    return model


def describe(c: container.Container) -> list[tuple[str, str]]:
    """What ``latentzip info`` shows of a table container."""
    h = Fields(c.header, "header")
    n_bytes = h.int("n_bytes", 0)
    ratio = f"{n_bytes / len(c.blob):.2f}x" if c.blob else "n/a"
    if h.str("mode", ("model", "stored")) == "stored":
        why = h.str("why", max_len=400, default="the general compressor was smaller")
        method = general.method_of(c.record(0)[:1]) if c.index else "?"
        return [
            ("content", f"CSV file of {n_bytes} bytes, stored by {method} ({why})"),
            ("ratio", ratio),
        ]
    rows = h.int("n_rows", 0)
    model = "embedded" if c.model is not None else "separate"
    model += f", {len(c.model)} bytes" if c.model else ""
    return [
        ("content", f"CSV table: {rows} rows x {h.int('n_columns', 0)} columns, {n_bytes} bytes"),
        ("model", f"{model}, fingerprint {h.str('model_fingerprint', max_len=128)[:16]}"),
        ("blocks", f"up to {h.int('block_rows', 1)} rows per record"),
        ("bits/row", f"{8 * len(c.blob) / rows:.2f}" if rows else "n/a (no rows)"),
        ("ratio", ratio),
    ]
