import numpy as np
from sklearn.metrics import mutual_info_score

from latentzip.circuits.structure import Tree, chow_liu_tree, mutual_information


def chain_data(n: int, d: int, seed: int = 0) -> np.ndarray:
    """A Markov chain X0 -> X1 -> ... with strong dependence, columns shuffled."""
    rng = np.random.default_rng(seed)
    x = np.empty((n, d), dtype=np.int64)
    x[:, 0] = rng.integers(0, 3, n)
    for i in range(1, d):
        flip = rng.random(n) < 0.15
        x[:, i] = np.where(flip, rng.integers(0, 3, n), x[:, i - 1])
    return x


def test_mutual_information_matches_sklearn_when_unbinned():
    x = chain_data(3000, 5)
    mi = mutual_information(x, 3, n_bins=16)
    for i in range(5):
        for j in range(5):
            if i != j:
                assert abs(mi[i, j] - mutual_info_score(x[:, i], x[:, j])) < 1e-9


def test_chow_liu_recovers_a_chain_and_roots_it_at_the_centre():
    x = chain_data(5000, 7)
    tree = chow_liu_tree(mutual_information(x, 3))
    edges = {tuple(sorted((v, int(p)))) for v, p in enumerate(tree.parent) if p >= 0}
    assert edges == {(i, i + 1) for i in range(6)}
    assert tree.root == 3
    assert tree.depth().max() == 3


def test_preorder_keeps_subtrees_contiguous():
    tree = Tree.from_parent(np.array([-1, 0, 0, 1, 1, 2, 5]))
    assert list(tree.order) == [0, 1, 3, 4, 2, 5, 6]
    assert list(tree.subtree_end()) == [7, 4, 3, 4, 7, 7, 7]


def test_constant_variables_still_join_the_tree():
    x = chain_data(500, 4)
    x = np.concatenate([x, np.zeros((500, 3), dtype=np.int64)], axis=1)
    tree = chow_liu_tree(mutual_information(x, 3))
    assert (tree.parent < 0).sum() == 1 and len(tree.order) == 7


def test_counts_from_partitions_add_up_to_the_same_information():
    from latentzip.circuits.structure import joint_counts, mi_from_counts

    x = chain_data(2000, 6)
    parts = sum(joint_counts(part, 3) for part in np.array_split(x, 3))
    np.testing.assert_allclose(mi_from_counts(parts, 2000, 6), mutual_information(x, 3), atol=1e-12)
