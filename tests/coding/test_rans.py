"""The numba rANS coder against constriction's AnsCoder, word for word.

Oracle: ``Categorical(probabilities, perfect=True)`` fed an integer table (as float32, each
entry >= 1, sum 2**24) uses exactly that table, since it is the unique cross-entropy optimum
that the "perfect" quantiser converges to; ``CustomModel`` with a CDF placed mid-way between
the leaky quantiser's grid points is a second, by-construction exact oracle. Zero-frequency
symbols are dropped (and symbols renumbered) before handing a table to constriction; a
single symbol of frequency 2**24 codes nothing (no constriction model can express it).
"""

from __future__ import annotations

import itertools

import constriction
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from latentzip.coding import rans
from latentzip.errors import ContainerError

P = 2**24
Categorical = constriction.stream.model.Categorical


def make_tables(rng, n_rows, n_symbols, kind, zeros):
    """(n_rows, n_symbols) int64 tables summing to 2**24, sharing one zero pattern."""
    support = np.ones(n_symbols, bool)
    if zeros == "trailing":
        support[rng.integers(1, n_symbols + 1) :] = False
    elif zeros == "random":
        support = rng.random(n_symbols) < 0.7
        support[rng.integers(n_symbols)] = True
    n = int(support.sum())
    if kind == "dirichlet":
        w = rng.dirichlet(np.full(n, rng.choice([0.02, 0.3, 3.0])), size=n_rows)
    elif kind == "uniform":
        w = np.ones((n_rows, n))
    else:  # "spiky": one or two symbols take almost all the mass, the rest frequency 1
        w = np.zeros((n_rows, n))
        w[np.arange(n_rows), rng.integers(n, size=n_rows)] = 1.0
        w[np.arange(n_rows), rng.integers(n, size=n_rows)] += rng.random(n_rows)
    free = np.floor(w / w.sum(1, keepdims=True) * (P - n)).astype(np.int64)
    free[np.arange(n_rows), rng.integers(n, size=n_rows)] += P - n - free.sum(1)
    tables = np.zeros((n_rows, n_symbols), np.int64)
    tables[:, support] = free + 1
    return tables, np.flatnonzero(support)


def constriction_encode(symbols, rows, tables, support):
    """Words from constriction's AnsCoder with the exact integer tables."""
    coder = constriction.stream.stack.AnsCoder()
    if len(support) == 1:  # frequency 2**24 codes nothing; no constriction model has it
        return coder.get_compressed()
    models = [Categorical(t[support].astype(np.float32), perfect=True) for t in tables]
    compact = np.searchsorted(support, symbols).astype(np.int32)
    for lo, hi in reversed(runs(rows)):
        coder.encode_reverse(compact[lo:hi], models[rows[lo]])
    return coder.get_compressed()


def constriction_decode(words, rows, tables, support):
    coder = constriction.stream.stack.AnsCoder(words)
    if len(support) == 1:
        return np.full(len(rows), support[0]), coder.is_empty()
    models = [Categorical(t[support].astype(np.float32), perfect=True) for t in tables]
    out = [coder.decode(models[rows[lo]], hi - lo) for lo, hi in runs(rows)]
    return support[np.concatenate([[], *out]).astype(np.int64)], coder.is_empty()


def runs(rows):
    """(lo, hi) of the runs of consecutive symbols that share a table."""
    bounds = [0, *(np.flatnonzero(np.diff(rows)) + 1), len(rows)]
    return [(lo, hi) for lo, hi in itertools.pairwise(bounds) if hi > lo]


def custom_model(cdfs):
    """CustomModel family (parameter: row of ``cdfs``) whose quantised table is ``cdfs``.

    constriction's leaky quantiser puts the left end of symbol k at
    ``floor((2**24 - C) * cdf(k - 0.5)) + k``; aim half-way into the right grid cell.
    """
    c = cdfs.shape[1] - 1

    def cdf(x, row):
        k = round(x + 0.5)
        return 0.0 if k <= 0 else min(1.0, (cdfs[int(row), k] - k + 0.5) / (P - c))

    def ppf(xi, row):
        return float(np.searchsorted(cdfs[int(row)], xi * P, side="right") - 1)

    return constriction.stream.model.CustomModel(cdf, ppf, 0, c - 1)


def to_cdf(tables):
    return np.concatenate([np.zeros((len(tables), 1), np.int64), np.cumsum(tables, 1)], 1)


@st.composite
def messages(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    n_symbols = draw(st.integers(1, 300))
    kind = draw(st.sampled_from(["dirichlet", "uniform", "spiky"]))
    zeros = draw(st.sampled_from(["none", "trailing", "random"]))
    n_rows = draw(st.integers(1, 4))
    length = draw(st.integers(0, 2000))
    rng = np.random.default_rng(seed)
    tables, support = make_tables(rng, n_rows, n_symbols, kind, zeros)
    rows = rng.integers(n_rows, size=length)
    if draw(st.booleans()):  # symbols drawn from their own table
        symbols = np.array([rng.choice(n_symbols, p=tables[r] / P) for r in rows], np.int64)
    else:  # uniform over the support: many rare, expensive symbols
        symbols = rng.choice(support, size=length)
    return symbols, rows, tables, support


def starts_freqs(symbols, rows, cdf):
    starts = cdf[rows, symbols]
    return starts, cdf[rows, symbols + 1] - starts


@given(messages())
def test_words_match_constriction_and_decode_both_ways(message):
    check_against_constriction(*message)


@pytest.mark.parametrize("kind", ["dirichlet", "uniform", "spiky"])
def test_long_messages_match_constriction(kind):
    rng = np.random.default_rng(7)
    tables, support = make_tables(rng, 4, 300, kind, "random")
    rows = rng.integers(4, size=2000)
    check_against_constriction(rng.choice(support, size=2000), rows, tables, support)


def check_against_constriction(symbols, rows, tables, support):
    cdf = to_cdf(tables)
    reference = constriction_encode(symbols, rows, tables, support)
    words = rans.encode_reverse(*starts_freqs(symbols, rows, cdf), 24)
    assert words.dtype == np.uint32
    np.testing.assert_array_equal(words, reference)
    np.testing.assert_array_equal(rans.decode(reference, cdf[rows]), symbols)
    decoded, empty = constriction_decode(words, rows, tables, support)
    np.testing.assert_array_equal(decoded, symbols)
    assert empty


@pytest.mark.parametrize("seed", range(3))
def test_custom_model_oracle_agrees(seed):
    rng = np.random.default_rng(seed)
    n_symbols = [2, 7, 120][seed]
    tables, _ = make_tables(rng, 3, n_symbols, ["uniform", "spiky", "dirichlet"][seed], "none")
    cdf = to_cdf(tables)
    rows = rng.integers(3, size=300)
    symbols = rng.integers(n_symbols, size=300)
    coder = constriction.stream.stack.AnsCoder()
    coder.encode_reverse(symbols.astype(np.int32), custom_model(cdf), rows.astype(np.float64))
    words = rans.encode_reverse(*starts_freqs(symbols, rows, cdf), 24)
    np.testing.assert_array_equal(words, coder.get_compressed())


def test_categorical_perfect_false_requantises_integer_tables():
    """What ``Categorical(perfect=False)`` does with float32 integers (the lazy model):
    ``left[s] = floor(f32(cum[s] * scale)) + s``, ``scale = f32((2**24 - C) / sum)``."""
    rng = np.random.default_rng(5)
    tables, _ = make_tables(rng, 1, 200, "dirichlet", "none")
    f32 = tables[0].astype(np.float32)
    scale = np.float32(P - 200) / f32.sum(dtype=np.float32)
    left = (np.cumsum(f32)[:-1] * scale).astype(np.int64) + np.arange(1, 200)
    lazy = np.concatenate([[0], left, [P]])
    assert not np.array_equal(np.diff(lazy), tables[0])
    symbols = rng.integers(200, size=1000)
    coder = constriction.stream.stack.AnsCoder()
    coder.encode_reverse(
        symbols.astype(np.int32), Categorical(perfect=False), np.tile(f32, (1000, 1))
    )
    words = rans.encode_reverse(lazy[symbols], np.diff(lazy)[symbols], 24)
    np.testing.assert_array_equal(words, coder.get_compressed())


def test_batch_is_the_concatenation_of_single_streams():
    rng = np.random.default_rng(1)
    tables, _ = make_tables(rng, 1, 50, "dirichlet", "none")
    cdf = to_cdf(tables)
    offsets = np.array([0, 0, 17, 400, 401, 1000])
    symbols = rng.integers(50, size=1000)
    starts, freqs = starts_freqs(symbols, np.zeros(1000, np.int64), cdf)
    words, lengths = rans.encode_reverse_batch(starts, freqs, offsets, 24)
    parts = [
        rans.encode_reverse(starts[a:b], freqs[a:b], 24) for a, b in itertools.pairwise(offsets)
    ]
    np.testing.assert_array_equal(lengths, [len(p) for p in parts])
    np.testing.assert_array_equal(words, np.concatenate(parts))
    u32 = rans.encode_reverse(starts.astype(np.uint32), freqs.astype(np.uint32), 24)
    np.testing.assert_array_equal(u32, rans.encode_reverse(starts, freqs, 24))


@pytest.mark.parametrize("precision", [1, 12, 31, 32])
def test_other_precisions_roundtrip(precision):
    rng = np.random.default_rng(precision)
    n = min(2**precision, 40)
    freqs = 1 + rng.integers(0, 2**precision // n, size=n)
    freqs[rng.integers(n)] += 2**precision - freqs.sum()
    cdf = to_cdf(freqs[None])
    symbols = rng.integers(n, size=500)
    words = rans.encode_reverse(*starts_freqs(symbols, np.zeros(500, np.int64), cdf), precision)
    np.testing.assert_array_equal(rans.decode(words, cdf[[0] * 500], precision), symbols)


def test_invalid_symbols_are_rejected_by_the_encoder():
    for starts, freqs in [([0], [0]), ([P - 1], [2]), ([-1], [1]), ([0], [P + 1])]:
        with pytest.raises(ValueError):
            rans.encode_reverse(np.array(starts), np.array(freqs), 24)


@given(messages(), st.integers(0, 2**32 - 1))
def test_damaged_streams_fail_cleanly(message, seed):
    symbols, rows, tables, _ = message
    cdf = to_cdf(tables)[rows]
    words = rans.encode_reverse(*starts_freqs(symbols, rows, to_cdf(tables)), 24)
    rng = np.random.default_rng(seed)
    damaged = [words[1:], words[:-1], np.append(words, np.uint32(rng.integers(1, 2**32)))]
    if len(words):
        flipped = words.copy()
        flipped[rng.integers(len(words))] ^= np.uint32(1 << int(rng.integers(32)))
        damaged += [flipped, rng.integers(0, 2**32, len(words), dtype=np.uint32)]
    for bad in damaged:
        try:
            decoded = rans.decode(bad, cdf)
        except ContainerError:
            continue
        assert decoded.shape == symbols.shape  # undetectable damage: wrong but safe
        assert (tables[rows, decoded] > 0).all()


def test_low_level_decoder_reads_past_the_end_safely():
    words = np.array([7, 3], np.uint32)
    state, pos, status = rans.decoder_init(words)
    assert status == rans.OK and (state, pos) == ((3 << 32) | 7, 0)
    assert rans.decode_symbol(state, pos, words, np.array([0, 5]), 24)[3] == rans.ERR_SYMBOL
    assert rans.decoder_advance(state, pos, words, 7, 0, 24)[2] == rans.ERR_SYMBOL
    assert rans.decoder_advance(state, pos, words, 8, 5, 24)[2] == rans.ERR_SYMBOL
    cdf = np.array([0, 1, 2**23, P])
    for _ in range(100):  # constriction keeps decoding deterministically as well
        _, state, pos, status = rans.decode_symbol(state, pos, words, cdf, 24)
        assert status == rans.OK and pos == 0
    assert rans.decoder_init(np.array([5, 0], np.uint32))[2] == rans.ERR_ZERO_WORD
    with pytest.raises(ContainerError, match="zero word"):
        rans.decode(np.array([5, 0], np.uint32), cdf[None])
    with pytest.raises(ContainerError, match="leftover"):
        rans.decode(words, np.empty((0, 4), np.int64))
