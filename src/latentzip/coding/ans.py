"""rANS streams through constriction (Bamler, 2022): one independent stream per record.

A record's symbols are coded in a fixed order with per-symbol integer frequency tables; the
tables are handed to constriction as exact float32 integers, identically on both sides.
"""

from __future__ import annotations

import constriction
import numpy as np

from latentzip.errors import ContainerError

_MODEL = constriction.stream.model.Categorical(perfect=False)


def encode(symbols: np.ndarray, freqs: np.ndarray) -> bytes:
    """rANS-encode ``symbols`` (M,) under ``freqs`` (M, C); decodes first-to-last."""
    coder = constriction.stream.stack.AnsCoder()
    coder.encode_reverse(
        np.ascontiguousarray(symbols, dtype=np.int32),
        _MODEL,
        np.ascontiguousarray(freqs, dtype=np.float32),
    )
    return coder.get_compressed().astype("<u4").tobytes()


class StreamDecoder:
    """Decodes symbols from one stream, a group at a time, in encoding order."""

    def __init__(self, payload: bytes, label: str = "record"):
        if len(payload) % 4:
            raise ContainerError(f"{label}: payload length {len(payload)} is not whole words")
        self._label = label
        self._coder = constriction.stream.stack.AnsCoder(
            np.frombuffer(payload, dtype="<u4").astype(np.uint32)
        )

    def decode(self, freqs: np.ndarray) -> np.ndarray:
        """Decode ``len(freqs)`` symbols, one per row of ``freqs`` (M, C)."""
        try:
            return self._coder.decode(_MODEL, np.ascontiguousarray(freqs, dtype=np.float32))
        except Exception as exc:  # constriction raises plain errors on exhausted streams
            raise ContainerError(f"{self._label}: corrupted stream ({exc})") from exc

    def finish(self) -> None:
        """Check that the stream was consumed exactly."""
        if not self._coder.is_empty():
            raise ContainerError(f"{self._label}: stream has leftover data (wrong model?)")
