"""Blocks of table rows <-> record payloads: the circuit's rANS stream of the block's symbols
(after a varint length), then one uniform rANS stream of its number cells' residuals; and the
record's content check over both."""

from __future__ import annotations

import zlib

import numpy as np

from latentzip.coding import rans, records
from latentzip.coding.parts import read_varint, varint
from latentzip.errors import ContainerError
from latentzip.tables.plan import CodedColumns

BLOCKS_PER_BATCH = 16  # blocks coded (and decoded) together by the circuit's kernels


def encode_blocks(plan, coder, coded: CodedColumns, block: int):
    """(payload, rows, check, circuit bytes) of each block of rows."""
    n = len(coded.symbols)
    step = block * BLOCKS_PER_BATCH
    for lo in range(0, n, step):
        sym = coded.symbols[lo : lo + step]
        circuit = records.encode_blocks(coder, sym, block)
        for b, (stream, m, _) in enumerate(circuit):
            rows = slice(lo + b * block, lo + b * block + m)
            uniform = _encode_residuals(plan, coded.symbols[rows], coded.offsets[rows])
            head = varint(len(stream))
            check = content_check(coded.symbols[rows], coded.offsets[rows])
            yield head + stream + uniform, m, check, len(head) + len(stream)


def _encode_residuals(plan, symbols: np.ndarray, offsets: np.ndarray) -> bytes:
    widths = plan.residual_widths(symbols)
    coded = widths > 1
    if not coded.any():
        return b""
    digits, sizes = rans.split_digits(offsets[coded], widths[coded])
    return rans.encode_uniform(digits, sizes)


def content_check(symbols: np.ndarray, offsets: np.ndarray) -> int:
    start = records.content_check(symbols)
    return zlib.crc32(np.ascontiguousarray(offsets, "<i8").tobytes(), start)


def decode_blocks(c, plan, coder, block: int, ids, symbols, offsets) -> None:
    """Decode records ``ids`` (consecutive blocks) into the rows of ``symbols``/``offsets``."""
    ids = list(ids)
    for start in range(0, len(ids), BLOCKS_PER_BATCH):
        batch = ids[start : start + BLOCKS_PER_BATCH]
        parts, labels = [], [f"record {i}" for i in batch]
        for i, label in zip(batch, labels, strict=True):
            payload = c.record(i)
            size, pos = read_varint(payload, 0, label)
            if pos + size > len(payload):
                raise ContainerError(f"{label}: the circuit stream runs past the record")
            parts.append((payload[pos : pos + size], payload[pos + size :]))
        sym = records.decode_unchecked(
            coder, [(p, c.index[i].n_samples) for i, (p, _) in zip(batch, parts, strict=True)],
            labels,
        )  # fmt: skip
        row = 0
        for i, (_, uniform), label in zip(batch, parts, labels, strict=True):
            m = c.index[i].n_samples
            lo = (i - ids[0]) * block
            s = sym[row : row + m]
            symbols[lo : lo + m] = s
            offsets[lo : lo + m] = _decode_residuals(plan, s, uniform, label)
            if content_check(s, offsets[lo : lo + m]) != c.index[i].check:
                raise ContainerError(f"{label}: decoded data fails its check (corrupted record)")
            row += m


def _decode_residuals(plan, symbols: np.ndarray, payload: bytes, label: str) -> np.ndarray:
    widths = plan.residual_widths(symbols)
    out = np.zeros(widths.shape, np.int64)
    coded = widths > 1
    if not coded.any():
        if payload:
            raise ContainerError(f"{label}: residual bytes where none are coded")
        return out
    sizes = rans.digit_sizes(widths[coded])
    digits = rans.decode_uniform(payload, sizes[sizes > 0], label=f"{label} residuals")
    out[coded] = rans.join_digits(digits, widths[coded])
    return out
