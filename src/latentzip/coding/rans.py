"""rANS stack coder in numba, word for word compatible with constriction's ``AnsCoder``.

Reimplements the default ``constriction.stream.stack.AnsCoder`` (Bamler, 2022,
https://github.com/bamler-lab/constriction, ``src/stream/stack.rs``) so that streams can be
written and read from inside numba kernels. Format:

- 32-bit words, 64-bit state; a symbol is a pair (start, freq) with ``freq >= 1`` and
  ``start + freq <= 2**precision``, ``precision <= 32`` (constriction's Python models use 24).
- Encoding starts from state 0 and runs from the last symbol to the first. Before pushing
  a symbol, if ``state >> (64 - precision) >= freq`` the low word of the state is emitted and
  the state is shifted right by 32; then ``state = (state // freq) << precision | (start +
  state % freq)``.
- Flush (``get_compressed``): the emitted words, then the state's low word and, if nonzero,
  its high word; state 0 adds nothing. A stream therefore never ends in a zero word.
- Decoding reads the words as a stack, from the end: the initial state is the last word
  (which must be nonzero) shifted up by 32 bits, or-ed with the second to last word if any. After
  each symbol the state is refilled with the next word whenever it drops below ``2**32``.
  Reading past the end is allowed and deterministic. A stream is fully consumed when the
  state is 0 and no word is left.

Kernels keep a decoder as two integers, ``state`` (uint64) and ``pos`` (int64, the number of
words not yet read), and check the int64 status codes ``OK`` / ``ERR_*`` that functions return;
``raise_for_status`` turns them into ``ContainerError`` outside compiled code.
"""

from __future__ import annotations

import numba
import numpy as np

from latentzip.errors import ContainerError

OK = 0
ERR_ZERO_WORD = 1  # the stream ends in a zero word, which no encoder produces
ERR_SYMBOL = 2  # the quantile is not in [start, start + freq): wrong symbol or broken cdf
ERR_LEFTOVER = 3  # words or state left after the last symbol
_MESSAGES = {
    ERR_ZERO_WORD: "stream ends in a zero word",
    ERR_SYMBOL: "corrupted stream or invalid frequency table",
    ERR_LEFTOVER: "stream has leftover data (wrong model?)",
}

_W = np.uint64(32)
_LOW = np.uint64(0xFFFFFFFF)
_REFILL = np.uint64(1 << 32)


@numba.njit(cache=True)
def encode_into(starts, freqs, lo, hi, precision, out, n):
    """Encode symbols ``lo .. hi-1`` (``lo`` decoded first) and append the stream to ``out``.

    Parameters
    ----------
    starts, freqs : (M,) integer arrays; symbol i covers ``[starts[i], starts[i] + freqs[i])``.
    lo, hi : the stream's symbol range.
    precision : frequencies sum to ``2**precision``, 1 <= precision <= 32.
    out : (>= n + hi - lo + 2,) uint32; at most one word per symbol plus two for the flush.
    n : index in ``out`` where the stream starts.

    Returns
    -------
    int: index in ``out`` just after the stream.
    """
    if precision < 1 or precision > 32:
        raise ValueError("precision must be in 1..32")
    p = np.uint64(precision)
    head = np.uint64(64 - precision)
    total = np.int64(1) << np.int64(precision)
    state = np.uint64(0)
    for i in range(hi - 1, lo - 1, -1):
        start_i = np.int64(starts[i])
        freq_i = np.int64(freqs[i])
        if freq_i < 1 or start_i < 0 or freq_i > total or start_i > total - freq_i:
            raise ValueError("symbol outside its frequency table")
        start = np.uint64(start_i)
        freq = np.uint64(freq_i)
        if (state >> head) >= freq:
            out[n] = np.uint32(state & _LOW)
            n += 1
            state >>= _W
        state = ((state // freq) << p) | (start + state % freq)
    if state != np.uint64(0):
        out[n] = np.uint32(state & _LOW)
        n += 1
        if (state >> _W) != np.uint64(0):
            out[n] = np.uint32(state >> _W)
            n += 1
    return n


@numba.njit(cache=True)
def encode_reverse(starts, freqs, precision=24):
    """One stream, identical to ``AnsCoder().encode_reverse(...); get_compressed()``.

    Parameters
    ----------
    starts, freqs : (M,) integer arrays, see ``encode_into``; symbol 0 is decoded first.

    Returns
    -------
    (W,) uint32: the compressed words.
    """
    out = np.empty(len(starts) + 2, dtype=np.uint32)
    n = encode_into(starts, freqs, 0, len(starts), precision, out, 0)
    return out[:n].copy()


@numba.njit(cache=True)
def encode_reverse_batch(starts, freqs, offsets, precision=24):
    """Independent streams for symbols ``offsets[b] .. offsets[b+1]-1``, b = 0 .. B-1.

    Returns
    -------
    words : (sum(lengths),) uint32, the streams concatenated in order.
    lengths : (B,) int64, words per stream.
    """
    n_streams = len(offsets) - 1
    out = np.empty(len(starts) + 2 * n_streams, dtype=np.uint32)
    lengths = np.empty(n_streams, dtype=np.int64)
    n = 0
    for b in range(n_streams):
        end = encode_into(starts, freqs, offsets[b], offsets[b + 1], precision, out, n)
        lengths[b] = end - n
        n = end
    return out[:n].copy(), lengths


@numba.njit(cache=True)
def decoder_init(words):
    """Start decoding ``words`` (W,) uint32; returns ``(state, pos, status)``."""
    pos = len(words)
    if pos == 0:
        return np.uint64(0), 0, OK
    pos -= 1
    state = np.uint64(words[pos])
    if state == np.uint64(0):
        return state, pos, ERR_ZERO_WORD
    if pos > 0:
        pos -= 1
        state = (state << _W) | np.uint64(words[pos])
    return state, pos, OK


@numba.njit(cache=True, inline="always")
def decoder_peek(state, precision=24):
    """The quantile in ``[0, 2**precision)`` that selects the next symbol, as int64."""
    return np.int64(state & ((np.uint64(1) << np.uint64(precision)) - np.uint64(1)))


@numba.njit(cache=True, inline="always")
def decoder_advance(state, pos, words, start, freq, precision=24):
    """Pop the symbol ``(start, freq)`` that contains the peeked quantile.

    Returns ``(state, pos, status)``; on ``ERR_SYMBOL`` the decoder is left unchanged.
    Never reads outside ``words[:pos]``.
    """
    p = np.uint64(precision)
    quantile = decoder_peek(state, precision)
    start_i = np.int64(start)
    freq_i = np.int64(freq)
    if freq_i < 1 or start_i < 0 or start_i > quantile or quantile - start_i >= freq_i:
        return state, pos, ERR_SYMBOL
    state = (state >> p) * np.uint64(freq_i) + np.uint64(quantile - start_i)
    if state < _REFILL and 0 < pos <= len(words):
        pos -= 1
        state = (state << _W) | np.uint64(words[pos])
    return state, pos, OK


@numba.njit(cache=True, inline="always")
def _last_at_most(cdf, quantile):
    """The last index i < len(cdf) - 1 with cdf[i] <= quantile (0 if none), branch-free."""
    lo = 0
    size = len(cdf) - 1
    while size > 1:
        half = size >> 1
        mid = lo + half
        lo = mid if cdf[mid] <= quantile else lo
        size -= half
    return lo


@numba.njit(cache=True, inline="always")
def decode_symbol(state, pos, words, cdf, precision=24):
    """Decode one symbol under ``cdf`` (C+1,) int64 (``cdf[0] = 0``, ``cdf[C] = 2**precision``,
    nondecreasing; zero-width symbols are never decoded) by binary search.

    Returns ``(symbol, state, pos, status)``; ``ERR_SYMBOL`` if ``cdf`` is not such a table.
    """
    symbol = _last_at_most(cdf, decoder_peek(state, precision))
    if len(cdf) < 2:
        return -1, state, pos, ERR_SYMBOL
    state, pos, status = decoder_advance(
        state, pos, words, cdf[symbol], cdf[symbol + 1] - cdf[symbol], precision
    )
    return symbol, state, pos, status


@numba.njit(cache=True, inline="always")
def decoder_is_empty(state, pos):
    """True once the stream is fully consumed (constriction's ``is_empty``; also no words)."""
    return state == np.uint64(0) and pos == 0


@numba.njit(cache=True)
def _decode_rows(words, cdfs, precision):
    symbols = np.empty(cdfs.shape[0], dtype=np.int64)
    state, pos, status = decoder_init(words)
    for i in range(cdfs.shape[0]):
        if status != OK:
            break
        symbol, state, pos, status = decode_symbol(state, pos, words, cdfs[i], precision)
        symbols[i] = symbol
    if status == OK and not decoder_is_empty(state, pos):
        status = ERR_LEFTOVER
    return symbols, status


def decode(
    words: np.ndarray, cdfs: np.ndarray, precision: int = 24, label: str = "stream"
) -> np.ndarray:
    """Decode a whole stream, one symbol per row of ``cdfs`` (M, C+1), and check it is used up.

    Returns
    -------
    (M,) int64 symbols.

    Raises
    ------
    ContainerError: the stream ends in a zero word, does not fit the tables, or has data left.
    """
    words = np.ascontiguousarray(words, dtype=np.uint32)
    cdfs = np.ascontiguousarray(cdfs, dtype=np.int64)
    if cdfs.ndim != 2 or not 1 <= precision <= 32:
        raise ValueError("cdfs must be (M, C+1) and precision in 1..32")
    symbols, status = _decode_rows(words, cdfs, precision)
    raise_for_status(status, label)
    return symbols


def raise_for_status(status: int, label: str = "stream") -> None:
    """Raise ``ContainerError`` for a status code other than ``OK``."""
    if status != OK:
        raise ContainerError(f"{label}: {_MESSAGES.get(int(status), f'status {status}')}")


@numba.njit(cache=True)
def _init_many(words, offsets, state, pos, status):
    for b in range(len(offsets) - 1):
        s, p, st = decoder_init(words[offsets[b] : offsets[b + 1]])
        state[b], pos[b], status[b] = s, p, st


@numba.njit(cache=True)
def _decode_many(words, offsets, state, pos, status, cdfs, first, out, precision):
    for b in range(len(offsets) - 1):
        stream = words[offsets[b] : offsets[b + 1]]
        s, p, st = state[b], pos[b], status[b]
        for r in range(first[b], first[b + 1]):
            if st != OK:
                break
            out[r], s, p, st = decode_symbol(s, p, stream, cdfs[r], precision)
        state[b], pos[b], status[b] = s, p, st


class StreamSet:
    """Several streams decoded in lockstep: each call decodes a run of rows from each stream
    (the records pipeline's generic path: one row per record, streams are blocks of records).
    """

    def __init__(self, payloads: list[bytes], labels: list[str], precision: int = 24):
        for p, label in zip(payloads, labels, strict=True):
            if len(p) % 4:
                raise ContainerError(f"{label}: payload length {len(p)} is not whole words")
        self.labels, self.precision = labels, precision
        self.words = np.frombuffer(b"".join(payloads), dtype="<u4").astype(np.uint32)
        lengths = [len(p) // 4 for p in payloads]
        self.offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        n = len(payloads)
        self.state = np.zeros(n, np.uint64)
        self.pos = np.zeros(n, np.int64)
        self.status = np.zeros(n, np.int64)
        _init_many(self.words, self.offsets, self.state, self.pos, self.status)

    def decode(self, cdfs: np.ndarray, first: np.ndarray) -> np.ndarray:
        """Rows ``first[b] .. first[b+1]-1`` of ``cdfs`` (N, C+1) come from stream b."""
        out = np.zeros(len(cdfs), np.int64)
        cdfs = np.ascontiguousarray(cdfs, dtype=np.int64)
        args = (self.words, self.offsets, self.state, self.pos, self.status)
        _decode_many(*args, cdfs, first, out, self.precision)
        self._raise()
        return out

    def finish(self) -> None:
        """Check that every stream was consumed exactly."""
        for b in range(len(self.labels)):
            if self.status[b] == OK and not (self.state[b] == 0 and self.pos[b] == 0):
                self.status[b] = ERR_LEFTOVER
        self._raise()

    def _raise(self) -> None:
        for st, label in zip(self.status, self.labels, strict=True):
            raise_for_status(int(st), label)


# ------------------------------------------------------------------------- uniform symbols
UNIFORM_MAX = 1 << 16  # a uniform symbol's alphabet; larger values are split into digits


def uniform_cdf(values: np.ndarray, sizes: np.ndarray, precision: int = 24):
    """(starts, freqs) of symbols ``values[i]`` uniform over ``0 .. sizes[i]-1`` (<= 2**16):
    ``F(r) = floor(r * 2**precision / s)``, so every value gets at least 2**(precision-16)."""
    v = np.asarray(values, dtype=np.int64)
    s = np.asarray(sizes, dtype=np.int64)
    starts = (v << precision) // s
    return starts, ((v + 1) << precision) // s - starts


@numba.njit(cache=True)
def _decode_uniform(words, sizes, precision):
    out = np.empty(len(sizes), dtype=np.int64)
    state, pos, status = decoder_init(words)
    for i in range(len(sizes)):
        if status != OK:
            break
        s = np.int64(sizes[i])
        q = decoder_peek(state, precision)
        r = (q * s) >> precision
        if ((r + 1) << precision) // s <= q:
            r += 1
        start = (r << precision) // s
        state, pos, status = decoder_advance(
            state, pos, words, start, ((r + 1) << precision) // s - start, precision
        )
        out[i] = r
    if status == OK and not decoder_is_empty(state, pos):
        status = ERR_LEFTOVER
    return out, status


def encode_uniform(values: np.ndarray, sizes: np.ndarray, precision: int = 24) -> bytes:
    """One stream of values uniform over their sizes (each <= 2**16): exact, any machine."""
    starts, freqs = uniform_cdf(values, sizes, precision)
    return encode_reverse(starts, freqs, precision).tobytes()


def decode_uniform(
    payload: bytes, sizes: np.ndarray, precision: int = 24, label: str = "stream"
) -> np.ndarray:
    """Inverse of :func:`encode_uniform` given the same sizes."""
    if len(payload) % 4:
        raise ContainerError(f"{label}: payload length {len(payload)} is not whole words")
    words = np.frombuffer(payload, dtype="<u4").astype(np.uint32)
    sizes = np.ascontiguousarray(sizes, dtype=np.int64)
    if len(sizes) and (sizes.min() < 1 or sizes.max() > UNIFORM_MAX):
        raise ContainerError(f"{label}: symbol sizes outside 1..{UNIFORM_MAX}")
    out, status = _decode_uniform(words, sizes, precision)
    raise_for_status(int(status), label)
    return out


def digit_sizes(widths: np.ndarray) -> np.ndarray:
    """(n, M) sizes of the base-2**16 digits of values below ``widths`` (most significant
    first), 0 where a value has fewer than M digits."""
    w = np.asarray(widths, dtype=np.int64) - 1
    n_digits = np.ones(len(w), np.int64)
    top = w >> 16
    while np.any(top > 0):
        n_digits += top > 0
        top >>= 16
    m = int(n_digits.max()) if len(w) else 1
    k = (n_digits[:, None] - 1) - np.arange(m)[None, :]  # digit index, high first
    high = (w[:, None] >> (16 * np.maximum(k, 0))) + 1
    sizes = np.where(k == n_digits[:, None] - 1, high, 1 << 16)
    return np.where(k >= 0, sizes, 0)


def split_digits(values: np.ndarray, widths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Values in ``0 .. widths-1`` as base-2**16 digits, most significant first, flattened:
    ``(digits, sizes)`` for :func:`encode_uniform`."""
    sizes = digit_sizes(widths)
    k = np.maximum((sizes > 0).sum(1)[:, None] - 1 - np.arange(sizes.shape[1])[None, :], 0)
    digits = (np.asarray(values, dtype=np.int64)[:, None] >> (16 * k)) & 0xFFFF
    keep = sizes > 0
    return digits[keep], sizes[keep]


def join_digits(digits: np.ndarray, widths: np.ndarray) -> np.ndarray:
    """Inverse of :func:`split_digits` given the same widths."""
    sizes = digit_sizes(widths)
    grid = np.zeros(sizes.shape, np.int64)
    grid[sizes > 0] = digits
    k = np.maximum((sizes > 0).sum(1)[:, None] - 1 - np.arange(sizes.shape[1])[None, :], 0)
    return (grid << (16 * k)).sum(1)
