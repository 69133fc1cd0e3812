"""Typed, bounded access to JSON objects read from files (container headers, model headers).

A checksum proves that bytes were not damaged, not that they make sense: an attacker can
recompute it. Every reader takes its header fields through :class:`Fields`, which checks type
and range and names the field in its error, so no header value reaches an allocation or a
loop bound unchecked.

>>> f = Fields({"n": 3, "shape": [2, 2]}, "header")
>>> f.int("n", 1, 10), f.ints("shape", 1, 100, max_len=4)
(3, [2, 2])
>>> f.int("n", 5, 10)
Traceback (most recent call last):
...
latentzip.errors.ContainerError: header: n = 3 is outside 5..10
"""

from __future__ import annotations

import base64
import binascii

from latentzip.errors import ContainerError, LatentzipError

_MISSING = object()


class Fields:
    """A JSON object whose fields are read with a type and a range, or an ``error``."""

    def __init__(self, obj, what: str, error: type[LatentzipError] = ContainerError):
        if not isinstance(obj, dict):
            raise error(f"{what} is a JSON {type(obj).__name__}, expected an object")
        self.data, self.what, self.error = obj, what, error

    def _get(self, key: str, default=_MISSING):
        if key in self.data:
            return self.data[key]
        if default is _MISSING:
            raise self.error(f"{self.what}: field {key!r} is missing")
        return default

    def fail(self, message: str) -> LatentzipError:
        return self.error(f"{self.what}: {message}")

    def int(self, key: str, lo: int = 0, hi: int = 2**63 - 1, default=_MISSING) -> int:
        value = self._get(key, default)
        if type(value) is not int:
            raise self.fail(f"{key} must be an integer, not {type(value).__name__}")
        if not lo <= value <= hi:
            raise self.fail(f"{key} = {value} is outside {lo}..{hi}")
        return value

    def float(self, key: str, lo: float, hi: float, default=_MISSING) -> float:
        value = self._get(key, default)
        if type(value) not in (int, float) or not lo <= value <= hi:
            raise self.fail(f"{key} must be a number in {lo}..{hi}, not {value!r}")
        return float(value)

    def bool(self, key: str, default=_MISSING) -> bool:
        value = self._get(key, default)
        if type(value) is not bool:
            raise self.fail(f"{key} must be true or false, not {value!r}")
        return value

    def str(self, key: str, choices=None, max_len: int = 4096, default=_MISSING) -> str:
        value = self._get(key, default)
        if not isinstance(value, str) or len(value) > max_len:
            raise self.fail(f"{key} must be a string of at most {max_len} characters")
        if choices is not None and value not in choices:
            raise self.fail(f"{key} = {value!r} is not one of {sorted(choices)}")
        return value

    def ints(self, key: str, lo: int, hi: int, max_len: int, default=_MISSING) -> list[int]:
        value = self._get(key, default)
        if not isinstance(value, list) or len(value) > max_len:
            raise self.fail(f"{key} must be a list of at most {max_len} integers")
        if not all(type(v) is int and lo <= v <= hi for v in value):
            raise self.fail(f"{key} must hold integers in {lo}..{hi}")
        return value

    def strs(self, key: str, max_len: int, default=_MISSING) -> list[str]:
        value = self._get(key, default)
        if not isinstance(value, list) or len(value) > max_len:
            raise self.fail(f"{key} must be a list of at most {max_len} strings")
        if not all(isinstance(v, str) for v in value):
            raise self.fail(f"{key} must hold strings only")
        return value

    def b64(self, key: str, max_len: int, default=_MISSING) -> bytes:
        text = self.str(key, max_len=4 * max_len // 3 + 4, default=default)
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise self.fail(f"{key} is not valid base64") from exc

    def obj(self, key: str, default=_MISSING) -> Fields:
        return Fields(self._get(key, default), f"{self.what}.{key}", self.error)

    def has(self, key: str) -> bool:
        return key in self.data
