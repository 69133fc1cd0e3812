import pytest

from latentzip.coding import container
from latentzip.errors import ContainerError


def test_pack_unpack_round_trip():
    records = [(b"abcd", 3), (b"", 1), (b"0123456789ab", 2)]
    blob = container.pack(7, {"x": 1}, records, model=b"MODEL")
    c = container.unpack(blob, codec=7)
    assert c.header == {"x": 1} and c.model == b"MODEL"
    assert [c.record(i) for i in range(3)] == [r for r, _ in records]
    assert [e.n_samples for e in c.index] == [3, 1, 2]


def test_codec_and_version_are_checked():
    blob = container.pack(7, {}, [(b"abcd", 1)])
    with pytest.raises(ContainerError, match="codec 7"):
        container.unpack(blob, codec=1)
    bad = bytearray(blob)
    bad[8] = 99  # version field; fix its crc so only the version is wrong
    import struct
    import zlib

    bad[28:32] = struct.pack("<I", zlib.crc32(bytes(bad[:28])))
    with pytest.raises(ContainerError, match="version 99"):
        container.unpack(bytes(bad))


def test_missing_record_index():
    c = container.unpack(container.pack(1, {}, [(b"abcd", 1)]))
    with pytest.raises(ContainerError, match="does not exist"):
        c.record(1)
