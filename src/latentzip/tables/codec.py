"""Lossless compression of CSV files with a :class:`TableModel`.

::

    CSV bytes --parse_csv--> Table --schema.encode--> codes (n, D) --encode_blocks--> rANS records
                               |--fallback columns --JSON--> lzma (one stream per column)    |
                               |--verbatim records, header, format --> container meta ------> .lz

The container (codec id 2, ``docs/format.md``) holds the rANS records of the modelled columns
(one stream per block of rows, as for arrays) and, in its JSON header, everything else needed
to write the same bytes: the CSV format, the header line, the lzma-compressed fallback columns
and raw text of non-canonical records, and the SHA-256 of the CSV bytes, checked after
decoding. ``decompress(compress(raw, model), model) == raw`` for every CSV that
:func:`parse_csv` accepts.
"""

from __future__ import annotations

import base64
import hashlib
import json
import lzma

import numpy as np

from latentzip.coding import container, limits, modelfile, records
from latentzip.coding.fields import Fields
from latentzip.coding.records import CodecConfig
from latentzip.errors import ContainerError, DataError, ModelError
from latentzip.tables.csvfile import CsvFormat, Table, format_csv, parse_csv
from latentzip.tables.model import TableModel
from latentzip.tables.schema import TableSchema

__all__ = ["CODEC", "CODEC_TABLE", "compress", "decompress", "decompress_table"]

CODEC = records.CodecId(2, "tables", 1)
CODEC_TABLE = CODEC.id
_ROWS_PER_BATCH = 4096
BLOCK_SIZE = 1024  # rows per rANS stream: its index entry and end cost ~0.2 bits per row


def compress(data: bytes | Table, model: TableModel, config: CodecConfig | None = None) -> bytes:
    """Compress CSV bytes (or a parsed :class:`Table`) with a model trained on such tables.

    Raises
    ------
    DataError
        The bytes are not a CSV this model can code: not UTF-8, ragged rows, another number
        of columns, or a value that is not in its column's dictionary.

    Examples
    --------
    >>> from latentzip.circuits import HCLTConfig
    >>> raw = b"".join(b'%d,"x, %d"\\r\\n' % (i % 4, i % 3) for i in range(50))
    >>> model = TableModel(HCLTConfig.quick(epochs=1, full_batch_epochs=0))
    >>> model = model.fit(parse_csv(raw), progress=False)
    >>> decompress(compress(raw, model), model) == raw
    True
    """
    cfg = config or CodecConfig(block_size=BLOCK_SIZE, batch_size=_ROWS_PER_BATCH)
    schema = _schema(model)
    if isinstance(data, Table):
        table, raw = data, format_csv(data)
    else:
        raw = bytes(data)
        table = parse_csv(raw, header=schema.header, delimiter=schema.delimiter)
        if format_csv(table) != raw:  # parse_csv guarantees this; never write a lossy file
            raise DataError("this CSV cannot be restored exactly (internal check failed)")
    if table.format.header != schema.header:
        raise DataError(
            f"the table {'has' if table.format.header else 'has no'} header line, the model's "
            f"tables {'have' if schema.header else 'have none'}"
        )
    codes = schema.encode(table)
    default = CsvFormat().to_json()
    meta: dict = {
        "kind": "csv",
        "format": {k: v for k, v in table.format.to_json().items() if v != default[k]},
        "n_columns": table.n_columns,
        "n_rows": table.n_rows,
        "sha256": hashlib.sha256(raw).hexdigest(),
    }
    if table.header is not None:
        meta["header"] = list(table.header)
    if schema.fallback:
        meta["fallback"] = {str(j): _pack(list(table.columns[j])) for j in schema.fallback}
    if table.verbatim:
        meta["verbatim"] = _pack({str(i): t for i, t in table.verbatim.items()})
    enc = records.Encoder(
        model.coding_model(),
        CODEC,
        cfg,
        meta,
        extra={"schema_fingerprint": schema.fingerprint[:16]},
        model_meta={"table": schema.to_json()},
    )
    if len(codes):
        enc.add(codes)
    else:
        enc.add_records([], (codes.shape[1],), np.dtype(np.int64).str)
    return enc.finish(allow_empty=True)


def decompress_table(blob: bytes, model: TableModel | None = None) -> Table:
    """The :class:`Table` of a container made by :func:`compress` (model optional if embedded)."""
    return _decode(container.unpack(blob), model)[0]


def decompress(blob: bytes, model: TableModel | None = None) -> bytes:
    """Exact inverse of :func:`compress`: the CSV bytes, checked against their SHA-256."""
    return restore_bytes(container.unpack(blob), model)


def restore_bytes(c: container.Container, model: TableModel | None = None) -> bytes:
    """The CSV bytes of a parsed container, checked against their SHA-256."""
    table, wanted = _decode(c, model)
    raw = format_csv(table)
    if hashlib.sha256(raw).hexdigest() != wanted:
        raise ContainerError("the restored CSV does not match the original's SHA-256")
    return raw


def _decode(c: container.Container, model: TableModel | None) -> tuple[Table, str]:
    if model is None:
        if c.model is None:
            raise ContainerError("this container has no embedded model: pass the model")
        circuit, model_meta = modelfile.from_bytes(c.model, "embedded model")
        if "table" not in model_meta:
            raise ContainerError("the embedded model has no table schema")
        model = TableModel.from_parts(circuit, model_meta)
    schema = _schema(model)
    head = Fields(c.header, "container header")
    if schema.fingerprint[:16] != head.str("schema_fingerprint", max_len=64):
        raise ContainerError("wrong model: the container was made with other column dictionaries")
    decoder = records.Decoder(c, CODEC, model.coding_model())
    meta, budget = decoder.layout.meta, limits.memory_budget(len(c.blob))
    n = meta.int("n_rows", 0, 2**40)
    n_columns = meta.int("n_columns", 1, len(schema.columns))
    if n_columns != len(schema.columns) or decoder.shape != (len(schema.modelled),):
        raise ContainerError("the container's columns do not match the model")
    try:
        fmt = CsvFormat.from_json(meta.obj("format").data)
    except (DataError, TypeError) as exc:
        raise ContainerError(f"invalid table format in the container ({exc})") from exc
    fallback_f = meta.obj("fallback", {})
    fallback = {}
    for key in fallback_f.data:
        cells = _unpack(fallback_f.str(key, max_len=budget), budget, f"column {key}")
        if (
            not key.isdigit()
            or not isinstance(cells, list)
            or not all(isinstance(x, str) for x in cells)
        ):
            raise ContainerError(f"invalid fallback column {key!r} in the container")
        fallback[int(key)] = tuple(cells)
    verbatim = _unpack(meta.str("verbatim", max_len=budget, default=""), budget, "verbatim lines")
    if not isinstance(verbatim, dict) or not all(
        k.isdigit() and int(k) <= n + 1 and isinstance(t, str) for k, t in verbatim.items()
    ):
        raise ContainerError("invalid verbatim lines in the container")
    header = tuple(meta.strs("header", n_columns)) if meta.has("header") else None
    if set(fallback) != set(schema.fallback) or (header is not None) != fmt.header:
        raise ContainerError("the container's columns or header do not match the model")
    codes = decoder.read_all()
    if len(codes) != n:
        raise ContainerError(f"decoded {len(codes)} rows, the header says {n}")
    try:
        columns = schema.decode(codes, fallback)
    except DataError as exc:
        raise ContainerError(str(exc)) from exc
    verbatim = {int(i): t for i, t in verbatim.items()}
    return Table(columns, header, fmt, verbatim), meta.str("sha256", max_len=64)


def _schema(model: TableModel) -> TableSchema:
    schema = getattr(model, "schema_", None)
    if not isinstance(schema, TableSchema):
        raise ModelError("expected a fitted TableModel (a model trained on a table)")
    return schema


def _pack(obj) -> str:
    data = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()
    return base64.b64encode(lzma.compress(data, preset=9)).decode()


def _unpack(text: str, budget: int, what: str):
    if not text:
        return {}
    try:
        data = base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise ContainerError(f"{what}: not valid base64") from exc
    text = limits.inflate_lzma(data, budget // 4, what)  # joined, it may briefly take twice
    return limits.parse_json(text, what, budget // 2)
