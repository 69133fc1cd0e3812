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
        engine=None,
        device: str | None = None,
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
        engine, device
            The EM engine (see :meth:`HCLT.fit`).
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
            codes,
            schema.n_categories,
            valid=valid_codes,
            patience=patience,
            progress=progress,
            engine=engine,
            device=device,
        )
        self.schema_ = schema
        return self

    def _check_fitted(self):
        if not hasattr(self, "schema_"):
            raise ModelError("this TableModel is not fitted yet; call fit(table) first")
        return self

    @property
    def circuit_(self):
        """The float circuit (absent when the model was loaded from a coding-model file)."""
        if not hasattr(self, "hclt_"):
            raise ModelError("this table model holds only its integer coding model")
        return self.hclt_.circuit_

    @property
    def fingerprint(self) -> str:
        return self.coding_model().fingerprint

    def score_samples(self, table: Table) -> np.ndarray:
        """Log-likelihood (nats) of each row's modelled columns, shape (n,): exact for the
        float model, the exact coding cost for an integer one."""
        codes = self._check_fitted().schema_.encode(table)
        if hasattr(self, "hclt_"):
            return self.hclt_.score_samples(codes)
        return self._coding.log_prob(codes)

    def score(self, table: Table) -> float:
        """Mean log-likelihood (nats) per row."""
        return float(self.score_samples(table).mean())

    def bits_per_row(self, table: Table) -> float:
        return -self.score(table) / math.log(2)

    def coding_model(self):
        """The integer model over the modelled columns: what the coder uses."""
        self._check_fitted()
        return self._coding if hasattr(self, "_coding") else self.hclt_.coding_model()

    def _meta(self) -> dict:
        return {
            "config": asdict(self.config),
            "history": getattr(getattr(self, "hclt_", None), "history_", []),
            "table": self.schema_.to_json(),
            "table_config": asdict(self.table_config),
        }

    def save(self, path: str | Path) -> Path:
        """Write the float circuit, its training log and the schema (``meta["table"]``)."""
        return modelfile.save(self.circuit_, path, self._meta())

    def save_coding_model(self, path: str | Path) -> Path:
        """Write the integer coding model with the schema: small, what files are made with."""
        return modelfile.save(self.coding_model(), path, self._meta())

    @classmethod
    def load(cls, path: str | Path) -> TableModel:
        """Read a model written by :meth:`save` or :meth:`save_coding_model`."""
        model, meta = modelfile.load(path)
        return cls.from_parts(model, meta, str(path))

    @classmethod
    def from_parts(cls, model, meta: dict, source: str = "model") -> TableModel:
        """A fitted model from a (float or integer) circuit and the metadata saved with it."""
        from latentzip.circuits.quantised import QuantisedCircuit

        if "table" not in meta:
            raise ModelError(
                f"{source}: this model was not trained on a table (no column dictionaries)"
            )
        schema = TableSchema.from_json(meta["table"])
        try:
            table_config = TableConfig(**meta.get("table_config", {}))
            config = HCLTConfig(**meta.get("config", {}))
        except (TypeError, ValueError) as exc:
            raise ModelError(f"{source}: invalid table settings ({exc})") from exc
        out = cls(config, table_config)
        if isinstance(model, QuantisedCircuit):
            out._coding = model
        else:
            out.hclt_ = HCLT.from_circuit(model, meta, source)
        out.schema_ = schema
        if not np.array_equal(schema.n_categories, out.coding_model().alphabet_sizes):
            raise ModelError(f"{source}: the column dictionaries do not match the circuit")
        return out
