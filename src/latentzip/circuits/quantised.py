"""The integer HCLT that the coder runs: what every file is written with and read back by.

The float :class:`~latentzip.circuits.circuit.Circuit` stays the training object; its
:meth:`coding_model` is this quantisation of it (:meth:`QuantisedCircuit.from_circuit`):

* prior and edge rows: integers summing to ``2**16``, each at least 1;
* leaf rows: integers summing to ``2**leaf_bits`` (20 by default, as few as 8 for a model
  embedded in a small file), the model's own probabilities;
* inference (:mod:`.intkernels`) in fixed point, and frequencies that mix the cumulative leaf
  tables exactly (:mod:`latentzip.coding.fixedpoint`): every symbol the model can produce
  keeps at least 1 / 2**24.

The quantisation uses only elementwise IEEE operations and integer sums, so a float model
file gives the same integer model on every machine; the integer model file itself (kind
``hclt-q``) stores the integers and is what ``latentzip train`` writes and ``--embed-model``
embeds. :func:`~.intreference.reference_walker` recomputes the same integers in plain numpy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from latentzip.circuits import intkernels
from latentzip.circuits.incremental import _closing_lists
from latentzip.circuits.structure import Tree
from latentzip.coding import modelfile, rans
from latentzip.coding.fixedpoint import LEAF_BITS, quantise_rows
from latentzip.coding.quantise import PRECISION
from latentzip.errors import ContainerError, ModelError

EDGE_BITS = 16
MIN_LEAF_BITS = 8
_ARRAYS = ("parent", "order", "prior", "edges", "leaves", "n_categories")


class KernelArgs(NamedTuple):
    """What the kernels take, in their argument order (``cum``: (D, C+1, K) cumulative
    leaves; ``close_ptr``/``close_idx``: the subtrees that end at each variable, CSR)."""

    order: np.ndarray
    parent: np.ndarray
    depth: np.ndarray
    n_categories: np.ndarray
    close_ptr: np.ndarray
    close_idx: np.ndarray
    leaf_row: np.ndarray  # (D,): row of a leaf variable in the leaf_* tables, -1 otherwise
    leaf_msg: np.ndarray  # (leaves, C, K): what a leaf sends its parent after each value
    leaf_cum: np.ndarray  # (leaves, C+1, K): cumulative leaf tables with the edge folded in
    modes: np.ndarray  # (D, K): most likely value of each variable in each latent state
    leaf_modes: np.ndarray  # (leaves, K): the same for leaf_cum (per parent state)
    prior: np.ndarray
    edges: np.ndarray
    cum: np.ndarray


@dataclass(frozen=True, eq=False)
class QuantisedCircuit:
    """Integer HCLT parameters.

    Attributes
    ----------
    tree : Tree
    prior : (K,) uint32, sums to 2**16      edges : (D, K, K) uint32, rows sum to 2**16
    leaves : (D, K, C) uint32, rows sum to 2**leaf_bits, zero at values v cannot take
    n_categories : (D,) int64
    leaf_bits : int, 8..20; the kernels scale the leaf tables to 2**20 (a model embedded
        in a small file is smaller with coarse leaves)
    """

    tree: Tree
    prior: np.ndarray
    edges: np.ndarray
    leaves: np.ndarray
    n_categories: np.ndarray
    leaf_bits: int = LEAF_BITS
    _cache: dict = field(default_factory=dict, repr=False)

    kind = "hclt-q"  # the model protocol (latentzip.coding.protocol)
    version = 1

    # ------------------------------------------------------------------ protocol
    @property
    def n_variables(self) -> int:
        return int(self.leaves.shape[0])

    @property
    def n_latents(self) -> int:
        return int(self.prior.shape[0])

    @property
    def alphabet_sizes(self) -> np.ndarray:
        return self.n_categories

    @property
    def coding_order(self) -> np.ndarray:
        return self.tree.order

    @property
    def bytes_per_sample(self) -> int:
        return 8 * self.n_variables * self.n_latents + 16 * self.leaves.shape[2]

    @property
    def fingerprint(self) -> str:
        if "fingerprint" not in self._cache:
            prefix = f"{self.kind}/{self.version}".encode()
            if self.leaf_bits != LEAF_BITS:
                prefix += f"leaf_bits={self.leaf_bits}".encode()
            arrays = self.to_arrays()[0]  # integers only
            self._cache["fingerprint"] = modelfile.fingerprint(prefix, arrays)
        return self._cache["fingerprint"]

    def walker(self, n: int) -> QuantisedWalker:
        return QuantisedWalker(self, n)

    def to_arrays(self) -> tuple[dict[str, np.ndarray], dict]:
        t = self.tree
        values = (t.parent, t.order, self.prior, self.edges, self.leaves, self.n_categories)
        return dict(zip(_ARRAYS, values, strict=True)), {"leaf_bits": self.leaf_bits}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], settings: dict) -> QuantisedCircuit:
        """A model from untrusted arrays, every invariant the kernels rely on checked."""
        bits = settings.get("leaf_bits")
        if type(bits) is not int or not MIN_LEAF_BITS <= bits <= LEAF_BITS:
            raise ModelError(f"leaf_bits must be an integer in {MIN_LEAF_BITS}..{LEAF_BITS}")
        missing = [name for name in _ARRAYS if name not in arrays]
        if missing:
            raise ModelError(f"arrays {missing} are missing")
        if any(arrays[name].dtype.kind not in "iu" for name in _ARRAYS):
            raise ModelError("an integer model holds integers only")
        a = {name: arrays[name].astype(np.int64) for name in _ARRAYS}
        model = cls(
            Tree(a["parent"], a["order"]),
            a["prior"].astype(np.uint32),
            a["edges"].astype(np.uint32),
            a["leaves"].astype(np.uint32),
            a["n_categories"],
            bits,
        )
        model.check(a)
        return model

    def check(self, a: dict[str, np.ndarray] | None = None) -> None:
        """Raise :class:`ModelError` unless shapes, ranges and exact row sums hold."""
        a = a or {k: v.astype(np.int64) for k, v in self.to_arrays()[0].items()}
        prior, edges, leaves, cats = a["prior"], a["edges"], a["leaves"], a["n_categories"]
        if prior.ndim != 1 or edges.ndim != 3 or leaves.ndim != 3 or cats.ndim != 1:
            raise ModelError("prior, edges, leaves and n_categories need 1, 3, 3 and 1 dims")
        d, k, width = leaves.shape
        if not (1 <= k <= 4096 and 1 <= width <= 2**16 and d >= 1):
            raise ModelError(f"{k} latent states, {width} categories, {d} variables")
        if prior.shape != (k,) or edges.shape != (d, k, k) or cats.shape != (d,):
            raise ModelError("inconsistent shapes")
        self.tree.check()
        if self.tree.n_variables != d or cats.min() < 1 or cats.max() > width:
            raise ModelError(f"category counts must lie in 1..{width}, the leaf table width")
        for name, t, bits, low in (("prior", prior, EDGE_BITS, 1), ("edges", edges, EDGE_BITS, 1),
                                   ("leaves", leaves, self.leaf_bits, 0)):  # fmt: skip
            if t.min() < low or np.any(t.sum(-1) != 2**bits):
                raise ModelError(f"{name} rows must sum to exactly 2**{bits}")
        if np.any(leaves[np.arange(width)[None, None, :] >= cats[:, None, None].repeat(k, 1)]):
            raise ModelError("a leaf table gives mass to values beyond its category count")

    # ------------------------------------------------------------------ building
    @classmethod
    def from_circuit(
        cls, circuit, leaf_bits: int = LEAF_BITS, leaf_floor: bool = False
    ) -> QuantisedCircuit:
        """The integer model of a float circuit (deterministic on every machine).

        ``leaf_floor`` keeps every value of every variable codable (at least 1 in each leaf
        row), for data the model was not trained on (tables with unseen exceptions).
        """
        if not MIN_LEAF_BITS <= leaf_bits <= LEAF_BITS:
            raise ModelError(f"leaf_bits must lie in {MIN_LEAF_BITS}..{LEAF_BITS}")
        leaves = np.ascontiguousarray(circuit.leaves.transpose(0, 2, 1))  # (D, K, C)
        cats = circuit.n_categories.astype(np.int64)
        if leaf_floor:
            if cats.max() > 2**leaf_bits:
                raise ModelError(f"{cats.max()} categories do not fit {leaf_bits}-bit leaves")
            q = np.zeros(leaves.shape, np.int64)
            for v, c in enumerate(cats):  # the floor covers the variable's own values only
                q[v, :, :c] = quantise_rows(leaves[v, :, :c], leaf_bits, floor=1)
        else:
            q = quantise_rows(leaves, leaf_bits)
        return cls(
            circuit.tree,
            quantise_rows(circuit.prior, EDGE_BITS, floor=1).astype(np.uint32),
            quantise_rows(circuit.edges, EDGE_BITS, floor=1).astype(np.uint32),
            q.astype(np.uint32),
            cats,
            leaf_bits,
        )

    def coding_model(self) -> QuantisedCircuit:
        return self

    # ------------------------------------------------------------------ kernels' inputs
    def table(self, v: int) -> np.ndarray:
        """The cumulative tables (C+1, K) the coding weights of variable v mix."""
        a = self._kernel_args()
        row = a.leaf_row[v]
        return a.leaf_cum[row] if row >= 0 else a.cum[v]

    def _kernel_args(self):
        if "args" not in self._cache:
            tree = self.tree
            cum = np.zeros((self.n_variables, self.leaves.shape[2] + 1, self.n_latents), np.uint32)
            cum[:, 1:] = np.cumsum(self.leaves, axis=2).transpose(0, 2, 1)
            cum <<= np.uint32(LEAF_BITS - self.leaf_bits)  # the kernels' tables end at 2**20
            lists = _closing_lists(tree.parent, tree.order, tree.subtree_end())
            by_var = [np.empty(0, np.int64)] * self.n_variables
            for t, v in enumerate(tree.order):
                by_var[v] = lists[t]
            ptr = np.concatenate([[0], np.cumsum([len(c) for c in by_var])]).astype(np.int64)
            idx = np.concatenate(by_var).astype(np.int64) if ptr[-1] else np.zeros(0, np.int64)
            kids = np.bincount(tree.parent[tree.parent >= 0], minlength=self.n_variables)
            leaves = np.flatnonzero((kids == 0) & (tree.parent >= 0))
            leaf_row = np.full(self.n_variables, -1, np.int64)
            leaf_row[leaves] = np.arange(len(leaves))
            leaf_msg = np.zeros((len(leaves), self.leaves.shape[2], self.n_latents), np.uint32)
            intkernels.leaf_messages(leaves, self.n_categories, self.edges, cum, leaf_msg)
            leaf_cum = folded_tables(self.edges[leaves], cum[leaves])
            modes = np.argmax(self.leaves, axis=2).astype(np.int64)
            leaf_modes = np.argmax(np.diff(leaf_cum, axis=1), axis=1).astype(np.int64)
            self._cache["args"] = KernelArgs(
                tree.order, tree.parent, tree.depth(), self.n_categories, ptr, idx,
                leaf_row, leaf_msg, leaf_cum, modes, leaf_modes, self.prior, self.edges, cum,
            )  # fmt: skip
        return self._cache["args"]

    # ------------------------------------------------------------------ block coder
    def encode_blocks(self, x: np.ndarray, block_size: int) -> list[tuple[bytes, int]]:
        """rANS payloads of consecutive blocks of ``x`` (n, D), one stream each (fast path of
        :func:`latentzip.coding.records.encode_blocks`, the same bytes)."""
        x = np.ascontiguousarray(x, dtype=np.int64)
        words, lengths = intkernels.encode_blocks(x, block_size, *self._kernel_args())
        sizes = [min(block_size, len(x) - s) for s in range(0, len(x), block_size)]
        return [(words[b, : lengths[b]].tobytes(), m) for b, m in enumerate(sizes)]

    def decode_blocks(self, payloads: list[tuple[bytes, int]], labels: list[str]) -> np.ndarray:
        """Inverse of :meth:`encode_blocks` for the given records: samples (n, D) int64."""
        for (p, _), label in zip(payloads, labels, strict=True):
            if len(p) % 4:
                raise ContainerError(f"{label}: payload length {len(p)} is not whole words")
        words = np.frombuffer(b"".join(p for p, _ in payloads), dtype="<u4").astype(np.uint32)
        offsets = np.concatenate([[0], np.cumsum([len(p) // 4 for p, _ in payloads])])
        sizes = np.array([m for _, m in payloads], dtype=np.int64)
        x = np.zeros((int(sizes.sum()), self.n_variables), np.int64)
        status = np.zeros(len(payloads), np.int64)
        intkernels.decode_blocks(words, offsets.astype(np.int64), sizes, *self._kernel_args(),
                                 x, status)  # fmt: skip
        for s, label in zip(status, labels, strict=True):
            rans.raise_for_status(int(s), label)
        return x

    def log_prob(self, x: np.ndarray) -> np.ndarray:
        """The exact coding cost of records ``x`` (n, D) in nats: sum of -log(freq / 2**24)."""
        x = np.asarray(x, dtype=np.int64)
        walk, total = self.walker(len(x)), np.zeros(len(x))
        rows = np.arange(len(x))
        for t, v in enumerate(self.coding_order):
            freqs = walk.predict(t)
            total += np.log(freqs[rows, x[:, v]] / 2.0**PRECISION)
            walk.observe(t, x[:, v])
        return total


def folded_tables(edges: np.ndarray, cum: np.ndarray) -> np.ndarray:
    """Cumulative leaf tables mixed through the edges, per parent state: (L, C+1, K) uint32,
    ``floor(sum_j E[a, j] cum[c, j] / 2**16)`` (exact integers; ends at 2**20 as ``cum``).

    A leaf's coding distribution is then a mixture over its parent's states directly, which
    spares the coder a K x K product per leaf symbol.
    """
    e = edges.astype(np.uint64)  # (L, K_parent, K): rows sum to 2**16
    c = cum.astype(np.uint64)  # (L, C+1, K): ends at 2**20; products and sums < 2**45
    folded = np.einsum("laj,lcj->lca", e, c, dtype=np.uint64) >> np.uint64(EDGE_BITS)
    return np.ascontiguousarray(folded.astype(np.uint32))


class QuantisedWalker:
    """The model protocol's walker: exact integer frequency tables, one variable at a time."""

    def __init__(self, model: QuantisedCircuit, n: int):
        self.model, self.args = model, model._kernel_args()
        slots, k = int(self.args.depth.max()) + 1, model.n_latents
        self._out = np.zeros((slots, k, n), np.uint32)  # records last: see intkernels
        self._up = np.ones((slots, k, n), np.uint32)
        self._freqs = np.zeros((n, model.leaves.shape[2]), np.int64)

    def predict(self, t: int) -> np.ndarray:
        a = self.args
        v = int(a.order[t])
        intkernels.walker_predict(v, int(a.parent[v]), int(a.depth[v]), int(a.n_categories[v]),
                                  a.leaf_row, a.leaf_cum, a.prior, a.edges, a.cum, self._out,
                                  self._up, self._freqs)  # fmt: skip
        return self._freqs

    def observe(self, t: int, values: np.ndarray) -> None:
        a = self.args
        values = np.ascontiguousarray(values, dtype=np.int64)
        intkernels.walker_observe(int(a.order[t]), values, a.close_ptr, a.close_idx, a.depth,
                                  a.leaf_row, a.leaf_msg, a.edges, a.cum, self._up)  # fmt: skip
