"""Samples in, container out: the one records pipeline every sample codec is built on.

::

    x (n, D) --blocks of B samples--> walker.predict(t) --integer frequencies--> rANS
        (one independent stream per block: a record)  <--observe(t, x[:, order[t]])--
    records + header (fingerprint, shape, dtype, codec meta) --> container

The frequencies are used exactly as the model gives them (``latentzip.coding.rans``, whose
streams are constriction's ``AnsCoder`` word for word), so a model computed in integers
makes files that decode identically on any machine.

Any :class:`~latentzip.coding.protocol.CodingModel` drives it; codecs add their own
metadata through ``meta`` and extra header fields. A record decodes without reading any
other record, its payload is checked by CRC and what it decodes to by a second CRC (over the
symbols, ``<u4``, sample-major), so a crafted index or payload with recomputed framing
checksums is still refused. Variables with a single possible value cost nothing and are not
coded at all.

``Encoder``/``Decoder`` stream; ``compress``/``decompress`` in the codec modules are
one-shot wrappers around them.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from latentzip.coding import container, limits, modelfile, rans
from latentzip.coding.fields import Fields
from latentzip.coding.protocol import PRECISION, CodingModel, as_coding_model
from latentzip.data import validate_symbols
from latentzip.errors import ContainerError, DataError

_MAX_DIMS = 8
_DTYPES = frozenset(np.dtype(t).str for t in "?bBhHiIlLqQ")


@dataclass(frozen=True)
class CodecConfig:
    """block_size: samples per record (random-access unit); batch_size: samples coded at once."""

    block_size: int = 64
    batch_size: int = 256
    embed_model: bool = False

    def __post_init__(self):
        if not 1 <= self.block_size <= 2**20 or self.batch_size < 1:
            raise DataError("block_size must lie in 1..2**20 and batch_size be positive")

    @property
    def records_per_batch(self) -> int:
        return records_per_batch(self.batch_size, self.block_size)


def records_per_batch(batch_size: int, block_size: int) -> int:
    """Records decoded together: enough for ``batch_size`` samples, at least one."""
    return max(1, batch_size // max(1, block_size))


@dataclass(frozen=True)
class CodecId:
    """Which codec a container belongs to: id, name and bitstream version."""

    id: int
    name: str
    version: int


def max_block(model: CodingModel) -> int:
    """The largest block (samples per record) whose coder state fits the work budget."""
    return max(1, limits.WORK_BYTES // max(1, model.bytes_per_sample))


# ----------------------------------------------------------------------------- blocks
def encode_blocks(
    model: CodingModel, x: np.ndarray, block_size: int
) -> list[tuple[bytes, int, int]]:
    """``(payload, n_samples, check)`` of consecutive blocks of ``x`` (n, D), coded together.

    A model with its own ``encode_blocks`` (a fused kernel) writes the same bytes as the
    generic path here: walker tables, symbols variable-major within a block, exact rANS.
    """
    if hasattr(model, "encode_blocks"):
        coded = model.encode_blocks(x, block_size)
    else:
        coded = _generic_encode(model, x, block_size)
    return [
        (payload, m, content_check(x[i * block_size : i * block_size + m]))
        for i, (payload, m) in enumerate(coded)
    ]


def _generic_encode(model: CodingModel, x: np.ndarray, block_size: int) -> list[tuple[bytes, int]]:
    n = x.shape[0]
    walk, sizes = model.walker(n), model.alphabet_sizes
    coded = [int(v) for v in model.coding_order if sizes[v] > 1]
    starts = np.zeros((len(coded), n), np.int64)
    freqs = np.zeros((len(coded), n), np.int64)
    rows, row = np.arange(n), 0
    for t, v in enumerate(model.coding_order):
        table = walk.predict(t)  # every position, coded or not: later ones depend on it
        if sizes[v] > 1:
            cum = np.cumsum(table, axis=1)
            freqs[row] = table[rows, x[:, v]]
            starts[row] = cum[rows, x[:, v]] - freqs[row]
            row += 1
        walk.observe(t, x[:, v])
    out = []
    for lo in range(0, n, block_size):  # variable-major within the block
        block = slice(lo, min(n, lo + block_size))
        words = rans.encode_reverse(starts[:, block].ravel(), freqs[:, block].ravel(), PRECISION)
        out.append((words.tobytes(), block.stop - block.start))
    return out


def decode_blocks(
    model: CodingModel, payloads: list[tuple[bytes, int, int]], labels: list[str]
) -> np.ndarray:
    """Inverse of :func:`encode_blocks`: samples (n, D) int64 of the given blocks, in order."""
    plain = [(p, m) for p, m, _ in payloads]
    x = decode_unchecked(model, plain, labels)
    bounds = np.cumsum([0, *(m for _, m in plain)])
    for b, (_, _, check) in enumerate(payloads):
        if content_check(x[bounds[b] : bounds[b + 1]]) != check:
            raise ContainerError(f"{labels[b]}: decoded data fails its check (corrupted record)")
    return x


def decode_unchecked(
    model: CodingModel, payloads: list[tuple[bytes, int]], labels: list[str]
) -> np.ndarray:
    """Samples of ``(payload, n_samples)`` blocks, for codecs that check them themselves."""
    if hasattr(model, "decode_blocks"):
        return model.decode_blocks(payloads, labels)
    return _generic_decode(model, payloads, labels)


def _generic_decode(model: CodingModel, payloads: list[tuple[bytes, int]], labels: list[str]):
    sizes = [m for _, m in payloads]
    n, d = sum(sizes), model.n_variables
    first = np.cumsum([0, *sizes]).astype(np.int64)
    streams = rans.StreamSet([p for p, _ in payloads], labels, PRECISION)
    walk, alphabet = model.walker(n), model.alphabet_sizes
    x = np.zeros((n, d), dtype=np.int64)
    for t, v in enumerate(model.coding_order):
        table = walk.predict(t)
        if alphabet[v] > 1:
            cdfs = np.zeros((n, table.shape[1] + 1), np.int64)
            np.cumsum(table, axis=1, out=cdfs[:, 1:])
            x[:, v] = streams.decode(cdfs, first)
        walk.observe(t, x[:, v])
    streams.finish()
    return x


def content_check(rows: np.ndarray) -> int:
    """CRC-32 of symbols (m, D) as little-endian u32, sample-major."""
    return zlib.crc32(np.ascontiguousarray(rows, dtype="<u4").tobytes())


# ----------------------------------------------------------------------------- encoder
class Encoder:
    """Accumulates samples into compressed records; :meth:`finish` returns the container.

    ``meta`` (JSON) and ``extra`` (more header fields) are the codec's own, ``model_meta`` is
    stored with an embedded model; the header also records the model's fingerprint and kind,
    the sample shape and dtype, and the block size.
    """

    def __init__(
        self,
        model,
        codec: CodecId,
        config: CodecConfig | None = None,
        meta: dict | None = None,
        extra: dict | None = None,
        model_meta: dict | None = None,
    ):
        self.model = as_coding_model(model)
        self.codec = codec
        self.config = config or CodecConfig()
        if self.config.block_size > max_block(self.model):
            raise DataError(
                f"block_size {self.config.block_size} is too large for this model "
                f"(at most {max_block(self.model)} samples per record)"
            )
        self.meta, self.extra = dict(meta or {}), dict(extra or {})
        self.model_meta = model_meta
        self._records: list[tuple[bytes, int, int]] = []
        self._pending: list[np.ndarray] = []
        self._shape: tuple[int, ...] | None = None
        self._dtype: str | None = None
        self._n = 0

    def add(self, x: np.ndarray) -> None:
        """Encode samples ``x`` (n, *shape); shapes and dtypes must agree across calls."""
        x = np.asarray(x)
        if x.ndim == 0 or x.shape[0] == 0:
            raise DataError(f"empty input: shape {x.shape}")
        if x.dtype.str not in _DTYPES:
            raise DataError(f"unsupported dtype {x.dtype}: latentzip codes integer symbols")
        shape, dtype = tuple(int(s) for s in x.shape[1:]), x.dtype.str
        if self._shape is None:
            self._shape, self._dtype = shape, dtype
        elif (shape, dtype) != (self._shape, self._dtype):
            raise DataError(f"samples of shape {shape}/{dtype} after {self._shape}/{self._dtype}")
        flat = x.reshape(len(x), -1)
        if flat.shape[1] != self.model.n_variables:
            raise DataError(
                f"samples have {flat.shape[1]} variables, the model {self.model.n_variables}"
            )
        self._pending.append(validate_symbols(flat, self.model.alphabet_sizes))
        self._n += len(flat)
        self._flush(final=False)

    def add_records(self, records: list[tuple[bytes, int, int]], shape, dtype: str) -> None:
        """Append records coded elsewhere (another machine) with this model, in order."""
        if self._pending and len(np.concatenate(self._pending)) % self.config.block_size:
            raise DataError("records can only follow whole blocks")
        self._flush(final=True)
        shape = tuple(int(s) for s in shape)
        if self._shape is None:
            self._shape, self._dtype = shape, dtype
        elif (shape, dtype) != (self._shape, self._dtype):
            raise DataError(f"samples of shape {shape}/{dtype} after {self._shape}/{self._dtype}")
        self._records += records
        self._n += sum(m for _, m, _ in records)

    def _flush(self, final: bool) -> None:
        cfg = self.config
        pending = np.concatenate(self._pending) if self._pending else np.empty((0, 0), np.int64)
        step = cfg.records_per_batch * cfg.block_size
        done = 0
        while len(pending) - done >= step or (final and done < len(pending)):
            batch = pending[done : done + step]
            self._records += encode_blocks(self.model, batch, cfg.block_size)
            done += len(batch)
        self._pending = [pending[done:]] if done < len(pending) else []

    def finish(self, allow_empty: bool = False) -> bytes:
        """The container holding every sample added so far (none only if ``allow_empty``)."""
        if self._shape is None or (self._n == 0 and not allow_empty):
            raise DataError("nothing to compress: no samples were added")
        self._flush(final=True)
        header = {
            **self.extra,
            "codec": self.codec.name,
            "model_kind": self.model.kind,
            "model_fingerprint": self.model.fingerprint,
            "n_samples": self._n,
            "sample_shape": list(self._shape),
            "dtype": self._dtype,
            "block_size": self.config.block_size,
            "precision": PRECISION,
            "meta": self.meta,
        }
        embedded = None
        if self.config.embed_model:
            embedded = modelfile.to_bytes(self.model, self.model_meta)
        return container.pack(self.codec.id, self.codec.version, header, self._records, embedded)


# ----------------------------------------------------------------------------- decoder
@dataclass(frozen=True)
class Layout:
    """The checked header fields of a records container."""

    n_samples: int
    shape: tuple[int, ...]
    dtype: np.dtype
    block_size: int
    meta: Fields


def read_layout(c: container.Container, model: CodingModel) -> Layout:
    """Validate a records header against the index and the model; never trusts a field."""
    h = Fields(c.header, "container header")
    n = h.int("n_samples", 0, 2**63 - 1)
    shape = tuple(h.ints("sample_shape", 1, 2**40, max_len=_MAX_DIMS))
    block = h.int("block_size", 1, max_block(model))
    dtype_str = h.str("dtype", _DTYPES, max_len=8)
    dtype = np.dtype(dtype_str)
    h.int("precision", PRECISION, PRECISION)
    if int(np.prod(shape, dtype=object)) != model.n_variables:
        raise ContainerError(
            f"sample shape {shape} does not fit the model's {model.n_variables} variables"
        )
    top = int(model.alphabet_sizes.max()) - 1
    if (dtype.kind == "b" and top > 1) or (dtype.kind != "b" and top > np.iinfo(dtype).max):
        raise ContainerError(f"dtype {dtype} cannot hold the model's values (up to {top})")
    if c.n_samples != n or any(not 1 <= e.n_samples <= block for e in c.index):
        raise ContainerError(
            f"the record index holds {c.n_samples} samples in records of up to "
            f"{max((e.n_samples for e in c.index), default=0)}; the header says {n} in "
            f"blocks of {block}"
        )
    return Layout(n, shape, dtype, block, h.obj("meta", {}))


def resolve_model(c: container.Container, model) -> CodingModel:
    """The model to decode ``c`` with: the given one or the embedded one, fingerprint checked."""
    if model is None:
        if c.model is None:
            raise ContainerError("this container has no embedded model: pass the model")
        model, _ = modelfile.from_bytes(c.model, "embedded model")
    model = as_coding_model(model)
    wanted = Fields(c.header, "container header").str("model_fingerprint", max_len=128)
    if model.fingerprint != wanted:
        raise ContainerError(
            f"wrong model: the container was made with model {wanted[:16]}, "
            f"this model is {model.fingerprint[:16]}"
        )
    return model


class Decoder:
    """Random and sequential access to the samples of a records container.

    ``model`` may be omitted when the container embeds its model.
    """

    def __init__(self, blob, codec: CodecId, model=None, config: CodecConfig | None = None):
        c = blob if isinstance(blob, container.Container) else container.unpack(blob)
        if c.codec != codec.id:
            raise ContainerError(
                f"container holds codec {c.codec}, expected {codec.id} ({codec.name})"
            )
        if c.codec_version != codec.version:
            raise ContainerError(
                f"{codec.name} bitstream version {c.codec_version} is not supported: this "
                f"latentzip reads version {codec.version}"
            )
        self.container = c
        self.model = resolve_model(c, model)
        self.layout = read_layout(c, self.model)
        self.config = config or CodecConfig()
        self.shape, self.dtype = self.layout.shape, self.layout.dtype
        self.meta = self.layout.meta.data

    def __len__(self) -> int:
        return len(self.container.index)

    @property
    def n_samples(self) -> int:
        return self.layout.n_samples

    def record(self, i: int) -> np.ndarray:
        """The samples of record ``i`` only, shape (m, *sample_shape)."""
        return self.decode([i])

    def decode(self, ids: list[int]) -> np.ndarray:
        c = self.container
        payloads = [(c.record(i), c.index[i].n_samples, c.index[i].check) for i in ids]
        flat = decode_blocks(self.model, payloads, [f"record {i}" for i in ids])
        return flat.astype(self.dtype).reshape(len(flat), *self.shape)

    def batches(self) -> Iterator[list[int]]:
        """Record ids decoded together, in order: enough for a batch, within the work budget."""
        per = min(
            records_per_batch(self.config.batch_size, self.layout.block_size),
            max(1, max_block(self.model) // self.layout.block_size),
        )
        for start in range(0, len(self), per):
            yield list(range(start, min(len(self), start + per)))

    def __iter__(self) -> Iterator[np.ndarray]:
        """Decoded batches, in order (memory bounded whatever the container claims)."""
        for ids in self.batches():
            yield self.decode(ids)

    def read_all(self) -> np.ndarray:
        """Every sample, (n, *shape); refused if larger than the file can justify."""
        size = self.n_samples * int(np.prod(self.shape)) * self.dtype.itemsize
        limits.check_claim(
            size,
            limits.memory_budget(len(self.container.blob)),
            f"decoding {self.n_samples} samples",
            "; iterate over the Decoder to stream it",
        )
        out = np.empty((self.n_samples, *self.shape), dtype=self.dtype)
        pos = 0
        for part in self:
            out[pos : pos + len(part)] = part
            pos += len(part)
        return out
