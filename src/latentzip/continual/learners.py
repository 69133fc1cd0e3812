"""Learners for a class-incremental stream: the key-value bottleneck and the baselines.

All share ``partial_fit(x, y) -> self`` (one task, several epochs; no replay) and
``predict(x) -> labels``. The bottleneck and the probes take frozen features; the fine-tuned
encoder takes the images and trains the encoder with its head.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from latentzip.bottlenecks.key_value import KeyValueBottleneck
from latentzip.continual.encoders import as_float_images


def _labels(y) -> torch.Tensor:
    return torch.as_tensor(np.asarray(y), dtype=torch.long)


class LazyAdam:
    """Adam on the rows of a parameter that a step names; other rows and their moments are
    left as they are (the semantics of ``torch.optim.SparseAdam``, on a dense gradient, which
    is much faster on a CPU for small tables). Each row keeps its own step count."""

    def __init__(
        self, param: torch.Tensor, lr: float, betas=(0.9, 0.999), eps: float = 1e-8
    ) -> None:
        self.param, self.lr, self.betas, self.eps = param, lr, betas, eps
        self.m = torch.zeros_like(param)
        self.v = torch.zeros_like(param)
        self.t = torch.zeros(param.shape[0])

    def zero_grad(self) -> None:
        self.param.grad = None

    @torch.no_grad()
    def step(self, rows: torch.Tensor) -> None:
        b1, b2 = self.betas
        g = self.param.grad[rows]
        self.t[rows] += 1
        t = self.t[rows, None]
        m = self.m[rows].mul_(b1).add_(g, alpha=1 - b1)
        v = self.v[rows].mul_(b2).addcmul_(g, g, value=1 - b2)
        self.m[rows], self.v[rows] = m, v
        update = (m / (1 - b1**t)) / ((v / (1 - b2**t)).sqrt() + self.eps)
        self.param[rows] -= self.lr * update


class KVLearner:
    """A :class:`KeyValueBottleneck` whose values are learned by one of two local rules.

    ``value_rule="gradient"`` (the paper's): cross-entropy on the mean of the fetched values,
    :class:`LazyAdam` on the selected rows. The key indices of the training samples are
    computed once per ``partial_fit`` call and reused by every epoch.

    ``value_rule="counts"``: each key counts the labels of the samples that select it, and its
    value for class c is log((n_kc + alpha) / (N_c + alpha P)), the smoothed log-frequency of
    the key among class c's samples; the voting decoder then sums these over the heads (a
    naive-Bayes vote; a class not seen yet gets no vote). A key's value for a class depends
    on that class's samples only, so a new task never changes what was learned for the old
    ones, and the order of the tasks does not matter: after the last task the values are
    those of training on everything at once.

    Keys selected in training are marked used; ``predict`` masks the others.
    """

    def __init__(
        self,
        in_dim: int,
        n_classes: int = 10,
        *,
        n_codebooks: int = 64,
        n_pairs: int = 256,
        key_dim: int | None = 8,
        projection: str = "random",
        decoder: str = "vote",
        epochs: int = 10,
        batch_size: int = 256,
        lr: float = 0.05,
        seed: int = 0,
        present_classes_only: bool = False,
        value_rule: str = "gradient",
        alpha: float = 0.1,
    ) -> None:
        if value_rule not in ("gradient", "counts"):
            raise ValueError(f"value_rule must be gradient or counts, not {value_rule!r}")
        if value_rule == "counts" and decoder != "vote":
            raise ValueError("the counts rule gives votes: it needs the voting decoder")
        self.value_rule, self.alpha = value_rule, alpha
        # the "labels trick": a step's softmax spans the classes of the data it is given, so
        # training on new classes never pushes the old classes' votes down
        self.present_classes_only = present_classes_only
        self.n_classes, self.epochs, self.batch_size, self.lr, self.seed = (
            n_classes,
            epochs,
            batch_size,
            lr,
            seed,
        )
        torch.manual_seed(seed)
        value_dim = n_classes if decoder == "vote" else 32
        self.bottleneck = KeyValueBottleneck(
            in_dim,
            n_codebooks,
            n_pairs,
            key_dim,
            value_dim,
            projection=projection,
            decoder=decoder,
            n_classes=n_classes,
            seed=seed,
        )
        counted = n_codebooks * n_pairs if value_rule == "counts" else 0  # (key, class) counts
        self._counts = torch.zeros(counted, n_classes, dtype=torch.float64)
        self._values_opt: LazyAdam | None = None
        self._decoder_opt: torch.optim.Optimizer | None = None
        self._step = 0

    def init_keys(self, x, **kmeans) -> KVLearner:
        """EMA k-means keys on unlabelled features (see :func:`ema_kmeans`)."""
        kmeans.setdefault("seed", self.seed)
        self.bottleneck.init_keys(x, **kmeans)
        return self

    def partial_fit(self, x, y) -> KVLearner:
        idx = self.bottleneck.key_indices(x, mask_unused=False)
        return self.fit_indices(idx, y)

    def fit_indices(self, indices: torch.Tensor, y) -> KVLearner:
        """Train the values on cached key indices ``(n, C)``."""
        kv, y = self.bottleneck, _labels(y)
        kv.mark_used(indices)
        if self.value_rule == "counts":
            return self._count(indices, y)
        if self._values_opt is None:
            self._values_opt = LazyAdam(kv.values, self.lr)
            if kv.decoder is not None:
                self._decoder_opt = torch.optim.Adam(kv.decoder.parameters(), lr=1e-3)
        flat = indices + torch.arange(kv.n_codebooks) * kv.n_pairs
        offset = torch.zeros(self.n_classes)
        if self.present_classes_only:
            offset.fill_(float("-inf"))
            offset[y.unique()] = 0.0
        kv.train()
        for b in _minibatches(len(y), self.epochs, self.batch_size, self.seed * 7919 + self._step):
            self._values_opt.zero_grad()
            if self._decoder_opt is not None:
                self._decoder_opt.zero_grad()
            F.cross_entropy(kv.decode(indices[b]) + offset, y[b]).backward()
            self._values_opt.step(flat[b].unique())
            if self._decoder_opt is not None:
                self._decoder_opt.step()
        self._step += 1
        kv.eval()
        return self

    @torch.no_grad()
    def _count(self, indices: torch.Tensor, y: torch.Tensor) -> KVLearner:
        kv = self.bottleneck
        flat = (indices + torch.arange(kv.n_codebooks) * kv.n_pairs).reshape(-1)
        cell = flat * self.n_classes + y.repeat_interleave(kv.n_codebooks)  # (key, label)
        self._counts.view(-1).add_(torch.bincount(cell, minlength=self._counts.numel()))
        n = self._counts.view(kv.n_codebooks, kv.n_pairs, self.n_classes)
        per_class = n.sum(1, keepdim=True)  # N_c per head: samples of class c
        votes = torch.log((n + self.alpha) / (per_class + self.alpha * kv.n_pairs))
        votes = torch.where(per_class > 0, votes, torch.full_like(votes, -1e4))  # unseen
        kv.values.copy_(votes.view_as(kv.values).to(kv.values.dtype))
        return self

    @torch.no_grad()
    def predict(self, x) -> np.ndarray:
        self.bottleneck.eval()
        idx = self.bottleneck.key_indices(x, mask_unused=True)
        return self.bottleneck.decode(idx).argmax(dim=1).numpy()


def _minibatches(n: int, epochs: int, batch_size: int, seed: int) -> Iterator[torch.Tensor]:
    """Index batches of ``epochs`` seeded shuffles of ``range(n)``."""
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        order = torch.randperm(n, generator=g)
        for i in range(0, n, batch_size):
            yield order[i : i + batch_size]


class TorchLearner:
    """A network trained with Adam and cross-entropy on each task in turn (no replay)."""

    def __init__(
        self,
        net: nn.Module,
        *,
        epochs: int = 5,
        batch_size: int = 128,
        lr: float = 1e-3,
        seed: int = 0,
    ) -> None:
        self.net, self.epochs, self.batch_size, self.seed = net, epochs, batch_size, seed
        self.optimizer = torch.optim.Adam(net.parameters(), lr=lr)
        self._step = 0

    def _inputs(self, x) -> torch.Tensor:
        return torch.as_tensor(x, dtype=torch.float32)

    def partial_fit(self, x, y) -> TorchLearner:
        x, y = self._inputs(x), _labels(y)
        self.net.train()
        for b in _minibatches(len(y), self.epochs, self.batch_size, self.seed * 7919 + self._step):
            self.optimizer.zero_grad()
            F.cross_entropy(self.net(x[b]), y[b]).backward()
            self.optimizer.step()
        self._step += 1
        self.net.eval()
        return self

    @torch.no_grad()
    def predict(self, x, batch_size: int = 4096) -> np.ndarray:
        self.net.eval()
        x = self._inputs(x)
        out = [self.net(x[i : i + batch_size]).argmax(1) for i in range(0, len(x), batch_size)]
        return torch.cat(out).numpy()


class LinearProbe(TorchLearner):
    """A linear classifier on frozen features."""

    def __init__(self, in_dim: int, n_classes: int = 10, *, seed: int = 0, **kw) -> None:
        torch.manual_seed(seed)
        super().__init__(nn.Linear(in_dim, n_classes), seed=seed, **kw)


class MLPProbe(TorchLearner):
    """A one-hidden-layer ReLU network on frozen features."""

    def __init__(
        self, in_dim: int, n_classes: int = 10, *, hidden: int = 256, seed: int = 0, **kw
    ) -> None:
        torch.manual_seed(seed)
        net = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, n_classes))
        super().__init__(net, seed=seed, **kw)


class ReplayProbe(MLPProbe):
    """:class:`MLPProbe` with experience replay: a class-balanced buffer of at most
    ``buffer_size`` past samples is trained on together with each new task."""

    def __init__(self, in_dim: int, n_classes: int = 10, *, buffer_size: int = 500, **kw):
        super().__init__(in_dim, n_classes, **kw)
        self.buffer_size = buffer_size
        self._buffer: dict[int, torch.Tensor] = {}

    def partial_fit(self, x, y) -> ReplayProbe:
        x, y = self._inputs(x), _labels(y)
        seen = [torch.full((len(v),), c, dtype=torch.long) for c, v in self._buffer.items()]
        if seen:
            super().partial_fit(torch.cat([x, *self._buffer.values()]), torch.cat([y, *seen]))
        else:
            super().partial_fit(x, y)
        g = torch.Generator().manual_seed(self.seed * 104729 + self._step)
        for c in y.unique().tolist():
            rows = (y == c).nonzero()[:, 0]
            self._buffer[c] = x[rows[torch.randperm(len(rows), generator=g)]]
        per_class = max(1, self.buffer_size // len(self._buffer))
        self._buffer = {c: v[:per_class] for c, v in self._buffer.items()}
        return self


class FineTuneEncoder(TorchLearner):
    """The encoder (a copy, so the frozen one is untouched) and a linear head, trained on
    uint8 images end to end."""

    def __init__(
        self, encoder, n_classes: int = 10, *, seed: int = 0, epochs: int = 1, **kw
    ) -> None:
        torch.manual_seed(seed)
        body = copy.deepcopy(encoder.module())
        net = nn.Sequential(body, nn.Linear(encoder.dim, n_classes))
        super().__init__(net, seed=seed, epochs=epochs, **kw)

    def _inputs(self, x) -> torch.Tensor:
        return as_float_images(x)
