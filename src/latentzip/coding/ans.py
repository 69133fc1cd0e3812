"""rANS streams through constriction (Bamler, 2022): one independent stream per record.

Symbols are coded under integer frequency tables that sum to ``2**PRECISION`` (each codable
symbol >= 1), handed to constriction as exact float32 integers, identically on both sides:
either one table per symbol (the circuit coders) or one fixed table for a run of symbols
(histogram-coded streams). The stream is a stack: what is pushed last is decoded first.
"""

from __future__ import annotations

import constriction
import numpy as np

from latentzip.coding.quantise import PRECISION
from latentzip.errors import ContainerError

__all__ = ["PRECISION", "StackEncoder", "StreamDecoder", "encode", "fixed_model"]

_MODEL = constriction.stream.model.Categorical(perfect=False)


def fixed_model(freqs: np.ndarray):
    """A categorical model of one integer frequency table (C,) (e.g. from ``from_counts``)."""
    return constriction.stream.model.Categorical(
        np.asarray(freqs).astype(np.float32), perfect=False
    )


def encode(symbols: np.ndarray, freqs: np.ndarray) -> bytes:
    """rANS-encode ``symbols`` (M,) under ``freqs`` (M, C); decodes first-to-last."""
    enc = StackEncoder()
    enc.push(symbols, freqs)
    return enc.to_bytes()


class StackEncoder:
    """An rANS stack: each :meth:`push` is decoded before everything pushed earlier."""

    def __init__(self):
        self._coder = constriction.stream.stack.AnsCoder()

    def push(self, symbols: np.ndarray, freqs) -> None:
        """Push ``symbols`` (M,) under tables ``freqs`` (M, C) or a :func:`fixed_model`.

        They decode first-to-last, before anything pushed earlier.
        """
        symbols = np.ascontiguousarray(symbols, dtype=np.int32)
        if isinstance(freqs, np.ndarray):
            self._coder.encode_reverse(
                symbols, _MODEL, np.ascontiguousarray(freqs, dtype=np.float32)
            )
        else:
            self._coder.encode_reverse(symbols, freqs)

    def to_bytes(self) -> bytes:
        return self._coder.get_compressed().astype("<u4").tobytes()


class StreamDecoder:
    """Decodes symbols from one stream, a group at a time, in encoding order."""

    def __init__(self, payload: bytes, label: str = "record"):
        if len(payload) % 4:
            raise ContainerError(f"{label}: payload length {len(payload)} is not whole words")
        self._label = label
        try:  # constriction refuses a stream that ends in a zero word
            self._coder = constriction.stream.stack.AnsCoder(
                np.frombuffer(payload, dtype="<u4").astype(np.uint32)
            )
        except ValueError as exc:
            raise ContainerError(f"{label}: corrupted stream ({exc})") from exc

    def decode(self, freqs, n: int | None = None) -> np.ndarray:
        """Decode one symbol per row of ``freqs`` (M, C), or ``n`` under a :func:`fixed_model`."""
        # Past its end a stream decodes zeros without complaint (its state starts at 0), so
        # the records pipeline checks what a record decodes to, not only its bytes.
        try:
            if isinstance(freqs, np.ndarray):
                return self._coder.decode(_MODEL, np.ascontiguousarray(freqs, dtype=np.float32))
            return self._coder.decode(freqs, int(n or 0))
        except Exception as exc:  # constriction raises plain errors on exhausted streams
            raise ContainerError(f"{self._label}: corrupted stream ({exc})") from exc

    def finish(self) -> None:
        """Check that the stream was consumed exactly."""
        if not self._coder.is_empty():
            raise ContainerError(f"{self._label}: stream has leftover data (wrong model?)")
