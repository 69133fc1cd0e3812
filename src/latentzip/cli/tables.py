"""Verbs for CSV tables."""

from __future__ import annotations

import time
from pathlib import Path

from latentzip.cliutil import guard_output
from latentzip.coding.codecs import CodecSpec
from latentzip.errors import LatentzipError


def _no_cluster(args) -> None:
    if getattr(args, "scheduler", None) is not None or getattr(args, "workers", None) is not None:
        raise LatentzipError("--scheduler/--workers are not supported for CSV tables")


def _load_model(path: str):
    from latentzip.coding import modelfile
    from latentzip.tables import TableModel

    model, meta = modelfile.load(path)
    return TableModel.from_parts(model, meta, path)


def train(args, cfg) -> None:
    from latentzip.tables import TableModel, read_csv

    _no_cluster(args)
    if args.checkpoint:
        raise LatentzipError("--checkpoint is not supported for CSV tables")
    table, _ = read_csv(args.data)
    fmt = table.format
    valid = None
    if args.valid:
        valid, _ = read_csv(args.valid, header=fmt.header, delimiter=fmt.delimiter)
    start = time.perf_counter()
    model = TableModel(cfg).fit(
        table, valid=valid, progress=not args.quiet, engine=args.engine, device=args.device
    )
    schema = model.schema_
    for j in schema.fallback:
        print(
            f"note: {schema.describe(j)} is not modelled ({schema.columns[j].reason}): "
            "it will be compressed with lzma"
        )
    model.save_coding_model(args.output)
    if args.float_model:
        model.save(args.float_model)
    cats = schema.n_categories
    print(
        f"trained K={cfg.n_latents} on {table.n_rows} rows x {len(cats)} modelled columns "
        f"({cats.min()}..{cats.max()} values each, {len(schema.fallback)} fallback) in "
        f"{time.perf_counter() - start:.1f} s -> {args.output}"
    )
    if valid is not None:
        print(f"best epoch on valid: {model.hclt_.best_epoch_}")
    print(f"train log-likelihood: {model.score(table):.4f} nats/row")
    if args.test:
        test, _ = read_csv(args.test, header=schema.header, delimiter=schema.delimiter)
        print(f"test  log-likelihood: {model.score(test):.4f} nats/row")


def compress(args) -> None:
    from latentzip.circuits.codec import CodecConfig
    from latentzip.files import atomic_write
    from latentzip.tables import compress, read_csv

    _no_cluster(args)
    out = guard_output(Path(args.output or f"{args.input}.lz"), args.input, force=args.force)
    model = _load_model(args.model)
    schema = model.schema_
    table, raw = read_csv(args.input, header=schema.header, delimiter=schema.delimiter)
    for j in schema.fallback:
        print(
            f"note: {schema.describe(j)} is not modelled ({schema.columns[j].reason}): "
            "compressed with lzma"
        )
    if table.verbatim:
        print(
            f"note: {len(table.verbatim)} lines are not in canonical CSV form (quoting or "
            "line endings): they are stored verbatim, so the bytes are still restored exactly"
        )
    if str(args.input).lower().endswith(".gz"):
        print("note: the input is gzip-compressed: decompress restores the uncompressed CSV")
    block_size = 1024 if args.block_size is None else args.block_size
    cfg = CodecConfig(block_size=block_size, embed_model=args.embed_model)
    start = time.perf_counter()
    blob = compress(raw, model, cfg)
    seconds = time.perf_counter() - start
    atomic_write(out, blob, force=args.force)
    rows = max(1, table.n_rows)
    print(
        f"{args.input}: {len(raw)} bytes, {table.n_rows} rows x {table.n_columns} columns -> "
        f"{len(blob)} bytes ({8 * len(blob) / rows:.2f} bits/row, "
        f"{table.n_rows / seconds:.0f} rows/s) -> {out}"
    )


def restore(c, args) -> str:
    """Decode a table container and write the CSV bytes (``latentzip decompress``)."""
    from latentzip.cli.arrays import restored_path
    from latentzip.files import atomic_write
    from latentzip.tables.codec import restore_bytes

    _no_cluster(args)
    model = _load_model(args.model) if args.model else None
    out = guard_output(restored_path(args), args.input, force=args.force)
    start = time.perf_counter()
    raw = restore_bytes(c, model)
    atomic_write(out, raw, force=args.force)
    return (
        f"{args.input}: {len(raw)} bytes of CSV restored in "
        f"{time.perf_counter() - start:.1f} s -> {out}"
    )


def describe(c) -> list[tuple[str, str]]:
    """What ``latentzip info`` shows of a table container."""
    from latentzip.coding.fields import Fields

    h = Fields(c.header, "header")
    meta = h.obj("meta", {})
    fallback = len(meta.data.get("fallback", {}))
    columns = meta.int("n_columns", 0)
    rows = meta.int("n_rows", 0)
    return [
        ("content", f"CSV table: {rows} rows x {columns} columns ({fallback} by lzma)"),
        ("model", f"{h.str('model_kind', default='hclt')} {h.str('model_fingerprint')}"),
        ("blocks", f"up to {h.int('block_size', 1)} rows per record"),
        ("bits/row", f"{8 * len(c.blob) / rows:.2f}" if rows else "n/a (no rows)"),
    ]


def _spec() -> CodecSpec:
    from latentzip.tables.codec import CODEC

    return CodecSpec(CODEC.id, CODEC.name, CODEC.version, CODEC.version, describe, restore)


SPEC = _spec()
