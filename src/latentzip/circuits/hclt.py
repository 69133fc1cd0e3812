"""The HCLT density estimator: structure learning + EM, in scikit-learn's shape."""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from latentzip import progress as progress_bars
from latentzip.circuits import em
from latentzip.circuits import engine as engines
from latentzip.circuits.circuit import Circuit
from latentzip.circuits.structure import mutual_information
from latentzip.coding import modelfile
from latentzip.data import validate_symbols
from latentzip.errors import DataError, ModelError


@dataclass(frozen=True)
class HCLTConfig:
    """Hyperparameters of HCLT learning.

    n_latents : K, states per latent variable.
    epochs : mini-batch EM epochs; the step size falls linearly from ``step_size_start``
        to ``step_size_end`` over them (over the first ``anneal_epochs`` if set, then stays).
    full_batch_epochs : full-batch EM epochs run after the mini-batch phase.
    pseudocount : total Laplace pseudocount per distribution (spread over its entries).
    mi_bins, mi_records : mutual-information estimator (see :mod:`structure`).
    """

    n_latents: int = 16
    epochs: int = 10
    batch_size: int = 512
    step_size_start: float = 0.1
    step_size_end: float = 0.01
    full_batch_epochs: int = 2
    pseudocount: float = 0.1
    mi_bins: int = 16
    mi_records: int = 10_000
    eval_batch_size: int = 1024
    seed: int = 0
    anneal_epochs: int = 0

    def step_size(self, epoch: int) -> float:
        """Mini-batch EM step size: linear from start to end over ``anneal_epochs`` (all epochs
        when 0), constant after."""
        span = self.anneal_epochs or self.epochs
        if span <= 1:
            return self.step_size_start
        frac = min(1.0, epoch / (span - 1))
        return self.step_size_start + frac * (self.step_size_end - self.step_size_start)

    @classmethod
    def quick(cls, **kw) -> HCLTConfig:
        """Seconds on small data (tests, the demo on 8x8 digits)."""
        return replace(cls(n_latents=8, epochs=5, batch_size=256, full_batch_epochs=2), **kw)

    @classmethod
    def mnist(cls, **kw) -> HCLTConfig:
        """The 30-minute MNIST configuration (2 CPU cores)."""
        return replace(cls(n_latents=16, epochs=12, full_batch_epochs=3), **kw)

    @classmethod
    def mnist_long(cls, **kw) -> HCLTConfig:
        """The longer MNIST configuration (a few hours on 2 CPU cores)."""
        return replace(cls(n_latents=32, epochs=30, full_batch_epochs=5), **kw)

    @classmethod
    def published(cls, **kw) -> HCLTConfig:
        """The published HCLT recipe (Juice.jl, K=32): 350 mini-batch epochs of 512, the
        step size annealed from 0.8 to 0.1 over the first 100 (parameter inertia 0.2 -> 0.9),
        pseudocount 0.1. Hours on a GPU; meant for the torch engine."""
        return replace(
            cls(n_latents=32, epochs=350, full_batch_epochs=0, step_size_start=0.8,
                step_size_end=0.1, anneal_epochs=100),
            **kw,
        )  # fmt: skip


class DensityEstimator:
    """``score`` and ``bits_per_dim`` from a subclass's ``score_samples`` (nats per record)."""

    def score(self, x: np.ndarray) -> float:
        """Mean log-likelihood (nats) per record."""
        return float(self.score_samples(x).mean())

    def bits_per_dim(self, x: np.ndarray) -> float:
        """Mean negative log2-likelihood per variable."""
        x = np.asarray(x)
        return float(-self.score_samples(x).sum() / x.size / math.log(2))


class HCLT(DensityEstimator, modelfile.Stored):
    """Hidden Chow-Liu Tree probabilistic circuit over discrete variables.

    Parameters
    ----------
    config : HCLTConfig
        Hyperparameters (K, epochs, batch size, step sizes, ...).

    Attributes
    ----------
    circuit_ : Circuit
        The learned structure and parameters.
    history_ : list of dict
        Per-epoch training log: phase, step size, mean train log-likelihood, seconds.

    Examples
    --------
    >>> from latentzip.data import load_digits
    >>> x = load_digits().data
    >>> model = HCLT(HCLTConfig.quick(epochs=1, full_batch_epochs=0)).fit(x, progress=False)
    >>> bool(model.score(x) < 0)
    True
    """

    def __init__(self, config: HCLTConfig | None = None):
        self.config = config or HCLTConfig()

    # ---------------------------------------------------------------- fitting
    def fit(
        self,
        x: np.ndarray,
        n_categories: int | np.ndarray | None = None,
        *,
        valid: np.ndarray | None = None,
        patience: int | None = None,
        checkpoint: str | Path | None = None,
        progress: bool = True,
        engine=None,
        device: str | None = None,
        init: Circuit | None = None,
    ) -> HCLT:
        """Learn the structure from ``x`` (n, D) and train the parameters by EM.

        ``init`` continues from a circuit (structure and parameters; e.g. after
        :func:`~.growth.grow`) instead of learning a Chow-Liu tree.

        ``engine`` runs the E- and M-steps (:mod:`.engine`): an engine object, or a name
        (``"numpy"``, the default reference, or ``"torch"`` on ``device`` ``"cpu"`` or
        ``"cuda"``); the parameters stay in it for the whole fit.

        ``n_categories`` defaults to ``max(x) + 1`` for every variable. With ``checkpoint``
        the state is saved after every epoch and a later call with the same path, data and
        config resumes where it stopped.

        With ``valid`` (m, D), the mean validation log-likelihood is logged after every epoch
        (``history_[i]["valid_ll"]``) and the parameters of the best epoch are kept
        (``best_epoch_``, 1-based); with ``patience`` training stops once that many epochs
        in a row have not improved on the best. ``valid`` cannot be combined with
        ``checkpoint``.
        """
        cfg = self.config
        if n_categories is None:
            x0 = np.asarray(x)
            if x0.size == 0:
                raise DataError(f"empty input: shape {x0.shape}")
            n_categories = int(x0.max()) + 1 if np.issubdtype(x0.dtype, np.integer) else 1
        x = validate_symbols(x, n_categories)
        cats = np.broadcast_to(np.asarray(n_categories, dtype=np.int64), (x.shape[1],)).copy()
        if valid is not None:
            if checkpoint:
                raise ModelError("valid (early stopping) cannot be combined with checkpoint")
            if np.ndim(valid) != 2 or np.shape(valid)[1] != x.shape[1]:
                raise DataError(f"valid has shape {np.shape(valid)}, x has {x.shape[1]} variables")
            valid = validate_symbols(valid, cats)
        best: tuple[float, Circuit, int] | None = None
        rng = np.random.default_rng(cfg.seed)
        tag = _data_tag(cfg, x) if checkpoint else ""  # hashed once, not every epoch
        state = _load_checkpoint(checkpoint, tag) if checkpoint else None
        if state is None and init is not None:
            if init.n_variables != x.shape[1] or not np.array_equal(init.n_categories, cats):
                raise ModelError("init circuit does not model these variables")
            circuit, history = init, []
        elif state is None:
            mi = mutual_information(
                x, cats, n_bins=cfg.mi_bins, max_records=cfg.mi_records, random_state=cfg.seed
            )
            circuit = em.start(mi, em.value_counts(x, cats), cats, cfg.n_latents, rng)
            history: list[dict] = []
        else:
            circuit, history, rng_state = state
            rng.bit_generator.state = rng_state
        eng = engine if hasattr(engine, "counts") else engines.engine(engine, device)
        eng.load(circuit)
        total = cfg.epochs + cfg.full_batch_epochs
        for epoch in range(len(history), total):
            start = time.perf_counter()
            if epoch < cfg.epochs:
                step = cfg.step_size(epoch)
                ll = self._minibatch_epoch(eng, x, step, rng, progress, epoch)
                phase = "mini-batch"
            else:
                step = 1.0
                ll = self._full_batch_epoch(eng, x, progress, epoch)
                phase = "full-batch"
            circuit = eng.circuit() if checkpoint or valid is not None else None
            history.append(
                {
                    "epoch": epoch + 1,
                    "phase": phase,
                    "step_size": step,
                    "train_ll": ll / len(x),
                    "seconds": time.perf_counter() - start,
                }
            )
            if checkpoint:
                _save_checkpoint(checkpoint, tag, circuit, history, rng.bit_generator.state)
            if valid is not None:
                history[-1]["valid_ll"] = vll = self._mean_ll(circuit, valid)
                if best is None or vll > best[0]:
                    best = (vll, circuit, epoch)
                elif patience is not None and epoch - best[2] >= patience:
                    break
        circuit = eng.circuit()
        if best is not None:
            circuit, self.best_epoch_ = best[1], best[2] + 1
        self.circuit_, self.history_ = circuit, history
        return self

    def _mean_ll(self, circuit: Circuit, x: np.ndarray) -> float:
        return float(circuit.log_prob(x, batch_size=self.config.eval_batch_size).mean())

    def _minibatch_epoch(self, eng, x, step, rng, progress, epoch) -> float:
        cfg = self.config
        perm = rng.permutation(len(x))
        total_ll = 0.0
        batches = range(0, len(x), cfg.batch_size)
        bar = progress_bars.bar(batches, desc=f"epoch {epoch + 1} mini-batch EM", enabled=progress)
        for start in bar:
            batch = x[perm[start : start + cfg.batch_size]]
            ll, counts = eng.counts(batch)
            total_ll += ll
            eng.update(counts, cfg.pseudocount, step)
            progress_bars.note(bar, bpd=f"{-ll / batch.size / math.log(2):.3f}")
        return total_ll

    def _full_batch_epoch(self, eng, x, progress, epoch) -> float:
        cfg = self.config
        batches = range(0, len(x), cfg.eval_batch_size)
        bar = progress_bars.bar(batches, desc=f"epoch {epoch + 1} full-batch EM", enabled=progress)
        total_ll, totals = 0.0, None
        for start in bar:
            ll, counts = eng.counts(x[start : start + cfg.eval_batch_size])
            total_ll += ll
            totals = eng.add(counts, totals)
        eng.update(totals, cfg.pseudocount)
        return total_ll

    # ---------------------------------------------------------------- queries
    def _check_fitted(self) -> Circuit:
        if not hasattr(self, "circuit_"):
            raise ModelError("this HCLT is not fitted yet; call fit(x) first")
        return self.circuit_

    def score_samples(self, x: np.ndarray) -> np.ndarray:
        """Exact log-likelihood (nats) of each record, shape (n,)."""
        return self.marginal_log_prob(x, None)

    def marginal_log_prob(self, x: np.ndarray, evidence: np.ndarray | None) -> np.ndarray:
        """Exact log P(x_E) (nats) per record; ``evidence`` (n, D) bool marks observed
        variables (the others are summed out; their values in ``x`` are ignored).
        """
        circuit = self._check_fitted()
        if evidence is not None:
            evidence = np.asarray(evidence, dtype=bool)
            if evidence.shape != np.shape(x):
                raise DataError(f"evidence mask {evidence.shape} does not match x {np.shape(x)}")
            x = np.where(evidence, x, 0)
        return circuit.log_prob(circuit.validate(x), evidence, self.config.eval_batch_size)

    def sample(self, n: int, random_state: int | None = None) -> np.ndarray:
        """Draw ``n`` records (n, D) from the model."""
        return self._check_fitted().sample(n, np.random.default_rng(random_state))

    # ---------------------------------------------------------------- persistence
    def coding_model(self):
        """The integer model of the fitted circuit: what the coder uses."""
        return self._check_fitted().coding_model()

    def save(self, path: str | Path) -> Path:
        meta = {"config": asdict(self.config), "history": getattr(self, "history_", [])}
        return modelfile.save(self._check_fitted(), path, meta)

    @classmethod
    def from_model(cls, circuit, meta: dict, source: str = "model") -> HCLT:
        """An HCLT from a model file's model (any other kind of model is refused)."""
        if not isinstance(circuit, Circuit):
            raise ModelError(f"{source}: holds a {circuit.kind} model, not an HCLT")
        try:
            model = cls(HCLTConfig(**meta.get("config", {})))
        except TypeError as exc:
            raise ModelError(f"{source}: unknown training configuration ({exc})") from exc
        model.circuit_, model.history_ = circuit, meta.get("history", [])
        return model

    @property
    def fingerprint(self) -> str:
        return self._check_fitted().fingerprint


def _data_tag(cfg: HCLTConfig, x: np.ndarray) -> str:
    import hashlib

    h = hashlib.sha256(json.dumps(asdict(cfg), sort_keys=True).encode())
    h.update(str(x.shape).encode() + np.ascontiguousarray(x, dtype="<i8").tobytes())
    return h.hexdigest()


def _save_checkpoint(path, tag, circuit, history, rng_state) -> None:
    meta = {"tag": tag, "history": history, "rng": rng_state}
    modelfile.save(circuit, path, meta)


def _load_checkpoint(path, tag):
    if not Path(path).exists():
        return None
    circuit, meta = modelfile.load(path)
    if meta.get("tag") != tag or not isinstance(circuit, Circuit):
        raise ModelError(f"{path}: checkpoint was made with other data or settings")
    return circuit, meta["history"], meta["rng"]
