"""Date and time layouts of CSV cells: parse to integer units since 1970-01-01 and render back,
in integer arithmetic only (no locale, no time zone)."""

from __future__ import annotations

import functools
import re
from datetime import date

from latentzip.errors import DataError

__all__ = ["DATES", "LAYOUTS", "datetime_shape", "parse_datetime", "render_datetime"]

_EPOCH = date(1970, 1, 1).toordinal()
DATES = ("%Y-%m-%d", "%Y/%m/%d", "%m/%d/%Y", "%d/%m/%Y", "%d.%m.%Y")
_CLOCKS = ("%H:%M", "%H:%M:%S", *(f"%H:%M:%S.%{k}f" for k in range(1, 10)))
_TIMES = ("", *(sep + t for sep in " T" for t in _CLOCKS))
#: Every datetime layout: ``%Y`` 4 digits, ``%m %d %H %M %S`` 2 digits, ``%<k>f`` k digits of
#: a second; a trailing ``Z`` only after a time.
LAYOUTS = tuple(d + t + z for d in DATES for t in _TIMES for z in ("", "Z") if t or not z)
# The shape of a date-like cell, to vote for a layout (see datetime_shape).
_DT_SHAPE = re.compile(
    r"(?:[0-9]{4}(?P<ys>[-/])[0-9]{2}(?P=ys)[0-9]{2}|[0-9]{2}(?P<ds>[/.])[0-9]{2}(?P=ds)[0-9]{4})"
    r"(?:(?P<sep>[ T])[0-9]{2}:[0-9]{2}(?P<sec>:[0-9]{2}(?:\.(?P<frac>[0-9]{1,9}))?)?(?P<z>Z)?)?"
)


def datetime_shape(cell: str) -> tuple | None:
    """The layout family a cell looks like (separators, seconds, fraction, Z), or None."""
    m = _DT_SHAPE.fullmatch(cell)
    return m and (m["ys"], m["ds"], m["sep"], m["sec"] is not None, m["frac"], m["z"])


@functools.cache
def _layout(fmt: str) -> tuple[tuple[str, ...], re.Pattern, int, int]:
    """Tokens (literals, and fields ``%Y``...), regex, units per day and fraction digits."""
    tokens = tuple(t for t in re.split(r"(%[0-9]?[YmdHMSf])", fmt) if t)
    pattern, digits = "", 0
    for t in tokens:
        if not t.startswith("%"):
            pattern += re.escape(t)
        elif t[-1] == "f":
            digits = int(t[1])
            pattern += f"(?P<f>[0-9]{{{digits}}})"
        else:
            pattern += f"(?P<{t[1]}>[0-9]{{{4 if t == '%Y' else 2}}})"
    per_day = 86400 * 10**digits if "%S" in fmt else 1440 if "%H" in fmt else 1
    return tokens, re.compile(pattern), per_day, digits


def parse_datetime(cell: str, fmt: str) -> int | None:
    """Units of layout ``fmt`` since 1970-01-01, or None if ``cell`` is not a valid date in it."""
    _, regex, per_day, digits = _layout(fmt)
    m = regex.fullmatch(cell)
    if m is None:
        return None
    g = m.groupdict()
    try:
        days = date(int(g["Y"]), int(g["m"]), int(g["d"])).toordinal() - _EPOCH
    except ValueError:  # 2013-02-30, month 13, year 0
        return None
    if per_day == 1:
        return days
    minutes = int(g["H"]) * 60 + int(g["M"])
    if per_day == 1440:
        return days * per_day + minutes  # 25:00 rolls over: the render check refuses it
    return days * per_day + (minutes * 60 + int(g["S"])) * 10**digits + int(g.get("f") or 0)


def render_datetime(value: int, fmt: str) -> str:
    """The cell of ``value`` in layout ``fmt`` (inverse of :func:`parse_datetime`)."""
    tokens, _, per_day, digits = _layout(fmt)
    days, rem = divmod(value, per_day)
    try:
        d = date.fromordinal(days + _EPOCH)
    except (ValueError, OverflowError):
        raise DataError(f"datetime value {value} is outside years 1..9999") from None
    sec = frac = 0
    if per_day > 1440:
        rem, frac = divmod(rem, 10**digits)
        rem, sec = divmod(rem, 60)
    hour, minute = divmod(rem, 60)
    f = {"%Y": f"{d.year:04d}", "%m": f"{d.month:02d}", "%d": f"{d.day:02d}"}
    f.update({"%H": f"{hour:02d}", "%M": f"{minute:02d}", "%S": f"{sec:02d}"})
    if digits:
        f[f"%{digits}f"] = f"{frac:0{digits}d}"
    return "".join(f.get(t, t) for t in tokens)
