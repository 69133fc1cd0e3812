"""``latentzip motion``: motion stylization in latent space (GenMoStyle).

latentzip motion train ../shared/data/motion/m21 ../shared/data/motion/xia-test -o motion.pt
latentzip motion stylize motion.pt content.bvh --style old -o old.bvh --gif old.gif
latentzip motion stylize motion.pt content.bvh --reference ref.bvh -o out.bvh
latentzip motion stylize motion.pt content.bvh --samples 3 --seed 1 -o prior.bvh
latentzip motion render a.bvh b.bvh -o ab.gif
latentzip motion evaluate motion.pt ../shared/data/motion/m21 ../shared/data/motion/xia-test
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from latentzip.cliutil import guard_output
from latentzip.errors import LatentzipError


def _fps(text: str) -> float:
    """argparse type: a finite frame rate above zero (``0``, ``nan``, ``inf`` would divide by
    zero or never end when resampling)."""
    try:
        fps = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (math.isfinite(fps) and fps > 0):
        raise argparse.ArgumentTypeError(f"must be a positive, finite frame rate, got {text!r}")
    return fps


def _threads(n: int) -> None:
    import torch

    torch.set_num_threads(max(n, 1))


def _train(args) -> None:
    import time

    from latentzip.motion.data import DataConfig, build
    from latentzip.motion.model import GenMoStyle, RootModel, StyleClassifier, StyleConfig
    from latentzip.motion.pipeline import Bundle

    out = guard_output(args.output, args.data, force=args.force)
    _threads(args.threads)
    base = StyleConfig.quick if args.quick else StyleConfig
    given = {"space": args.space, "seed": args.seed}
    if args.epochs is not None:
        given["epochs"] = args.epochs
    if args.ae_epochs is not None:
        given["ae_epochs"] = args.ae_epochs
    cfg = base(**given)
    start = time.perf_counter()
    data = build(args.data, DataConfig(window=args.window))
    tr = data.train
    model = GenMoStyle(cfg, len(data.styles)).fit(tr.x, tr.label, tr.clip, progress=not args.quiet)
    root = RootModel(seed=cfg.seed).fit(tr.x, progress=not args.quiet)
    clf = StyleClassifier(len(data.styles), seed=cfg.seed).fit(tr.x, tr.label, progress=False)
    Bundle.from_data(data, model, root, clf).save(out, force=args.force)
    print(
        f"trained a {cfg.space}-space model on {len(tr)} windows of {data.dim} channels "
        f"(styles: {', '.join(data.styles)}) in {time.perf_counter() - start:.0f} s -> {out}"
    )


def _stylize(args) -> None:
    from latentzip.motion.bvh import read_bvh, save_bvh
    from latentzip.motion.pipeline import Bundle

    if args.reference and args.samples != 1:
        raise LatentzipError("--reference gives one output; drop --samples")
    bundle = Bundle.load(args.model)
    content = read_bvh(args.content).to_motion()
    ref = read_bvh(args.reference).to_motion() if args.reference else None
    outs = bundle.stylize(content, style=args.style, reference=ref, n=args.samples, seed=args.seed)
    base = Path(args.output)
    paths = (
        [base]
        if len(outs) == 1
        else [base.with_name(f"{base.stem}_{i}{base.suffix}") for i in range(len(outs))]
    )
    inputs = [args.content, args.model] + ([args.reference] if args.reference else [])
    for p in paths:
        guard_output(p, inputs, force=args.force)
    for p, m in zip(paths, outs, strict=True):
        save_bvh(m.to_bvh(), p, force=args.force)
        print(f"wrote {p} ({m.n_frames} frames at {m.fps:.0f} fps)")
    if args.gif:
        from latentzip.motion.features import features_to_positions
        from latentzip.motion.render import save_gif

        src = features_to_positions(
            bundle.normalizer.inverse(bundle.prepare(content)[0]), bundle.skeleton
        )
        panels = [("input", src)] + [(f"output {i}", m.positions()) for i, m in enumerate(outs)]
        gif = guard_output(args.gif, inputs, force=args.force)
        save_gif(panels, bundle.skeleton.parents, gif, bundle.fps, force=args.force)
        print(f"wrote {gif}")


def _render(args) -> None:
    from latentzip.motion.bvh import read_bvh
    from latentzip.motion.features import canonical_positions
    from latentzip.motion.render import save_gif, save_strip

    motions = [read_bvh(p).to_motion().downsample(args.fps) for p in args.bvh]
    sk = motions[0].skeleton
    if any(m.skeleton.signature() != sk.signature() for m in motions):
        raise LatentzipError("all clips must share one skeleton")
    panels = [
        (Path(p).stem, canonical_positions(m)) for p, m in zip(args.bvh, motions, strict=True)
    ]
    out = guard_output(args.output, args.bvh, force=args.force)
    if out.suffix.lower() == ".png":
        save_strip(panels, sk.parents, out, force=args.force)
    else:
        save_gif(panels, sk.parents, out, motions[0].fps, force=args.force)
    print(f"wrote {out}")


def _evaluate(args) -> None:
    import json

    from latentzip.motion.data import DataConfig, build
    from latentzip.motion.evaluate import evaluate
    from latentzip.motion.model import StyleClassifier
    from latentzip.motion.pipeline import Bundle

    _threads(args.threads)
    bundle = Bundle.load(args.model)
    data = build(args.data, DataConfig(window=bundle.window))
    if data.styles != bundle.styles or data.dim != bundle.model.dim_:
        raise LatentzipError("the model was trained on other styles or another skeleton")
    clf = StyleClassifier(len(data.styles), seed=args.seed + 1).fit(
        data.train.x, data.train.label, progress=False
    )
    res = evaluate(bundle.model, clf, bundle.root, data, seed=args.seed)
    res["classifier_heldout_accuracy"] = clf.score(data.test_style.x, data.test_style.label)
    print(json.dumps(res, indent=2))


def add_motion_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``latentzip motion <verb>``; heavy imports happen inside each verb."""
    p = sub.add_parser("motion", help="generative human motion stylization in latent space")
    verbs = p.add_subparsers(dest="motion_verb", required=True)

    t = verbs.add_parser("train", help="train autoencoder, style model, root regressor")
    t.add_argument(
        "data",
        nargs="+",
        help="folders with style/*.bvh (+ content/*.bvh), or flat style clips; all go onto "
        "the first clip's skeleton",
    )
    t.add_argument("-o", "--output", required=True, help="model file to write")
    t.add_argument("--space", choices=["latent", "pose"], default="latent")
    t.add_argument("--epochs", type=int, help="style-model epochs")
    t.add_argument("--ae-epochs", type=int, help="autoencoder epochs")
    t.add_argument("--window", type=int, default=32, help="frames per window (multiple of 4)")
    t.add_argument("--quick", action="store_true", help="15 + 15 epochs")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--threads", type=int, default=2)
    t.add_argument("-f", "--force", action="store_true")
    t.add_argument("-q", "--quiet", action="store_true")
    t.set_defaults(func=_train)

    s = verbs.add_parser("stylize", help="stylize a BVH clip by label, reference or prior")
    s.add_argument("model")
    s.add_argument("content", help="BVH clip on the model's skeleton (joint tree)")
    s.add_argument("-o", "--output", required=True, help="BVH to write (_i suffix if several)")
    s.add_argument("--style", help="target style label")
    s.add_argument("--reference", help="BVH clip whose style to copy")
    s.add_argument("--samples", type=int, default=1, help="prior samples to draw")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--gif", help="also write a stick-figure GIF, input beside outputs")
    s.add_argument("-f", "--force", action="store_true")
    s.set_defaults(func=_stylize)

    r = verbs.add_parser("render", help="stick-figure GIF (or PNG strip) of BVH clips")
    r.add_argument("bvh", nargs="+")
    r.add_argument("-o", "--output", required=True, help=".gif, or .png for a strip")
    r.add_argument("--fps", type=_fps, default=30.0, help="frames per second of the drawing")
    r.add_argument("-f", "--force", action="store_true")
    r.set_defaults(func=_render)

    e = verbs.add_parser("evaluate", help="metrics of a trained model on a data folder")
    e.add_argument("model")
    e.add_argument("data", nargs="+", help="the folders the model was trained on")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--threads", type=int, default=2)
    e.set_defaults(func=_evaluate)
    return p
