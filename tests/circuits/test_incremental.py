import numpy as np
from conftest import random_circuit
from hypothesis import given
from hypothesis import strategies as st

from latentzip.circuits.incremental import IncrementalConditionals
from latentzip.circuits.reference import naive_conditionals


@given(d=st.integers(1, 9), k=st.integers(1, 5), c=st.integers(2, 7), seed=st.integers(0, 10**6))
def test_incremental_conditionals_equal_naive_marginal_passes(d, k, c, seed):
    circuit = random_circuit(d, k, c, seed=seed, concentration=0.5)
    x = circuit.sample(7, np.random.default_rng(seed))
    fast = IncrementalConditionals(circuit, len(x)).conditionals(x)
    slow = naive_conditionals(circuit, x, circuit.tree.order)
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-9)
    np.testing.assert_allclose(fast.sum(-1), 1.0, atol=1e-12)


def test_product_of_conditionals_is_the_joint(small_circuit):
    x = small_circuit.sample(50, np.random.default_rng(0))
    cond = IncrementalConditionals(small_circuit, len(x)).conditionals(x)
    order = small_circuit.tree.order
    picked = np.take_along_axis(cond, x[:, order][..., None], -1)[..., 0]
    log_p, _, _ = small_circuit.upward(x)
    np.testing.assert_allclose(np.log(picked).sum(1), log_p, rtol=1e-12)


def test_per_record_results_do_not_depend_on_the_batch(small_circuit):
    x = small_circuit.sample(300, np.random.default_rng(1))
    together = IncrementalConditionals(small_circuit, len(x)).conditionals(x)
    alone = IncrementalConditionals(small_circuit, 1).conditionals(x[123:124])
    assert np.array_equal(together[123], alone[0])  # bit for bit, not approximately
