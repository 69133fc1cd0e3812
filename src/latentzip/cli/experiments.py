"""Verbs for the experiments on top of the core: continual learning and noisy labels."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from latentzip.cliutil import given
from latentzip.errors import LatentzipError


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
    kv = replace(kv, **given(n_codebooks=args.codebooks, n_pairs=args.pairs, key_dim=args.key_dim,
                             value_rule=args.values))  # fmt: skip
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
    if args.quick and args.published:
        raise LatentzipError("--quick and --published exclude each other")
    overrides = given(arch=args.model, finetune_epochs=args.finetune_epochs)
    if args.published:
        cfg = nl.TrainConfig.published(args.epochs or 200, **overrides)
    else:
        overrides |= given(epochs=args.epochs)
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


def add_continual_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "continual", help="class-incremental learning with a discrete key-value bottleneck"
    )
    p.add_argument("stream", choices=["toy", "mnist", "fashion"])
    p.add_argument("--plot", help="toy: PNG of the decision regions after each task")
    p.add_argument("--data", default="../shared/data", help="folder holding mnist/, fashion-mnist/")
    p.add_argument("--encoder", default="patches", choices=["patches", "cnn", "random"],
                   help="patches: learned from the stream's images without labels")  # fmt: skip
    p.add_argument("--cache", help="where trained encoders are kept (~/.cache/latentzip)")
    p.add_argument("--methods", default="kv,linear,mlp,replay", help="comma-separated")
    p.add_argument("--values", choices=["gradient", "counts"], help="how the values learn")
    p.add_argument("--codebooks", type=int, help="C, heads of the bottleneck")
    p.add_argument("--pairs", type=int, help="P, key-value pairs per head")
    p.add_argument("--key-dim", type=int)
    p.add_argument("--iid", action="store_true", help="also train each method i.i.d.")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="a smaller bottleneck, fewer epochs")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=_continual)


def add_noisy_parser(sub: argparse._SubParsersAction) -> None:
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
    p.add_argument(
        "--published",
        action="store_true",
        help="Han et al.'s recipe on the 784-256 MLP (200 epochs unless --epochs)",
    )
    p.add_argument("-o", "--output", help="results JSON to write")
    p.add_argument("--plot", help="PNG of test accuracy against epoch")
    p.add_argument("-f", "--force", action="store_true", help="overwrite existing outputs")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=_noisy)
