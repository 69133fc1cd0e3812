"""The ``latentzip`` command line: parse, call the library, print.

The core verbs (train, compress, decompress, info, demo) are always there; ``decompress``
and ``info`` dispatch on the container's codec through :data:`latentzip.registry.CODECS`.
The capabilities' verbs (``splats``, ``motion``, ``continual``, ``noisy``) are registered
lazily: their modules, and what those need (PyTorch, plyfile, pybullet), are imported only
when the verb is used.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from latentzip.cliutil import given, print_info, read_input
from latentzip.errors import LatentzipError

# verb -> (module:function that adds its parser, help shown before the module is imported)
LAZY_VERBS = {
    "splats": (
        "latentzip.splats.cli:add_splats_parser",
        "volumetric video with dual Gaussian splatting",
    ),
    "motion": ("latentzip.motion.cli:add_motion_parser", "motion stylization in latent space"),
    "continual": (
        "latentzip.cli.experiments:add_continual_parser",
        "class-incremental learning with a discrete key-value bottleneck",
    ),
    "noisy": (
        "latentzip.cli.experiments:add_noisy_parser",
        "train classifiers on noisy labels: bottlenecks and Co-teaching",
    ),
}


def _is_table(path) -> bool:
    from latentzip.tables.csvfile import is_csv_path

    return is_csv_path(path) or str(path).lower().endswith(".parquet")


def config_overrides(args) -> dict:
    """The HCLT hyperparameters the user gave on the command line."""
    return given(
        n_latents=args.latents,
        epochs=args.epochs,
        batch_size=args.batch_size,
        full_batch_epochs=args.full_batch_epochs,
        seed=args.seed,
    )


def _train(args) -> None:
    from latentzip.circuits import HCLTConfig
    from latentzip.cli import photos
    from latentzip.cliutil import guard_output

    if args.config == "photos" or (args.config == "quick" and photos.is_photo_input(args.data)):
        guard_output(args.output, args.data, force=args.force, role="training data")
        photos.train(args)
        return

    cfg = getattr(HCLTConfig, args.config)(**config_overrides(args))
    # checked before training, which can take hours
    guard_output(args.output, args.data, force=args.force, role="training data")
    if _is_table(args.data):
        from latentzip.cli import tables

        tables.train(args, cfg)
    else:
        from latentzip.cli import arrays

        arrays.train(args, cfg)


def _compress(args) -> None:
    from latentzip.cli import photos
    from latentzip.photos import PhotoModel

    loaded = _model(args)
    model = loaded if isinstance(loaded, PhotoModel) else None
    if model is not None or (photos.is_photo_input(args.input) and not Path(args.input).is_dir()):
        if model is None:
            other = f" ({args.model} is a model of another kind)" if args.model else ""
            raise LatentzipError(
                f"photos need a photo model: latentzip train PHOTOS/ -o photo.model{other}"
            )
        photos.compress(args, model)
    elif _is_table(args.input):
        from latentzip.cli import tables

        tables.compress(args)
    else:
        from latentzip.cli import arrays

        arrays.compress(args, loaded)


def _model(args):
    """The model given with -m, read once (None without one, or for a table: the table
    verb reads its own)."""
    if not args.model or _is_table(args.input):
        return None
    from latentzip.coding import modelfile

    return modelfile.load(args.model)[0]


def _decompress(args) -> None:
    from latentzip.coding import container
    from latentzip.registry import CODECS

    c = container.unpack(read_input(args.input))
    spec = CODECS.get(c.codec)
    print(spec.restore(spec.check(c), args))


def _info(args) -> None:
    print_info(args.input)


def _demo(args) -> None:
    from latentzip.demo import run_demo

    run_demo(quiet=args.quiet)


def _add_cluster(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group(
        "distributed (Dask)", "run on a cluster; the input is then a folder of shards or a glob"
    )
    x = g.add_mutually_exclusive_group()
    x.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler, e.g. tcp://host:8786")
    x.add_argument("--workers", type=int, metavar="N", help="start a local cluster of N workers")


def _add_core_verbs(sub) -> None:
    p = sub.add_parser("train", help="learn an HCLT model from data")
    p.add_argument(
        "data",
        help="idx(.gz), .npy, a folder of PNGs, 'digits', a .csv(.gz), a .parquet, or photos "
        "(an image file or a folder of PNG/TIFF/BMP/PPM images)",
    )
    p.add_argument(
        "-o", "--output", required=True, help="the (integer) coding model to write, for compress"
    )
    p.add_argument("--float-model", metavar="PATH", help="also write the float training model")
    p.add_argument("--test", help="held-out data to report bits/dim on")
    p.add_argument("--valid", help="held-out data; the best epoch on it is kept")
    p.add_argument(
        "--config",
        default="quick",
        choices=["quick", "mnist", "mnist_long", "published", "photos"],
        help="HCLT preset, or photos (default for image files and folders of photos)",
    )
    p.add_argument("--latents", type=int, help="K, latent states per variable")
    p.add_argument("--epochs", type=int, help="mini-batch EM epochs")
    p.add_argument("--full-batch-epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--checkpoint", help="save state after each epoch here; resume from it")
    p.add_argument(
        "--engine", choices=["numpy", "torch"], default="numpy", help="where EM runs (numpy)"
    )
    p.add_argument("--device", default="cpu", help="torch device: cpu or cuda (cpu)")
    p.add_argument("-f", "--force", action="store_true", help="overwrite an existing model")
    p.add_argument("-q", "--quiet", action="store_true")
    _add_cluster(p)
    p.set_defaults(func=_train)

    p = sub.add_parser("compress", help="compress data losslessly with a model")
    p.add_argument("input", help="as for train; a .csv or .parquet needs no model")
    p.add_argument(
        "-m",
        "--model",
        help="the model (required for arrays; for a table, without one a model is trained "
        "on the file and embedded)",
    )
    p.add_argument("-o", "--output")
    p.add_argument(
        "--block-size",
        type=int,
        help="samples per independently decodable record (default 64; tables: 4096 rows)",
    )
    p.add_argument("--embed-model", action="store_true", help="store the model in the file")
    p.add_argument("-f", "--force", action="store_true", help="overwrite an existing output")
    _add_cluster(p)
    p.set_defaults(func=_compress)

    p = sub.add_parser("decompress", help="restore the original data (any container)")
    p.add_argument("input")
    p.add_argument("-m", "--model", help="model file (not needed if embedded)")
    p.add_argument("-o", "--output")
    p.add_argument("-f", "--force", action="store_true")
    _add_cluster(p)
    p.set_defaults(func=_decompress)

    p = sub.add_parser("info", help="describe a compressed file (any container)")
    p.add_argument("input")
    p.set_defaults(func=_info)

    p = sub.add_parser("demo", help="train on scikit-learn digits, compress, compare codecs")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=_demo)


def build_parser(verb: str | None = None) -> argparse.ArgumentParser:
    """The parser; only the lazy verb named by ``verb`` (if any) is imported and built."""
    parser = argparse.ArgumentParser(prog="latentzip", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="verb", required=True)
    _add_core_verbs(sub)
    for name, (target, help_text) in LAZY_VERBS.items():
        if name == verb:
            module, _, function = target.partition(":")
            getattr(importlib.import_module(module), function)(sub)
        else:
            sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    verb = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(verb).parse_args(argv)
    try:
        args.func(args)
    except LatentzipError as exc:
        print(f"latentzip: error: {exc}", file=sys.stderr)
        return 2
    except MemoryError:
        print(
            "latentzip: error: out of memory (the input needs more than is free)", file=sys.stderr
        )
        return 2
    except KeyboardInterrupt:
        print("latentzip: interrupted (outputs are only ever replaced whole)", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
