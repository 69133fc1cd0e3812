"""The model protocol: everything the entropy-coding pipeline sees of a model, and nothing else.

A coding model describes D discrete variables, the order they are coded in, and a walker
that yields quantised conditionals one variable at a time (constriction's habit: the coder
never inspects what produced the probabilities)::

    model.walker(n) --predict(t)--> (n, C) integer frequencies of x_order[t] | x_order[<t]
                    <--observe(t, values)-- the symbols just coded (or decoded)

Models are saved through :mod:`latentzip.coding.modelfile` under their ``kind`` and come back
from any file through ``load_model``; new kinds are registered in :mod:`latentzip.registry`.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from latentzip.coding.quantise import PRECISION
from latentzip.errors import ModelError

__all__ = ["PRECISION", "CodingModel", "Walker", "as_coding_model"]


@runtime_checkable
class Walker(Protocol):
    """Conditionals for a batch of ``n`` records, visited in coding order: ``predict(t)``
    then ``observe(t, values)`` for every position t = 0 .. D-1, coded or not."""

    def predict(self, t: int) -> np.ndarray:
        """Integer frequencies (n, C) int64 of the variable at position ``t``: each row sums
        to ``2**PRECISION`` and gives every value the variable can take at least 1."""
        ...

    def observe(self, t: int, values: np.ndarray) -> None:
        """Condition on the values (n,) of the variable at position ``t``."""
        ...


@runtime_checkable
class CodingModel(Protocol):
    """A model the coder can use (see the module docstring).

    Attributes
    ----------
    kind : str
        Model-file registry key (``"hclt"``, ``"hclt-mixture"``, ...).
    version : int
        Version of this kind's serialisation.
    n_variables : int
    alphabet_sizes : ndarray (D,) int64
        Variable v takes values ``0 .. alphabet_sizes[v] - 1``.
    coding_order : ndarray (D,) int64
        A permutation of the variables; position t codes variable ``coding_order[t]``.
    fingerprint : str
        Hex SHA-256 of the kind, structure and parameters; a container records it.
    bytes_per_sample : int
        Memory a walker needs per record, so batches can be sized before allocating.
    """

    kind: str
    version: int

    @property
    def n_variables(self) -> int: ...

    @property
    def alphabet_sizes(self) -> np.ndarray: ...

    @property
    def coding_order(self) -> np.ndarray: ...

    @property
    def fingerprint(self) -> str: ...

    @property
    def bytes_per_sample(self) -> int: ...

    def walker(self, n: int) -> Walker: ...

    def to_arrays(self) -> tuple[dict[str, np.ndarray], dict]:
        """The arrays and JSON-able settings that :meth:`from_arrays` rebuilds it from."""
        ...

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], settings: dict) -> CodingModel:
        """Rebuild from untrusted arrays: validate everything, raise :class:`ModelError`."""
        ...


def as_coding_model(model) -> CodingModel:
    """The coding model of ``model``: itself, or what its ``coding_model()`` returns.

    Estimators (``HCLT``, ``TableModel``, mixtures) are not coding models themselves; they
    hand over the fitted one.
    """
    if hasattr(model, "coding_model"):
        model = model.coding_model()
    if not isinstance(model, CodingModel):
        raise ModelError(f"{type(model).__name__} is not a coding model")
    return model
