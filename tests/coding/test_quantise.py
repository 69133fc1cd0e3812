import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from latentzip.coding import PRECISION, quantise


@given(
    arrays(
        np.float64, st.tuples(st.integers(1, 6), st.integers(1, 300)), elements=st.floats(0, 1e6)
    ),
    st.data(),
)
def test_frequencies_sum_to_the_precision_and_keep_every_symbol(probs, data):
    probs[:, 0] += 1e-300  # rows need positive mass
    n_valid = data.draw(st.integers(1, probs.shape[1]))
    probs[:, 0] = np.maximum(probs[:, 0], 1e-12)
    freqs = quantise(probs, n_valid)
    assert (freqs.sum(1) == 2**PRECISION).all()
    assert (freqs[:, :n_valid] >= 1).all()
    assert (freqs[:, n_valid:] == 0).all()


def test_rows_are_quantised_independently_of_each_other():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.full(256, 0.05), size=500)
    together = quantise(probs)
    for i in (0, 17, 499):
        assert np.array_equal(quantise(probs[i : i + 1])[0], together[i])


def test_quantised_distribution_is_close_to_the_input():
    probs = np.random.default_rng(1).dirichlet(np.ones(10), size=3)
    freqs = quantise(probs)
    np.testing.assert_allclose(freqs / 2**PRECISION, probs, atol=1e-6)


def test_bad_arguments():
    with pytest.raises(ValueError):
        quantise(np.ones((1, 4)), 5)
