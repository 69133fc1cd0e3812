"""Entropy coding of integer arrays for the splats codec: hybrid tokens, contexts, rANS.

Every signed integer ``v`` is zig-zag mapped to ``u >= 0`` and split, as JPEG XL's hybrid
integers do, into a *token* and raw *mantissa* bits::

    u < 16          token u,                  no mantissa bits
    u >= 16         token 16 + 2 (e - 4) + m, e - 1 mantissa bits: the low bits of u
                    (e = floor(log2 u), m = the bit of u after its leading one)

Tokens are rANS-coded (:mod:`latentzip.coding.ans`) under a categorical model per
*context*, fitted to the token histogram of the whole stream and stored with it (an adaptive
two-pass model; :func:`latentzip.coding.quantise.from_counts` turns counts into the integer
table); mantissa bits are
stored as they are. A stream is written as *chunks* (e.g.
one frame); the caller gives each chunk's contexts, which the decoder must be able to compute
from what it has already decoded (e.g. the previous frame). Inside a chunk the symbols of
context 0 are coded first, then those of context 1, and so on, each in array order.

Stream layout: ``varint n_contexts``, per context ``varint n_tokens`` and ``n_tokens`` varint
counts; ``varint`` number of rANS bytes, the rANS words (little-endian u32), then the packed
mantissa bits (MSB first) to the end.
"""

from __future__ import annotations

import numpy as np

from latentzip.coding import ans
from latentzip.coding.parts import pack_parts, read_varint, unpack_parts, varint
from latentzip.coding.quantise import from_counts
from latentzip.errors import ContainerError, DataError

__all__ = [
    "IntDecoder",
    "IntEncoder",
    "pack_parts",
    "read_varint",
    "unpack_parts",
    "varint",
]

_DIRECT = 16  # zig-zag values below this are their own token
_MAX_BITS = 52


def _tokens(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(tokens int32, mantissa bit counts, mantissas uint64) of int64 ``values``."""
    v = np.asarray(values, dtype=np.int64).ravel()
    if v.size and np.abs(v).max() >= 2**_MAX_BITS:
        raise DataError(f"integer {np.abs(v).max()} is too large to code")
    u = ((v << 1) ^ (v >> 63)).astype(np.uint64)
    e = np.zeros(u.shape, np.int64)
    big = u >= _DIRECT
    e[big] = np.frexp(u[big].astype(np.float64))[1] - 1  # floor(log2 u), exact below 2**53
    nbits = np.where(big, e - 1, 0)
    shift = nbits.astype(np.uint64)
    msb = ((u >> shift) & np.uint64(1)).astype(np.int64)  # the bit after the leading one
    tokens = np.where(big, _DIRECT + 2 * (e - 4) + msb, u.astype(np.int64)).astype(np.int32)
    mantissa = np.where(big, u & ((np.uint64(1) << shift) - np.uint64(1)), 0).astype(np.uint64)
    return tokens, nbits, mantissa


def _bits_of(nbits: np.ndarray, mantissa: np.ndarray) -> np.ndarray:
    """The mantissa bits of every value in order, MSB first, as a uint8 0/1 array."""
    sel = nbits > 0
    if not sel.any():
        return np.zeros(0, np.uint8)
    nb, m = nbits[sel], mantissa[sel]
    width = int(nb.max())
    shifts = np.arange(width - 1, -1, -1, dtype=np.uint64)
    bits = ((m[:, None] >> shifts[None, :]) & np.uint64(1)).astype(np.uint8)
    return bits[np.arange(width)[None, :] >= (width - nb)[:, None]]


class IntEncoder:
    """Collects chunks of integers with their contexts; :meth:`finish` returns the stream.

    Examples
    --------
    >>> enc = IntEncoder(n_contexts=2)
    >>> enc.add(np.array([0, 0, -3, 70000]), np.array([0, 0, 1, 1]))
    >>> dec = IntDecoder(enc.finish(), n_contexts=2)
    >>> dec.read(np.array([0, 0, 1, 1])).tolist()
    [0, 0, -3, 70000]
    >>> dec.finish()
    """

    def __init__(self, n_contexts: int = 1):
        self.n_contexts = int(n_contexts)
        self._chunks: list[list[np.ndarray]] = []
        self._bits: list[np.ndarray] = []

    def add(self, values: np.ndarray, contexts: np.ndarray | None = None) -> None:
        """Append one chunk: ``values`` (n,) integers, ``contexts`` (n,) in ``0..n_contexts-1``."""
        tokens, nbits, mantissa = _tokens(values)
        if contexts is None:
            contexts = np.zeros(len(tokens), np.int64)
        contexts = np.asarray(contexts).ravel()
        if contexts.shape != tokens.shape:
            raise ValueError("one context per value")
        if contexts.size and (contexts.min() < 0 or contexts.max() >= self.n_contexts):
            raise ValueError(f"contexts must lie in 0..{self.n_contexts - 1}")
        groups = [tokens[contexts == c] for c in range(self.n_contexts)]
        self._chunks.append(groups)
        self._bits.append(_bits_of(nbits, mantissa))

    def finish(self) -> bytes:
        hists = []
        for c in range(self.n_contexts):
            toks = [g[c] for g in self._chunks if len(g[c])]
            allt = np.concatenate(toks) if toks else np.zeros(0, np.int32)
            hists.append(np.bincount(allt) if allt.size else np.zeros(0, np.int64))
        head = bytearray(varint(self.n_contexts))
        for h in hists:
            head += varint(len(h)) + b"".join(varint(int(x)) for x in h)
        models = [_model(h) for h in hists]
        coder = ans.StackEncoder()
        for groups in reversed(self._chunks):
            for c in reversed(range(self.n_contexts)):
                if len(groups[c]) and models[c] is not None:
                    coder.push(groups[c], models[c])
        words = coder.to_bytes()
        bits = np.concatenate(self._bits) if self._bits else np.zeros(0, np.uint8)
        return bytes(head) + varint(len(words)) + words + np.packbits(bits).tobytes()


def _model(hist: np.ndarray):
    """The categorical model of a histogram, or None when it leaves one possible token."""
    if np.count_nonzero(hist) <= 1:
        return None
    return ans.fixed_model(from_counts(hist))


class IntDecoder:
    """Reads back an :class:`IntEncoder` stream, chunk by chunk, given the same contexts."""

    def __init__(self, data: bytes, n_contexts: int = 1, what: str = "stream"):
        self._what = what
        n, pos = read_varint(data, 0, what)
        if n != n_contexts:
            raise ContainerError(f"{what}: {n} contexts, expected {n_contexts}")
        self._hists, self._models = [], []
        for _ in range(n):
            length, pos = read_varint(data, pos, what)
            if length > 128:
                raise ContainerError(f"{what}: corrupted histogram")
            h = np.zeros(length, np.int64)
            for i in range(length):
                h[i], pos = read_varint(data, pos, what)
            self._hists.append(h)
            self._models.append(_model(h) if length else None)
        nwords, pos = read_varint(data, pos, what)
        if nwords % 4 or pos + nwords > len(data):
            raise ContainerError(f"{what}: truncated rANS data")
        self._coder = ans.StreamDecoder(data[pos : pos + nwords], what)
        self._bits = np.unpackbits(np.frombuffer(data[pos + nwords :], np.uint8))
        self._bitpos = 0

    def read(self, contexts: np.ndarray) -> np.ndarray:
        """The next chunk's values (int64), one per entry of ``contexts``."""
        contexts = np.asarray(contexts).ravel()
        tokens = np.zeros(len(contexts), np.int64)
        for c in range(len(self._hists)):
            sel = np.flatnonzero(contexts == c)
            if not len(sel):
                continue
            h = self._hists[c]
            if self._models[c] is None:
                if not h.size or not h.any():
                    raise ContainerError(f"{self._what}: symbols in an empty context")
                tokens[sel] = int(np.flatnonzero(h)[0])
                continue
            tokens[sel] = self._coder.decode(self._models[c], len(sel))
        big = tokens >= _DIRECT
        e = np.where(big, (tokens - _DIRECT) // 2 + 4, 0)
        nbits = np.where(big, e - 1, 0)
        u = np.where(big, 0, tokens).astype(np.uint64)
        if big.any():
            nb = nbits[big]
            total = int(nb.sum())
            if self._bitpos + total > len(self._bits):
                raise ContainerError(f"{self._what}: mantissa bits are truncated")
            chunk = self._bits[self._bitpos : self._bitpos + total]
            self._bitpos += total
            width = int(nb.max())
            mat = np.zeros((len(nb), width), np.uint64)
            mat[np.arange(width)[None, :] >= (width - nb)[:, None]] = chunk
            shifts = np.arange(width - 1, -1, -1, dtype=np.uint64)
            mant = (mat << shifts[None, :]).sum(axis=1, dtype=np.uint64)
            head = (2 + (tokens[big] - _DIRECT) % 2).astype(np.uint64)  # leading bits 1m
            u[big] = (head << nb.astype(np.uint64)) + mant
        return (u >> np.uint64(1)).astype(np.int64) ^ -(u & np.uint64(1)).astype(np.int64)

    def finish(self) -> None:
        """Check that every coded symbol was read."""
        self._coder.finish()
        if len(self._bits) - self._bitpos >= 8:
            raise ContainerError(f"{self._what}: stream has leftover data (corrupted?)")
