"""A table's model: the column plan and an HCLT over its circuit variables."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from latentzip.circuits.hclt import HCLT, HCLTConfig
from latentzip.coding import modelfile
from latentzip.errors import DataError, ModelError
from latentzip.tables.csvfile import Table
from latentzip.tables.plan import BLOCK_ROWS, PlanConfig, TablePlan

__all__ = ["TableModel", "config_for_rows"]


@dataclass(frozen=True)
class _Sizes:
    k: int
    leaf_bits: int
    max_bins: int
    max_categories: int


# rows -> sizes; a model embedded in a file is paid for, so small tables get few latent
# states, few bins and coarse leaf tables
_BY_ROWS = (
    (200_000, _Sizes(16, 16, 256, 4096)),
    (20_000, _Sizes(8, 14, 128, 1024)),
    (2_000, _Sizes(4, 12, 32, 256)),
    (0, _Sizes(2, 10, 16, 64)),
)


_SEPARATE_CATEGORIES = 8192


def config_for_rows(
    n_rows: int, base: HCLTConfig | None = None, embedded: bool = True
) -> tuple[HCLTConfig, PlanConfig, int]:
    """(circuit config, plan config, leaf bits) sized to a table: a model embedded in its
    file is paid for there, a separate one (for later files of the same layout) is not."""
    sizes = next(s for rows, s in _BY_ROWS if n_rows >= rows)
    if not embedded:  # identifiers (tail numbers, product codes) stay categories
        categories = max(2 * sizes.max_categories, _SEPARATE_CATEGORIES)
        sizes = _Sizes(min(32, 4 * sizes.k), 16, 2 * sizes.max_bins, categories)
    base = base or HCLTConfig.quick()
    epochs = (6 if n_rows >= 20_000 else 10) * (1 if embedded else 2)
    cfg = replace(base, n_latents=sizes.k, epochs=epochs, full_batch_epochs=2,
                  batch_size=min(1024, max(64, n_rows // 8)))  # fmt: skip
    plan = PlanConfig(max_bins=sizes.max_bins, max_categories=sizes.max_categories,
                      derived_map_weight=1.0 if embedded else 0.1)  # fmt: skip
    return cfg, plan, sizes.leaf_bits


class TableModel(modelfile.Stored):
    """Learns a :class:`~latentzip.tables.plan.TablePlan` and an HCLT over its variables.

    Parameters
    ----------
    config : HCLTConfig, optional
        The circuit's hyperparameters (K, epochs, ...).
    plan_config : PlanConfig, optional
        Bins, categories, exceptions of the column plan.
    leaf_bits : int
        Precision of the integer model's leaf tables (8..20): coarser tables are smaller
        files, which matters when the model is embedded.

    Attributes
    ----------
    plan_ : TablePlan
    hclt_ : HCLT or None
        The circuit over the plan's modelled columns (None when every column is text).

    Examples
    --------
    >>> from latentzip.tables.csvfile import parse_csv
    >>> rows = b"".join(b"%d,%s\\n" % (i % 3, b"ab"[i % 2 : i % 2 + 1]) for i in range(60))
    >>> t = parse_csv(rows)
    >>> model = TableModel(HCLTConfig.quick(epochs=1, full_batch_epochs=0)).fit(t, progress=False)
    >>> [c.role for c in model.plan_.columns], bool(model.score(t) < 0)
    (['number', 'category'], True)
    """

    def __init__(
        self,
        config: HCLTConfig | None = None,
        plan_config: PlanConfig | None = None,
        leaf_bits: int = 20,
    ):
        self.config = config or HCLTConfig()
        self.plan_config = plan_config or PlanConfig()
        self.leaf_bits = leaf_bits

    @classmethod
    def for_table(cls, table: Table, embedded: bool = True) -> TableModel:
        """A model sized for ``table`` (:func:`config_for_rows`): to embed in its file, or
        (``embedded=False``) to keep apart for later files of the same layout."""
        cfg, plan_cfg, bits = config_for_rows(table.n_rows, embedded=embedded)
        return cls(cfg, plan_cfg, bits)

    def fit(
        self,
        table: Table,
        *,
        valid: Table | None = None,
        patience: int | None = None,
        plan: TablePlan | None = None,
        progress: bool = True,
        engine=None,
        device: str | None = None,
    ) -> TableModel:
        """Learn the plan from ``table`` (unless given) and train the circuit on it.

        ``valid`` rows keep the epoch with the best validation likelihood (see
        :meth:`HCLT.fit`), ``engine``/``device`` choose the EM engine.
        """
        plan = plan or TablePlan.fit(table, self.plan_config)
        self.plan_, self.hclt_ = plan, None
        if not plan.modelled:
            return self
        codes = plan.encode(table, BLOCK_ROWS).symbols
        valid_codes = None
        if valid is not None:
            valid_codes = plan.encode(valid, BLOCK_ROWS).symbols
        self.hclt_ = HCLT(self.config).fit(
            codes, plan.n_categories, valid=valid_codes, patience=patience, progress=progress,
            engine=engine, device=device,
        )  # fmt: skip
        return self

    def _check_fitted(self) -> TableModel:
        if not hasattr(self, "plan_"):
            raise ModelError("this TableModel is not fitted yet; call fit(table) first")
        return self

    def coding_model(self):
        """The integer model over the plan's variables (None when every column is text)."""
        self._check_fitted()
        if getattr(self, "_coding", None) is not None:
            return self._coding
        if self.hclt_ is None:
            return None
        from latentzip.circuits.quantised import QuantisedCircuit

        # every symbol stays codable: rows of other files may hold what training did not
        self._coding = QuantisedCircuit.from_circuit(
            self.hclt_.circuit_, self.leaf_bits, leaf_floor=True
        )
        return self._coding

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the coding model's fingerprint and the column plan."""
        coder = self.coding_model()
        h = hashlib.sha256(coder.fingerprint.encode() if coder is not None else b"no-circuit")
        h.update(json.dumps(self.plan_.to_json(), sort_keys=True).encode())
        return h.hexdigest()

    def score_samples(self, table: Table) -> np.ndarray:
        """log-likelihood (nats) of each row's circuit variables (residuals not included)."""
        self._check_fitted()
        codes = self.plan_.encode(table, BLOCK_ROWS).symbols
        if self.hclt_ is not None:
            return self.hclt_.score_samples(codes)
        coder = self.coding_model()
        return coder.log_prob(codes) if coder is not None else np.zeros(len(codes))

    def score(self, table: Table) -> float:
        return float(self.score_samples(table).mean())

    def bits_per_row(self, table: Table) -> float:
        return -self.score(table) / math.log(2)

    # ------------------------------------------------------------------ files
    def _meta(self) -> dict:
        return {
            "config": asdict(self.config),
            "table": self.plan_.to_json(),
            "history": getattr(self.hclt_, "history_", []) if self.hclt_ else [],
        }

    def save(self, path: str | Path) -> Path:
        """The float circuit with the plan (the training object)."""
        if self.hclt_ is None:
            raise ModelError("this table model has no circuit (every column is text)")
        return modelfile.save(self.hclt_.circuit_, path, self._meta())

    def save_coding_model(self, path: str | Path) -> Path:
        """The integer coding model with the plan: small, what files are made with."""
        coder = self.coding_model()
        if coder is None:
            raise ModelError("this table model has no circuit (every column is text)")
        return modelfile.save(coder, path, self._meta())

    def to_bytes(self) -> bytes:
        """The coding model file's bytes, compact (what a self-contained container embeds)."""
        if self.coding_model() is None:
            raise ModelError("this table model has no circuit (every column is text)")
        meta = {"table": self.plan_.to_json()}  # no training history: it is paid for
        return modelfile.to_bytes(self.coding_model(), meta, compact=True)

    @classmethod
    def from_model(cls, model, meta: dict, source: str = "model") -> TableModel:
        """A fitted model from a (float or integer) circuit and its metadata."""
        from latentzip.circuits.quantised import QuantisedCircuit

        if "table" not in meta:
            raise ModelError(f"{source}: this model was not trained on a table (no column plan)")
        plan = TablePlan.from_json(meta["table"])
        try:
            config = HCLTConfig(**meta.get("config", {}))
        except (TypeError, ValueError) as exc:
            raise ModelError(f"{source}: invalid settings ({exc})") from exc
        out = cls(config)
        out.plan_, out.hclt_ = plan, None
        if isinstance(model, QuantisedCircuit):
            out._coding = model
        else:
            out.hclt_ = HCLT.from_model(model, meta, source)
        coder = out.coding_model()
        if not np.array_equal(plan.n_categories, coder.alphabet_sizes):
            raise ModelError(f"{source}: the column plan does not match the circuit")
        return out

    @classmethod
    def from_plan(cls, plan: TablePlan) -> TableModel:
        """A model with no circuit (tables whose columns are all text)."""
        if plan.modelled:
            raise DataError("this plan has modelled columns: it needs a circuit")
        out = cls()
        out.plan_, out.hclt_ = plan, None
        return out
