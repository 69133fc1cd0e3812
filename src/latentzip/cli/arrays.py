"""Verbs for integer arrays (idx, ``.npy``, PNG folders), on one machine or a Dask cluster."""

from __future__ import annotations

import glob
import time
from pathlib import Path

import numpy as np

from latentzip.cliutil import guard_output
from latentzip.coding.codecs import CodecSpec
from latentzip.errors import LatentzipError


def train(args, cfg) -> None:
    if distributed(args):
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
        engine=args.engine,
        device=args.device,
    )
    _save_for_coding(model, args)
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
        model = distributed.fit(client, shards, cfg, progress=not args.quiet, engine=args.engine)
        _save_for_coding(model, args)
        c = model.circuit_
        print(
            f"trained K={c.n_latents} on the shards of {args.data} ({c.n_variables} variables, "
            f"{len(model.history_)} full-batch EM epochs on {_n_workers(client)} workers) in "
            f"{time.perf_counter() - start:.1f} s -> {args.output}"
        )
        print(f"train bits/dim: {distributed.bits_per_dim(client, shards, model):.4f}")
    if args.test:
        print(f"test  bits/dim: {model.bits_per_dim(load(args.test).data):.4f}")


def _save_for_coding(model, args) -> None:
    """The integer coding model (small, portable) to ``-o``; the float one to ``--float``."""
    from dataclasses import asdict

    from latentzip.coding import modelfile

    meta = {"config": asdict(model.config), "history": model.history_}
    modelfile.save(model.coding_model(), args.output, meta)
    if args.float_model:
        model.save(args.float_model)


def distributed(args) -> bool:
    return (
        getattr(args, "scheduler", None) is not None or getattr(args, "workers", None) is not None
    )


def _n_workers(client) -> int:
    return len(client.scheduler_info().get("workers", {}))


def compress(args, loaded=None) -> None:
    """``latentzip compress`` of arrays; ``loaded``: the ``-m`` model if already read."""
    from latentzip.circuits.codec import CodecConfig, compress
    from latentzip.coding import modelfile
    from latentzip.data.sources import read_source
    from latentzip.files import atomic_write

    if distributed(args) and not args.output and glob.has_magic(args.input):
        raise LatentzipError("give the output file with -o when the input is a glob")
    out = guard_output(
        Path(args.output or f"{str(args.input).rstrip('/')}.lz"), args.input, force=args.force
    )
    if not args.model:
        raise LatentzipError("arrays need a model: train one, then compress with -m MODEL")
    model = loaded if loaded is not None else modelfile.load(args.model)[0]
    block_size = 64 if args.block_size is None else args.block_size
    cfg = CodecConfig(block_size=block_size, embed_model=args.embed_model)
    if distributed(args):
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


def restore(c, args) -> str:
    """Decode an arrays container and write what it was made from (``latentzip decompress``)."""
    from latentzip.circuits.codec import Decoder
    from latentzip.coding import modelfile
    from latentzip.data.sources import write_source

    model = modelfile.load(args.model)[0] if args.model else None
    decoder = Decoder(c, model)  # checks the container and the model before any work
    out = guard_output(restored_path(args), args.input, force=args.force, folder_ok=True)
    start = time.perf_counter()
    if distributed(args):
        what = _restore_distributed(args, c.blob, decoder.model, out)
    else:
        samples = decoder.read_all()
        write_source(samples, decoder.meta, out, force=args.force)
        what = f"{len(samples)} samples"
    seconds = time.perf_counter() - start
    return f"{args.input}: {what} restored in {seconds:.1f} s -> {out}"


def _restore_distributed(args, blob: bytes, model, out: Path) -> str:
    from latentzip import distributed
    from latentzip.coding.container import unpack
    from latentzip.data.sources import write_source

    meta = unpack(blob).header.get("meta", {})
    with distributed.connect(args.scheduler, args.workers) as client:
        if meta.get("kind") == "shards":
            paths = distributed.decompress(client, blob, model, out, force=args.force)
            return f"{len(paths)} shards"
        samples = distributed.decompress(client, blob, model)
        write_source(samples, meta, out, force=args.force)
        return f"{len(samples)} samples"


def restored_path(args) -> Path:
    return Path(args.output or str(args.input).removesuffix(".lz") + ".restored")


def describe(c) -> list[tuple[str, str]]:
    """What ``latentzip info`` shows of an arrays container."""
    from latentzip.coding.fields import Fields

    h = Fields(c.header, "header")
    shape = tuple(h.ints("sample_shape", 1, 2**40, 8))
    n = h.int("n_samples", 0)
    meta = h.obj("meta", {})
    source = meta.str("kind", default="array")
    if source == "shards":
        source += f" ({len(meta.data.get('shards', []))} files, written on a Dask cluster)"
    dims = n * int(np.prod(shape))
    return [
        ("content", f"{n} samples x {shape} {h.str('dtype')}, source {source}"),
        ("model", f"{h.str('model_kind', default='hclt')} {h.str('model_fingerprint')}"),
        ("blocks", f"up to {h.int('block_size', 1)} samples per record"),
        ("bits/dim", f"{8 * len(c.blob) / dims:.4f}" if dims else "n/a (empty)"),
    ]


def _spec() -> CodecSpec:
    from latentzip.circuits.codec import CODEC

    return CodecSpec(CODEC.id, CODEC.name, CODEC.version, CODEC.version, describe, restore)


SPEC = _spec()
