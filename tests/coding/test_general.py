"""Best-of general compressors: exact, tagged, and bounded on hostile input."""

import contextlib
import os

import pytest

from latentzip.coding import general
from latentzip.errors import ContainerError

DATA = [b"", b"a", os.urandom(2000), b"hello world " * 5000]


@pytest.mark.parametrize("method", [general.XZ, general.ZSTD, general.BROTLI])
@pytest.mark.parametrize("data", DATA, ids=["empty", "one", "random", "text"])
def test_each_method_round_trips_and_is_bounded(method, data):
    packed = bytes([method]) + general.compress(data, method)
    assert general.unpack(packed, len(data), "t") == data
    if data:
        with pytest.raises(ContainerError, match="beyond"):
            general.unpack(packed, len(data) - 1, "t")
    for cut in {1, len(packed) // 2, len(packed) - 1} - {0, len(packed)}:
        with contextlib.suppress(ContainerError):
            assert general.unpack(packed[:cut], 10**6, "t") != data or not data


def test_pack_picks_the_smallest():
    for data in DATA:
        packed = general.pack(data)
        assert general.unpack(packed, len(data), "t") == data
        assert len(packed) <= 1 + len(data)
    assert general.method_of(general.pack(b"hello world " * 5000)) != "stored"
    with pytest.raises(ContainerError, match="unknown"):
        general.unpack(b"\x09abc", 100, "t")
