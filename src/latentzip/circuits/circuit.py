"""The HCLT circuit: parameters, and its exact upward/downward passes.

A Hidden Chow-Liu Tree (Liu & Van den Broeck, "Tractable Regularization of Probabilistic
Circuits", NeurIPS 2021) gives every observed variable X_v a latent Z_v with K states and
connects the latents along a Chow-Liu tree::

    Z_root ~ prior            Z_v | Z_parent(v) ~ edges[v]          X_v | Z_v ~ leaves[v]

As a circuit each Z_v is a sum node with K children and each edge a product over children;
the passes below evaluate it as belief propagation on the tree, batched over records and
vectorised over every variable at the same depth. Messages are rescaled by their maximum at
each node and the log scales summed, which is exact and cannot underflow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from latentzip.circuits.structure import Tree
from latentzip.coding import modelfile
from latentzip.data import validate_symbols
from latentzip.errors import ModelError

_ARRAYS = ("parent", "order", "prior", "edges", "leaves", "n_categories")
MAX_LATENTS = 4096
MAX_CATEGORIES = 2**16


@dataclass(frozen=True)
class Schedule:
    """Per-depth groups of variables, with sibling groups so that parents are unique."""

    levels: list[np.ndarray]
    # per level: list of (positions within the level, variables) with distinct parents
    sibling_groups: list[list[np.ndarray]]

    @classmethod
    def from_tree(cls, tree: Tree) -> Schedule:
        levels = tree.levels()
        groups = []
        for level in levels:
            rank = np.zeros(len(level), dtype=np.int64)
            seen: dict[int, int] = {}
            for i, v in enumerate(level):
                p = int(tree.parent[v])
                rank[i] = seen.get(p, 0)
                seen[p] = rank[i] + 1
            groups.append([np.flatnonzero(rank == r) for r in range(int(rank.max()) + 1)])
        return cls(levels, groups)


@dataclass(frozen=True, eq=False)
class Circuit:
    """HCLT parameters over D variables with K latent states and up to C categories.

    Attributes
    ----------
    tree : Tree
    prior : ndarray (K,)         P(Z_root)
    edges : ndarray (D, K, K)    edges[v, a, b] = P(Z_v = b | Z_parent(v) = a); root row unused
    leaves : ndarray (D, C, K)   leaves[v, x, k] = P(X_v = x | Z_v = k); zero for x >= C_v
    n_categories : ndarray (D,)  C_v, the number of values variable v takes
    """

    tree: Tree
    prior: np.ndarray
    edges: np.ndarray
    leaves: np.ndarray
    n_categories: np.ndarray
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    kind = "hclt"  # model files (latentzip.coding.modelfile): the float training object
    version = 1

    @property
    def n_variables(self) -> int:
        return int(self.leaves.shape[0])

    def coding_model(self):
        """The integer model the coder runs (:mod:`.quantised`), the same on every machine."""
        if "coding" not in self._cache:
            from latentzip.circuits.quantised import QuantisedCircuit

            self._cache["coding"] = QuantisedCircuit.from_circuit(self)
        return self._cache["coding"]

    @property
    def fingerprint(self) -> str:
        """Hex SHA-256 of structure and parameters (little-endian, canonical layout)."""
        if "fingerprint" not in self._cache:
            # the prefix of latentzip 0.1's files
            self._cache["fingerprint"] = modelfile.fingerprint(b"latentzip-hclt/1", self._arrays())
        return self._cache["fingerprint"]

    def _arrays(self) -> dict[str, np.ndarray]:
        t = self.tree
        values = (t.parent, t.order, self.prior, self.edges, self.leaves, self.n_categories)
        return dict(zip(_ARRAYS, values, strict=True))

    def to_arrays(self) -> tuple[dict[str, np.ndarray], dict]:
        return self._arrays(), {}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], settings: dict) -> Circuit:
        """A circuit from untrusted arrays, fully checked (:meth:`check`)."""
        missing = [name for name in _ARRAYS if name not in arrays]
        if missing:
            raise ModelError(f"arrays {missing} are missing")
        a = {name: arrays[name] for name in _ARRAYS}
        for name in ("parent", "order", "n_categories"):
            if a[name].dtype.kind not in "iu":
                raise ModelError(f"{name} must hold integers, not {a[name].dtype}")
        for name in ("prior", "edges", "leaves"):
            if a[name].dtype.kind != "f":
                raise ModelError(f"{name} must hold floats, not {a[name].dtype}")
        circuit = cls(
            Tree(a["parent"].astype(np.int64), a["order"].astype(np.int64)),
            np.ascontiguousarray(a["prior"], dtype=np.float64),
            np.ascontiguousarray(a["edges"], dtype=np.float64),
            np.ascontiguousarray(a["leaves"], dtype=np.float64),
            a["n_categories"].astype(np.int64),
        )
        circuit.check()
        return circuit

    @property
    def n_latents(self) -> int:
        return int(self.prior.shape[0])

    @cached_property
    def schedule(self) -> Schedule:
        return Schedule.from_tree(self.tree)

    def check(self, atol: float = 1e-6) -> None:
        """Raise :class:`ModelError` unless the circuit is one the passes and coder can run.

        Shapes agree, the tree is a valid rooted tree in pre-order, every category count lies
        within its leaf table (the coder's kernels index by it), values beyond a variable's
        count have no mass, and every table is a probability distribution.
        """
        if self.prior.ndim != 1 or self.edges.ndim != 3 or self.leaves.ndim != 3:
            raise ModelError("prior, edges and leaves must have 1, 3 and 3 dimensions")
        d, k = self.n_variables, self.n_latents
        if not (1 <= k <= MAX_LATENTS and 1 <= self.leaves.shape[1] <= MAX_CATEGORIES):
            raise ModelError(f"{k} latent states and {self.leaves.shape[1]} categories")
        if self.edges.shape != (d, k, k) or self.leaves.shape[0::2] != (d, k):
            raise ModelError(
                f"inconsistent shapes: prior {self.prior.shape}, edges "
                f"{self.edges.shape}, leaves {self.leaves.shape}"
            )
        if self.tree.n_variables != d or self.n_categories.shape != (d,):
            raise ModelError("tree or category counts do not match the number of variables")
        self.tree.check()
        width = self.leaves.shape[1]
        if self.n_categories.min() < 1 or self.n_categories.max() > width:
            raise ModelError(f"category counts must lie in 1..{width}, the leaf table width")
        beyond = np.arange(width)[None, :] >= self.n_categories[:, None]
        if np.any(self.leaves[beyond] != 0):
            raise ModelError("a leaf table gives mass to values beyond its category count")
        # the root's edge row is unused by the passes but quantised with the others
        tables = [self.prior, self.edges, self.leaves.transpose(0, 2, 1)]
        for name, t in zip(("prior", "edges", "leaves"), tables, strict=True):
            if t.size and (
                not np.all(np.isfinite(t)) or t.min() < 0 or np.abs(t.sum(-1) - 1).max() > atol
            ):
                raise ModelError(f"{name} table is not a probability distribution")

    def validate(self, x: np.ndarray) -> np.ndarray:
        shape = np.shape(x)
        if len(shape) == 2 and shape[0] and shape[1] != self.n_variables:
            raise ModelError(f"data has {shape[1]} variables, the model {self.n_variables}")
        return validate_symbols(x, self.n_categories)

    # ------------------------------------------------------------------ upward pass
    def upward(self, x: np.ndarray, evidence: np.ndarray | None = None, keep: bool = False):
        """Bottom-up pass for records ``x`` (N, D), already validated.

        ``evidence`` (N, D) bool marks observed variables; unobserved leaves are 1 (summed out).
        Returns ``log_p`` (N,) and, if ``keep``, the normalised up messages ``u`` (D, N, K) and
        the messages to parents ``m`` (D, N, K) that the downward pass needs.
        """
        tree, sched = self.tree, self.schedule
        n, k = x.shape[0], self.n_latents
        dtype = self.leaves.dtype
        prod = np.ones((self.n_variables, n, k), dtype=dtype)
        u = np.empty_like(prod) if keep else None
        m = np.empty_like(prod) if keep else None
        log_scale = np.zeros(n)
        for level, groups in zip(
            reversed(sched.levels), reversed(sched.sibling_groups), strict=True
        ):
            vals = self.leaves[level[:, None], x[:, level].T]  # (V, N, K)
            if evidence is not None:
                vals = np.where(evidence[:, level].T[..., None], vals, 1.0)
            uv = vals * prod[level]
            scale = uv.max(-1)
            uv /= scale[..., None]
            log_scale += np.log(scale).sum(0)
            if keep:
                u[level] = uv
            if level.size == 1 and tree.parent[level[0]] < 0:
                root_u = uv[0]
                break
            mv = uv @ self.edges[level].transpose(0, 2, 1)  # (V, N, K) over the parent's states
            if keep:
                m[level] = mv
            for pos in groups:
                prod[tree.parent[level[pos]]] *= mv[pos]
        log_p = log_scale + np.log(root_u @ self.prior)
        return log_p, u, m

    def log_prob(
        self, x: np.ndarray, evidence: np.ndarray | None = None, batch_size: int = 1024
    ) -> np.ndarray:
        """:meth:`upward`'s log P(x_E) (N,) for validated records, in batches of bounded memory."""
        return np.concatenate(
            [
                self.upward(
                    x[i : i + batch_size],
                    None if evidence is None else evidence[i : i + batch_size],
                )[0]
                for i in range(0, len(x), batch_size)
            ]
        )

    # ---------------------------------------------------------------- downward pass
    def posteriors(
        self,
        x: np.ndarray,
        evidence: np.ndarray | None = None,
        edge_counts: np.ndarray | None = None,
        weights: np.ndarray | None = None,
    ):
        """Exact posteriors P(Z_v | evidence) for every variable: ``(log_p (N,), post (D, N, K))``.

        If ``edge_counts`` (D, K, K) is given, the expected pairwise counts
        sum_n w_n P(Z_parent = a, Z_v = b | x_n) are added to it (the E-step's edge
        statistics), with per-record ``weights`` w (N,) (default 1).
        """
        tree = self.tree
        log_p, u, m = self.upward(x, evidence, keep=True)
        post = u  # overwritten level by level, top-down: u[v] is last read before post[v]
        root = tree.root
        post[root] = self.prior * u[root]
        post[root] /= post[root].sum(-1, keepdims=True)
        for level in self.schedule.levels[1:]:
            with np.errstate(divide="ignore", invalid="ignore"):  # 0/0 where a message is 0
                ratio = np.where(m[level] > 0, post[tree.parent[level]] / m[level], 0.0)
            if edge_counts is not None:
                wr = ratio if weights is None else ratio * weights[None, :, None]
                edge_counts[level] += self.edges[level] * (wr.transpose(0, 2, 1) @ u[level])
            post[level] = u[level] * (ratio @ self.edges[level])
        return log_p, post

    def expected_counts(
        self, x: np.ndarray, weights: np.ndarray | None = None
    ) -> tuple[float, tuple[np.ndarray, ...]]:
        """E-step on records ``x``: total log-likelihood and expected counts.

        Returns ``(sum log p, (prior_counts (K,), edge_counts (D, K, K), leaf_counts (D, C, K)))``
        where counts are posterior expectations summed over records, each record weighted by
        ``weights`` (N,) if given (a mixture's responsibilities), log-likelihoods included.
        """
        edge_counts = np.zeros_like(self.edges)
        log_p, post = self.posteriors(x, edge_counts=edge_counts, weights=weights)
        if weights is not None:
            post *= weights[None, :, None]
            log_p = log_p * weights
        leaf_counts = self._scatter_leaves(x, post)
        return float(log_p.sum()), (post[self.tree.root].sum(0), edge_counts, leaf_counts)

    def _scatter_leaves(self, x: np.ndarray, post: np.ndarray) -> np.ndarray:
        d, c, k = self.leaves.shape
        base = (np.arange(d)[:, None] * c + x.T) * k  # (D, N)
        idx = (base[..., None] + np.arange(k)).ravel()
        counts = np.bincount(idx, weights=post.reshape(-1), minlength=d * c * k)
        return counts.reshape(d, c, k).astype(self.leaves.dtype, copy=False)

    # --------------------------------------------------------------------- sampling
    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Draw ``n`` records (N, D) int64 by ancestral sampling."""
        tree = self.tree
        z = np.empty((self.n_variables, n), dtype=np.int64)
        z[tree.root] = _categorical(np.broadcast_to(self.prior, (n, self.n_latents)), rng)
        for level in self.schedule.levels[1:]:
            probs = self.edges[level[:, None], z[tree.parent[level]]]  # (V, n, K)
            z[level] = _categorical(probs, rng)
        probs = self.leaves[np.arange(self.n_variables)[:, None], :, z]  # (D, n, C)
        return _categorical(probs, rng).T.copy()


def _categorical(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    cdf = np.cumsum(probs, axis=-1)
    draw = rng.random(probs.shape[:-1]) * cdf[..., -1]
    return np.minimum((cdf <= draw[..., None]).sum(-1), probs.shape[-1] - 1)
