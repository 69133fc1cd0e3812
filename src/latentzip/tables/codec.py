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

from latentzip.circuits import io as model_io
from latentzip.circuits.codec import CodecConfig, decode_blocks, encode_blocks
from latentzip.coding import container
from latentzip.coding.quantise import PRECISION
from latentzip.errors import ContainerError, DataError, ModelError
from latentzip.tables.csvfile import CsvFormat, Table, format_csv, parse_csv
from latentzip.tables.model import TableModel
from latentzip.tables.schema import TableSchema

__all__ = ["CODEC_NAME", "CODEC_TABLE", "compress", "decompress", "decompress_table"]

CODEC_TABLE = 2
CODEC_NAME = "hclt-table-rans"
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
    cfg = config or CodecConfig(block_size=BLOCK_SIZE)
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
    circuit = model.circuit_
    records: list[tuple[bytes, int]] = []
    step = max(cfg.block_size, _ROWS_PER_BATCH // cfg.block_size * cfg.block_size)
    for start in range(0, len(codes), step):
        batch = codes[start : start + step]
        if _constant(circuit):  # every column has one value: nothing to code
            n = len(batch)
            records += [(b"", min(cfg.block_size, n - i)) for i in range(0, n, cfg.block_size)]
        else:
            records += encode_blocks(circuit, batch, cfg.block_size)
    default = CsvFormat().to_json()
    meta: dict = {
        "kind": "csv",
        "format": {k: v for k, v in table.format.to_json().items() if v != default[k]},
        "n_columns": table.n_columns,
        "sha256": hashlib.sha256(raw).hexdigest(),
    }
    if table.header is not None:
        meta["header"] = list(table.header)
    if schema.fallback:
        meta["fallback"] = {str(j): _pack(list(table.columns[j])) for j in schema.fallback}
    if table.verbatim:
        meta["verbatim"] = _pack({str(i): t for i, t in table.verbatim.items()})
    header = {
        "codec": CODEC_NAME,
        "model_fingerprint": model_io.fingerprint(circuit),
        "schema_fingerprint": schema.fingerprint[:16],
        "n_samples": len(codes),
        "sample_shape": [int(codes.shape[1])],
        "dtype": np.dtype(np.int64).str,
        "block_size": cfg.block_size,
        "precision": PRECISION,
        "meta": meta,
    }
    embedded = None
    if cfg.embed_model:
        embedded = model_io.to_bytes(circuit, {"table": schema.to_json()})
    return container.pack(CODEC_TABLE, header, records, embedded)


def decompress_table(blob: bytes, model: TableModel | None = None) -> Table:
    """The :class:`Table` of a container made by :func:`compress` (model optional if embedded)."""
    return _decode(blob, model)[0]


def decompress(blob: bytes, model: TableModel | None = None) -> bytes:
    """Exact inverse of :func:`compress`: the CSV bytes, checked against their SHA-256."""
    table, wanted = _decode(blob, model)
    raw = format_csv(table)
    if hashlib.sha256(raw).hexdigest() != wanted:
        raise ContainerError("the restored CSV does not match the original's SHA-256")
    return raw


def _decode(blob: bytes, model: TableModel | None) -> tuple[Table, str]:
    c = container.unpack(blob, CODEC_TABLE)
    h = c.header
    if model is None:
        if c.model is None:
            raise ContainerError("this container has no embedded model: pass the model")
        circuit, meta = model_io.from_bytes(c.model, "embedded model")
        if "table" not in meta:
            raise ContainerError("the embedded model has no table schema")
        schema = TableSchema.from_json(meta["table"])
    else:
        circuit, schema = model.circuit_, _schema(model)
    found = model_io.fingerprint(circuit)
    if found != h.get("model_fingerprint") or schema.fingerprint[:16] != h.get(
        "schema_fingerprint"
    ):
        raise ContainerError(
            f"wrong model: the container was made with model "
            f"{str(h.get('model_fingerprint'))[:16]}, this model is {found[:16]}"
        )
    try:
        meta = h["meta"]
        fmt = CsvFormat.from_json(meta["format"])
        n = int(h["n_samples"])
        fallback = {int(j): tuple(_unpack(b)) for j, b in meta.get("fallback", {}).items()}
        verbatim = {int(i): t for i, t in _unpack(meta.get("verbatim", "")).items()}
        head = tuple(meta["header"]) if "header" in meta else None
    except (KeyError, TypeError, ValueError, DataError, lzma.LZMAError) as exc:
        raise ContainerError(f"invalid table metadata in the container ({exc})") from exc
    if set(fallback) != set(schema.fallback):
        raise ContainerError("the container's fallback columns do not match the model")
    codes = np.empty((0, len(schema.modelled)), dtype=np.int64)
    if len(c.index):
        per = max(1, _ROWS_PER_BATCH // max(1, int(h["block_size"])))
        parts = []
        for start in range(0, len(c.index), per):
            ids = range(start, min(len(c.index), start + per))
            payloads = [(c.record(i), c.index[i].n_samples) for i in ids]
            if _constant(circuit):
                rows = sum(m for _, m in payloads)
                parts.append(np.zeros((rows, circuit.n_variables), dtype=np.int64))
            else:
                parts.append(decode_blocks(circuit, payloads, [f"record {i}" for i in ids]))
        codes = np.concatenate(parts)
    if len(codes) != n:
        raise ContainerError(f"decoded {len(codes)} rows, the header says {n}")
    return Table(schema.decode(codes, fallback), head, fmt, verbatim), str(meta.get("sha256"))


def _constant(circuit) -> bool:
    return int(circuit.n_categories.max()) == 1


def _schema(model: TableModel) -> TableSchema:
    schema = getattr(model, "schema_", None)
    if not isinstance(schema, TableSchema):
        raise ModelError("expected a fitted TableModel (a model trained on a table)")
    return schema


def _pack(obj) -> str:
    data = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()
    return base64.b64encode(lzma.compress(data, preset=9)).decode()


def _unpack(text: str):
    if not text:
        return {}
    return json.loads(lzma.decompress(base64.b64decode(text, validate=True)).decode())
