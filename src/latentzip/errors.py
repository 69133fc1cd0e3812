"""Exceptions raised by latentzip; every user-facing failure is a ``LatentzipError``."""

from __future__ import annotations


class LatentzipError(Exception):
    """Base class of every error latentzip raises on purpose."""


class DataError(LatentzipError, ValueError):
    """Input data that latentzip cannot use (empty, wrong dtype, out-of-range values)."""


class ModelError(LatentzipError):
    """A model file that is missing, corrupted, or does not fit the data."""


class ContainerError(LatentzipError):
    """A compressed container that is truncated, corrupted, or from another model."""
