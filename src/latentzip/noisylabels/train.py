"""Training against noisy labels: cross-entropy, bottlenecks, Co-teaching and the two stages.

* :func:`fit`: one network, plain cross-entropy, with whatever bottleneck it carries
  (none, dropout or nested dropout; Chen et al., TNNLS 2022).
* :func:`coteach`: two networks; on each mini-batch each keeps its ``1 - tau`` smallest-loss
  samples and the *other* network learns from them (Han et al., NeurIPS 2018). ``tau`` rises
  linearly from 0 to the forget rate over ``ramp_epochs`` epochs.
* Two-stage (Chen et al.): :func:`fit` two networks with a bottleneck, restart each from its
  best-validation epoch and fine-tune the pair with :func:`coteach` (``select_in_eval``: the
  small-loss selection is made in eval mode at the current best prefix ``K``).

Every epoch is scored on the clean validation split and the test split; for nested dropout the
best prefix ``K`` on validation is used for both. Co-teaching pairs are tested by averaging the
two networks' logits. The pure ratio is the fraction of the samples a method trains on whose
label is actually clean (all samples for single networks).
"""

from __future__ import annotations

import contextlib
import copy
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from latentzip.bottlenecks.dropout import best_prefix, keep_prefix, prefix_accuracy
from latentzip.noisylabels.data import NoisySplit
from latentzip.noisylabels.models import FeatureClassifier

__all__ = [
    "Eval",
    "Stage",
    "TrainConfig",
    "coteach",
    "coteaching_select",
    "ensemble_history",
    "evaluate",
    "fit",
    "forget_schedule",
    "set_schedule",
]


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters (Adam, mini-batches of ``batch_size``).

    ``ramp_epochs``: Co-teaching's forget-rate ramp; ``decay_start``: from this epoch on
    (0-based) the learning rate falls linearly, ``lr * (epochs - epoch) / (epochs -
    decay_start)``, and Adam's ``beta1`` drops to 0.1, as in Han et al.'s code (``None``:
    constant); ``finetune_epochs`` and ``finetune_lr``: the second stage (constant rate);
    ``threads``: torch CPU threads (1 is much faster than 2 on a shared machine, where
    busy-waiting threads stall each other).
    """

    arch: str = "mlp"
    hidden: tuple[int, ...] = (512, 256)
    epochs: int = 20
    batch_size: int = 128
    lr: float = 1e-3
    dropout: float = 0.5
    sigma: float = 32.0
    ramp_epochs: int = 5
    decay_start: int | None = None
    finetune_epochs: int = 10
    finetune_lr: float = 3e-4
    threads: int = 1

    @classmethod
    def published(cls, epochs: int = 200, **overrides) -> TrainConfig:
        """Han et al.'s MNIST recipe on the 784-256 MLP of the Co-teaching+ experiments (Yu et
        al., ICML 2019): Adam at 1e-3, batches of 128, the forget rate ramped over 10 epochs,
        decay from 40% of the epochs on (80 of 200). ``epochs`` shortens it proportionally."""
        base = {
            "hidden": (256,),
            "epochs": epochs,
            "decay_start": round(0.4 * epochs),
            "ramp_epochs": 10,
            "finetune_epochs": max(1, epochs // 4),
        }
        return cls(**{**base, **overrides})

    @classmethod
    def quick(cls, **overrides) -> TrainConfig:
        """A small network and few epochs: seconds on a CPU."""
        base = {
            "hidden": (128, 64),
            "epochs": 4,
            "sigma": 16.0,
            "ramp_epochs": 2,
            "finetune_epochs": 2,
        }
        return cls(**{**base, **overrides})


@dataclass
class Eval:
    """Scores of one network (or averaged pair) at one point of training."""

    val_acc: float
    test_acc: float
    val_logits: torch.Tensor
    test_logits: torch.Tensor
    k: int | None = None


@dataclass
class Stage:
    """What one training run leaves: per-epoch records, logits, and the best-validation state."""

    history: list[dict] = field(default_factory=list)
    evals: list[Eval] = field(default_factory=list)
    best_state: dict | None = None
    best_k: int | None = None


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def _acc(logits: torch.Tensor, y: torch.Tensor) -> float:
    return float((logits.argmax(1) == y).double().mean())


def evaluate(net: FeatureClassifier, split: NoisySplit) -> Eval:
    """Score ``net`` in eval mode; for nested dropout pick and set the best prefix first."""
    net.eval()
    with torch.no_grad():
        nested = net.nested
        if nested is None:
            val, test = net(split.x_val), net(split.x_test)
            return Eval(_acc(val, split.y_val), _acc(test, split.y_test), val, test)
        fv = net.features(split.x_val)
        nested.k = best_prefix(prefix_accuracy(fv, split.y_val, net.head))
        val = net.head(keep_prefix(fv, nested.k))
        test = net(split.x_test)
        return Eval(_acc(val, split.y_val), _acc(test, split.y_test), val, test, nested.k)


def average(a: Eval, b: Eval, split: NoisySplit) -> Eval:
    """The pair's prediction: mean of both networks' logits."""
    val, test = (a.val_logits + b.val_logits) / 2, (a.test_logits + b.test_logits) / 2
    return Eval(_acc(val, split.y_val), _acc(test, split.y_test), val, test)


def set_schedule(opt: torch.optim.Optimizer, lr: float, epoch: int, epochs: int, decay_start):
    """Han et al.'s Adam schedule: constant, then a linear decay (towards 0 one epoch after
    the last) with ``beta1`` = 0.1; sets and returns the epoch's rate.

    >>> net = torch.nn.Linear(2, 2)
    >>> opt = torch.optim.Adam(net.parameters())
    >>> [set_schedule(opt, 1.0, e, 10, 6) for e in (0, 5, 6, 9)]
    [1.0, 1.0, 1.0, 0.25]
    >>> opt.param_groups[0]["betas"]
    (0.1, 0.999)
    """
    late = decay_start is not None and epoch >= decay_start
    rate = lr * (epochs - epoch) / (epochs - decay_start) if late else lr
    for group in opt.param_groups:
        group["lr"] = rate
        group["betas"] = (0.1 if late else 0.9, 0.999)
    return rate


def _batches(n: int, batch_size: int, generator: torch.Generator) -> list[torch.Tensor]:
    return list(torch.randperm(n, generator=generator).split(batch_size))


def fit(
    net: FeatureClassifier,
    split: NoisySplit,
    cfg: TrainConfig,
    seed: int = 0,
    progress: bool = False,
    desc: str = "fit",
) -> Stage:
    """Train ``net`` in place with cross-entropy on the noisy labels for ``cfg.epochs``."""
    stage = Stage()
    pure = float(split.clean.double().mean())
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    best = -1.0
    with torch_threads(cfg.threads), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for epoch in tqdm(range(cfg.epochs), desc=desc, disable=not progress, leave=False):
            start = time.perf_counter()
            set_schedule(opt, cfg.lr, epoch, cfg.epochs, cfg.decay_start)
            net.train()
            for idx in _batches(len(split.x_train), cfg.batch_size, gen):
                loss = F.cross_entropy(net(split.x_train[idx]), split.y_train[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
            ev = evaluate(net, split)
            stage.evals.append(ev)
            stage.history.append(_record(epoch, ev, pure, 0.0, start))
            if ev.val_acc > best:
                best, stage.best_state, stage.best_k = ev.val_acc, _state(net), ev.k
    return stage


def _state(net: torch.nn.Module) -> dict:
    return copy.deepcopy(net.state_dict())


def _record(epoch: int, ev: Eval, pure: float, tau: float, start: float, **extra) -> dict:
    return {
        "epoch": epoch + 1,
        "val_acc": ev.val_acc,
        "test_acc": ev.test_acc,
        "pure_ratio": pure,
        "forget_rate": tau,
        "k": ev.k,
        "seconds": time.perf_counter() - start,
        **extra,
    }


def forget_schedule(rate: float, epochs: int, ramp_epochs: int) -> np.ndarray:
    """``tau`` per epoch: ``linspace(0, rate, ramp_epochs)`` then ``rate`` (Han et al.)."""
    tau = np.full(epochs, float(rate))
    ramp = min(ramp_epochs, epochs)
    if ramp > 0:
        tau[:ramp] = np.linspace(0.0, rate, ramp_epochs)[:ramp]
    return tau


def coteaching_select(
    loss1: torch.Tensor, loss2: torch.Tensor, forget_rate: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices of each network's ``int((1 - forget_rate) * n)`` smallest losses (at least 1).

    Returns ``(keep1, keep2)``: ``keep1`` are network 1's small-loss samples, which network 2
    learns from, and vice versa. Ties are broken by position (stable sort).
    """
    keep = n_keep(len(loss1), forget_rate)
    return torch.argsort(loss1, stable=True)[:keep], torch.argsort(loss2, stable=True)[:keep]


def coteach(
    net1: FeatureClassifier,
    net2: FeatureClassifier,
    split: NoisySplit,
    cfg: TrainConfig,
    forget_rate: float,
    seed: int = 0,
    epochs: int | None = None,
    lr: float | None = None,
    ramp_epochs: int | None = None,
    select_in_eval: bool = False,
    epoch_offset: int = 0,
    progress: bool = False,
    desc: str = "co-teaching",
) -> Stage:
    """Co-teach ``net1`` and ``net2`` in place; the records score the averaged pair.

    With ``select_in_eval`` the per-sample losses used for selection come from an extra
    forward pass in eval mode (no dropout, nested prefix at the current best ``K``); the
    update then runs in train mode on the selected samples. Otherwise one train-mode forward
    serves both, as in Han et al.
    """
    epochs = cfg.epochs if epochs is None else epochs
    ramp = cfg.ramp_epochs if ramp_epochs is None else ramp_epochs
    taus = forget_schedule(forget_rate, epochs, ramp)
    clean = split.clean
    gen = torch.Generator().manual_seed(seed)
    params = [*net1.parameters(), *net2.parameters()]
    base_lr = cfg.lr if lr is None else lr
    decay_start = cfg.decay_start if lr is None else None  # the fine-tune keeps its rate
    opt = torch.optim.Adam(params, lr=base_lr)
    stage, best = Stage(), -1.0
    with torch_threads(cfg.threads), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if select_in_eval:
            evaluate(net1, split)  # sets the current best K
            evaluate(net2, split)
        bar = tqdm(range(epochs), desc=desc, disable=not progress, leave=False)
        for epoch in bar:
            start, tau, kept, pure = time.perf_counter(), float(taus[epoch]), 0, 0
            set_schedule(opt, base_lr, epoch, epochs, decay_start)
            for idx in _batches(len(split.x_train), cfg.batch_size, gen):
                x, y = split.x_train[idx], split.y_train[idx]
                if select_in_eval:
                    net1.eval()
                    net2.eval()
                    with torch.no_grad():
                        l1 = F.cross_entropy(net1(x), y, reduction="none")
                        l2 = F.cross_entropy(net2(x), y, reduction="none")
                    keep1, keep2 = coteaching_select(l1, l2, tau)
                    net1.train()
                    net2.train()
                    loss = F.cross_entropy(net1(x[keep2]), y[keep2]) + F.cross_entropy(
                        net2(x[keep1]), y[keep1]
                    )
                else:
                    net1.train()
                    net2.train()
                    l1 = F.cross_entropy(net1(x), y, reduction="none")
                    l2 = F.cross_entropy(net2(x), y, reduction="none")
                    keep1, keep2 = coteaching_select(l1.detach(), l2.detach(), tau)
                    loss = l1[keep2].mean() + l2[keep1].mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
                kept += len(keep1) + len(keep2)
                pure += int(clean[idx[keep1]].sum() + clean[idx[keep2]].sum())
            e1, e2 = evaluate(net1, split), evaluate(net2, split)
            ev = average(e1, e2, split)
            stage.evals.append(ev)
            stage.history.append(
                _record(epoch + epoch_offset, ev, pure / kept, tau, start, k=e1.k, k2=e2.k)
            )
            bar.set_postfix(test=f"{ev.test_acc:.3f}", pure=f"{pure / kept:.3f}")
            if ev.val_acc > best:
                best, stage.best_state = ev.val_acc, {"net1": _state(net1), "net2": _state(net2)}
    return stage


def ensemble_history(a: Stage, b: Stage, split: NoisySplit) -> list[dict]:
    """Per-epoch records of two independently trained networks scored as an averaged pair."""
    out = []
    for ha, hb, ea, eb in zip(a.history, b.history, a.evals, b.evals, strict=True):
        ev = average(ea, eb, split)
        rec = {**ha, "val_acc": ev.val_acc, "test_acc": ev.test_acc, "k2": hb["k"]}
        rec["seconds"] = ha["seconds"] + hb["seconds"]
        out.append(rec)
    return out


def n_keep(n: int, forget_rate: float) -> int:
    """How many of ``n`` samples :func:`coteaching_select` keeps."""
    return max(1, int((1.0 - forget_rate) * n))
