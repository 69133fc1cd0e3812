"""EM engines: where the E-step's expected counts and the M-step run.

Training code (``HCLT.fit``, mixtures, tables, the Dask path) holds an engine and calls
``load`` once, then per batch ``counts`` and ``update``, and ``circuit`` for checkpoints and
the result: the parameters stay in the engine's own arrays (on the GPU for ``cuda``) for the
whole fit. Two implementations:

* :class:`NumpyEngine`: float64 numpy, the passes of :class:`~.circuit.Circuit`; the
  reference the other is tested against.
* :class:`TorchEngine`: the same passes in PyTorch (float32 by default, ``device="cpu"`` or
  ``"cuda"``), batched matrix products per tree level.

Both compute the same quantities (Peharz et al., "Einsum Networks", ICML 2020, for mini-batch
EM with a step size; expected counts as in :meth:`~.circuit.Circuit.expected_counts`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from latentzip.circuits import em
from latentzip.circuits.circuit import Circuit
from latentzip.errors import LatentzipError


def engine(name: str | None = "numpy", device: str | None = None):
    """An engine by name: ``"numpy"`` or ``"torch"`` (``device``: ``"cpu"`` or ``"cuda"``)."""
    if name in (None, "numpy"):
        return NumpyEngine()
    if name == "torch":
        return TorchEngine(device or "cpu")
    raise LatentzipError(f"unknown EM engine {name!r} (numpy or torch)")


class NumpyEngine:
    """EM on float64 numpy arrays: the reference engine."""

    name = "numpy"

    def load(self, circuit: Circuit) -> None:
        self._circuit = circuit

    def circuit(self) -> Circuit:
        return self._circuit

    def counts(self, x: np.ndarray, weights: np.ndarray | None = None):
        """Total log-likelihood and expected counts (prior, edges, leaves) of records ``x``."""
        return self._circuit.expected_counts(x, weights)

    def log_prob(self, x: np.ndarray) -> np.ndarray:
        """log p(x) (N,) of records ``x`` (the upward pass only)."""
        return self._circuit.log_prob(x)

    def update(self, counts, pseudocount: float, step: float = 1.0) -> None:
        """M-step from ``counts``, blended with the current parameters by ``step``."""
        new = em.maximise(self._circuit, counts, pseudocount)
        self._circuit = (
            em.blend(self._circuit, new, step) if step < 1 else em.replace(self._circuit, new)
        )

    @staticmethod
    def add(a, b):
        return a if b is None else tuple(p + q for p, q in zip(a, b, strict=True))


@dataclass
class _Static:
    """Tree bookkeeping on the device: levels (root first) and sibling groups."""

    levels: list
    groups: list
    parent: object
    root: int


class TorchEngine:
    """EM in PyTorch on ``device`` (``"cpu"`` or ``"cuda"``), float32 unless ``dtype``."""

    name = "torch"

    def __init__(self, device: str = "cpu", dtype=None):
        import torch

        if device.startswith("cuda") and not torch.cuda.is_available():
            raise LatentzipError("device cuda requested but no CUDA device is available")
        self.torch = torch
        self.device = torch.device(device)
        self.dtype = dtype or torch.float32

    # ------------------------------------------------------------------ state
    def load(self, circuit: Circuit) -> None:
        t = self.torch
        self._template = circuit
        as_t = lambda a: t.as_tensor(np.asarray(a), dtype=self.dtype, device=self.device)  # noqa: E731
        self.prior, self.edges, self.leaves = (
            as_t(circuit.prior),
            as_t(circuit.edges),
            as_t(circuit.leaves),
        )
        sched = circuit.schedule
        dev = lambda a: t.as_tensor(np.asarray(a), dtype=t.long, device=self.device)  # noqa: E731
        self.static = _Static(
            [dev(level) for level in sched.levels],
            [[dev(g) for g in groups] for groups in sched.sibling_groups],
            dev(circuit.tree.parent),
            circuit.tree.root,
        )
        self.support = t.as_tensor(
            em.leaf_support(circuit.n_categories, circuit.leaves.shape[1]), device=self.device
        )

    def circuit(self) -> Circuit:
        """The parameters as a float64 circuit, every table renormalised."""
        c = self._template
        prior, edges, leaves = (
            p.detach().cpu().numpy().astype(np.float64)
            for p in (self.prior, self.edges, self.leaves)
        )
        # thousands of float32 blends let row sums drift past Circuit.check's tolerance
        return Circuit(
            c.tree,
            prior / prior.sum(),
            edges / edges.sum(-1, keepdims=True),
            leaves / leaves.sum(1, keepdims=True),
            c.n_categories,
        )

    # ------------------------------------------------------------------ E-step
    def counts(self, x: np.ndarray, weights: np.ndarray | None = None):
        """Total log-likelihood (float) and expected counts (tensors on the device)."""
        t = self.torch
        with t.no_grad():
            xt = t.as_tensor(np.asarray(x), dtype=t.long, device=self.device)
            w = (
                None
                if weights is None
                else t.as_tensor(weights, dtype=self.dtype, device=self.device)
            )
            log_p, u, m = self._upward(xt)
            post, edge_counts = self._downward(u, m, w)
            if w is not None:
                post = post * w[None, :, None]
                log_p = log_p * w
            leaf_counts = self._scatter_leaves(xt, post)
            return float(log_p.sum()), (post[self.static.root].sum(0), edge_counts, leaf_counts)

    def log_prob(self, x: np.ndarray) -> np.ndarray:
        """log p(x) (N,) float64 of records ``x`` (the upward pass only)."""
        t = self.torch
        with t.no_grad():
            xt = t.as_tensor(np.asarray(x), dtype=t.long, device=self.device)
            return self._upward(xt)[0].cpu().numpy()

    def _upward(self, x):
        t, st = self.torch, self.static
        d, n, k = self.leaves.shape[0], x.shape[0], self.prior.shape[0]
        prod = t.ones((d, n, k), dtype=self.dtype, device=self.device)
        u = t.empty_like(prod)
        m = t.empty_like(prod)
        log_scale = t.zeros(n, dtype=t.float64, device=self.device)
        root_u = None
        for level, groups in zip(reversed(st.levels), reversed(st.groups), strict=True):
            vals = self.leaves[level[:, None], x[:, level].T]  # (V, N, K)
            uv = vals * prod[level]
            scale = uv.amax(-1)
            uv = uv / scale[..., None]
            log_scale += t.log(scale).sum(0, dtype=t.float64)
            u[level] = uv
            if level.numel() == 1 and int(level[0]) == st.root:
                root_u = uv[0]
                break
            mv = t.bmm(uv, self.edges[level].transpose(1, 2))  # (V, N, K) over parent states
            m[level] = mv
            for pos in groups:
                par = st.parent[level[pos]]
                prod[par] = prod[par] * mv[pos]
        log_p = log_scale + t.log(root_u @ self.prior).to(t.float64)
        return log_p, u, m

    def _downward(self, u, m, w):
        t, st = self.torch, self.static
        post = u.clone()
        root = st.root
        post[root] = self.prior * u[root]
        post[root] = post[root] / post[root].sum(-1, keepdim=True)
        edge_counts = t.zeros_like(self.edges)
        for level in st.levels[1:]:
            # over parent states; a message that underflowed to 0 (float32, pruned edges) has a
            # posterior of 0 too: 0 rather than 0/0
            mv = m[level]
            ratio = t.where(mv > 0, post[st.parent[level]] / mv, t.zeros((), dtype=mv.dtype))
            wr = ratio if w is None else ratio * w[None, :, None]
            edge_counts[level] += self.edges[level] * t.bmm(wr.transpose(1, 2), u[level])
            post[level] = u[level] * t.bmm(ratio, self.edges[level])
        return post, edge_counts

    def _scatter_leaves(self, x, post):
        t = self.torch
        d, c, k = self.leaves.shape
        idx = (t.arange(d, device=self.device)[:, None] * c + x.T).reshape(-1)  # (D N,)
        counts = t.zeros((d * c, k), dtype=self.dtype, device=self.device)
        counts.index_add_(0, idx, post.reshape(-1, k))
        return counts.reshape(d, c, k)

    # ------------------------------------------------------------------ M-step
    def update(self, counts, pseudocount: float, step: float = 1.0) -> None:
        prior_c, edge_c, leaf_c = counts
        t = self.torch
        with t.no_grad():
            prior = self._normalise(prior_c, pseudocount)
            edges = self._normalise(edge_c, pseudocount, self.edges > 0)  # pruned stay 0
            edges[self.static.root] = t.eye(
                self.prior.shape[0], dtype=self.dtype, device=self.device
            )
            leaves = self._normalise(leaf_c.transpose(1, 2), pseudocount, self.support[:, None, :])
            leaves = leaves.transpose(1, 2).contiguous()
            if step < 1:
                prior = (1 - step) * self.prior + step * prior
                edges = (1 - step) * self.edges + step * edges
                leaves = (1 - step) * self.leaves + step * leaves
            self.prior, self.edges, self.leaves = prior, edges, leaves

    def _normalise(self, counts, pseudocount, support=None):
        t = self.torch
        if support is None:
            support = t.ones(counts.shape[-1], dtype=t.bool, device=self.device)
        size = support.sum(-1, keepdim=True).to(self.dtype)
        smoothed = t.where(
            support, counts + pseudocount / size, t.zeros((), dtype=self.dtype, device=self.device)
        )
        total = smoothed.sum(-1, keepdim=True)
        fallback = support.to(self.dtype).expand_as(smoothed)  # no mass: uniform on the support
        smoothed = t.where(total > 0, smoothed, fallback)
        return smoothed / t.where(total > 0, total, size)

    @staticmethod
    def add(a, b):
        return a if b is None else tuple(p + q for p, q in zip(a, b, strict=True))
