"""Columns that other columns determine: kept as a lookup table instead of being coded.

Real tables repeat themselves across columns: an hour and a minute split from a scheduled
time, a distance fixed by the origin and the destination, an airport's name by its code.
The circuit can only approximate such a rule through its latent states (and pays for every
row); a column ``b`` whose cell, in the training rows, is a function of the cells of one or
two other columns (up to a few rows that break the rule) becomes *derived*: its cells are
looked up from the sources' cells, and the rows where the lookup fails or differs keep their
cell as an exception. A derived column is never a source, so decoding needs one pass.

Worth it when the bytes the circuit would spend on ``b`` (estimated, conservatively, as a
fraction of its entropy) exceed the lookup table's size (weighted: a model embedded in its
file pays for it, a separate one hardly) plus the exceptions'.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np

from latentzip.coding.fields import Fields
from latentzip.errors import DataError, ModelError

MAX_ENTRIES = 2**16  # rows of one lookup table
MAX_COLUMNS = 128  # wider tables are not searched (binary data sets: nothing to find)
MAX_PAIR_COLUMNS = 48  # two-column sources only up to this many columns
MAX_BREAK_FRACTION = 0.01  # rows that may break a rule (each kept as an exception)
CIRCUIT_SHARE = 0.15  # the least share of a column's entropy the circuit is assumed to pay
_QUICK_ROWS = 2048  # rows a rule must hold on before it is checked on every row
SEARCH_ROWS = 50_000  # longer tables are searched on this many evenly spaced rows


@dataclass(frozen=True)
class Derivation:
    """Cells of a column looked up from the cells of ``sources`` (column indices)."""

    sources: tuple[int, ...]
    keys: tuple[tuple[str, ...], ...]  # per entry: the sources' cells
    values: tuple[str, ...]  # per entry: the derived cell
    _lookup: dict = field(default_factory=dict, repr=False, compare=False)

    def lookup(self) -> dict[tuple[str, ...], str]:
        if not self._lookup:
            self._lookup.update(zip(self.keys, self.values, strict=True))
        return self._lookup

    def cells(self, source_cells: list) -> list[str | None]:
        """The looked-up cell of each row (None where the sources' cells are not listed)."""
        table = self.lookup()
        return [table.get(key) for key in zip(*source_cells, strict=True)]

    def to_json(self) -> dict:
        columns = [[k[i] for k in self.keys] for i in range(len(self.sources))]
        return {"sources": list(self.sources), "keys": columns, "values": list(self.values)}

    @classmethod
    def from_json(cls, f: Fields, n_columns: int, own: int) -> Derivation:
        sources = tuple(f.ints("sources", 0, n_columns - 1, max_len=2))
        values = f.strs("values", MAX_ENTRIES)
        columns = f._get("keys")
        if (
            not 1 <= len(sources) <= 2
            or len(set(sources)) != len(sources)
            or own in sources
            or not isinstance(columns, list)
            or len(columns) != len(sources)
            or not all(isinstance(c, list) and len(c) == len(values) for c in columns)
            or not all(isinstance(s, str) for c in columns for s in c)
        ):
            raise ModelError("table column: an invalid derivation")
        keys = tuple(zip(*columns, strict=True))
        if len(set(keys)) != len(keys):
            raise ModelError("table column: a derivation lists a key twice")
        return cls(sources, keys, tuple(values))


def derive(columns: tuple, derivations: dict[int, Derivation]) -> list[list[str | None]]:
    """Per derived column (in ``derivations`` order), its looked-up cells."""
    return [d.cells([columns[s] for s in d.sources]) for d in derivations.values()]


def restore(cells: list, d: Derivation, exceptions: dict[int, str]) -> tuple[str, ...]:
    """The derived column's cells: exceptions where given, the lookup elsewhere."""
    looked = d.cells(cells)
    out = []
    for i, cell in enumerate(looked):
        cell = exceptions.get(i, cell)
        if cell is None:
            raise DataError(f"row {i}: no derived cell for the sources' cells")
        out.append(cell)
    return tuple(out)


# ----------------------------------------------------------------------------- search
def find(columns: tuple, map_weight: float, excluded: set[int] = frozenset()) -> dict:
    """{column: Derivation} worth using in a table of ``columns`` (tuples of cells); a map's
    bytes count ``map_weight`` times; ``excluded`` columns are neither sources nor derived.
    Long tables are searched on evenly spaced rows; the chosen rules are then read off (and
    checked on) every row."""
    d, n = len(columns), len(columns[0]) if columns else 0
    if d < 2 or d > MAX_COLUMNS or n < 64:
        return {}
    if n > SEARCH_ROWS:
        rows = np.linspace(0, n - 1, SEARCH_ROWS).astype(np.int64)
        sample = tuple([c[i] for i in rows] for c in columns)
        rules = _search(sample, map_weight * SEARCH_ROWS / n, excluded)
    else:
        rules = _search(columns, map_weight, excluded)
    out = {}
    for b, s in rules:
        codes, sizes = zip(*(_factorize(columns[a]) for a in (*s, b)), strict=True)
        k, m = _key(codes, sizes, tuple(range(len(s))))
        broken, pick = _rule(k, m, codes[-1], sizes[-1])
        if m <= MAX_ENTRIES and broken <= MAX_BREAK_FRACTION * n:
            out[b] = _derivation(columns, s, k, pick, b)
    return out


def _search(columns: tuple, map_weight: float, excluded) -> list[tuple[int, tuple[int, ...]]]:
    """The rules (derived column, sources) worth using, greedily by the derived column's
    entropy (a derived column is never a source)."""
    d, n = len(columns), len(columns[0])
    codes, sizes = zip(*(_factorize(c) for c in columns), strict=True)
    quick = np.linspace(0, n - 1, min(n, _QUICK_ROWS)).astype(np.int64)
    sets = [(a,) for a in range(d)]
    if d <= MAX_PAIR_COLUMNS:
        small = [a for a in range(d) if 2 <= sizes[a] <= MAX_ENTRIES]
        sets += list(itertools.combinations(small, 2))
    keys = {}
    for s in sets:
        if excluded & set(s):
            continue
        k, m = _key(codes, sizes, s)
        if 2 <= m <= min(MAX_ENTRIES, n // 8):
            keys[s] = (k, m)
    chosen: dict[int, tuple[int, ...]] = {}
    sources: set[int] = set()
    gains = {b: CIRCUIT_SHARE * n * _entropy(codes[b]) / 8 for b in range(d)}
    for b in sorted(range(d), key=lambda b: -gains[b]):
        if b in excluded or b in sources or sizes[b] < 2:
            continue
        best = None
        for s, (k, m) in keys.items():
            if b in s or chosen.keys() & set(s) or m < sizes[b] // 2:
                continue
            quick_breaks = _rule(k[quick], m, codes[b][quick], sizes[b])[0]
            if quick_breaks > MAX_BREAK_FRACTION * len(quick):
                continue
            broken = _rule(k, m, codes[b], sizes[b])[0]
            if broken > MAX_BREAK_FRACTION * n:
                continue
            cost = map_weight * _map_bytes(columns, s, b, m) + broken * _cell_bytes(columns[b])
            if best is None or cost < best[0]:
                best = (cost, s)
        if best is not None and best[0] < gains[b]:
            chosen[b] = best[1]
            sources.update(best[1])
    return sorted(chosen.items())


def _factorize(cells) -> tuple[np.ndarray, int]:
    index: dict[str, int] = {}
    codes = np.fromiter((index.setdefault(c, len(index)) for c in cells), np.int64, len(cells))
    return codes, len(index)


def _key(codes, sizes, s: tuple[int, ...]) -> tuple[np.ndarray, int]:
    """Dense codes of the sources' cells together, and how many there are."""
    k = codes[s[0]]
    if len(s) == 2:
        k = k * sizes[s[1]] + codes[s[1]]
    uniq, dense = np.unique(k, return_inverse=True)
    return dense.astype(np.int64), len(uniq)


def _rule(k, m, b, nb) -> tuple[int, np.ndarray]:
    """(rows that break the best rule k -> b, one row per key holding its most frequent b)."""
    uniq, first, counts = np.unique(k * nb + b, return_index=True, return_counts=True)
    group = uniq // nb
    order = np.lexsort((-counts, group))  # by key, the most frequent b first
    lead = order[np.r_[True, group[order][1:] != group[order][:-1]]]
    return int(len(k) - counts[lead].sum()), first[lead]


def _derivation(columns, s, k, rows, b) -> Derivation:
    entries = sorted(
        (tuple(columns[a][r] for a in s), columns[b][r]) for r in (int(r) for r in rows)
    )
    return Derivation(s, tuple(e[0] for e in entries), tuple(e[1] for e in entries))


def _entropy(codes: np.ndarray) -> float:
    p = np.bincount(codes) / len(codes)
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def _cell_bytes(cells) -> float:
    return 3 + sum(len(c) for c in cells[:1000]) / max(1, min(len(cells), 1000))


def _map_bytes(columns, s, b, m: int) -> float:
    """A lookup table's size in a compressed model file, roughly (a third of its text)."""
    width = sum(_cell_bytes(columns[a]) for a in (*s, b))
    return m * width / 3 + math.log2(m + 1)
