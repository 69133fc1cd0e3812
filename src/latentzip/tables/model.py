"""An HCLT over the categorical columns of a table, with the dictionaries that define its codes."""

from __future__ import annotations

import math
from dataclasses import asdict
from pathlib import Path

import numpy as np

from latentzip.circuits.hclt import HCLT, HCLTConfig
from latentzip.coding import modelfile
from latentzip.errors import DataError, ModelError
from latentzip.tables.csvfile import Table
from latentzip.tables.schema import TableConfig, TableSchema

__all__ = ["TableModel"]


class TableModel:
    """Learns column dictionaries (:class:`TableSchema`) and an HCLT over the coded columns.

    Parameters
    ----------
    config : HCLTConfig, optional
        Hyperparameters of the circuit (K, epochs, ...).
    table_config : TableConfig, optional
        Which columns are modelled and which fall back to a general compressor.

    Attributes
    ----------
    schema_ : TableSchema
        Column names, dictionaries (value <-> code) and fallback columns.
    hclt_ : HCLT
        The circuit over the modelled columns (``schema_.modelled``), with per-variable C.

    Examples
    --------
    >>> from latentzip.tables.csvfile import parse_csv
    >>> rows = b"".join(b"%d,%s\\n" % (i % 3, b"ab"[i % 2 : i % 2 + 1]) for i in range(60))
    >>> t = parse_csv(rows)
    >>> model = TableModel(HCLTConfig.quick(epochs=1, full_batch_epochs=0)).fit(t, progress=False)
    >>> model.schema_.n_categories.tolist(), bool(model.score(t) < 0)
    ([3, 2], True)
    """

    def __init__(self, config: HCLTConfig | None = None, table_config: TableConfig | None = None):
        self.config = config or HCLTConfig()
        self.table_config = table_config or TableConfig()

    def fit(
        self,
        table: Table,
        *,
        valid: Table | None = None,
        patience: int | None = None,
        schema: TableSchema | None = None,
        progress: bool = True,
    ) -> TableModel:
        """Infer the schema from ``table`` (unless given) and train the circuit on it.

        Parameters
        ----------
        table : Table
            Training rows; the dictionaries are learned from them unless ``schema`` is given.
        valid : Table, optional
            Held-out rows: the epoch with the best validation log-likelihood is kept (see
            :meth:`HCLT.fit`); its values must be in the dictionaries.
        patience : int, optional
            Stop after this many epochs without a better validation log-likelihood.
        schema : TableSchema, optional
            Known dictionaries, e.g. ``TableSchema.categorical(D, ("0", "1"))`` for binary data
            whose training split may lack a value.
        progress : bool
            Show progress bars.
        """
        schema = schema or TableSchema.infer(table, self.table_config)
        if not schema.modelled:
            reasons = "; ".join(
                f"{schema.describe(j)}: {schema.columns[j].reason}" for j in schema.fallback
            )
            raise DataError(f"no column can be modelled ({reasons})")
        codes = schema.encode(table)
        if len(codes) == 0:
            raise DataError("the table has no data rows")
        valid_codes = schema.encode(valid) if valid is not None else None
        self.hclt_ = HCLT(self.config).fit(
            codes, schema.n_categories, valid=valid_codes, patience=patience, progress=progress
        )
        self.schema_ = schema
        return self

    def _check_fitted(self) -> HCLT:
        if not hasattr(self, "hclt_"):
            raise ModelError("this TableModel is not fitted yet; call fit(table) first")
        return self.hclt_

    @property
    def circuit_(self):
        return self._check_fitted().circuit_

    @property
    def fingerprint(self) -> str:
        return self._check_fitted().fingerprint

    def score_samples(self, table: Table) -> np.ndarray:
        """Exact log-likelihood (nats) of each row's modelled columns, shape (n,)."""
        return self._check_fitted().score_samples(self.schema_.encode(table))

    def score(self, table: Table) -> float:
        """Mean log-likelihood (nats) per row."""
        return float(self.score_samples(table).mean())

    def bits_per_row(self, table: Table) -> float:
        return -self.score(table) / math.log(2)

    def coding_model(self):
        """The circuit over the modelled columns: what the coder uses."""
        return self.circuit_

    def save(self, path: str | Path) -> Path:
        """Write the circuit, its training log and the schema (model file ``meta["table"]``)."""
        hclt = self._check_fitted()
        meta = {
            "config": asdict(self.config),
            "history": getattr(hclt, "history_", []),
            "table": self.schema_.to_json(),
            "table_config": asdict(self.table_config),
        }
        return modelfile.save(hclt.circuit_, path, meta)

    @classmethod
    def load(cls, path: str | Path) -> TableModel:
        """Read a model written by :meth:`save`; a model not trained on a table is refused."""
        circuit, meta = modelfile.load(path)
        return cls.from_parts(circuit, meta, str(path))

    @classmethod
    def from_parts(cls, circuit, meta: dict, source: str = "model") -> TableModel:
        """A fitted model from a circuit and the metadata saved with it."""
        if "table" not in meta:
            raise ModelError(
                f"{source}: this model was not trained on a table (no column dictionaries)"
            )
        schema = TableSchema.from_json(meta["table"])
        hclt = HCLT.from_circuit(circuit, meta, source)
        if not np.array_equal(schema.n_categories, circuit.n_categories):
            raise ModelError(f"{source}: the column dictionaries do not match the circuit")
        try:
            table_config = TableConfig(**meta.get("table_config", {}))
        except (TypeError, ValueError) as exc:
            raise ModelError(f"{source}: invalid table settings ({exc})") from exc
        model = cls(hclt.config, table_config)
        model.hclt_, model.schema_ = hclt, schema
        return model
