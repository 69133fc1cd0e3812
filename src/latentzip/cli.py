"""The ``latentzip`` command line: parse, call the library, print."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from latentzip.errors import LatentzipError


def _train(args) -> None:
    from latentzip.circuits import HCLT, HCLTConfig
    from latentzip.data import load

    data = load(args.data)
    overrides = {
        k: v
        for k, v in (
            ("n_latents", args.latents),
            ("epochs", args.epochs),
            ("batch_size", args.batch_size),
            ("full_batch_epochs", args.full_batch_epochs),
            ("seed", args.seed),
        )
        if v is not None
    }
    cfg = getattr(HCLTConfig, args.config)(**overrides)
    start = time.perf_counter()
    model = HCLT(cfg).fit(
        data.data, data.n_categories, checkpoint=args.checkpoint, progress=not args.quiet
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


def _compress(args) -> None:
    from latentzip.circuits import HCLT
    from latentzip.circuits.codec import CodecConfig, compress
    from latentzip.data.sources import read_source
    from latentzip.files import atomic_write

    out = Path(args.output or f"{str(args.input).rstrip('/')}.lz")
    if out.resolve() == Path(args.input).resolve():
        raise LatentzipError("the output would overwrite the input")
    if out.exists() and not args.force:
        raise LatentzipError(f"{out} exists; pass --force to overwrite it")
    samples, meta = read_source(args.input)
    model = HCLT.load(args.model)
    cfg = CodecConfig(block_size=args.block_size, embed_model=args.embed_model)
    start = time.perf_counter()
    blob = compress(samples, model, cfg, meta)
    seconds = time.perf_counter() - start
    atomic_write(out, blob, force=args.force)
    print(
        f"{args.input}: {samples.size} bytes -> {len(blob)} bytes "
        f"({8 * len(blob) / samples.size:.4f} bits/dim, {len(samples) / seconds:.0f} "
        f"samples/s) -> {out}"
    )


def _decompress(args) -> None:
    from latentzip.circuits import HCLT
    from latentzip.circuits.codec import Decoder
    from latentzip.data.sources import write_source

    blob = _read(args.input)
    model = HCLT.load(args.model) if args.model else None
    decoder = Decoder(blob, model)
    out = Path(args.output or str(args.input).removesuffix(".lz") + ".restored")
    if out.exists() and out.resolve() == Path(args.input).resolve():
        raise LatentzipError("the output would overwrite the input")
    if out.exists() and not out.is_dir() and not args.force:
        raise LatentzipError(f"{out} exists; pass --force to overwrite it")
    start = time.perf_counter()
    samples = decoder.read_all()
    seconds = time.perf_counter() - start
    write_source(samples, decoder.meta, out, force=args.force)
    print(
        f"{args.input}: {len(samples)} samples restored ({len(samples) / seconds:.0f} "
        f"samples/s) -> {out}"
    )


def _info(args) -> None:
    from latentzip.coding.container import unpack

    blob = _read(args.input)
    c = unpack(blob)
    h = c.header
    dims = h["n_samples"] * int(np.prod(h["sample_shape"]))
    print(f"file:        {args.input} ({len(blob)} bytes)")
    print(f"codec:       {h['codec']} (container v{1}), precision {h['precision']} bits")
    print(f"model:       {h['model_fingerprint']}" + (" (embedded)" if c.model else ""))
    print(f"samples:     {h['n_samples']} x {tuple(h['sample_shape'])} {h['dtype']}")
    print(f"records:     {len(c.index)} (blocks of up to {h['block_size']} samples)")
    print(f"source:      {h.get('meta', {}).get('kind', 'array')}")
    print(f"bits/dim:    {8 * len(blob) / dims:.4f}")


def _demo(args) -> None:
    from latentzip.demo import run_demo

    run_demo(quiet=args.quiet)


def _read(path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise LatentzipError(f"{path}: cannot read ({exc.strerror})") from exc


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="latentzip", description=__doc__)
    sub = parser.add_subparsers(dest="verb", required=True)

    p = sub.add_parser("train", help="learn an HCLT model from data")
    p.add_argument("data", help="idx(.gz), .npy, a folder of PNGs, or 'digits'")
    p.add_argument("-o", "--output", required=True, help="model file to write (.npz)")
    p.add_argument("--test", help="held-out data to report bits/dim on")
    p.add_argument("--config", default="quick", choices=["quick", "mnist", "mnist_long"])
    p.add_argument("--latents", type=int, help="K, latent states per variable")
    p.add_argument("--epochs", type=int, help="mini-batch EM epochs")
    p.add_argument("--full-batch-epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--checkpoint", help="save state after each epoch here; resume from it")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=_train)

    p = sub.add_parser("compress", help="compress data losslessly with a model")
    p.add_argument("input")
    p.add_argument("-m", "--model", required=True)
    p.add_argument("-o", "--output")
    p.add_argument(
        "--block-size",
        type=int,
        default=64,
        help="samples per independently decodable record (default 64)",
    )
    p.add_argument("--embed-model", action="store_true", help="store the model in the file")
    p.add_argument("-f", "--force", action="store_true", help="overwrite an existing output")
    p.set_defaults(func=_compress)

    p = sub.add_parser("decompress", help="restore the original data")
    p.add_argument("input")
    p.add_argument("-m", "--model", help="model file (not needed if embedded)")
    p.add_argument("-o", "--output")
    p.add_argument("-f", "--force", action="store_true")
    p.set_defaults(func=_decompress)

    p = sub.add_parser("info", help="describe a compressed file")
    p.add_argument("input")
    p.set_defaults(func=_info)

    p = sub.add_parser("demo", help="train on scikit-learn digits, compress, compare codecs")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=_demo)
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
