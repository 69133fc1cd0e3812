"""Typed columns: cell strings <-> integer arrays, exactly.

::

    cells --ColumnCodec.encode--> values (n,) int64, missing (n,) uint8, exceptions {row: cell}
          <--ColumnCodec.decode--

The codec's ``kind`` says what the value of a present cell is:

============  ==========================================  ====================================
kind          canonical cells                             value
============  ==========================================  ====================================
``integer``   ``-12``, ``0``, ``345`` (int64)             the number
``decimal``   ``12.30``, ``-0.05`` (``scale`` digits;        the mantissa, ``cell * 10**scale``
              ``trim``: ``12.3``, ``40.0``, trailing
              zeros dropped down to one, as pandas
              and Python write floats)
``datetime``  ``2013-01-02 10:30:00`` (one ``layout``)    the layout's units since 1970-01-01
``category``  one of ``categories``                       its index
``text``      none: every present cell is an exception   0
============  ==========================================  ====================================

``missing[i]`` is 0 for a present cell, ``k`` for the missing token ``missing_tokens[k - 1]``,
and :attr:`ColumnCodec.exception_code` for an *exception*: a cell kept verbatim in
``exceptions`` because it is not written in the column's canonical form (``007``, ``+5``,
``-0``, ``1.5`` in a ``scale=2`` column, ``1e3``, ``2013-1-1``, ``2013-02-30``, unseen
categories). Missing cells and exceptions have value 0. Every present cell is parsed, rendered
back and compared with itself, so a cell that its value would not give back is an exception,
never a different string: ``decode(encode(cells)) == tuple(cells)`` for any cells and any
codec. Values use integer arithmetic only (no floats, locale or time zone).
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from latentzip.coding.fields import Fields
from latentzip.errors import DataError, ModelError
from latentzip.tables.datetimes import (
    DATES,
    LAYOUTS,
    datetime_shape,
    parse_datetime,
    render_datetime,
)

__all__ = ["KINDS", "LAYOUTS", "MISSING_TOKENS", "ColumnCodec", "EncodedColumn", "infer_column"]

KINDS = ("integer", "decimal", "datetime", "category", "text")
#: Cells that mean "no value" in the numeric/datetime kinds (code ``k`` is the k-th, from 1).
MISSING_TOKENS = ("", "NA", "N/A", "NaN", "nan", "null", "NULL", "None", "-")
MAX_SCALE = 18  # 10**18 still fits in int64
MAX_TOKENS = 254  # codes 1..254 and the exception code fit in uint8
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
# Bounded lengths keep int() off long strings; the range is checked after.
_INTEGER = re.compile(r"-?[0-9]{1,19}")
_DECIMAL = re.compile(r"-?([0-9]{1,19})\.([0-9]{1,18})")
_INTEGER_PARTS = re.compile(r"-?([0-9]{1,19})()")
TRIMS = ("", "python", "r")


@dataclass(frozen=True, eq=False)
class EncodedColumn:
    """A column as integers.

    Attributes
    ----------
    values : ndarray of int64, shape (n,)
        Value of each present cell; 0 for missing cells and exceptions.
    missing : ndarray of uint8, shape (n,)
        0 present, ``k`` the k-th missing token, ``exception_code`` an exception.
    exceptions : dict of int to str
        Row -> verbatim cell, for exactly the rows whose code is ``exception_code``.
    """

    values: np.ndarray
    missing: np.ndarray
    exceptions: dict[int, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.values)


@dataclass(frozen=True)
class ColumnCodec:
    """How one column's cells map to integers, and back.

    Parameters
    ----------
    kind : str
        One of :data:`KINDS`.
    scale : int
        Fraction digits of a ``decimal`` column (1..18); 0 for the other kinds.
    trim : str
        How a ``decimal`` column writes its values: ``""`` with ``scale`` digits; ``"python"``
        without trailing fraction zeros, keeping one digit (``39.9``, ``40.0``: how Python and
        pandas write floats); ``"r"`` without them nor a bare point (``39.9``, ``40``: how R
        and JavaScript write numbers).
    layout : str
        A ``datetime`` column's layout, one of :data:`LAYOUTS`; ``""`` for the other kinds.
    categories : tuple of str
        A ``category`` column's distinct values; ``()`` for the other kinds.
    missing_tokens : tuple of str
        Distinct cells that mean "missing", at most 254.

    Examples
    --------
    >>> codec = infer_column(["12.30", "-0.05", "NA", "7.5", "3.00"], max_exception_fraction=0.2)
    >>> codec.kind, codec.scale
    ('decimal', 2)
    >>> enc = codec.encode(["12.30", "-0.05", "NA", "7.5", "3.00"])
    >>> enc.values.tolist(), enc.missing.tolist(), enc.exceptions
    ([1230, -5, 0, 0, 300], [0, 0, 2, 10, 0], {3: '7.5'})
    >>> codec.decode(enc)
    ('12.30', '-0.05', 'NA', '7.5', '3.00')
    >>> ColumnCodec.from_json(codec.to_json()) == codec
    True
    """

    kind: str
    scale: int = 0
    trim: str = ""
    layout: str = ""
    categories: tuple[str, ...] = ()
    missing_tokens: tuple[str, ...] = MISSING_TOKENS

    def __post_init__(self):
        def bad(msg: str) -> DataError:
            return DataError(f"column codec: {msg}")

        if self.kind not in KINDS:
            raise bad(f"kind {self.kind!r} is not one of {list(KINDS)}")
        tokens = self.missing_tokens
        if not isinstance(tokens, tuple) or not all(isinstance(t, str) for t in tokens):
            raise bad("missing_tokens must be a tuple of strings")
        if len(set(tokens)) != len(tokens) or len(tokens) > MAX_TOKENS:
            raise bad(f"missing_tokens must be at most {MAX_TOKENS} distinct strings")
        want_scale = self.kind == "decimal"
        if type(self.scale) is not int or (1 <= self.scale <= MAX_SCALE) != want_scale:
            raise bad(f"scale {self.scale!r} is not usable for a {self.kind} column")
        if self.trim not in TRIMS or (self.trim and self.kind != "decimal"):
            raise bad(f"trim {self.trim!r} is not usable for a {self.kind} column")
        if self.kind == "datetime" and self.layout not in LAYOUTS:
            raise bad(f"unknown datetime layout {self.layout!r}")
        if self.kind != "datetime" and self.layout != "":
            raise bad(f"layout {self.layout!r} is not usable for a {self.kind} column")
        cats = self.categories
        if not isinstance(cats, tuple) or not all(isinstance(c, str) for c in cats):
            raise bad("categories must be a tuple of strings")
        if len(set(cats)) != len(cats) or (cats and self.kind != "category"):
            raise bad("categories must be distinct, and only for a category column")

    @property
    def exception_code(self) -> int:
        """The ``missing`` code of an exception: ``len(missing_tokens) + 1``."""
        return len(self.missing_tokens) + 1

    @functools.cached_property
    def _index(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.categories)}

    def parse(self, cell: str) -> int | None:
        """The value of a present cell, or ``None`` if the cell is not in canonical form."""
        kind = self.kind
        if kind == "category":
            return self._index.get(cell)
        if kind == "integer":
            value = int(cell) if _INTEGER.fullmatch(cell) else None
        elif kind == "decimal":
            m = _DECIMAL.fullmatch(cell)
            if m is None and self.trim == "r":
                m = _INTEGER_PARTS.fullmatch(cell)
            if m is None or len(m[2]) > self.scale or (len(m[2]) < self.scale and not self.trim):
                return None
            digits = m[1] + m[2].ljust(self.scale, "0")
            value = int(digits) * (-1 if cell[0] == "-" else 1)
        elif kind == "datetime":
            value = parse_datetime(cell, self.layout)
        else:
            return None
        if value is None or not _INT64_MIN <= value <= _INT64_MAX:
            return None
        return value if self.render(value) == cell else None  # 007, -0, 25:00 ...

    def render(self, value: int) -> str:
        """The canonical cell of ``value`` (:class:`DataError` if there is none)."""
        if self.kind == "integer":
            return str(value)
        if self.kind == "decimal":
            whole, frac = divmod(abs(value), 10**self.scale)
            text = f"{frac:0{self.scale}d}"
            if self.trim:
                text = text.rstrip("0") or ("0" if self.trim == "python" else "")
            sign = "-" if value < 0 else ""
            return f"{sign}{whole}.{text}" if text else f"{sign}{whole}"
        if self.kind == "datetime":
            return render_datetime(value, self.layout)
        if self.kind == "category" and 0 <= value < len(self.categories):
            return self.categories[value]
        raise DataError(f"value {value} has no cell in a {self.kind} column")

    def encode(self, cells: Sequence[str]) -> EncodedColumn:
        """Integers of ``cells``; never fails on strings (what does not fit is an exception)."""
        codes = {t: k for k, t in enumerate(self.missing_tokens, 1)}
        exc = self.exception_code
        seen: dict[str, tuple[int, int]] = {}  # columns repeat their cells: parse each once
        values, missing, exceptions = [], [], {}
        for i, cell in enumerate(cells):
            if not isinstance(cell, str):
                raise DataError(f"row {i}: cell {cell!r} is not a string")
            vm = seen.get(cell)
            if vm is None:
                value = None if cell in codes else self.parse(cell)
                vm = (value, 0) if value is not None else (0, codes.get(cell, exc))
                seen[cell] = vm
            values.append(vm[0])
            missing.append(vm[1])
            if vm[1] == exc:
                exceptions[i] = cell
        return EncodedColumn(
            np.array(values, dtype=np.int64), np.array(missing, dtype=np.uint8), exceptions
        )

    def decode(self, encoded: EncodedColumn) -> tuple[str, ...]:
        """The cells of :meth:`encode`; :class:`DataError` if the arrays are inconsistent."""
        values, missing = np.asarray(encoded.values), np.asarray(encoded.missing)
        if values.ndim != 1 or missing.shape != values.shape:
            raise DataError(f"values {values.shape} and missing {missing.shape} do not match")
        if values.dtype.kind not in "iu" or missing.dtype.kind not in "iu":
            raise DataError("values and missing must be integer arrays")
        exc = self.exception_code
        if missing.size and not 0 <= int(missing.min()) <= int(missing.max()) <= exc:
            raise DataError(f"missing codes must be in 0..{exc}")
        if np.any(values[missing != 0] != 0):
            raise DataError("a missing cell or exception has a non-zero value")
        rows = np.flatnonzero(missing == exc).tolist()
        exceptions = encoded.exceptions
        if set(exceptions) != set(rows) or not all(isinstance(exceptions[i], str) for i in rows):
            raise DataError("exceptions do not match the rows coded as exceptions")
        out: list[str] = [""] * len(values)
        rendered: dict[int, str] = {}
        present = np.flatnonzero(missing == 0)
        for i, v in zip(present.tolist(), values[present].tolist(), strict=True):
            cell = rendered.get(v)
            out[i] = cell if cell is not None else rendered.setdefault(v, self.render(v))
        absent = np.flatnonzero((missing != 0) & (missing != exc))
        for i, k in zip(absent.tolist(), missing[absent].tolist(), strict=True):
            out[i] = self.missing_tokens[k - 1]
        for i in rows:
            out[i] = exceptions[i]
        return tuple(out)

    def to_json(self) -> dict:
        """Everything :meth:`decode` needs, as a JSON object."""
        d: dict = {"kind": self.kind, "missing_tokens": list(self.missing_tokens)}
        if self.kind == "decimal":
            d["scale"] = self.scale
            if self.trim:
                d["trim"] = self.trim
        if self.kind == "datetime":
            d["layout"] = self.layout
        if self.kind == "category":
            d["categories"] = list(self.categories)
        return d

    @classmethod
    def from_json(cls, d: dict) -> ColumnCodec:
        """The codec of :meth:`to_json`; :class:`ModelError` for anything it could not write."""
        f = Fields(d, "column codec", ModelError)
        try:
            return cls(
                f.str("kind", choices=KINDS),
                scale=f.int("scale", 0, MAX_SCALE, default=0),
                trim=f.str("trim", TRIMS, default=""),
                layout=f.str("layout", max_len=64, default=""),
                categories=tuple(f.strs("categories", 2**24, default=[])),
                missing_tokens=tuple(f.strs("missing_tokens", MAX_TOKENS)),
            )
        except DataError as exc:
            raise ModelError(str(exc)) from None


def infer_column(
    cells: Sequence[str],
    *,
    max_categories: int = 256,
    max_exception_fraction: float = 0.01,
    missing_tokens: Sequence[str] = MISSING_TOKENS,
) -> ColumnCodec:
    """The codec of a column: integer, decimal or datetime if one fits, else category or text.

    Of the numeric/datetime kinds that fit, the one with the fewest exceptions wins (ties:
    integer, decimal, datetime; ``MM/DD/YYYY`` before ``DD/MM/YYYY``). The decimal scale is
    the most common number of fraction digits; the datetime layout the most common shape.

    Parameters
    ----------
    cells : sequence of str, length n
    max_categories : int
        A column that is not numeric is a ``category`` column if it has at most this many
        distinct present cells, else ``text``.
    max_exception_fraction : float
        A numeric/datetime kind fits if at least one cell parses and at most this fraction
        of the n cells are exceptions.
    missing_tokens : sequence of str
        Cells that mean "missing" (never values, categories or exceptions).

    Examples
    --------
    >>> infer_column(["3", "-12", "", "NA"]).kind
    'integer'
    >>> infer_column(["2013-01-31T10:00:00Z", "1999-12-31T23:59:59Z"]).layout
    '%Y-%m-%dT%H:%M:%SZ'
    >>> infer_column(["01/31/2013", "12/01/1999"]).layout
    '%m/%d/%Y'
    >>> infer_column(["red", "blue", "red", "N/A"]).categories
    ('red', 'blue')
    >>> infer_column(["a", "b", "c"], max_categories=2).kind
    'text'
    """
    if max_categories < 0 or not 0 <= max_exception_fraction <= 1:
        raise ValueError("max_categories must be >= 0 and max_exception_fraction in [0, 1]")
    tokens = tuple(missing_tokens)
    ColumnCodec("text", missing_tokens=tokens)  # validates the tokens
    counts = Counter(cells)
    if not all(isinstance(c, str) for c in counts):
        raise DataError("cells must be strings")
    absent = set(tokens)
    present = {c: k for c, k in counts.items() if c not in absent}
    budget = max_exception_fraction * len(cells)
    best: tuple[int, ColumnCodec] | None = None
    for codec in _candidates(present, budget, tokens):
        tally = _tally(present, budget, lambda c, codec=codec: codec.parse(c) is not None or None)
        if tally is not None and tally[0] and (best is None or tally[1] < best[0]):
            best = (tally[1], codec)
    if best is not None:
        return best[1]
    if len(present) <= max_categories:
        cats = tuple(sorted(present, key=lambda c: (-present[c], c)))
        return ColumnCodec("category", categories=cats, missing_tokens=tokens)
    return ColumnCodec("text", missing_tokens=tokens)


def _candidates(present: dict[str, int], budget: float, tokens: tuple[str, ...]):
    """Numeric/datetime codecs worth checking: integer, the voted decimal and datetime."""
    yield ColumnCodec("integer", missing_tokens=tokens)
    digits = _tally(present, budget, _fraction_digits)
    if digits is not None and any(digits[0]):
        votes = digits[0]
        fixed = {k: v for k, v in votes.items() if k}
        if fixed:
            scale = max(fixed, key=lambda s: (fixed[s], -s))
            yield ColumnCodec("decimal", scale=scale, missing_tokens=tokens)
        if len(fixed) > 1:  # floats written shortest: 39.9, 40.0, 39.02
            yield ColumnCodec("decimal", scale=max(fixed), trim="python", missing_tokens=tokens)
        if 0 in votes:  # ... and without a bare point: 39.9, 40
            yield ColumnCodec("decimal", scale=max(votes), trim="r", missing_tokens=tokens)
    shapes = _tally(present, budget, datetime_shape)
    if shapes is not None and shapes[0]:
        votes = shapes[0]
        ys, ds, sep, sec, frac, z = max(votes, key=lambda s: (votes[s], str(s)))
        time = "" if sep is None else f"{sep}%H:%M" + (":%S" if sec else "")
        time += (f".%{len(frac)}f" if frac else "") + (z or "")
        for d in DATES:  # MM/DD/YYYY before DD/MM/YYYY
            if d.startswith("%Y") == (ys is not None) and (ys or ds) in d:
                yield ColumnCodec("datetime", layout=d + time, missing_tokens=tokens)


def _fraction_digits(cell: str) -> int | None:
    """Fraction digits of a plain number cell (0 for an integer), None for other cells."""
    m = _DECIMAL.fullmatch(cell)
    if m is not None:
        return len(m[2])
    return 0 if _INTEGER.fullmatch(cell) else None


def _tally(present: dict[str, int], budget: float, key) -> tuple[Counter, int] | None:
    """Cell counts by ``key(cell)``, and the count of cells whose key is None (exceptions);
    None as soon as those exceed ``budget``."""
    votes: Counter = Counter()
    bad = 0
    for cell, k in present.items():
        v = key(cell)
        if v is None:
            bad += k
            if bad > budget:
                return None
        else:
            votes[v] += k
    return votes, bad
