"""GenMoStyle on all the style-labelled motion in ../shared/data/motion (m21 and Xia):
stylization in the autoencoder's latent space against the same networks and losses in pose
space, 3 seeds. Guo et al., "Generative Human Motion Stylization in Latent Space", ICLR 2024.

    flock /tmp/lz-heavy.lock python benchmarks/motion.py            # ~25 min on 2 cores
    python benchmarks/motion.py --quick                             # ~2 min smoke run

Data: the m21 walking styles (one actor, 60 fps) and content clips, and the Xia clips (another
actor, 120 fps, CMU skeleton folded onto m21's 21 joints), 9 styles, 30 fps (every phase of the
resampling adds training windows), 32-frame windows. Split by clip: a long clip lends its tail
(a quarter, at least one window) to the held-out set; a short clip is held out whole when
another clip of its style and actor trains, else it trains whole (``MotionData.roles``).

Trained once: the judge (an independent style classifier; its accuracy on real held-out
windows is the ceiling) and the root regressor. Per seed: the motion autoencoder, the latent
style model and the pose-space style model. Every model stylizes 60 held-out content windows
toward each judged style (styles with held-out windows): by label (a code from the style's
prior component), by a held-out reference window, and by prior sampling (the component's code
without the label). Writes benchmarks/results/motion.{json,md}, motion_metrics.png,
motion_example.png / .gif / .bvh (motion_quick_* with --quick).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict

import numpy as np
import torch
from common import RESULTS, SHARED, machine, write_results

from latentzip.motion.data import DataConfig, build
from latentzip.motion.evaluate import MODES, evaluate
from latentzip.motion.features import features_to_positions
from latentzip.motion.model import (
    GenMoStyle,
    RootModel,
    StyleClassifier,
    StyleConfig,
    train_autoencoder,
)

NAMES = {
    "identity": "no stylization (input)",
    "copy": "copy the reference (cheat)",
    "latent": "GenMoStyle, latent",
    "pose": "pose space",
}
METRICS = (
    "style_accuracy",
    "content_distance",
    "angle_distance",
    "foot_skate",
    "contact_agreement",
    "style_fid",
)


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="few epochs, one seed: smoke run")
    ap.add_argument("--seeds", type=int, help="number of seeds (3; 1 with --quick)")
    ap.add_argument("--epochs", type=int, help="style-model epochs (both spaces)")
    ap.add_argument("--ae-epochs", type=int)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    folders = [SHARED / "motion" / "m21", SHARED / "motion" / "xia-test"]
    if not all(f.exists() for f in folders):
        raise SystemExit(f"{folders} not found: the benchmark needs ../shared/data/motion")
    cfg = StyleConfig.quick(ae_epochs=3, epochs=3) if args.quick else StyleConfig()
    over = {k: v for k, v in (("epochs", args.epochs), ("ae_epochs", args.ae_epochs)) if v}
    cfg = StyleConfig(**{**asdict(cfg), **over})
    seeds = list(range(args.seeds or (1 if args.quick else 3)))
    clf_epochs, root_epochs = (5, 5) if args.quick else (40, 30)
    total_start = time.perf_counter()
    data, t_data = timed(lambda: build(folders, DataConfig()))
    tr, ts = data.train, data.test_style
    print(
        f"data: {len(tr)} train windows, {len(ts)} held-out style, "
        f"{len(data.test_content)} held-out content, {data.dim} channels ({t_data:.0f} s)"
    )
    clf, t_clf = timed(
        lambda: StyleClassifier(len(data.styles), epochs=clf_epochs, seed=1).fit(tr.x, tr.label)
    )
    root, t_root = timed(lambda: RootModel(epochs=root_epochs, seed=0).fit(tr.x))
    held = np.concatenate([ts.x, data.test_content.x])
    runs, eval_seconds = [], 0.0
    for seed in seeds:
        scfg = StyleConfig(**{**asdict(cfg), "seed": seed})
        (ae, ae_curve), t_ae = timed(lambda c=scfg: train_autoencoder(tr.x, c))
        latent, t_lat = timed(
            lambda c=scfg, a=ae: GenMoStyle(c, len(data.styles), autoencoder=a).fit(
                tr.x, tr.label, tr.clip
            )
        )
        pcfg = StyleConfig(**{**asdict(scfg), "space": "pose"})
        pose, t_pose = timed(
            lambda c=pcfg: GenMoStyle(c, len(data.styles)).fit(tr.x, tr.label, tr.clip)
        )
        run = {"seed": seed, "seconds": {"autoencoder": t_ae, "latent": t_lat, "pose": t_pose}}
        with torch.no_grad():
            X = torch.as_tensor(held).transpose(1, 2)
            run["autoencoder_heldout_l1"] = float((ae(X) - X).abs().mean())
        for name, model in (("latent", latent), ("pose", pose)):
            res, secs = timed(lambda m=model, s=seed: evaluate(m, clf, root, data, seed=s))
            eval_seconds += secs
            run[name] = res
            print(seed, name, {m: round(res[m]["style_accuracy"], 3) for m in MODES})
        run["curves"] = {"autoencoder": ae_curve, "latent": latent.history_, "pose": pose.history_}
        runs.append(run)
        if seed == 0:
            example(data, latent, root, clf, prefix="motion_quick" if args.quick else "motion")
    train_seconds = time.perf_counter() - total_start - eval_seconds
    identity = evaluate(None, clf, root, data, seed=0)
    payload = {
        "paper": "Guo et al., Generative Human Motion Stylization in Latent Space, ICLR 2024",
        "data": {
            "folders": [f.name for f in folders],
            "styles": data.styles,
            "judged_styles": identity["styles_judged"],
            "fps": data.fps,
            "window": data.config.window,
            "clip_roles": data.roles,
            "train_windows": len(tr),
            "train_style_windows_per_style": np.bincount(
                tr.label[tr.label >= 0], minlength=len(data.styles)
            ).tolist(),
            "heldout_style_windows_per_style": np.bincount(
                ts.label, minlength=len(data.styles)
            ).tolist(),
            "heldout_content_windows": len(data.test_content),
            "feature_channels": data.dim,
        },
        "config": asdict(cfg),
        "seeds": seeds,
        "classifier_heldout_accuracy": clf.score(ts.x, ts.label),
        "root_regressor_heldout_l1": float(
            np.abs(root.restore(held)[..., :4] - held[..., :4]).mean()
        ),
        "identity": identity,
        "summary": summarize(runs),
        "runs": runs,
        "seconds": {
            "data": t_data,
            "classifier": t_clf,
            "root_regressor": t_root,
            "per_seed": [r["seconds"] for r in runs],
            "total_training": train_seconds,
            "evaluation": eval_seconds,
        },
        "machine": machine(),
        "threads": torch.get_num_threads(),
        "quick": args.quick,
    }
    payload["acceptance"] = acceptance(payload)
    name = "motion_quick" if args.quick else "motion"
    write_results(name, payload, table(payload))
    plot(payload, RESULTS / f"{name}_metrics.png")


def summarize(runs: list[dict]) -> dict:
    """Mean and standard deviation over seeds of every metric, per model and mode."""
    out: dict = {}
    for name in ("latent", "pose"):
        for mode in MODES:
            for metric in METRICS:
                vals = [r[name][mode][metric] for r in runs]
                out.setdefault(name, {}).setdefault(mode, {})[metric] = [
                    float(np.mean(vals)),
                    float(np.std(vals)),
                ]
        for key in ("diversity_label", "diversity_prior"):
            vals = [r[name][key] for r in runs]
            out[name][key] = [float(np.mean(vals)), float(np.std(vals))]
    return out


def acceptance(p: dict) -> dict:
    """The issue's bars, computed from the seed means."""
    s = p["summary"]
    lat, pose = s["latent"], s["pose"]
    out = {
        "label_accuracy_at_least_65": lat["label"]["style_accuracy"][0] >= 0.65,
        "reference_accuracy_at_least_80": lat["reference"]["style_accuracy"][0] >= 0.80,
        "training_within_30_min": p["seconds"]["total_training"] <= 1800,
    }
    for mode in MODES:
        out[f"{mode}_beats_pose_accuracy"] = (
            lat[mode]["style_accuracy"][0] > pose[mode]["style_accuracy"][0]
        )
        for metric in ("content_distance", "foot_skate"):
            ratio = lat[mode][metric][0] / max(pose[mode][metric][0], 1e-12)
            out[f"{mode}_{metric}_ratio_to_pose"] = ratio
            out[f"{mode}_{metric}_within_20pct"] = ratio <= 1.2
    return out


def _pm(v, scale=1.0, digits=3) -> str:
    return f"{scale * v[0]:.{digits}f} ± {scale * v[1]:.{digits}f}"


def table(p: dict) -> str:
    s, d, sec = p["summary"], p["data"], p["seconds"]
    n_judged = len(d["judged_styles"])
    lines = [
        f"### GenMoStyle on m21 + Xia ({len(d['styles'])} styles, {d['window']}-frame windows "
        f"at 30 fps; {p['identity']['n_sources']} held-out content windows x {n_judged} judged "
        f"styles per mode; mean ± sd over {len(p['seeds'])} seeds)",
        "",
        "| model | mode | style acc. % ↑ | content (timing) ↓ | angle dist. ↓ | foot skate ↓ | "
        "contact agr. ↑ | style FID ↓ |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, mode in (("identity", "label"), ("copy", "reference")):
        r = p["identity"][mode]
        lines.append(
            f"| {NAMES[name]} | - | {100 * r['style_accuracy']:.1f} | "
            f"{r['content_distance']:.3f} | {r['angle_distance']:.3f} | {r['foot_skate']:.3f} | "
            f"{r['contact_agreement']:.3f} | {r['style_fid']:.0f} |"
        )
    for name in ("latent", "pose"):
        for mode in MODES:
            r = s[name][mode]
            lines.append(
                f"| {NAMES[name]} | {mode} | {_pm(r['style_accuracy'], 100, 1)} | "
                f"{_pm(r['content_distance'])} | {_pm(r['angle_distance'])} | "
                f"{_pm(r['foot_skate'])} | {_pm(r['contact_agreement'])} | "
                f"{_pm(r['style_fid'], 1, 0)} |"
            )
    a = p["acceptance"]
    lines += [
        "",
        f"Diversity (mean pairwise joint distance between 5 samples, skeleton units): latent "
        f"{_pm(s['latent']['diversity_label'])} by label, {_pm(s['latent']['diversity_prior'])} "
        f"from the prior; pose space {_pm(s['pose']['diversity_label'])} / "
        f"{_pm(s['pose']['diversity_prior'])}.",
        "",
        f"Judge (style classifier) on real held-out style windows (ceiling): "
        f"{100 * p['classifier_heldout_accuracy']:.1f} % "
        f"({sum(d['heldout_style_windows_per_style'])} windows of {n_judged} styles: "
        f"{', '.join(d['judged_styles'])}; chance {100 / n_judged:.1f} %). Latent / pose ratio, "
        "content (timing) and foot skate: "
        + "; ".join(
            f"{m} {a[f'{m}_content_distance_ratio_to_pose']:.2f} / "
            f"{a[f'{m}_foot_skate_ratio_to_pose']:.2f}"
            for m in MODES
        )
        + ".",
        "",
        f"Training wall time ({p['threads']} threads, {p['machine']['cpu']}): classifier "
        f"{sec['classifier']:.0f} s and root regressor {sec['root_regressor']:.0f} s once; per "
        "seed autoencoder / latent / pose-space model "
        + ", ".join(
            f"{r['autoencoder']:.0f} / {r['latent']:.0f} / {r['pose']:.0f} s"
            for r in sec["per_seed"]
        )
        + f"; total {sec['total_training'] / 60:.1f} min (evaluation "
        f"{sec['evaluation'] / 60:.1f} min more).",
    ]
    return "\n".join(lines)


def plot(p: dict, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from latentzip.files import save_figure

    fig, axes = plt.subplots(1, 4, figsize=(17, 3.6))
    c = p["runs"][0]["curves"]
    ax = axes[0]
    ax.plot(c["autoencoder"], label="autoencoder rec.")
    for name in ("latent", "pose"):
        ax.plot(c[name]["rec_pose"], label=f"{name}: pose rec.")
        ax.plot(c[name]["cycle_pose"], "--", label=f"{name}: pose cycle")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_title("training losses, seed 0 (smooth L1)", fontsize=9)
    ax.legend(fontsize=7)
    s, width = p["summary"], 0.38
    for k, (metric, title) in enumerate(
        (
            ("style_accuracy", "style accuracy (judge)"),
            ("content_distance", "content distance (timing)"),
            ("foot_skate", "foot skating (body heights / s)"),
        )
    ):
        ax = axes[k + 1]
        for i, name in enumerate(("latent", "pose")):
            mean = [s[name][m][metric][0] for m in MODES]
            sd = [s[name][m][metric][1] for m in MODES]
            x = np.arange(len(MODES)) + (i - 0.5) * width
            ax.bar(x, mean, width, yerr=sd, capsize=3, label=NAMES[name])
        if metric == "style_accuracy":
            ax.axhline(p["classifier_heldout_accuracy"], color="k", ls="--", label="real held-out")
            ax.axhline(p["identity"]["label"][metric], color="gray", ls=":", label="input")
        if metric == "foot_skate":
            ax.axhline(p["identity"]["label"][metric], color="gray", ls=":", label="input")
        ax.set_xticks(range(len(MODES)), [f"by {m}" for m in MODES])
        ax.set_title(f"{title}, mean ± sd over seeds", fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def example(data, latent, root, clf, prefix: str = "motion") -> None:
    """Stick figures of one held-out content window stylized by label, by reference and by
    two prior samples (seed 0's latent model)."""
    from latentzip.motion.bvh import save_bvh
    from latentzip.motion.features import features_to_motion
    from latentzip.motion.render import save_gif, save_strip

    tc, ts = data.test_content, data.test_style
    walk = [i for i, c in enumerate(tc.clip) if tc.clips[c] == "walk"]
    i = walk[0] if walk else 0
    x = tc.x[i : i + 1]
    judged = sorted(set(ts.label.tolist()))
    by_label = data.styles.index("zombie") if "zombie" in data.styles else judged[0]
    old = data.styles.index("old") if "old" in data.styles else -1
    by_ref = old if old in judged else judged[-1]
    ref = ts.x[ts.label == by_ref][:1]
    lab, rlab = data.styles[by_label], data.styles[by_ref]
    outs = {
        "input (held out)": x[0],
        f"by label: {lab}": root.restore(latent.stylize_label(x, by_label, seed=0))[0],
        f"by reference: {rlab}": root.restore(latent.stylize_reference(x, ref))[0],
    }
    samples = root.restore(latent.sample(x, 2, seed=7)[:, 0])
    for k in range(2):
        outs[f"prior sample {k + 1}"] = samples[k]
    sk = data.skeleton
    pos = {t: features_to_positions(data.normalizer.inverse(v), sk) for t, v in outs.items()}
    ref_pos = features_to_positions(data.normalizer.inverse(ref[0]), sk)
    panels = [(f"reference ({rlab}, held out)", ref_pos), *pos.items()]
    save_strip(panels, sk.parents, RESULTS / f"{prefix}_example.png", force=True)
    save_gif(list(pos.items()), sk.parents, RESULTS / f"{prefix}_example.gif", data.fps, force=True)
    m = features_to_motion(data.normalizer.inverse(outs[f"by label: {lab}"]), sk, data.fps)
    save_bvh(m.to_bvh(), RESULTS / f"{prefix}_example.bvh", force=True)
    pred = {t: data.styles[int(clf.predict(v[None])[0])] for t, v in outs.items()}
    print("example: the judge says", pred)


if __name__ == "__main__":
    main()
