"""The per-plane causal coder: one kernel that gathers statistics, encodes or decodes.

For each pixel, in raster order inside a tile, from already coded neighbours only::

    sub-predictions  W, N, MED (LOCO-I), W+N-NW, (W+NE)/2, N+NE-NNE, a learned linear
                     predictor over 10 neighbours (fitted twice: reweighted to favour smooth
                     pixels, and plain), 2W-WW, W+NE-N, 2N-NN, W+NW-NWW, and (chroma)
                     luma-guided W/N/NW gradients
    blend            weights 2**24 // ((e + 16)**2 / 16), e = each sub-predictor's error at
                     the eleven nearest causal neighbours (W counted twice; so the
                     locally best predictor wins); with
                     ``period`` 2 the neighbours two pixels away (same place in a pixel pair)
    context          activity (log-spaced bins of the expected error) x how far the blended
                     prediction is from an integer x, for chroma, the luma token of the same
                     pixel; a bias correction per (bin, signs of the neighbours' errors) is
                     learned on the fly
    residual         x - prediction (negated when the prediction was rounded up, so that the
                     likelier sign is always +), wrapped to the plane's range, zig-zagged,
                     split into a token (16 direct values, then exponent and top bit) and raw
                     low bits

Tokens are coded under adaptive frequency tables (sum 2**24, every entry >= 1) that start from
the model's learned prior and move towards what the image shows (an exponential decay whose
rate slows as the context fills up); raw bits are uniform. Everything is integer arithmetic,
so the encoder and the decoder (this same function, ``mode`` apart) agree on every machine.
"""

from __future__ import annotations

import numba
import numpy as np

from latentzip.coding.rans import OK, decoder_advance, decoder_peek

STATS, ENCODE, DECODE = 0, 1, 2
N_TOKENS = 44  # residuals below 2**18: 16 direct + 2 per exponent 4..17
N_BINS = 24  # activity bins
N_SIDE = 4  # luma-token classes that split a chroma context
N_CONTEXTS = N_BINS * N_SIDE
N_TEXTURE_CONTEXTS = 1000  # texture mode: see _texture_context
N_LINEAR = 10  # neighbours of the learned predictor
LINEAR_SHIFT = 8  # its coefficients are fixed point with 8 fraction bits
PRECISION = 24
TOTAL = 1 << PRECISION
_N_PRED = 15  # 0-6 spatial, 7-9 luma-guided (chroma); bitstream 3: 10-14 spatial
_PAD = 4  # rows above and columns beside a tile that the error windows may read (zeros)
_BIAS_LIMIT = 256
_FIRST_SHIFT = 4  # a context's first updates move 1/16 of the mass ...
_LAST_SHIFT = 11  # ... its settled ones 1/2048


@numba.njit(cache=True, inline="always")
def token_of(v):
    """``(token, n_raw_bits)`` of a zig-zagged residual ``v >= 0``."""
    if v < 16:
        return v, 0
    n = 0
    t = v
    while t > 1:
        t >>= 1
        n += 1
    return 16 + 2 * (n - 4) + ((v >> (n - 1)) & 1), n - 1


@numba.njit(cache=True, inline="always")
def token_base(tok):
    """Smallest residual of ``tok`` and its number of raw bits (inverse of token_of)."""
    if tok < 16:
        return tok, 0
    n = (tok - 16) // 2 + 4
    return (1 << n) | ((tok & 1) << (n - 1)), n - 1


@numba.njit(cache=True, inline="always")
def _bits_of(maxval):
    b = 0
    while (1 << b) <= maxval:
        b += 1
    return b


@numba.njit(cache=True, inline="always")
def _level(g):
    a = abs(g)
    return 0 if a == 0 else (1 if a == 1 else (2 if a == 2 else (3 if a <= 6 else 4)))


@numba.njit(cache=True, inline="always")
def _texture_context(g1, g2, g3):
    """Context of a texture-mode pixel: the size (5 levels) and sign of each of W - N,
    NW - W and N - NE (near those JPEG-LS quantises): 5 * 5 * 5 * 8 contexts."""
    signs = (1 if g1 < 0 else 0) + (2 if g2 < 0 else 0) + (4 if g3 < 0 else 0)
    return ((_level(g1) * 5 + _level(g2)) * 5 + _level(g3)) * 8 + signs


def texture_prior() -> np.ndarray:
    """The fixed start of texture-mode tables: token t in proportion to 1 / (t + 1)^2, in
    integers (so every machine starts from the same table)."""
    row = np.array([max(TOTAL // (4 * (t + 1) ** 2), 1) for t in range(N_TOKENS)], np.int64)
    row[0] += TOTAL - row.sum()
    return np.tile(row, (N_TEXTURE_CONTEXTS, 1))


@numba.njit(cache=True)
def code_plane(
    mode, img, maxval, side, ref, has_ref, linear, freqs, counts,
    out_start, out_freq, n_out, words, dec, period=1, bitstream=3, texture=False,
):  # fmt: skip
    """Code one plane of one tile.

    Parameters
    ----------
    mode : STATS (count tokens into ``counts``), ENCODE (append (start, freq) pairs to
        ``out_start``/``out_freq`` from ``n_out``) or DECODE (read ``words``; fills ``img``).
    img : (h, w) int64 plane, values 0..maxval (written in DECODE mode).
    side : (h, w) int64 luma tokens for a chroma plane, or -1.
    ref : (h, w) int64 luma plane, if ``has_ref``.
    linear : (2, N_LINEAR) int64 learned predictor coefficients (fixed point): the
        reweighted least-squares fit, then (bitstream 3) the plain one.
    freqs : (N_CONTEXTS, N_TOKENS) int64 adaptive tables (updated in place).
    counts : (len(freqs),) int64 updates seen per context (updated in place).
    dec : (3,) uint64 decoder state, position and status (DECODE mode).
    period : 1, or 2 for planes whose pixels repeat in pairs (chroma upsampled from a JPEG,
        interlaced scans): the blend weights, activity and bias contexts then look at the
        neighbours two pixels away, which share the pixel's place in its pair.
    bitstream : the container's photos bitstream version. 3 blends five more sub-predictors
        (10-14), widens the error window to eleven neighbours, flips the residual's sign
        when the prediction was rounded up and puts how far it was from an integer into the
        context; 1 and 2 do none of that.
    texture : (bitstream 3) predict MED under contexts of the sizes and signs of three
        gradients (``freqs`` then has N_TEXTURE_CONTEXTS rows): the mode for piecewise-flat
        planes (heavily quantised chroma, graphics), where blending only blurs the steps.

    Returns
    -------
    (tokens, errors, n_out): the plane's tokens and prediction errors (x8), for the next
    planes, and the new end of the output.
    """
    h, w = img.shape
    bits = _bits_of(maxval)
    mod = np.int64(1) << bits
    half = mod >> 1
    x = np.zeros((h + _PAD, w + 2 * _PAD), np.int64)
    err = np.zeros((_N_PRED, h + _PAD, w + 2 * _PAD), np.int64)
    terr = np.zeros((h + _PAD, w + 2 * _PAD), np.int64)
    signed = bitstream >= 3
    smooth = 16 if signed else 8
    bias_sum = np.zeros(N_BINS * 9, np.int64)
    bias_n = np.zeros(N_BINS * 9, np.int64)
    preds = np.zeros(_N_PRED, np.int64)
    tokens = np.zeros((h, w), np.int64)
    errors = np.zeros((h, w), np.int64)
    active = np.zeros(_N_PRED, np.int64)  # the sub-predictors this plane blends
    n_pred = 0
    for p in range(_N_PRED):
        if not ((7 <= p <= 9 and not has_ref) or (p >= 10 and not signed)):
            active[n_pred] = p
            n_pred += 1
    state = dec[0]
    pos = np.int64(dec[1])
    for i in range(h):
        for j in range(w):
            r, c = i + _PAD, j + _PAD
            if i == 0 and j == 0:
                W = N = NW = NE = WW = NN = NNE = NWW = NNW = NEE = WWW = (maxval + 1) // 2
            else:
                W = x[r, c - 1] if j > 0 else x[r - 1, c]
                N = x[r - 1, c] if i > 0 else W
                NW = x[r - 1, c - 1] if (i > 0 and j > 0) else N
                NE = x[r - 1, c + 1] if (i > 0 and j + 1 < w) else N
                WW = x[r, c - 2] if j > 1 else W
                NN = x[r - 2, c] if i > 1 else N
                NNE = x[r - 2, c + 1] if (i > 1 and j + 1 < w) else NE
                NWW = x[r - 1, c - 2] if (i > 0 and j > 1) else NW
                NNW = x[r - 2, c - 1] if (i > 1 and j > 0) else NN
                NEE = x[r - 1, c + 2] if (i > 0 and j + 2 < w) else NE
                WWW = x[r, c - 3] if j > 2 else WW
            hi = max(W, N)
            lo = min(W, N)
            med = lo if hi <= NW else (hi if lo >= NW else W + N - NW)
            if texture:  # piecewise-flat planes: MED under gradient contexts
                pred = med
                mu2 = 8 * pred
                flip = False
                ctx = _texture_context(W - N, NW - W, N - NE)
            else:
                preds[0] = 8 * W
                preds[1] = 8 * N
                preds[2] = 8 * med
                preds[3] = 8 * (W + N - NW)
                preds[4] = 4 * (W + NE)
                preds[5] = 8 * (N + NE - NNE)
                for f in range(2 if signed else 1):  # the two fits of the linear predictor
                    acc = (
                        linear[f, 0] * (N - W) + linear[f, 1] * (NW - W) + linear[f, 2] * (NE - W)
                        + linear[f, 3] * (WW - W) + linear[f, 4] * (NN - W)
                        + linear[f, 5] * (NNE - W) + linear[f, 6] * (NWW - W)
                        + linear[f, 7] * (NNW - W) + linear[f, 8] * (NEE - W)
                        + linear[f, 9] * (WWW - W)
                    )  # fmt: skip
                    preds[6 if f == 0 else 14] = 8 * W + (acc >> (LINEAR_SHIFT - 3))
                if has_ref:
                    R = ref[i, j]
                    RW = ref[i, j - 1] if j > 0 else (ref[i - 1, j] if i > 0 else R)
                    RN = ref[i - 1, j] if i > 0 else RW
                    RNW = ref[i - 1, j - 1] if (i > 0 and j > 0) else RN
                    preds[7] = 8 * (W + R - RW)
                    preds[8] = 8 * (N + R - RN)
                    preds[9] = 8 * (NW + R - RNW)
                preds[10] = 8 * (2 * W - WW)
                preds[11] = 8 * (W + NE - N)
                preds[12] = 8 * (2 * N - NN)
                preds[13] = 8 * (W + NW - NWW)
                num = np.int64(0)
                den = np.int64(0)
                esum = np.int64(0)
                for k in range(n_pred):
                    p = active[k]
                    q = period
                    e = err[p, r, c - q] + err[p, r - q, c] + err[p, r - q, c - q]
                    e += err[p, r - q, c + q] + err[p, r, c - q]  # W counts twice
                    if signed:  # the next ring: WW, NN, NNW, NNE, NWW, NEE
                        e += err[p, r, c - 2 * q] + err[p, r - 2 * q, c] + err[p, r - 2 * q, c - q]
                        e += err[p, r - 2 * q, c + q] + err[p, r - q, c - 2 * q]
                        e += err[p, r - q, c + 2 * q]
                    wgt = max((np.int64(1) << 24) // (((e + smooth) * (e + smooth)) >> 4), 1)
                    num += wgt * preds[p]
                    den += wgt
                    esum += wgt * e
                mu = (num + den // 2) // den
                act = esum // den + abs(terr[r, c - period]) + abs(terr[r - period, c])
                a = act + 1
                b = 0
                while a > 1:
                    a >>= 1
                    b += 2
                if b > 0 and ((act + 1) >> ((b >> 1) - 1)) & 1:
                    b += 1
                if b > N_BINS - 1:
                    b = N_BINS - 1
                ew = terr[r, c - period]
                en = terr[r - period, c]
                signs = (1 if ew > 0 else (2 if ew < 0 else 0)) * 3 + (
                    1 if en > 0 else (2 if en < 0 else 0)
                )
                bc = b * 9 + signs
                corr = bias_sum[bc] // bias_n[bc] if bias_n[bc] > 0 else 0
                mu2 = mu + corr
                pred = (mu2 + 4) >> 3
                flip = signed and mu2 < 8 * pred  # rounded up: code -e, the likelier sign is +
                pred = min(max(pred, 0), maxval)
                frac = abs(mu2 - 8 * ((mu2 + 4) >> 3))  # eighths from the rounding: 0..4
                if not signed:
                    ctx = b * N_SIDE + (min(side[i, j], N_SIDE - 1) if side[i, j] >= 0 else 0)
                elif side[i, j] >= 0:  # chroma: two luma-token classes x near/far from an integer
                    ctx = b * N_SIDE + min(side[i, j], 1) * 2 + (1 if frac >= 2 else 0)
                else:
                    ctx = b * N_SIDE + min(frac, N_SIDE - 1)
            row = freqs[ctx]
            if mode == DECODE:
                q = decoder_peek(state, PRECISION)
                tok = 0
                start = np.int64(0)
                while tok < N_TOKENS - 1 and start + row[tok] <= q:
                    start += row[tok]
                    tok += 1
                state, pos, status = decoder_advance(state, pos, words, start, row[tok], PRECISION)
                if status != OK:
                    dec[2] = status
                    return tokens, errors, n_out
                zz, n_raw = token_base(tok)
                if n_raw > 0:
                    shift = PRECISION - n_raw
                    q = decoder_peek(state, PRECISION)
                    low = q >> shift
                    state, pos, status = decoder_advance(
                        state, pos, words, low << shift, np.int64(1) << shift, PRECISION
                    )
                    zz += low
                e = zz >> 1 if zz & 1 == 0 else -((zz + 1) >> 1)
                v = pred - e if flip else pred + e
                if v < 0:
                    v += mod
                elif v >= mod:
                    v -= mod
                if v < 0 or v > maxval:  # outside the plane: not from our encoder
                    dec[2] = 2
                    return tokens, errors, n_out
                img[i, j] = v
            else:
                v = img[i, j]
                e = pred - v if flip else v - pred
                e = ((e + half) & (mod - 1)) - half
                zz = 2 * e if e >= 0 else -2 * e - 1
                tok, n_raw = token_of(zz)
                if mode == STATS:
                    freqs[ctx, tok] += 1
                else:
                    start = np.int64(0)
                    for t in range(tok):
                        start += row[t]
                    out_start[n_out] = start
                    out_freq[n_out] = row[tok]
                    n_out += 1
                    if n_raw > 0:
                        shift = PRECISION - n_raw
                        out_start[n_out] = (zz & ((np.int64(1) << n_raw) - 1)) << shift
                        out_freq[n_out] = np.int64(1) << shift
                        n_out += 1
            if mode != STATS:
                k = counts[ctx]
                s = _FIRST_SHIFT
                while s < _LAST_SHIFT and (np.int64(1) << s) <= k + 16:
                    s += 1
                counts[ctx] = k + 1
                moved = np.int64(0)
                for t in range(N_TOKENS):
                    d = row[t] >> s
                    row[t] -= d
                    moved += d
                row[tok] += moved
            tokens[i, j] = tok
            x[r, c] = v
            te = 8 * v - mu2
            terr[r, c] = te
            errors[i, j] = te
            if texture:
                continue
            for k in range(n_pred):
                p = active[k]
                err[p, r, c] = abs(preds[p] - 8 * v)
            bias_sum[bc] += 8 * v - mu
            bias_n[bc] += 1
            if bias_n[bc] >= _BIAS_LIMIT:
                bias_sum[bc] //= 2
                bias_n[bc] //= 2
    dec[0] = state
    dec[1] = np.uint64(pos)
    return tokens, errors, n_out
