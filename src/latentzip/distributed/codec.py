"""Distributed compression: shards are coded on workers into one random-access container.

::

    shard_s --worker: read_source + encode_blocks--> records_s (independent rANS streams)
    client: records_0 + records_1 + ... (shard order) --Encoder.add_records--> one container
    container --client: slice records per shard--> worker: decode_blocks --> shard_s again

Each record decodes alone, so the container is the one :func:`latentzip.circuits.codec.compress`
would write for the concatenated shards (up to where the last block of a shard ends), and
:class:`latentzip.circuits.codec.Decoder` reads it without a cluster. The header's ``meta``
lists the shards (name, samples, records, and what is needed to restore each file exactly).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from latentzip.circuits.codec import CodecConfig, Decoder, Encoder
from latentzip.coding.protocol import as_coding_model
from latentzip.coding.records import decode_blocks, encode_blocks
from latentzip.distributed._tasks import shard_paths, ship
from latentzip.errors import ContainerError, DataError
from latentzip.files import atomic_folder

SHARDS_KIND = "shards"


def compress(
    client,
    shards: str | Path | Sequence[str | Path],
    model,
    config: CodecConfig | None = None,
) -> bytes:
    """Compress every shard on the workers into one container (records in shard order).

    Parameters
    ----------
    client : distributed.Client
    shards : folder, glob pattern, or list of shard paths (idx(.gz), ``.npy``, PNG folders)
    model : a coding model (or an HCLT)
    config : CodecConfig
        Block size (records' random-access unit), batch size, whether to embed the model.

    Returns
    -------
    bytes
        The container; ``decompress`` (here, or :func:`latentzip.circuits.codec.decompress`
        for one array) inverts it exactly.
    """
    cfg = config or CodecConfig()
    model = as_coding_model(model)
    paths = shard_paths(shards)
    remote = ship(client, model)
    futures = [client.submit(_encode_shard, remote, str(p), cfg, pure=False) for p in paths]
    listing, parts, layout = [], [], None
    for path, (shard_records, shape, dtype, meta) in zip(
        paths, client.gather(futures), strict=True
    ):
        if layout is None:
            layout = (shape, dtype)
        elif (shape, dtype) != layout:
            raise DataError(f"{path.name}: samples {shape}/{dtype}, other shards {layout}")
        listing.append(
            {
                "name": path.name,
                "n_samples": sum(rec[1] for rec in shard_records),
                "n_records": len(shard_records),
                "meta": meta,
            }
        )
        parts.append(shard_records)
    assert layout is not None
    enc = Encoder(model, cfg, {"kind": SHARDS_KIND, "shards": listing})
    for shard_records in parts:
        enc.add_records(shard_records, *layout)
    return enc.finish()


def decompress(
    client, blob: bytes, model=None, out: str | Path | None = None, *, force: bool = False
):
    """Decode a container on the workers.

    With ``out``, a container written by :func:`compress` is restored shard by shard into
    the folder ``out`` (same names; an idx.gz comes back as raw idx without ``.gz``), each file
    written by the worker that decoded it, and the list of paths is returned. Without
    ``out``, the samples come back as one array ``(n, *sample_shape)``.
    """
    decoder = Decoder(blob, model)
    shards = _shard_ranges(decoder)
    remote = ship(client, decoder.model)
    if out is None:
        futures = [
            client.submit(_decode, remote, _payloads(decoder, ids), pure=False) for ids, _ in shards
        ]
        return np.concatenate(client.gather(futures))
    out = Path(out)
    if not decoder.meta.get("kind") == SHARDS_KIND:
        raise ContainerError("this container was not made from shards: decode it to one array")
    names = [_restored_name(info) for _, info in shards]
    # the workers fill a hidden sibling folder (a shared file system), renamed when all are done
    with atomic_folder(out, force=force, replaceable=lambda e: e.name in names) as tmp:
        futures = [
            client.submit(
                _decode_shard, remote, _payloads(decoder, ids), info["meta"], str(tmp / name),
                pure=False,
            )
            for (ids, info), name in zip(shards, names, strict=True)
        ]  # fmt: skip
        client.gather(futures)
    return [out / name for name in names]


def _shard_ranges(decoder: Decoder) -> list[tuple[range, dict]]:
    """Record ids per shard (or per group of records for a container not made from shards)."""
    n = len(decoder)
    if decoder.meta.get("kind") != SHARDS_KIND:
        return [(range(ids[0], ids[-1] + 1), {}) for ids in decoder.batches()]
    ranges, start = [], 0
    for info in _shard_list(decoder):
        ranges.append((range(start, start + info["n_records"]), info))
        start += info["n_records"]
    if start != n:
        raise ContainerError(f"shard list covers {start} records, the container has {n}")
    return ranges


def _shard_list(decoder: Decoder) -> list[dict]:
    """The checked shard list of a container written by :func:`compress`."""
    from latentzip.coding.fields import Fields

    listing = decoder.meta.get("shards")
    if not isinstance(listing, list) or not listing:
        raise ContainerError("the container's shard list is missing")
    shards = []
    for i, item in enumerate(listing):
        f = Fields(item, f"shard {i}")
        name = f.str("name", max_len=255)
        if Path(name).name != name or name in ("", ".", ".."):
            raise ContainerError(f"shard {i}: {name!r} is not a plain file name")
        shards.append(
            {
                "name": name,
                "n_records": f.int("n_records", 1, len(decoder)),
                "meta": f.obj("meta").data,
            }
        )
    if len({s["name"] for s in shards}) != len(shards):
        raise ContainerError("the container names a shard twice")
    return shards


def _payloads(decoder: Decoder, ids: range) -> dict:
    c = decoder.container
    return {
        "records": [(c.record(i), c.index[i].n_samples, c.index[i].check) for i in ids],
        "first": ids.start,
        "shape": decoder.shape,
        "dtype": decoder.dtype.str,
        "batch": decoder.config.records_per_batch,
    }


def _restored_name(info: dict) -> str:
    name = Path(info["name"]).name
    if info["meta"].get("kind") == "idx":
        name = name.removesuffix(".gz")
    return name


# ---------------------------------------------------------------- worker tasks
def _encode_shard(model, path: str, config: CodecConfig):
    from latentzip.data import validate_symbols
    from latentzip.data.sources import read_source

    samples, meta = read_source(path)
    flat = validate_symbols(samples.reshape(len(samples), -1), model.alphabet_sizes)
    step = config.records_per_batch * config.block_size
    records = []
    for start in range(0, len(flat), step):
        records += encode_blocks(model, flat[start : start + step], config.block_size)
    return records, tuple(samples.shape[1:]), samples.dtype.str, meta


def _decode(model, job: dict) -> np.ndarray:
    records, first, batch = job["records"], job["first"], job["batch"]
    parts = []
    for i in range(0, len(records), batch):
        chunk = records[i : i + batch]
        labels = [f"record {first + i + j}" for j in range(len(chunk))]
        parts.append(decode_blocks(model, chunk, labels))
    flat = np.concatenate(parts)
    return flat.astype(np.dtype(job["dtype"])).reshape(len(flat), *job["shape"])


def _decode_shard(model, job: dict, meta: dict, out: str) -> str:
    from latentzip.data.sources import write_source

    # force: a retried task may find the file its lost predecessor wrote
    return str(write_source(_decode(model, job), meta, out, force=True))
