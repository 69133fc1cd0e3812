"""Run the compared methods on one noisy split, sharing the networks they have in common.

=====================  ==============================================================
``ce``                 one network, cross-entropy
``dropout``            one network, dropout on the final feature vector
``nested``             one network, nested dropout on the final feature vector
``coteaching``         two networks, Co-teaching from scratch
``nested+coteaching``  two nested-dropout networks, then Co-teaching fine-tuning
``dropout+coteaching`` two dropout networks, then Co-teaching fine-tuning
=====================  ==============================================================

Network ``i`` (0 or 1) of a seed starts from the same initial weights and sees the same
mini-batch order whatever its bottleneck, so the methods differ only in what they compare.
The bottleneck methods report network 0, which is also the first network of the matching
two-stage method (trained once).
"""

from __future__ import annotations

import copy

import torch

from latentzip.noisylabels.data import NoisySplit
from latentzip.noisylabels.models import FeatureClassifier, make_model
from latentzip.noisylabels.results import MethodResult
from latentzip.noisylabels.train import Stage, TrainConfig, coteach, ensemble_history, fit

__all__ = ["METHODS", "run_methods"]

METHODS = (
    "ce",
    "dropout",
    "nested",
    "coteaching",
    "nested+coteaching",
    "dropout+coteaching",
)
_SINGLE = {"ce": "none", "dropout": "dropout", "nested": "nested"}


def build(split: NoisySplit, cfg: TrainConfig, bottleneck: str, seed: int) -> FeatureClassifier:
    """A fresh network for ``split`` whose initial weights depend only on ``seed``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return make_model(
            cfg.arch,
            tuple(split.x_train.shape[1:]),
            split.n_classes,
            bottleneck,
            cfg.hidden,
            cfg.dropout,
            cfg.sigma,
        )


def run_methods(
    split: NoisySplit,
    cfg: TrainConfig,
    methods: tuple[str, ...] | list[str] = METHODS,
    seed: int = 0,
    forget_rate: float | None = None,
    progress: bool = False,
) -> list[MethodResult]:
    """Train and score every method in ``methods`` on ``split``; one result per method.

    ``forget_rate`` (Co-teaching's final ``tau``) defaults to the split's noise rate.
    """
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown methods {unknown}; expected some of {METHODS}")
    tau = split.noise.rate if forget_rate is None else forget_rate
    trained: dict[tuple[str, int], tuple[FeatureClassifier, Stage]] = {}

    def single(kind: str, i: int) -> tuple[FeatureClassifier, Stage]:
        if (kind, i) not in trained:
            net = build(split, cfg, kind, 100 * seed + i)
            stage = fit(net, split, cfg, 100 * seed + i, progress, desc=f"{kind} #{i}")
            trained[kind, i] = net, stage
        return trained[kind, i]

    results = []
    for method in methods:
        if method in _SINGLE:
            history = single(_SINGLE[method], 0)[1].history
            results.append(MethodResult.from_history(method, seed, history))
        elif method == "coteaching":
            nets = [build(split, cfg, "none", 100 * seed + i) for i in (0, 1)]
            stage = coteach(*nets, split, cfg, tau, 100 * seed, progress=progress)
            results.append(MethodResult.from_history(method, seed, stage.history))
        else:
            kind = method.split("+")[0]
            (a, sa), (b, sb) = single(kind, 0), single(kind, 1)
            pair = []
            for net, stage in ((a, sa), (b, sb)):
                net = copy.deepcopy(net)
                net.load_state_dict(stage.best_state)
                pair.append(net)
            ft = coteach(
                *pair,
                split,
                cfg,
                tau,
                100 * seed + 2,
                epochs=cfg.finetune_epochs,
                lr=cfg.finetune_lr,
                ramp_epochs=0,
                select_in_eval=True,
                epoch_offset=cfg.epochs,
                progress=progress,
                desc=f"{method} fine-tune",
            )
            history = ensemble_history(sa, sb, split) + ft.history
            results.append(MethodResult.from_history(method, seed, history, cfg.epochs + 1))
    return results
