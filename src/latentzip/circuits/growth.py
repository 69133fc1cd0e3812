"""Structure learning beyond one fixed HCLT: pruning by flow and growing by duplication.

After Dang, Liu & Van den Broeck, "Sparse Probabilistic Circuits via Pruning and Growing"
(NeurIPS 2022), on the HCLT's edge parameters (each row of ``edges[v]`` is a sum node over
the child's latent states):

* :func:`prune` zeroes the edge parameters with the least expected flow (the E-step's edge
  counts over the training data), never the last one of a row, and renormalises; EM keeps
  zeros at zero (the engines smooth only the entries that are not pruned);
* :func:`grow` doubles every latent variable's states: each state becomes two copies that
  split its mass, which leaves the distribution over the data unchanged, then multiplicative
  noise separates the copies so that EM can use them differently.

Repeating (train, prune, grow) adds capacity where the data uses it. The result is an HCLT
(some edge parameters zero), so the integer coder serves it unchanged.
"""

from __future__ import annotations

import numpy as np

from latentzip.circuits.circuit import Circuit


def prune(circuit: Circuit, flows: np.ndarray, fraction: float) -> Circuit:
    """Zero the ``fraction`` of non-root edge parameters with the smallest ``flows``.

    ``flows`` (D, K, K) are expected edge counts (:meth:`Circuit.expected_counts`). Each row
    (a sum node) keeps at least its largest-flow entry.
    """
    if not 0 <= fraction < 1:
        raise ValueError("fraction must lie in [0, 1)")
    edges = circuit.edges.copy()
    child = circuit.tree.parent >= 0
    live = (edges > 0) & child[:, None, None]
    values = np.where(live, flows, np.inf)
    n_cut = int(fraction * live.sum())
    if n_cut:
        cut_at = np.partition(values[live], n_cut - 1)[n_cut - 1]
        cut = live & (values <= cut_at)
        keep = np.where(live, flows, -np.inf).argmax(-1)
        rows = np.indices(keep.shape)
        cut[rows[0], rows[1], keep] = False  # a sum node never loses its last edge
        edges[cut] = 0.0
    edges[child] /= edges[child].sum(-1, keepdims=True)
    return Circuit(circuit.tree, circuit.prior, edges, circuit.leaves, circuit.n_categories)


def grow(circuit: Circuit, noise: float, rng: np.random.Generator) -> Circuit:
    """Every latent state split into two copies (K -> 2K), then multiplicative noise.

    With ``noise=0`` the distribution over the observed variables is exactly the input's:
    the copies share their state's prior and incoming edge mass equally and have its leaf.
    """
    k = circuit.n_latents
    prior = np.repeat(circuit.prior, 2) / 2
    edges = np.repeat(np.repeat(circuit.edges, 2, axis=1), 2, axis=2) / 2
    root = circuit.tree.root
    edges[root] = np.eye(2 * k)
    leaves = np.repeat(circuit.leaves, 2, axis=2)
    if noise > 0:
        child = circuit.tree.parent >= 0
        jitter = np.exp(noise * rng.standard_normal(edges.shape))
        edges[child] = _normalise(edges[child] * jitter[child])
        leaves = _normalise((leaves * np.exp(noise * rng.standard_normal(leaves.shape)))
                            .transpose(0, 2, 1)).transpose(0, 2, 1)  # fmt: skip
        prior = _normalise(prior * np.exp(noise * rng.standard_normal(prior.shape)))
    return Circuit(circuit.tree, prior, edges, np.ascontiguousarray(leaves), circuit.n_categories)


def _normalise(a: np.ndarray) -> np.ndarray:
    return a / a.sum(-1, keepdims=True)


def flows(circuit: Circuit, x: np.ndarray, engine=None, batch_size: int = 1024) -> np.ndarray:
    """Expected edge counts (D, K, K) of ``circuit`` over the records ``x``."""
    from latentzip.circuits.engine import engine as make_engine

    eng = engine if hasattr(engine, "counts") else make_engine(engine)
    eng.load(circuit)
    totals = None
    for i in range(0, len(x), batch_size):
        totals = eng.add(eng.counts(x[i : i + batch_size])[1], totals)
    edges = totals[1]
    return edges.detach().cpu().numpy() if hasattr(edges, "detach") else np.asarray(edges)


def fit_sparse(
    x: np.ndarray,
    n_categories,
    config,
    *,
    rounds: int = 1,
    prune_fraction: float = 0.5,
    noise: float = 0.1,
    round_config=None,
    engine=None,
    device: str | None = None,
    valid: np.ndarray | None = None,
    progress: bool = True,
):
    """An HCLT trained with ``config``, then ``rounds`` of prune, grow (K doubles) and train
    again with ``round_config`` (default: ``config``). Returns the HCLT, whose ``history_``
    covers every round (``"round"`` in each entry)."""
    from dataclasses import replace

    from latentzip.circuits.engine import engine as make_engine
    from latentzip.circuits.hclt import HCLT

    rng = np.random.default_rng(config.seed)
    model = HCLT(config).fit(x, n_categories, valid=valid, progress=progress, engine=engine,
                             device=device)  # fmt: skip
    history = [dict(h, round=0) for h in model.history_]
    for r in range(1, rounds + 1):
        eng = make_engine(engine, device) if not hasattr(engine, "counts") else engine
        circuit = model.circuit_
        circuit = grow(prune(circuit, flows(circuit, x, eng), prune_fraction), noise, rng)
        cfg = replace(round_config or config, n_latents=circuit.n_latents)
        model = HCLT(cfg).fit(x, n_categories, valid=valid, progress=progress, engine=eng,
                              init=circuit)  # fmt: skip
        history += [dict(h, round=r) for h in model.history_]
    model.history_ = history
    return model
