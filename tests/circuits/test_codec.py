import math

import numpy as np
import pytest
from conftest import random_circuit, shared_file
from hypothesis import given
from hypothesis import strategies as st

from latentzip.circuits import HCLT, HCLTConfig
from latentzip.circuits.codec import CodecConfig, Decoder, Encoder, compress, decompress
from latentzip.coding import container
from latentzip.data import load, load_digits
from latentzip.errors import ContainerError, DataError


@pytest.fixture(scope="module")
def digits_model():
    x = load_digits().data
    return HCLT(HCLTConfig.quick()).fit(x[:1500], 17, progress=False)


@pytest.fixture(scope="module")
def digits_test():
    return load_digits().data[1500:].reshape(-1, 8, 8).astype(np.uint8)


def test_round_trip_on_held_out_digits(digits_model, digits_test):
    blob = compress(digits_test, digits_model)
    out = decompress(blob, digits_model)
    assert out.dtype == digits_test.dtype and out.shape == digits_test.shape
    assert np.array_equal(out, digits_test)


def test_coded_size_is_close_to_the_model_likelihood(digits_model):
    x = np.tile(load_digits().data[1500:], (4, 1))  # ~76k symbols
    blob = compress(x, digits_model, CodecConfig(block_size=256))
    bits = -digits_model.score_samples(x).sum() / math.log(2)
    payload = 8 * sum(e.length for e in container.unpack(blob).index)
    assert bits <= payload <= 1.01 * bits
    assert 8 * len(blob) <= 1.01 * bits + 8 * 600  # + header, index and seal


@given(
    n=st.integers(1, 40),
    d=st.integers(1, 12),
    k=st.integers(1, 4),
    c=st.integers(2, 9),
    block=st.integers(1, 17),
    seed=st.integers(0, 10**6),
    dtype=st.sampled_from([np.uint8, np.int16, np.int32, np.int64]),
)
def test_round_trip_property(n, d, k, c, block, seed, dtype):
    circuit = random_circuit(d, k, c, seed=seed, concentration=0.3)
    rng = np.random.default_rng(seed)
    x = rng.integers(0, c, (n, d)).astype(dtype)  # random data, not only model samples
    blob = compress(x, circuit, CodecConfig(block_size=block, batch_size=2 * block))
    out = decompress(blob, circuit)
    assert out.dtype == x.dtype and np.array_equal(out, x)


def test_edge_cases_single_value_and_extreme_symbols():
    circuit = random_circuit(3, 2, 256, seed=0, concentration=0.01)
    for x in (
        np.zeros((1, 3), np.uint8),
        np.full((5, 3), 255, np.uint8),
        np.array([[0, 255, 0]], np.uint8),
    ):
        assert np.array_equal(decompress(compress(x, circuit), circuit), x)
    one = random_circuit(1, 1, 2, seed=0)
    assert np.array_equal(decompress(compress(np.array([[1]]), one), one), [[1]])


def test_streaming_encoder_equals_one_shot(digits_model, digits_test):
    enc = Encoder(digits_model, CodecConfig(block_size=10))
    for start in range(0, len(digits_test), 33):
        enc.add(digits_test[start : start + 33])
    one_shot = compress(digits_test, digits_model, CodecConfig(block_size=10))
    assert enc.finish() == one_shot


def test_batch_composition_does_not_change_any_record(digits_model, digits_test):
    big = compress(digits_test, digits_model, CodecConfig(block_size=8, batch_size=296))
    small = compress(digits_test, digits_model, CodecConfig(block_size=8, batch_size=8))
    assert big == small
    c = container.unpack(big)
    alone = compress(digits_test[40:48], digits_model, CodecConfig(block_size=8))
    assert container.unpack(alone).record(0) == c.record(5)
    dec = Decoder(big, digits_model)
    assert np.array_equal(dec.record(5), digits_test[40:48])


def test_decoding_one_record_touches_no_other(digits_model, digits_test):
    blob = compress(digits_test, digits_model, CodecConfig(block_size=16))
    c = container.unpack(blob)
    damaged = bytearray(blob)
    for i, e in enumerate(c.index):
        if i != 3:  # destroy every other record
            start = c.payload_start + e.offset
            damaged[start : start + e.length] = bytes(e.length)
    dec = Decoder(bytes(damaged), digits_model)
    assert np.array_equal(dec.record(3), digits_test[48:64])
    with pytest.raises(ContainerError, match="record 2"):
        dec.record(2)


def test_every_flipped_byte_and_every_truncation_is_reported():
    circuit = random_circuit(4, 2, 5, seed=2)
    x = np.random.default_rng(0).integers(0, 5, (6, 4)).astype(np.uint8)
    blob = compress(x, circuit, CodecConfig(block_size=2))
    payload_start = container.unpack(blob).payload_start
    for pos in range(len(blob)):
        bad = bytearray(blob)
        bad[pos] ^= 0xFF
        with pytest.raises(ContainerError) as info:
            decompress(bytes(bad), circuit)
        if pos >= payload_start:
            assert "record" in str(info.value)
    for cut in range(len(blob)):
        with pytest.raises(ContainerError):
            decompress(blob[:cut], circuit)


def test_wrong_model_is_refused(digits_model, digits_test):
    blob = compress(digits_test[:10], digits_model)
    other = HCLT(HCLTConfig.quick(seed=1)).fit(load_digits().data[:500], 17, progress=False)
    with pytest.raises(ContainerError, match="wrong model"):
        decompress(blob, other)


def test_embedded_model_decodes_without_the_model_file(digits_model, digits_test):
    blob = compress(digits_test, digits_model, CodecConfig(embed_model=True))
    assert np.array_equal(decompress(blob), digits_test)
    with pytest.raises(ContainerError, match="no embedded model"):
        decompress(compress(digits_test, digits_model))


def test_bad_inputs_are_refused(digits_model):
    with pytest.raises(DataError, match="empty"):
        compress(np.zeros((0, 8, 8), np.uint8), digits_model)
    with pytest.raises(DataError, match="dtype"):
        compress(np.zeros((2, 8, 8), np.float32), digits_model)
    with pytest.raises(DataError, match="outside"):
        compress(np.full((2, 8, 8), 17, np.uint8), digits_model)
    with pytest.raises(Exception, match="variables"):
        compress(np.zeros((2, 7, 7), np.uint8), digits_model)
    with pytest.raises(ContainerError, match="magic"):
        decompress(b"PK\x03\x04 not ours", digits_model)
    with pytest.raises(ContainerError):
        decompress(b"", digits_model)


@pytest.mark.skipif(
    "not __import__('os').environ.get('CI') and not __import__('os').environ.get('LATENTZIP_SLOW')",
    reason="long: runs in CI or with LATENTZIP_SLOW=1",
)
def test_all_mnist_test_images_round_trip():
    train = load(shared_file("mnist/train-images-idx3-ubyte.gz")).data
    test = load(shared_file("mnist/t10k-images-idx3-ubyte.gz"))
    cfg = HCLTConfig(n_latents=8, epochs=1, full_batch_epochs=0, mi_records=2000)
    model = HCLT(cfg).fit(train[:4000], 256, progress=False)
    images = test.data.reshape(-1, 28, 28)
    blob = compress(images, model, CodecConfig(batch_size=2048))
    assert np.array_equal(decompress(blob, model), images)
    bits = -model.score_samples(test.data).sum() / math.log(2)
    assert 8 * len(blob) <= 1.01 * bits
    # records of the 10,000-image batch are the records of the same images coded alone
    big = container.unpack(blob)
    for i in (0, 77, len(big.index) - 1):
        alone = compress(images[64 * i : 64 * (i + 1)], model)
        assert container.unpack(alone).record(0) == big.record(i)
        assert np.array_equal(Decoder(blob, model).record(i), images[64 * i : 64 * (i + 1)])


def test_thread_count_does_not_change_the_bytes(digits_model, digits_test):
    import numba

    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = compress(digits_test, digits_model)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        many = compress(digits_test, digits_model)
    finally:
        numba.set_num_threads(before)
    assert one == many
