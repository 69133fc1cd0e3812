"""A mixture of HCLTs, each with its own tree: p(x) = sum_m w_m p_m(x).

Components are HCLTs (:class:`~latentzip.circuits.circuit.Circuit`) over the same variables
whose Chow-Liu trees may differ (each is learned from the records its component explains).
Its walker keeps each record's posterior over the components, updated as symbols are coded
(Bayes' rule on the components' own conditionals); the coder runs the same computation in
integers (:mod:`.quantised_mixture`)::

    P(x_v | x_<v) = sum_m P(m | x_<v) P_m(x_v | x_<v),   P(m | x_<=v) ~ P(m | x_<v) P_m(x_v | x_<v)

A component whose tree's pre-order is the coding order uses the incremental walker; any other
uses :class:`~latentzip.circuits.anyorder.AnyOrderConditionals`, O(depth K^2) per symbol.
Training (:class:`HCLTMixture`): k-means on a subsample splits the records, each part gets its
tree and a start, then EM with responsibilities (Meila & Jordan, "Learning with mixtures of
trees", JMLR 2000, with HCLT components).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from latentzip import progress as progress_bars
from latentzip.circuits import em
from latentzip.circuits import engine as engines
from latentzip.circuits.anyorder import AnyOrderConditionals
from latentzip.circuits.circuit import Circuit
from latentzip.circuits.hclt import DensityEstimator, HCLTConfig
from latentzip.circuits.incremental import IncrementalConditionals
from latentzip.circuits.mixture_parts import (
    MAX_COMPONENTS,
    MixtureParts,
    check_components,
    split_arrays,
)
from latentzip.circuits.structure import mutual_information
from latentzip.coding import modelfile
from latentzip.coding.quantise import quantise
from latentzip.data import validate_symbols
from latentzip.errors import DataError, ModelError


@dataclass(frozen=True, eq=False)
class MixtureCircuit(MixtureParts):
    """Weights (M,) and HCLT components over the same variables, coded in ``order`` (D,)."""

    kind = "hclt-mixture"  # model files: the float training object
    version = 1

    def coding_model(self):
        """The integer mixture the coder runs (:mod:`.quantised_mixture`)."""
        if "coding" not in self._cache:
            from latentzip.circuits.quantised_mixture import QuantisedMixture

            self._cache["coding"] = QuantisedMixture.from_mixture(self)
        return self._cache["coding"]

    def walker(self, n: int) -> MixtureWalker:
        """The float conditionals (the reference the integer coder approximates)."""
        return MixtureWalker(self, n)

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], settings: dict) -> MixtureCircuit:
        parts = tuple(Circuit.from_arrays(own, {}) for own in split_arrays(arrays, settings))
        mix = cls(arrays["weights"].astype(np.float64), parts, arrays["order"])
        mix.check()
        return mix

    def check(self) -> None:
        """Raise :class:`ModelError` unless the components agree and the weights normalise."""
        w = self.weights
        if w.shape != (len(self.components),) or not np.all(np.isfinite(w)) or w.min() < 0:
            raise ModelError("mixture weights must be one finite non-negative value per component")
        if abs(w.sum() - 1) > 1e-6:
            raise ModelError("mixture weights do not sum to one")
        check_components(self.components, self.order)

    def log_prob(self, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        """log p(x) (N,) of validated records."""
        return _logsumexp(self._joint(x, batch_size), axis=1)

    def _joint(self, x: np.ndarray, batch_size: int) -> np.ndarray:
        """log w_m + log p_m(x) (N, M)."""
        with np.errstate(divide="ignore"):
            log_w = np.log(self.weights)
        return np.stack([c.log_prob(x, batch_size=batch_size) for c in self.components], 1) + log_w


class MixtureWalker:
    """Float conditionals mixed by each record's posterior (the integer coder's reference)."""

    def __init__(self, mix: MixtureCircuit, n: int):
        self.mix, self.order = mix, mix.order
        self.walks = [
            IncrementalConditionals(c, n)
            if np.array_equal(c.tree.order, mix.order)
            else AnyOrderConditionals(c, n, mix.order)
            for c in mix.components
        ]
        with np.errstate(divide="ignore"):
            self.log_post = np.tile(np.log(mix.weights), (n, 1))  # (n, M), unnormalised
        self._preds = np.zeros((len(self.walks), n, mix.components[0].leaves.shape[1]))
        self._out = np.zeros((n, self._preds.shape[2]), dtype=np.int64)

    def predict_probs(self, t: int) -> np.ndarray:
        """Mixed probabilities (n, C) of the variable at position ``t``."""
        for m, walk in enumerate(self.walks):
            self._preds[m] = walk.predict(t)
        post = np.exp(self.log_post - self.log_post.max(1, keepdims=True))
        post /= post.sum(1, keepdims=True)
        return np.einsum("nm,mnc->nc", post, self._preds)

    def predict(self, t: int) -> np.ndarray:
        v = int(self.order[t])
        n_valid = int(self.mix.alphabet_sizes[v])
        return quantise(self.predict_probs(t), n_valid, out=self._out)

    def observe(self, t: int, values: np.ndarray) -> None:
        values = np.asarray(values, dtype=np.int64)
        rows = np.arange(len(values))
        with np.errstate(divide="ignore", invalid="ignore"):
            lp = self.log_post + np.log(self._preds[:, rows, values]).T
            top = lp.max(1, keepdims=True)
            lp -= np.where(np.isfinite(top), top, 0.0)  # stays bounded
        lost = ~np.isfinite(top[:, 0])  # every component ruled the value out: start over
        lp[lost] = np.log(self.mix.weights)
        self.log_post = lp
        for walk in self.walks:
            walk.observe(t, values)


# --------------------------------------------------------------------------- estimator
@dataclass(frozen=True)
class MixtureConfig:
    """n_components: M; hclt: the components' settings (K, epochs, step sizes, ...);
    kmeans_records: records the initial split is computed on."""

    n_components: int = 2
    hclt: HCLTConfig = field(default_factory=HCLTConfig.quick)
    kmeans_records: int = 5000

    def __post_init__(self):
        if not 1 <= self.n_components <= MAX_COMPONENTS:
            raise ValueError(f"n_components must lie in 1..{MAX_COMPONENTS}")


class HCLTMixture(DensityEstimator, modelfile.Stored):
    """A mixture of HCLTs with per-component trees, trained by EM.

    Examples
    --------
    >>> from latentzip.data import load_digits
    >>> x = load_digits().data[:400]
    >>> cfg = MixtureConfig(2, HCLTConfig.quick(epochs=1, full_batch_epochs=1))
    >>> mix = HCLTMixture(cfg).fit(x, 17, progress=False)
    >>> bool(mix.score(x) < 0), len(mix.mixture_.components)
    (True, 2)
    """

    def __init__(self, config: MixtureConfig | None = None):
        self.config = config or MixtureConfig()

    def fit(self, x: np.ndarray, n_categories: int | np.ndarray | None = None, *,
            progress: bool = True, engine: str | None = None,
            device: str | None = None) -> HCLTMixture:  # fmt: skip
        """Split ``x`` (n, D) by k-means, learn a tree per part, then EM on all of it
        (``engine``/``device`` as in :meth:`HCLT.fit`, one engine per component)."""
        cfg, hc = self.config, self.config.hclt
        x0 = np.asarray(x)
        if n_categories is None:
            n_categories = int(x0.max()) + 1 if x0.size else 1
        x = validate_symbols(x, n_categories)
        cats = np.broadcast_to(np.asarray(n_categories, np.int64), (x.shape[1],)).copy()
        if len(x) < cfg.n_components:
            raise DataError(f"{len(x)} records cannot start {cfg.n_components} components")
        rng = np.random.default_rng(hc.seed)
        mix = self._start(x, cats, rng)
        engs = [engines.engine(engine, device) for _ in mix.components]
        for eng, c in zip(engs, mix.components, strict=True):
            eng.load(c)
        self.history_ = []
        total = hc.epochs + hc.full_batch_epochs
        for epoch in range(total):
            step = hc.step_size(epoch) if epoch < hc.epochs else 1.0
            batch = hc.batch_size if epoch < hc.epochs else len(x)
            mix, ll = self._epoch(mix, engs, x, step, batch, rng, progress, epoch)
            self.history_.append({"epoch": epoch + 1, "step_size": step, "train_ll": ll / len(x)})
        self.mixture_ = mix
        return self

    def _start(self, x, cats, rng) -> MixtureCircuit:
        from sklearn.cluster import KMeans

        cfg, hc = self.config, self.config.hclt
        sub = x[rng.permutation(len(x))[: cfg.kmeans_records]]
        km = KMeans(cfg.n_components, n_init=3, random_state=hc.seed).fit(sub.astype(np.float64))
        labels = km.predict(x.astype(np.float64))
        parts = []
        for m in range(cfg.n_components):
            own = x[labels == m] if np.any(labels == m) else x
            mi = mutual_information(own, cats, n_bins=hc.mi_bins, max_records=hc.mi_records,
                                    random_state=hc.seed + m)  # fmt: skip
            parts.append(em.start(mi, em.value_counts(own, cats), cats, hc.n_latents, rng))
        weights = np.bincount(labels, minlength=cfg.n_components) + 1.0
        return MixtureCircuit(weights / weights.sum(), tuple(parts), parts[0].tree.order)

    def _epoch(self, mix, engs, x, step, batch, rng, progress, epoch):
        hc = self.config.hclt
        perm = rng.permutation(len(x)) if batch < len(x) else np.arange(len(x))
        desc = f"epoch {epoch + 1} mixture EM"
        bar = progress_bars.bar(range(0, len(x), batch), desc=desc, enabled=progress)
        total_ll = 0.0
        for start in bar:
            xb = x[perm[start : start + batch]]
            joint = np.concatenate(
                [mix._joint(xb[i : i + hc.eval_batch_size], hc.eval_batch_size)
                 for i in range(0, len(xb), hc.eval_batch_size)]
            )  # fmt: skip
            ll = _logsumexp(joint, axis=1)
            resp = np.exp(joint - ll[:, None])  # (n, M)
            total_ll += float(ll.sum())
            parts = []
            for m, eng in enumerate(engs):
                totals = None
                for i in range(0, len(xb), hc.eval_batch_size):
                    sl = slice(i, i + hc.eval_batch_size)
                    totals = eng.add(eng.counts(xb[sl], resp[sl, m])[1], totals)
                eng.update(totals, hc.pseudocount, step)
                parts.append(eng.circuit())
            w = (1 - step) * mix.weights + step * (resp.sum(0) + hc.pseudocount)
            mix = replace(mix, weights=w / w.sum(), components=tuple(parts), _cache={})
            progress_bars.note(bar, bpd=f"{-ll.mean() / x.shape[1] / math.log(2):.3f}")
        return mix, total_ll

    # ------------------------------------------------------------------ queries
    def _check_fitted(self) -> MixtureCircuit:
        if not hasattr(self, "mixture_"):
            raise ModelError("this HCLTMixture is not fitted yet; call fit(x) first")
        return self.mixture_

    def coding_model(self):
        return self._check_fitted().coding_model()

    def score_samples(self, x: np.ndarray) -> np.ndarray:
        """Exact log-likelihood (nats) of each record, shape (n,)."""
        mix = self._check_fitted()
        return mix.log_prob(validate_symbols(x, mix.alphabet_sizes))

    def sample(self, n: int, random_state: int | None = None) -> np.ndarray:
        """Draw ``n`` records: a component per record, then ancestral sampling."""
        mix, rng = self._check_fitted(), np.random.default_rng(random_state)
        comp = rng.choice(len(mix.components), size=n, p=mix.weights)
        out = np.empty((n, mix.n_variables), dtype=np.int64)
        for m, c in enumerate(mix.components):
            rows = np.flatnonzero(comp == m)
            if rows.size:
                out[rows] = c.sample(rows.size, rng)
        return out

    def save(self, path: str | Path) -> Path:
        meta = {"config": {**asdict(self.config)}, "history": getattr(self, "history_", [])}
        return modelfile.save(self._check_fitted(), path, meta)

    @classmethod
    def from_model(cls, mix, meta: dict, source: str = "model") -> HCLTMixture:
        if not isinstance(mix, MixtureCircuit):
            raise ModelError(f"{source}: holds a {mix.kind} model, not an HCLT mixture")
        c = meta.get("config", {})
        model = cls(MixtureConfig(c.get("n_components", len(mix.components)),
                                  HCLTConfig(**c.get("hclt", {}))))  # fmt: skip
        model.mixture_, model.history_ = mix, meta.get("history", [])
        return model


def _logsumexp(a: np.ndarray, axis: int) -> np.ndarray:
    top = np.max(a, axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        return (np.log(np.exp(a - top).sum(axis=axis, keepdims=True)) + top).squeeze(axis)
