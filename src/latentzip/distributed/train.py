"""Distributed HCLT training: structure learning and full-batch EM over sharded data.

::

    shards --load on workers--> x_s (persisted, never on the client)
      x_s --subsample--> joint_counts_s, value_counts_s --pairwise sums on workers-->
          mutual information --> Chow-Liu tree + initial circuit (client)
      repeat: circuit --> expected_counts(x_s) per shard --pairwise sums--> M-step (client)

The statistics are additive over records (structure: joint counts; EM: expected counts), so
the sum of per-shard statistics is what one process computes on all the data. Mini-batch EM
updates the parameters after every batch and cannot be split this way, so every distributed
epoch is a full-batch EM epoch (Dempster, Laird & Rubin, 1977).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from latentzip import progress as progress_bars
from latentzip.circuits import em
from latentzip.circuits.circuit import Circuit
from latentzip.circuits.hclt import HCLT, HCLTConfig
from latentzip.circuits.structure import joint_counts, mi_from_counts
from latentzip.data import validate_symbols
from latentzip.distributed._tasks import shard_paths, ship, tree_sum
from latentzip.distributed.shards import load_shard
from latentzip.errors import DataError

Shards = str | Path | Sequence[str | Path]


def fit(
    client,
    shards: Shards,
    config: HCLTConfig | None = None,
    n_categories: int | None = None,
    *,
    epochs: int | None = None,
    progress: bool = False,
    engine: str | None = None,
) -> HCLT:
    """Learn an HCLT from sharded data on a Dask cluster.

    Parameters
    ----------
    client : distributed.Client
    shards : folder, glob pattern, or list of shard paths (see :func:`find_shards`)
    config : HCLTConfig
        K, pseudocount, MI estimator, seed. ``mi_records`` is spread evenly over the shards.
    n_categories : int, optional
        Values per variable; default: the largest the shards' loaders report.
    epochs : int, optional
        Full-batch EM epochs; default ``config.epochs + config.full_batch_epochs``.
    progress : bool
        Show a progress bar over epochs.
    engine : str, optional
        The EM engine the workers run the E-step with (``"numpy"`` or ``"torch"`` on their
        CPU, :mod:`latentzip.circuits.engine`); counts are summed as float64.

    Returns
    -------
    HCLT
        Fitted model; its ``config`` records the epochs run (``epochs=0``,
        ``full_batch_epochs=epochs``), which is the single-process recipe giving the same
        parameters (to rounding) when every record fits in the MI subsample.
    """
    cfg = config or HCLTConfig()
    total = cfg.epochs + cfg.full_batch_epochs if epochs is None else int(epochs)
    data = client.map(load_shard, shard_paths(shards))
    try:
        circuit, n_records = initialise(client, data, cfg, n_categories)
        history: list[dict] = []
        epochs = progress_bars.bar(
            range(total), desc="distributed EM", enabled=progress, unit="epoch", leave=True
        )
        for epoch in epochs:
            start = time.perf_counter()
            ll, counts = expected_counts(client, data, circuit, cfg.eval_batch_size, engine)
            circuit = em.replace(circuit, em.maximise(circuit, counts, cfg.pseudocount))
            history.append(
                {
                    "epoch": epoch + 1,
                    "phase": "full-batch",
                    "step_size": 1.0,
                    "train_ll": ll / n_records,
                    "seconds": time.perf_counter() - start,
                }
            )
    finally:
        client.cancel(data)
    model = HCLT(replace(cfg, epochs=0, full_batch_epochs=total))
    model.circuit_, model.history_ = circuit, history
    return model


def initialise(
    client, data: list, config: HCLTConfig, n_categories: int | None = None
) -> tuple[Circuit, int]:
    """Chow-Liu tree and initial circuit from per-shard statistics.

    ``data`` are futures of loaded shards (:class:`latentzip.data.Dataset`). Each shard
    contributes the joint counts of a random subsample of ``ceil(mi_records / n_shards)``
    records and the value counts of all its records. Returns the circuit and the number of
    records.
    """
    summaries = client.gather(client.map(_summary, data))
    widths = {s[1] for s in summaries}
    if len(widths) != 1:
        raise DataError(f"shards differ in the number of variables: {sorted(widths)}")
    n_records, d = sum(s[0] for s in summaries), widths.pop()
    cats_value = max(s[2] for s in summaries) if n_categories is None else int(n_categories)
    high = max(s[3] for s in summaries)
    if high >= cats_value:
        raise DataError(f"the data has value {high}, outside 0..{cats_value - 1}")
    cats = np.full(d, cats_value, dtype=np.int64)
    quota = -(-config.mi_records // len(data))
    n_sub = sum(min(s[0], quota) for s in summaries)
    # (D * B)^2 counts travel between workers: float32 halves them, exact below 2**24
    dtype = np.float32 if n_sub < 2**24 else np.float64
    joint = [
        client.submit(
            _joint_counts, x, cats, config.mi_bins, quota, config.seed, i, dtype, pure=False
        )
        for i, x in enumerate(data)
    ]
    mi = client.submit(_mutual_information, tree_sum(client, joint), n_sub, d, pure=False)
    values = tree_sum(client, [client.submit(_value_counts, x, cats) for x in data])
    rng = np.random.default_rng(config.seed)
    return em.start(mi.result(), values.result(), cats, config.n_latents, rng), n_records


def expected_counts(
    client, data: list, circuit: Circuit, batch_size: int = 1024, engine: str | None = None
) -> tuple[float, tuple[np.ndarray, ...]]:
    """The E-step over every shard: total log-likelihood and summed expected counts."""
    model = ship(client, circuit)
    parts = [client.submit(_shard_counts, model, x, batch_size, engine, pure=False) for x in data]
    return tree_sum(client, parts).result()


def bits_per_dim(client, shards: Shards, model) -> float:
    """Mean negative log2-likelihood per variable of the records in ``shards``."""
    circuit = getattr(model, "circuit_", model)
    remote = ship(client, circuit)
    parts = [client.submit(_shard_loglik, remote, path, pure=False) for path in shard_paths(shards)]
    ll, size = tree_sum(client, parts).result()
    return float(-ll / size / math.log(2))


# ---------------------------------------------------------------- worker tasks
def _summary(data) -> tuple[int, int, int, int]:
    x = data.data
    return x.shape[0], x.shape[1], int(data.n_categories), int(x.max())


def _subsample(x: np.ndarray, quota: int, seed: int, index: int) -> np.ndarray:
    if len(x) <= quota:
        return x
    rows = np.random.default_rng([seed, index]).choice(len(x), quota, replace=False)
    return x[np.sort(rows)]


def _joint_counts(data, cats, n_bins, quota, seed, index, dtype) -> np.ndarray:
    x = validate_symbols(_subsample(data.data, quota, seed, index), cats)
    return joint_counts(x, cats, n_bins).astype(dtype, copy=False)


def _mutual_information(counts: np.ndarray, n: int, d: int) -> np.ndarray:
    return mi_from_counts(counts.astype(np.float64), n, d)


def _value_counts(data, cats) -> np.ndarray:
    return em.value_counts(validate_symbols(data.data, cats), cats)


def _shard_counts(circuit: Circuit, data, batch_size: int, engine: str | None = None):
    from latentzip.circuits.engine import engine as make_engine

    x = circuit.validate(data.data)
    eng = make_engine(engine)
    eng.load(circuit)
    total_ll, totals = 0.0, None
    for i in range(0, len(x), batch_size):
        ll, counts = eng.counts(x[i : i + batch_size])
        total_ll += ll
        totals = eng.add(counts, totals)
    return total_ll, tuple(np.asarray(_numpy(c), dtype=np.float64) for c in totals)


def _numpy(a):
    return a.detach().cpu().numpy() if hasattr(a, "detach") else a


def _shard_loglik(circuit: Circuit, path) -> tuple[float, int]:
    x = load_shard(path).data
    model = HCLT()
    model.circuit_ = circuit
    return float(model.score_samples(x).sum()), int(x.size)
