"""The integer mixture of HCLTs that the coder runs (float training object: ``mixture.py``).

Each component is a :class:`~.quantised.QuantisedCircuit`; a record's posterior over the
components is a fixed-point vector updated with each component's own integer frequency of
the coded symbol. The coding frequencies mix the leaf tables of every (component, latent
state) pair at once: weights post_m * w_mk, made exact over all pairs, one mixed cumulative
table (:mod:`latentzip.coding.fixedpoint`). Components whose tree's pre-order is the coding
order use the incremental kernels, the others :mod:`.anyorder` in fixed point.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from latentzip.circuits import intkernels
from latentzip.circuits.anyorder import TreeState
from latentzip.circuits.mixture_parts import MixtureParts, check_components, split_arrays
from latentzip.circuits.quantised import EDGE_BITS, QuantisedCircuit
from latentzip.coding.fixedpoint import LEAF_BITS, exact_rows, quantise_rows, renorm_rows
from latentzip.errors import ModelError


@dataclass(frozen=True, eq=False)
class QuantisedMixture(MixtureParts):
    """Weights (M,) uint32 summing to 2**16, integer components, coding ``order`` (D,)."""

    kind = "hclt-mixture-q"  # the model protocol (latentzip.coding.protocol)
    version = 1

    @property
    def coding_order(self) -> np.ndarray:
        return self.order

    @property
    def bytes_per_sample(self) -> int:
        return sum(2 * c.bytes_per_sample for c in self.components)

    def coding_model(self) -> QuantisedMixture:
        return self

    def walker(self, n: int) -> QuantisedMixtureWalker:
        return QuantisedMixtureWalker(self, n)

    def settings(self) -> dict:
        return {"leaf_bits": LEAF_BITS}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], settings: dict) -> QuantisedMixture:
        bits = {"leaf_bits": settings.get("leaf_bits")}
        parts = tuple(
            QuantisedCircuit.from_arrays(own, bits) for own in split_arrays(arrays, settings)
        )
        w, order = arrays["weights"], arrays["order"]
        if w.dtype.kind not in "iu" or order.dtype.kind not in "iu":
            raise ModelError("weights and order must be integers")
        mix = cls(w.astype(np.uint32), parts, order.astype(np.int64))
        mix.check()
        return mix

    def check(self) -> None:
        w = self.weights.astype(np.int64)
        if w.shape != (len(self.components),) or w.min() < 1 or w.sum() != 2**EDGE_BITS:
            raise ModelError(f"mixture weights must be positive and sum to 2**{EDGE_BITS}")
        check_components(self.components, self.order)

    @classmethod
    def from_mixture(cls, mixture) -> QuantisedMixture:
        """The integer model of a float :class:`~.mixture.MixtureCircuit`."""
        parts = tuple(c.coding_model() for c in mixture.components)
        w = quantise_rows(mixture.weights, EDGE_BITS, floor=1).astype(np.uint32)
        return cls(w, parts, np.asarray(mixture.order, np.int64))

    def _joint_cum(self, v: int) -> np.ndarray:
        """The cumulative tables of every (component, state) pair of variable v."""
        key = ("cum", v)
        if key not in self._cache:
            self._cache[key] = np.ascontiguousarray(
                np.concatenate([self.component_table(c, v) for c in self.components], axis=1)
            )
        return self._cache[key]

    def component_table(self, component: QuantisedCircuit, v: int) -> np.ndarray:
        """What a component's weights for v mix: its coder's table in its own pre-order,
        the plain leaf table of v for the any-order walker."""
        if np.array_equal(component.tree.order, self.order):
            return component.table(v)
        return component._kernel_args().cum[v]


class _Component:
    """One component's integer walker: incremental (own pre-order) or any-order."""

    def __init__(self, model: QuantisedCircuit, n: int, order: np.ndarray):
        self.model, self.args = model, model._kernel_args()
        k = model.n_latents
        self.incremental = np.array_equal(model.tree.order, order)
        self.w = np.zeros((n, k), np.uint64)
        if self.incremental:
            slots = int(self.args.depth.max()) + 1
            self.up = np.ones((slots, k, n), np.uint32)
            self.out = np.zeros((slots, k, n), np.uint32)
        else:
            self.tree = TreeState(model.tree.parent, n, k, order, np.uint64)
            self.prior = self.args.prior.astype(np.uint64)
            self.edges = self.args.edges.astype(np.uint64)

    def weights(self, v: int) -> np.ndarray:
        a = self.args
        if self.incremental:
            intkernels.walker_weights(v, int(a.parent[v]), int(a.depth[v]), a.leaf_row, a.prior,
                                      a.edges, self.out, self.up, self.w)  # fmt: skip
            return self.w
        return self.tree.beliefs(v, self.prior, self.edges, a.cum)

    def observe(self, v: int, values: np.ndarray) -> None:
        a = self.args
        if self.incremental:
            intkernels.walker_observe(v, values, a.close_ptr, a.close_idx, a.depth, a.leaf_row,
                                      a.leaf_msg, a.edges, a.cum, self.up)  # fmt: skip
        else:
            self.tree.observe(v, values, self.edges, a.cum)


class QuantisedMixtureWalker:
    """The model protocol's walker for :class:`QuantisedMixture` (exact integers)."""

    def __init__(self, mix: QuantisedMixture, n: int):
        self.mix = mix
        self.parts = [_Component(c, n, mix.order) for c in mix.components]
        self.post = np.tile(mix.weights.astype(np.uint64), (n, 1))  # (n, M)
        self.freqs = np.zeros((n, mix.components[0].leaves.shape[2]), np.int64)
        self._w: list[np.ndarray] = []

    def predict(self, t: int) -> np.ndarray:
        v = int(self.mix.order[t])
        self._w = [part.weights(v).copy() for part in self.parts]
        joint = np.concatenate([p[:, None] * w for p, w in zip(self.post.T, self._w, strict=True)],
                               axis=1)  # fmt: skip
        weights = exact_rows(renorm_rows(joint))
        n_sym = int(self.mix.alphabet_sizes[v])
        intkernels.mixed_freqs(weights, self.mix._joint_cum(v), n_sym, self.freqs)
        return self.freqs

    def observe(self, t: int, values: np.ndarray) -> None:
        v = int(self.mix.order[t])
        values = np.ascontiguousarray(values, dtype=np.int64)
        n_sym = int(self.mix.alphabet_sizes[v])
        f = np.empty(len(values), np.int64)
        for m, part in enumerate(self.parts):
            table = self.mix.component_table(part.model, v)
            intkernels.symbol_freqs(self._w[m], table, values, n_sym, f)
            self.post[:, m] *= f.astype(np.uint64)  # post < 2**16, f <= 2**24
            part.observe(v, values)
        self.post = renorm_rows(self.post)
