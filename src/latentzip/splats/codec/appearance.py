"""Spherical-harmonic colour as persistent codebooks: one k-means codebook per SH band.

After DualGS (Jiang et al., SIGGRAPH Asia 2024, Sec. 5): the SH coefficients of band ``l``
(``2l + 1`` coefficients x 3 colours) of every Gaussian in every frame of a segment are
clustered into one codebook of at most ``L`` entries, stored as float16. Each Gaussian holds an
index per band and frame; an index is kept from the previous frame unless the nearest entry is
clearly better (``hysteresis``), so few indices change and only the changes are coded::

    sh (F, N, B, 3) --band l--> vectors (F, N, (2l+1)*3) --k-means--> codebook (L, dim) f16
                                          \\--nearest entry, sticky--> indices (F, N)
    indices: frame 0 --rank from the index before it, or plain--> rANS ;
             frames 1.. --change mask (context: changed before) + new index

Codebook entries are renumbered by popularity so that small indices are frequent. A changed
index is coded as its *rank* among the entries ordered by distance from the previous entry
(colours drift, so the new entry is mostly one of the old one's nearest: median rank 2-6 on
the 128 px fits, a third of the bits of the index itself); distances are exact integers, so
the order is the same on every machine. Frame 0's indices are coded the same way along the
file's order, each from the one before it, when that is cheaper (the encoder stores DualGS
skins sorted in space: band-0 frame-0 indices 4.6 -> 2.7 KB on the spinkick fit). The stored
codebook and indices are the lossless part: they decode bit for bit.
"""

from __future__ import annotations

import warnings
import zlib

import numpy as np

from latentzip.errors import ContainerError
from latentzip.splats.codec.entropy import IntDecoder, IntEncoder, pack_parts, unpack_parts
from latentzip.splats.codec.motion import decode_intra, encode_intra

__all__ = [
    "NeighbourRanks",
    "assign",
    "band_slices",
    "decode_band",
    "decode_codebook",
    "decode_first",
    "encode_band",
    "encode_codebook",
    "encode_first",
    "fit_codebook",
    "quantise_band",
]

_CHUNK = 4096


def band_slices(n_coefficients: int) -> list[slice]:
    """Coefficient ranges of SH bands 0.. for ``n_coefficients`` = (degree + 1)^2."""
    degree = round(np.sqrt(n_coefficients)) - 1
    return [slice(lv * lv, (lv + 1) * (lv + 1)) for lv in range(degree + 1)]


def fit_codebook(
    vectors: np.ndarray,
    size: int,
    *,
    samples: int = 32768,
    iters: int = 12,
    seed: int = 0,
    grid_bits: int = 0,
) -> np.ndarray:
    """A float16 codebook (L, dim), L <= ``size``, for ``vectors`` (n, dim).

    If the vectors (rounded to float16) take at most ``size`` distinct values, the codebook is
    exactly those values, so the data is coded without loss. Otherwise it holds k-means
    centres, rounded to multiples of ``2**-grid_bits`` if ``grid_bits > 0`` (cheaper to store).
    """
    full = np.asarray(vectors, np.float32).reshape(-1, vectors.shape[-1])
    rng = np.random.default_rng(seed)
    x = (
        full[np.sort(rng.choice(len(full), samples, replace=False))]
        if len(full) > samples
        else full
    )
    distinct, counts = np.unique(x.astype(np.float16), axis=0, return_counts=True)
    if len(distinct) <= size:  # few distinct values in the sample: maybe in the data too
        every = distinct if x is full else np.unique(full.astype(np.float16), axis=0)
        if len(every) <= size:
            return every
    from sklearn.cluster import KMeans

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        km = KMeans(
            n_clusters=min(size, len(distinct)),
            init="random",
            n_init=1,
            max_iter=iters,
            random_state=seed,
            algorithm="lloyd",
        ).fit(distinct.astype(np.float32), sample_weight=counts.astype(np.float64))
    centres = km.cluster_centers_.astype(np.float64)
    if grid_bits > 0:
        centres = np.round(centres * 2.0**grid_bits) / 2.0**grid_bits
    return np.unique(centres.astype(np.float16), axis=0)


def _nearest(x: np.ndarray, codebook: np.ndarray, c2: np.ndarray) -> np.ndarray:
    if codebook.shape[1] <= 9:  # a k-d tree wins in low dimension
        from scipy.spatial import cKDTree

        return cKDTree(codebook).query(x)[1].astype(np.int64)
    out = np.empty(len(x), np.int64)
    for s in range(0, len(x), _CHUNK):
        xs = x[s : s + _CHUNK]
        d2 = c2[None, :] - 2.0 * (xs @ codebook.T)
        out[s : s + _CHUNK] = np.argmin(d2, axis=1)
    return out


def assign(vectors: np.ndarray, codebook: np.ndarray, hysteresis: float = 0.0) -> np.ndarray:
    """Indices (F, N) of the codebook entries for ``vectors`` (F, N, dim), sticky over time.

    In frame t a Gaussian keeps its index of frame t-1 unless the nearest entry is closer by
    more than a factor ``1 + hysteresis`` (in distance).
    """
    cb = np.asarray(codebook, np.float32)
    c2 = np.sum(cb * cb, axis=1)
    f, n, _ = vectors.shape
    idx = np.empty((f, n), np.int64)
    keep_factor = (1.0 + hysteresis) ** 2
    for t in range(f):
        x = np.asarray(vectors[t], np.float32)
        new = _nearest(x, cb, c2)
        if t and hysteresis > 0:
            prev = idx[t - 1]
            d_prev = np.sum((x - cb[prev]) ** 2, axis=1)
            d_new = np.sum((x - cb[new]) ** 2, axis=1)
            new = np.where(d_prev <= d_new * keep_factor, prev, new)
        idx[t] = new
    return idx


def quantise_band(
    vectors: np.ndarray,
    size: int,
    *,
    hysteresis: float = 0.0,
    samples: int = 32768,
    iters: int = 12,
    seed: int = 0,
    grid_bits: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """``(codebook (L, dim) float16, indices (F, N) int64)``, entries sorted by popularity."""
    codebook = fit_codebook(
        vectors, size, samples=samples, iters=iters, seed=seed, grid_bits=grid_bits
    )
    idx = assign(vectors, codebook, hysteresis)
    counts = np.bincount(idx.ravel(), minlength=len(codebook))
    order = np.argsort(-counts, kind="stable")
    used = order[counts[order] > 0]
    relabel = np.zeros(len(codebook), np.int64)
    relabel[used] = np.arange(len(used))
    return np.ascontiguousarray(codebook[used]), relabel[idx]


def _on_grid(cb: np.ndarray) -> tuple[int, np.ndarray] | None:
    """``(e, k)`` with ``cb == float16(k / 2**e)`` bit for bit, for the smallest such e."""
    x = cb.astype(np.float64)
    if not np.all(np.isfinite(x)):
        return None
    for e in range(25):
        k = np.round(x * 2.0**e)
        if np.abs(k).max(initial=0) >= 2**30:
            return None
        back = (k / 2.0**e).astype(np.float16)
        if np.array_equal(back.view(np.uint16), cb.view(np.uint16)):
            return e, k.astype(np.int64)
    return None


def encode_codebook(codebook: np.ndarray) -> bytes:
    """A float16 codebook (L, dim), losslessly, in the smaller of two forms.

    ``0`` + u32 L + a zlib stream of the float16 values, or ``1`` + u32 L + u8 e + an intra
    frame (:func:`motion.encode_intra`) of the integers k, ``codebook = float16(k / 2**e)``.
    """
    cb = np.ascontiguousarray(codebook, "<f2")
    head = len(cb).to_bytes(4, "little")
    best = b"\x00" + head + zlib.compress(cb.tobytes(), 9)
    found = _on_grid(cb)
    if found is not None:
        e, k = found
        blob = b"\x01" + head + bytes([e]) + encode_intra(k)
        best = blob if len(blob) < len(best) else best
    return best


def decode_codebook(data: bytes, dim: int, what: str = "codebook") -> np.ndarray:
    """Inverse of :func:`encode_codebook`: (L, dim) float16."""
    if len(data) < 5 or data[0] not in (0, 1):
        raise ContainerError(f"{what}: corrupted codebook")
    size = int.from_bytes(data[1:5], "little")
    if size == 0 or size > 2**20:
        raise ContainerError(f"{what}: codebook of {size} entries")
    if data[0] == 1:
        if len(data) < 6 or data[5] > 24:
            raise ContainerError(f"{what}: corrupted codebook")
        k = decode_intra(data[6:], size, dim, what)
        return (k / 2.0 ** data[5]).astype(np.float16)
    try:
        raw = zlib.decompress(data[5:])
    except zlib.error as exc:
        raise ContainerError(f"{what}: corrupted codebook ({exc})") from exc
    if len(raw) != 2 * size * dim:
        raise ContainerError(f"{what}: codebook has {len(raw)} bytes, expected {2 * size * dim}")
    return np.frombuffer(raw, "<f2").reshape(size, dim).astype(np.float16)


class NeighbourRanks:
    """Ranks of codebook entries by L1 distance from another entry (ties: lower index first).

    ``rank(old, new)`` and ``entry(old, rank)`` are inverse. Distances are computed on the
    float16 values as exact integers (multiples of 2**-24; inf and NaN as values beyond every
    finite one), so encoder and decoder agree on any machine. A row is computed when its
    entry is first asked for. Codebooks larger than ``RANKED_MAX`` entries (an (L, L) table
    would not pay) keep plain indices: rank = index.
    """

    RANKED_MAX = 2048

    def __init__(self, codebook: np.ndarray):
        x = np.asarray(codebook, np.float16).astype(np.float64)
        finite = np.isfinite(x)
        beyond = np.where(np.isnan(x), 2.0**42, np.copysign(2.0**41, x))
        scaled = np.where(finite, x, 0.0) * 2.0**24  # exact: float16 steps are 2**-24 or more
        self._points = np.where(finite, scaled, beyond).astype(np.int64)
        size = len(x)
        self.ranked = size <= self.RANKED_MAX
        self._done = np.zeros(size, bool)
        self._order = self._rank = None

    def __len__(self) -> int:
        return len(self._points)

    def _rows(self, entries: np.ndarray) -> None:
        todo = np.unique(entries)
        todo = todo[~self._done[todo]]
        if not todo.size:
            return
        size = len(self._points)
        if self._order is None:
            self._order = np.zeros((size, size), np.int32)
            self._rank = np.zeros((size, size), np.int32)
        for s in range(0, len(todo), 64):
            rows = todo[s : s + 64]
            d = np.abs(self._points[rows][:, None, :] - self._points[None, :, :]).sum(axis=2)
            order = np.argsort(d, axis=1, kind="stable")
            self._order[rows] = order
            ranks = np.empty_like(order)
            np.put_along_axis(ranks, order, np.arange(size)[None, :], axis=1)
            self._rank[rows] = ranks
        self._done[todo] = True

    def rank(self, old: np.ndarray, new: np.ndarray) -> np.ndarray:
        """Rank of each ``new`` entry in the order of distance from ``old`` (same shape)."""
        if not self.ranked or not len(old):
            return np.asarray(new, np.int64)
        self._rows(old)
        return self._rank[old, new].astype(np.int64)

    def entry(self, old: np.ndarray, rank: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`rank`: the entries at ``rank`` from ``old``."""
        if not self.ranked or not len(old):
            return np.asarray(rank, np.int64)
        self._rows(old)
        return self._order[old, rank].astype(np.int64)

    def walk(self, start: int, ranks: np.ndarray) -> np.ndarray:
        """Entries ``e_0 = start``, ``e_i = entry(e_{i-1}, ranks[i-1])``: (len(ranks) + 1,)."""
        out = np.empty(len(ranks) + 1, np.int64)
        out[0] = cur = int(start)
        if not self.ranked:
            out[1:] = ranks
            return out
        self._rows(np.arange(len(self._points)))
        order = self._order
        for i, r in enumerate(np.asarray(ranks, np.int64).tolist(), 1):
            cur = out[i] = int(order[cur, r])
        return out


def encode_first(indices: np.ndarray, nearest: NeighbourRanks) -> bytes:
    """Frame 0's indices (N,): one mode byte and an integer stream, the cheaper of plain
    indices (mode 0) and each index's rank from the one before it (mode 1; neighbours in
    the file are mostly neighbours in space, with the same or a nearby colour)."""
    plain = IntEncoder(1)
    plain.add(indices)
    best = b"\x00" + plain.finish()
    if nearest.ranked and len(indices) > 1:
        chained = IntEncoder(1)
        chained.add(np.concatenate([indices[:1], nearest.rank(indices[:-1], indices[1:])]))
        best = min(best, b"\x01" + chained.finish(), key=len)
    return best


def decode_first(data: bytes, n: int, nearest: NeighbourRanks, what: str) -> np.ndarray:
    """Inverse of :func:`encode_first`: frame 0's indices (N,), each checked."""
    if not data or data[0] not in (0, 1):
        raise ContainerError(f"{what}: frame 0 indices have no valid mode byte")
    dec = IntDecoder(data[1:], 1, what)
    values = dec.read(np.zeros(n, np.int64))
    dec.finish()
    if n and (values.min() < 0 or values.max() >= len(nearest)):
        raise ContainerError(f"{what}: an index points outside the codebook")
    if data[0] == 1 and n:
        if not nearest.ranked:
            raise ContainerError(f"{what}: ranked frame 0 indices need a codebook <= 2048")
        values = nearest.walk(values[0], values[1:])
    return values


def encode_band(codebook: np.ndarray, indices: np.ndarray) -> bytes:
    """Codebook (L, dim) float16 and indices (F, N) -> bytes (lossless)."""
    f = len(indices)
    mask_enc, new_enc = IntEncoder(3), IntEncoder(1)
    nearest = NeighbourRanks(codebook)
    prev_change = None
    for t in range(1, f):
        change = indices[t] != indices[t - 1]
        ctx = np.full(change.shape, 2) if prev_change is None else prev_change.astype(np.int64)
        mask_enc.add(change.astype(np.int64), ctx)
        new_enc.add(nearest.rank(indices[t - 1][change], indices[t][change]))
        prev_change = change
    return pack_parts(
        [
            encode_codebook(codebook),
            encode_first(indices[0], nearest),
            mask_enc.finish(),
            new_enc.finish(),
        ]
    )


def decode_band(
    data: bytes, f: int, n: int, dim: int, what: str = "SH band"
) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of :func:`encode_band`: ``(codebook float16 (L, dim), indices (F, N) int64)``."""
    cbpart, first, masks, news = unpack_parts(data, 4, what)
    codebook = decode_codebook(cbpart, dim, what)
    size = len(codebook)
    idx = np.empty((f, n), np.int64)
    nearest = NeighbourRanks(codebook)
    idx[0] = decode_first(first, n, nearest, what)
    mask_dec, new_dec = IntDecoder(masks, 3, what), IntDecoder(news, 1, what)
    prev_change = None
    for t in range(1, f):
        ctx = np.full(n, 2) if prev_change is None else prev_change.astype(np.int64)
        change = mask_dec.read(ctx).astype(bool)
        ranks = new_dec.read(np.zeros(int(change.sum()), np.int64))
        if ranks.size and (ranks.min() < 0 or ranks.max() >= size):
            raise ContainerError(f"{what}: a changed index has rank outside the codebook")
        idx[t] = idx[t - 1]
        idx[t][change] = nearest.entry(idx[t - 1][change], ranks)
        prev_change = change
    mask_dec.finish()
    new_dec.finish()
    if idx.size and (idx.min() < 0 or idx.max() >= size):
        raise ContainerError(f"{what}: an index points outside the codebook")
    return codebook, idx
