"""Verbs for tables: CSV files (byte for byte) and Parquet files (equal tables)."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from latentzip.cliutil import guard_output
from latentzip.coding.codecs import CodecSpec
from latentzip.errors import LatentzipError


def is_parquet(path) -> bool:
    return str(path).lower().endswith(".parquet")


def _no_cluster(args) -> None:
    if getattr(args, "scheduler", None) is not None or getattr(args, "workers", None) is not None:
        raise LatentzipError("--scheduler/--workers are not supported for tables")


def _load_model(path: str):
    from latentzip.coding import modelfile
    from latentzip.tables import TableModel

    model, meta = modelfile.load(path)
    return TableModel.from_model(model, meta, path)


def _read(path, plan=None):
    """(CSV bytes, frame schema or None) of a CSV or Parquet file."""
    from latentzip.tables import frames, read_csv

    if is_parquet(path):
        df = frames.read_parquet(path)
        raw, schema = frames.frame_to_csv(df)
        frames.check_equal(df, frames.csv_to_frame(raw, schema))  # refused, never stored wrong
        return raw, schema
    kw = {} if plan is None else {"header": plan.header, "delimiter": plan.delimiter}
    return read_csv(path, **kw)[1], None


def train(args, cfg) -> None:
    from latentzip.tables import TableModel, parse_csv

    _no_cluster(args)
    if args.checkpoint:
        raise LatentzipError("--checkpoint is not supported for tables")
    table = parse_csv(_read(args.data)[0], source=str(args.data))
    fmt = table.format
    valid = None
    if args.valid:
        valid = parse_csv(_read(args.valid)[0], header=fmt.header, delimiter=fmt.delimiter)
    model = TableModel.for_table(table, embedded=False)  # sized for the table, kept apart
    from latentzip.cli import config_overrides

    overrides = config_overrides(args)
    if args.config != "quick":  # a preset named by the user wins over the sizing
        model.config = cfg
    elif overrides:
        model.config = replace(model.config, **overrides)
    cfg = model.config
    start = time.perf_counter()
    model.fit(table, valid=valid, progress=not args.quiet, engine=args.engine, device=args.device)
    plan = model.plan_
    for j, col in enumerate(plan.columns):
        print(f"{plan.describe(j)}: {_role(col, plan)}")
    if model.hclt_ is None:
        raise LatentzipError("every column is free text: there is nothing for a model to learn")
    model.save_coding_model(args.output)
    if args.float_model:
        model.save(args.float_model)
    print(
        f"trained K={cfg.n_latents} on {table.n_rows} rows x {len(plan.modelled)} modelled "
        f"columns in {time.perf_counter() - start:.1f} s -> {args.output}"
    )
    if valid is not None:
        print(f"best epoch on valid: {model.hclt_.best_epoch_}")
    print(f"train: {model.bits_per_row(table):.2f} bits/row for the circuit's variables")
    if args.test:
        test = parse_csv(_read(args.test)[0], header=plan.header, delimiter=plan.delimiter)
        print(f"test:  {model.bits_per_row(test):.2f} bits/row for the circuit's variables")


def _role(col, plan) -> str:
    if col.role == "derived":
        rule = col.derived
        names = " and ".join(repr(plan.columns[s].name) for s in rule.sources)
        return f"looked up from {names} ({len(rule.keys)} entries)"
    codec = col.codec
    kind = codec.kind + (f" (scale {codec.scale})" if codec.kind == "decimal" else "")
    if col.role == "text":
        return f"{kind}, as text (general compressor)"
    if col.role == "category":
        return f"{len(codec.categories)} categories"
    n = col.number
    how = ("deltas" if n.delta else "values") + (f" in steps of {n.step}" if n.step > 1 else "")
    return f"{kind}, {how} in {col.n_values} bins"


def compress(args) -> None:
    from latentzip.files import atomic_write
    from latentzip.tables.codec import compress_report

    _no_cluster(args)
    if args.block_size is not None:
        raise LatentzipError("--block-size is fixed for tables (4096 rows per record)")
    out = guard_output(Path(args.output or f"{args.input}.lz"), args.input, force=args.force)
    model = _load_model(args.model) if args.model else None
    raw, frame = _read(args.input, model.plan_ if model else None)
    if str(args.input).lower().endswith(".gz"):
        print("note: the input is gzip-compressed: decompress restores the uncompressed CSV")
    start = time.perf_counter()
    blob, report = compress_report(
        raw,
        model,
        embed=True if model is None else args.embed_model,
        progress=not getattr(args, "quiet", False),
        extra={"frame": frame} if frame else None,
    )
    seconds = time.perf_counter() - start
    atomic_write(out, blob, force=args.force)
    how = (
        f"stored by {report.method} ({report.why})"
        if report.mode == "stored"
        else f"{report.n_rows} rows, {8 * len(blob) / max(1, report.n_rows):.2f} bits/row, "
        f"model {'embedded' if report.model_bytes else 'separate'}"
        + (f" ({report.model_bytes} bytes)" if report.model_bytes else "")
    )
    print(
        f"{args.input}: {len(raw)} bytes -> {len(blob)} bytes ({len(raw) / len(blob):.2f}x, "
        f"{how}) in {seconds:.1f} s -> {out}"
    )


def restore(c, args) -> str:
    """Decode a table container and write the CSV bytes or the Parquet file."""
    from latentzip.cli.arrays import restored_path
    from latentzip.files import atomic_write
    from latentzip.tables import frames
    from latentzip.tables.codec import restore_bytes

    _no_cluster(args)
    model = _load_model(args.model) if args.model else None
    frame = c.header.get("frame")
    out = restored_path(args)
    if frame is not None and not args.output and str(out).lower().endswith(".parquet.restored"):
        out = Path(str(out).removesuffix(".parquet.restored") + ".restored.parquet")
    out = guard_output(out, args.input, force=args.force)
    start = time.perf_counter()
    raw = restore_bytes(c, model)
    if frame is not None and is_parquet(out):
        df = frames.csv_to_frame(raw, frame)
        atomic_write(out, frames.parquet_bytes(df), force=args.force)
        what = f"a {df.shape[0]} x {df.shape[1]} table restored as Parquet"
    else:
        atomic_write(out, raw, force=args.force)
        what = f"{len(raw)} bytes of CSV restored"
    return f"{args.input}: {what} in {time.perf_counter() - start:.1f} s -> {out}"


def _spec() -> CodecSpec:
    from latentzip.tables.codec import CODEC, describe

    return CodecSpec(CODEC.id, CODEC.name, CODEC.version, CODEC.version, describe, restore)


SPEC = _spec()
