"""A registry of named implementations, imported on first use.

Entries are ``"package.module:attribute"`` strings, so listing what exists costs no import
and a capability's dependencies load only when one of its files is read. The entries
themselves live in :mod:`latentzip.registry`.
"""

from __future__ import annotations

import importlib
from collections.abc import Hashable


class Registry:
    """``key -> "module:attribute"``; :meth:`get` imports and returns the attribute."""

    def __init__(self, what: str, entries: dict[Hashable, str], error: type[Exception]):
        self.what, self._entries, self._error = what, dict(entries), error

    def register(self, key: Hashable, target: str) -> None:
        """Add an entry (plugins, tests); an existing key is an error."""
        if key in self._entries:
            raise ValueError(f"{self.what} {key!r} is already registered")
        self._entries[key] = target

    def unregister(self, key: Hashable) -> None:
        self._entries.pop(key, None)

    def __contains__(self, key: Hashable) -> bool:
        return key in self._entries

    def keys(self) -> list:
        return list(self._entries)

    def get(self, key: Hashable):
        if key not in self._entries:
            known = ", ".join(str(k) for k in self._entries)
            raise self._error(f"unknown {self.what} {key!r} (this latentzip knows {known})")
        module, _, attribute = self._entries[key].partition(":")
        return getattr(importlib.import_module(module), attribute)
