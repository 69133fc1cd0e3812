"""What the float mixture and the integer mixture the coder runs have in common: the
fields, their arrays in a model file (``weights``, ``order``, and ``c{m}_<name>`` for each
component's own), and the fingerprint over them."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from latentzip.coding import modelfile
from latentzip.errors import ModelError

MAX_COMPONENTS = 256


@dataclass(frozen=True, eq=False)
class MixtureParts:
    """Weights (M,), components over the same variables, their coding ``order`` (D,); the
    subclasses say what the numbers are (float or integer) and how they are coded."""

    weights: np.ndarray
    components: tuple
    order: np.ndarray
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def n_variables(self) -> int:
        return self.components[0].n_variables

    @property
    def alphabet_sizes(self) -> np.ndarray:
        return self.components[0].n_categories

    @property
    def fingerprint(self) -> str:
        if "fingerprint" not in self._cache:
            arrays, _ = self.to_arrays()
            prefix = f"{self.kind}/{self.version}".encode()
            self._cache["fingerprint"] = modelfile.fingerprint(prefix, dict(sorted(arrays.items())))
        return self._cache["fingerprint"]

    def settings(self) -> dict:
        """What the model file stores besides the arrays (besides ``n_components``)."""
        return {}

    def to_arrays(self) -> tuple[dict[str, np.ndarray], dict]:
        arrays = {"weights": self.weights, "order": self.order}
        for m, c in enumerate(self.components):
            arrays.update({f"c{m}_{k}": v for k, v in c.to_arrays()[0].items()})
        return arrays, {"n_components": len(self.components), **self.settings()}


def split_arrays(arrays: dict[str, np.ndarray], settings: dict) -> list[dict[str, np.ndarray]]:
    """Each component's arrays of an untrusted mixture file, ``weights`` and ``order`` checked
    to be there."""
    m = settings.get("n_components")
    if type(m) is not int or not 1 <= m <= MAX_COMPONENTS:
        raise ModelError(f"n_components must be an integer in 1..{MAX_COMPONENTS}")
    if "weights" not in arrays or "order" not in arrays:
        raise ModelError("weights or order are missing")
    return [
        {k[len(f"c{i}_") :]: v for k, v in arrays.items() if k.startswith(f"c{i}_")}
        for i in range(m)
    ]


def check_components(components, order: np.ndarray) -> None:
    """Raise :class:`ModelError` unless the components model the same variables and
    ``order`` is a permutation of them."""
    first = components[0]
    for c in components:
        if not np.array_equal(c.n_categories, first.n_categories):
            raise ModelError("mixture components model different variables")
    if order.dtype.kind not in "iu" or not np.array_equal(
        np.sort(order), np.arange(first.n_variables)
    ):
        raise ModelError("the coding order is not a permutation of the variables")
