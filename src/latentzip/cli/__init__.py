"""The ``latentzip`` command line: parse, call the library, print."""

from __future__ import annotations

import argparse
import glob
import sys
import time
from pathlib import Path

import numpy as np

from latentzip.cliutil import given, guard_output, read_input
from latentzip.errors import LatentzipError
from latentzip.motion.cli import add_motion_parser
from latentzip.splats.cli import add_splats_parser


def _train(args) -> None:
    from latentzip.circuits import HCLTConfig

    overrides = given(
        n_latents=args.latents,
        epochs=args.epochs,
        batch_size=args.batch_size,
        full_batch_epochs=args.full_batch_epochs,
        seed=args.seed,
    )
    cfg = getattr(HCLTConfig, args.config)(**overrides)
    # checked before training, which can take hours
    guard_output(Path(args.output), args.data, force=args.force, role="training data")
    if _is_table(args.data):
        _train_table(args, cfg)
        return
    if _distributed(args):
        _train_distributed(args, cfg)
        return
    from latentzip.circuits import HCLT
    from latentzip.data import load

    data = load(args.data)
    valid = load(args.valid).data if args.valid else None
    if valid is not None and args.checkpoint:
        raise LatentzipError("--valid (early stopping) cannot be combined with --checkpoint")
    start = time.perf_counter()
    model = HCLT(cfg).fit(
        data.data,
        data.n_categories,
        valid=valid,
        checkpoint=args.checkpoint,
        progress=not args.quiet,
    )
    model.save(args.output)
    print(
        f"trained K={cfg.n_latents} on {data.n_records} records x {data.n_variables} "
        f"variables in {time.perf_counter() - start:.1f} s -> {args.output}"
    )
    print(f"train bits/dim: {model.bits_per_dim(data.data):.4f}")
    if args.test:
        test = load(args.test)
        print(f"test  bits/dim: {model.bits_per_dim(test.data):.4f}")


def _train_distributed(args, cfg) -> None:
    from latentzip import distributed
    from latentzip.data import load

    if args.checkpoint:
        raise LatentzipError("--checkpoint is not supported with --scheduler/--workers")
    shards = distributed.find_shards(args.data)  # before starting or reaching a cluster
    start = time.perf_counter()
    with distributed.connect(args.scheduler, args.workers) as client:
        model = distributed.fit(client, shards, cfg, progress=not args.quiet)
        model.save(args.output)
        c = model.circuit_
        print(
            f"trained K={c.n_latents} on the shards of {args.data} ({c.n_variables} variables, "
            f"{len(model.history_)} full-batch EM epochs on {_n_workers(client)} workers) in "
            f"{time.perf_counter() - start:.1f} s -> {args.output}"
        )
        print(f"train bits/dim: {distributed.bits_per_dim(client, shards, model):.4f}")
    if args.test:
        print(f"test  bits/dim: {model.bits_per_dim(load(args.test).data):.4f}")


def _distributed(args) -> bool:
    return args.scheduler is not None or args.workers is not None


def _n_workers(client) -> int:
    return len(client.scheduler_info().get("workers", {}))


def _compress(args) -> None:
    if _is_table(args.input):
        _compress_table(args)
        return
    from latentzip.circuits import HCLT
    from latentzip.circuits.codec import CodecConfig, compress
    from latentzip.data.sources import read_source
    from latentzip.files import atomic_write

    if _distributed(args) and not args.output and glob.has_magic(args.input):
        raise LatentzipError("give the output file with -o when the input is a glob")
    out = guard_output(
        Path(args.output or f"{str(args.input).rstrip('/')}.lz"), args.input, force=args.force
    )
    model = HCLT.load(args.model)
    block_size = 64 if args.block_size is None else args.block_size
    cfg = CodecConfig(block_size=block_size, embed_model=args.embed_model)
    if _distributed(args):
        _compress_distributed(args, model, cfg, out)
        return
    samples, meta = read_source(args.input)
    start = time.perf_counter()
    blob = compress(samples, model, cfg, meta)
    seconds = time.perf_counter() - start
    atomic_write(out, blob, force=args.force)
    print(
        f"{args.input}: {samples.size} bytes -> {len(blob)} bytes "
        f"({8 * len(blob) / samples.size:.4f} bits/dim, {len(samples) / seconds:.0f} "
        f"samples/s) -> {out}"
    )


def _compress_distributed(args, model, cfg, out: Path) -> None:
    from latentzip import distributed
    from latentzip.coding.container import unpack
    from latentzip.files import atomic_write

    shards = distributed.find_shards(args.input)
    start = time.perf_counter()
    with distributed.connect(args.scheduler, args.workers) as client:
        blob = distributed.compress(client, shards, model, cfg)
        workers = _n_workers(client)
    seconds = time.perf_counter() - start
    atomic_write(out, blob, force=args.force)
    h = unpack(blob).header
    dims = h["n_samples"] * int(np.prod(h["sample_shape"]))
    print(
        f"{args.input}: {len(h['meta']['shards'])} shards, {h['n_samples']} samples -> "
        f"{len(blob)} bytes ({8 * len(blob) / dims:.4f} bits/dim, "
        f"{h['n_samples'] / seconds:.0f} samples/s on {workers} workers) -> {out}"
    )


def _decompress_distributed(args, blob: bytes, model, out: Path) -> None:
    from latentzip import distributed
    from latentzip.coding.container import unpack
    from latentzip.data.sources import write_source

    meta = unpack(blob).header.get("meta", {})
    start = time.perf_counter()
    with distributed.connect(args.scheduler, args.workers) as client:
        if meta.get("kind") == "shards":
            paths = distributed.decompress(client, blob, model, out, force=args.force)
            what = f"{len(paths)} shards"
        else:
            samples = distributed.decompress(client, blob, model)
            write_source(samples, meta, out, force=args.force)
            what = f"{len(samples)} samples"
    print(f"{args.input}: {what} restored in {time.perf_counter() - start:.1f} s -> {out}")


def _decompress(args) -> None:
    from latentzip.circuits import HCLT
    from latentzip.circuits.codec import Decoder
    from latentzip.data.sources import write_source

    blob = read_input(args.input)
    if _is_table_container(blob):
        _decompress_table(args, blob)
        return
    model = HCLT.load(args.model) if args.model else None
    decoder = Decoder(blob, model)  # checks the container and the model before any work
    out = guard_output(_restored_path(args), args.input, force=args.force, folder_ok=True)
    if _distributed(args):
        _decompress_distributed(args, blob, model, out)
        return
    start = time.perf_counter()
    samples = decoder.read_all()
    seconds = time.perf_counter() - start
    write_source(samples, decoder.meta, out, force=args.force)
    print(
        f"{args.input}: {len(samples)} samples restored ({len(samples) / seconds:.0f} "
        f"samples/s) -> {out}"
    )


def _restored_path(args) -> Path:
    return Path(args.output or str(args.input).removesuffix(".lz") + ".restored")


def _info(args) -> None:
    from latentzip.coding.container import VERSION, unpack

    blob = read_input(args.input)
    c = unpack(blob)
    h = c.header
    dims = h["n_samples"] * int(np.prod(h["sample_shape"]))
    print(f"file:        {args.input} ({len(blob)} bytes)")
    print(f"codec:       {h['codec']} (container v{VERSION}), precision {h['precision']} bits")
    print(f"model:       {h['model_fingerprint']}" + (" (embedded)" if c.model else ""))
    print(f"samples:     {h['n_samples']} x {tuple(h['sample_shape'])} {h['dtype']}")
    print(f"records:     {len(c.index)} (blocks of up to {h['block_size']} samples)")
    print(f"source:      {h.get('meta', {}).get('kind', 'array')}")
    print(f"bits/dim:    {8 * len(blob) / dims:.4f}" if dims else "bits/dim:    n/a (empty)")


def _is_table(path) -> bool:
    from latentzip.tables import is_csv_path

    return is_csv_path(path)


def _is_table_container(blob: bytes) -> bool:
    from latentzip.coding.container import MAGIC
    from latentzip.tables import CODEC_TABLE

    return blob.startswith(MAGIC) and int.from_bytes(blob[10:12], "little") == CODEC_TABLE


def _no_cluster_for_tables(args) -> None:
    if _distributed(args):
        raise LatentzipError("--scheduler/--workers are not supported for CSV tables")


def _train_table(args, cfg) -> None:
    from latentzip.tables import TableModel, read_csv

    _no_cluster_for_tables(args)
    if args.checkpoint:
        raise LatentzipError("--checkpoint is not supported for CSV tables")
    table, _ = read_csv(args.data)
    fmt = table.format
    valid = None
    if args.valid:
        valid, _ = read_csv(args.valid, header=fmt.header, delimiter=fmt.delimiter)
    start = time.perf_counter()
    model = TableModel(cfg).fit(table, valid=valid, progress=not args.quiet)
    schema = model.schema_
    for j in schema.fallback:
        print(
            f"note: {schema.describe(j)} is not modelled ({schema.columns[j].reason}): "
            "it will be compressed with lzma"
        )
    model.save(args.output)
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


def _compress_table(args) -> None:
    from latentzip.circuits.codec import CodecConfig
    from latentzip.files import atomic_write
    from latentzip.tables import TableModel, compress, read_csv

    _no_cluster_for_tables(args)
    out = guard_output(Path(args.output or f"{args.input}.lz"), args.input, force=args.force)
    model = TableModel.load(args.model)
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


def _decompress_table(args, blob: bytes) -> None:
    from latentzip.files import atomic_write
    from latentzip.tables import TableModel, decompress

    _no_cluster_for_tables(args)
    model = TableModel.load(args.model) if args.model else None
    out = guard_output(_restored_path(args), args.input, force=args.force)
    start = time.perf_counter()
    raw = decompress(blob, model)
    atomic_write(out, raw, force=args.force)
    print(
        f"{args.input}: {len(raw)} bytes of CSV restored in "
        f"{time.perf_counter() - start:.1f} s -> {out}"
    )


def _demo(args) -> None:
    from latentzip.demo import run_demo

    run_demo(quiet=args.quiet)


def _continual(args) -> None:
    from dataclasses import replace

    from latentzip import continual as cl

    if args.stream == "toy":
        result = cl.run_toy(seed=args.seed, grid_size=150 if args.plot else None)
        print(cl.format_results(list(result.results.values())))
        if args.plot:
            print(f"decision regions -> {cl.plot_toy(result, args.plot)}")
        return
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if not methods or any(m not in cl.images.METHODS for m in methods):
        raise LatentzipError(f"--methods takes a subset of {','.join(cl.images.METHODS)}")
    kv = (cl.KVConfig.quick if args.quick else cl.KVConfig)()
    kv = replace(kv, **given(n_codebooks=args.codebooks, n_pairs=args.pairs, key_dim=args.key_dim))
    encoder = cl.frozen_encoder(
        args.encoder, args.stream, args.data, args.cache, progress=not args.quiet
    )
    prep = cl.prepare(args.stream, encoder, args.data)
    results, ceilings = [], {}
    for m in methods:
        result, iid = cl.run_method(m, prep, args.seed, kv=kv, iid=args.iid)
        results.append(result)
        if iid is not None:
            ceilings[m] = iid
    print(f"{args.stream}, encoder {args.encoder}, seed {args.seed}, 5 tasks of 2 classes")
    print(cl.format_results(results, ceilings))


def _noisy(args) -> None:
    from dataclasses import asdict

    from latentzip import noisylabels as nl

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if not methods or any(m not in nl.METHODS for m in methods):
        raise LatentzipError(f"--methods takes a comma-separated subset of {','.join(nl.METHODS)}")
    for out in (args.output, args.plot):
        if out and Path(out).exists() and not args.force:
            raise LatentzipError(f"{out} exists; pass --force to overwrite it")
    overrides = given(arch=args.model, epochs=args.epochs, finetune_epochs=args.finetune_epochs)
    cfg = nl.TrainConfig.quick(**overrides) if args.quick else nl.TrainConfig(**overrides)
    x, y, x_test, y_test = nl.load_folder(args.data)
    noise = nl.Noise(args.noise, args.rate)
    split = nl.make_split(
        x, y, x_test, y_test, noise, args.seed, n_train=args.n_train, n_test=args.n_test
    )
    start = time.perf_counter()
    results = nl.run_methods(split, cfg, methods, args.seed, progress=not args.quiet)
    title = (
        f"{args.data}: {noise.kind} noise {noise.rate:.0%} (actual {split.actual_noise_rate:.1%}), "
        f"{len(split.x_train)} train / {len(split.x_val)} val / {len(split.x_test)} test, "
        f"seed {args.seed}, {time.perf_counter() - start:.0f} s"
    )
    print(nl.markdown_table(nl.summarise(results), title))
    if args.output:
        nl.write_json(args.output, results, title=title, config=asdict(cfg))
        print(f"results -> {args.output}")
    if args.plot:
        nl.plot_curves({f"{noise.kind} {noise.rate:.0%}": results}, args.plot)
        print(f"plot -> {args.plot}")


def _add_cluster(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group(
        "distributed (Dask)", "run on a cluster; the input is then a folder of shards or a glob"
    )
    x = g.add_mutually_exclusive_group()
    x.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler, e.g. tcp://host:8786")
    x.add_argument("--workers", type=int, metavar="N", help="start a local cluster of N workers")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="latentzip", description=__doc__)
    sub = parser.add_subparsers(dest="verb", required=True)

    p = sub.add_parser("train", help="learn an HCLT model from data")
    p.add_argument("data", help="idx(.gz), .npy, a folder of PNGs, 'digits', or a .csv(.gz)")
    p.add_argument("-o", "--output", required=True, help="model file to write (.npz)")
    p.add_argument("--test", help="held-out data to report bits/dim on")
    p.add_argument("--valid", help="held-out data; the best epoch on it is kept")
    p.add_argument("--config", default="quick", choices=["quick", "mnist", "mnist_long"])
    p.add_argument("--latents", type=int, help="K, latent states per variable")
    p.add_argument("--epochs", type=int, help="mini-batch EM epochs")
    p.add_argument("--full-batch-epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--checkpoint", help="save state after each epoch here; resume from it")
    p.add_argument("-f", "--force", action="store_true", help="overwrite an existing model")
    p.add_argument("-q", "--quiet", action="store_true")
    _add_cluster(p)
    p.set_defaults(func=_train)

    p = sub.add_parser("compress", help="compress data losslessly with a model")
    p.add_argument("input")
    p.add_argument("-m", "--model", required=True)
    p.add_argument("-o", "--output")
    p.add_argument(
        "--block-size",
        type=int,
        help="samples per independently decodable record (default 64; 1024 rows for CSV)",
    )
    p.add_argument("--embed-model", action="store_true", help="store the model in the file")
    p.add_argument("-f", "--force", action="store_true", help="overwrite an existing output")
    _add_cluster(p)
    p.set_defaults(func=_compress)

    p = sub.add_parser("decompress", help="restore the original data")
    p.add_argument("input")
    p.add_argument("-m", "--model", help="model file (not needed if embedded)")
    p.add_argument("-o", "--output")
    p.add_argument("-f", "--force", action="store_true")
    _add_cluster(p)
    p.set_defaults(func=_decompress)

    p = sub.add_parser("info", help="describe a compressed file")
    p.add_argument("input")
    p.set_defaults(func=_info)

    p = sub.add_parser("demo", help="train on scikit-learn digits, compress, compare codecs")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=_demo)

    p = sub.add_parser(
        "continual", help="class-incremental learning with a discrete key-value bottleneck"
    )
    p.add_argument("stream", choices=["toy", "mnist", "fashion"])
    p.add_argument("--plot", help="toy: PNG of the decision regions after each task")
    p.add_argument("--data", default="../shared/data", help="folder holding mnist/, fashion-mnist/")
    p.add_argument("--encoder", default="cnn", choices=["cnn", "random"])
    p.add_argument("--cache", help="where the trained CNN is kept (default ~/.cache/latentzip)")
    p.add_argument("--methods", default="kv,linear,mlp,finetune", help="comma-separated")
    p.add_argument("--codebooks", type=int, help="C, heads of the bottleneck")
    p.add_argument("--pairs", type=int, help="P, key-value pairs per head")
    p.add_argument("--key-dim", type=int)
    p.add_argument("--iid", action="store_true", help="also train each method i.i.d.")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="a smaller bottleneck, fewer epochs")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=_continual)

    p = sub.add_parser(
        "noisy", help="train classifiers on noisy labels: bottlenecks and Co-teaching"
    )
    p.add_argument("data", help="folder with the four MNIST-style idx files")
    p.add_argument("--noise", default="symmetric", choices=["symmetric", "pairflip"])
    p.add_argument("--rate", type=float, default=0.5, help="noise rate (default 0.5)")
    p.add_argument(
        "--methods",
        default="ce,dropout,nested,coteaching,nested+coteaching,dropout+coteaching",
        help="comma-separated methods",
    )
    p.add_argument("--model", choices=["mlp", "cnn"])
    p.add_argument("--epochs", type=int)
    p.add_argument("--finetune-epochs", type=int)
    p.add_argument("--n-train", type=int, help="training records to draw (10%% become validation)")
    p.add_argument("--n-test", type=int, help="test records to use")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="small network, few epochs")
    p.add_argument("-o", "--output", help="results JSON to write")
    p.add_argument("--plot", help="PNG of test accuracy against epoch")
    p.add_argument("-f", "--force", action="store_true", help="overwrite existing outputs")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=_noisy)

    add_splats_parser(sub)
    add_motion_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except LatentzipError as exc:
        print(f"latentzip: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
