import struct
import zlib

import pytest

from latentzip.coding import container
from latentzip.errors import ContainerError


def test_pack_unpack_round_trip():
    records = [(b"abcd", 3), (b"", 1, 7), (b"0123456789ab", 2)]
    blob = container.pack(7, 3, {"x": 1}, records, model=b"MODEL")
    c = container.unpack(blob, codec=7)
    assert c.header["x"] == 1 and c.model == b"MODEL" and c.codec_version == 3
    assert set(c.header) == {"x", "seal"} and len(c.header["seal"]) == 22
    assert [c.record(i) for i in range(3)] == [r[0] for r in records]
    assert [e.n_samples for e in c.index] == [3, 1, 2]
    assert [e.check for e in c.index] == [0, 7, 0]


def _fix_preamble(bad: bytearray) -> bytes:
    bad[32:36] = struct.pack("<I", zlib.crc32(bytes(bad[:32])))
    return bytes(bad)


def test_codec_and_version_are_checked():
    blob = container.pack(7, 1, {}, [(b"abcd", 1)])
    with pytest.raises(ContainerError, match="codec 7"):
        container.unpack(blob, codec=1)
    bad = bytearray(blob)
    bad[8] = 99  # framing version; fix its crc so only the version is wrong
    with pytest.raises(ContainerError, match="framing version 99"):
        container.unpack(_fix_preamble(bad))


def test_claims_beyond_the_file_are_refused_before_reading():
    blob = container.pack(7, 1, {}, [(b"abcd", 1)])
    for offset, value in ((16, 2**31), (20, 2**31), (24, 2**40)):  # header, records, model
        bad = bytearray(blob)
        bad[offset : offset + (8 if offset == 24 else 4)] = value.to_bytes(
            8 if offset == 24 else 4, "little"
        )
        with pytest.raises(ContainerError, match="more than the"):
            container.unpack(_fix_preamble(bad))


def test_headers_of_the_wrong_shape_are_refused():
    for head in (b"[1, 2]", b"[" * 100_000 + b"]" * 100_000, b"\xff"):
        blob = bytearray(container.pack(7, 1, {}, [(b"abcd", 1)]))
        old_len = struct.unpack_from("<I", blob, 16)[0]
        body = blob[36 + old_len + 4 :]
        blob = blob[:36] + head + struct.pack("<I", zlib.crc32(head)) + body
        blob[16:20] = struct.pack("<I", len(head))
        with pytest.raises(ContainerError, match="header"):
            container.unpack(_fix_preamble(blob))


def test_an_edited_header_or_index_fails_the_seal_even_with_crcs_recomputed():
    blob = container.pack(7, 1, {"shape": [3, 4]}, [(b"abcd", 5, 9)])
    head_len = struct.unpack_from("<I", blob, 16)[0]
    n_samples_at = 40 + head_len + 12
    edited_index = blob[:n_samples_at] + b"\x06" + blob[n_samples_at + 1 :]
    for edited in (blob.replace(b"[3,4]", b"[4,3]"), edited_index):
        assert edited != blob
        bad = bytearray(edited)
        bad[36 + head_len : 40 + head_len] = struct.pack("<I", zlib.crc32(bad[36 : 36 + head_len]))
        index = slice(40 + head_len, 40 + head_len + 24)
        bad[index.stop : index.stop + 4] = struct.pack("<I", zlib.crc32(bad[index]))
        with pytest.raises(ContainerError, match="seal"):
            container.unpack(_fix_preamble(bad))


def test_missing_record_index():
    c = container.unpack(container.pack(1, 1, {}, [(b"abcd", 1)]))
    with pytest.raises(ContainerError, match="does not exist"):
        c.record(1)
