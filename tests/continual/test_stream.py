import numpy as np
import pytest
from conftest import shared_file

from latentzip.continual.evaluate import StreamResult, per_class_accuracy, run_iid, run_stream
from latentzip.continual.learners import LinearProbe
from latentzip.continual.stream import (
    ClassIncrementalStream,
    class_split,
    load_labelled,
)
from latentzip.errors import DataError


def test_class_split():
    assert class_split(10, 5) == ((0, 1), (2, 3), (4, 5), (6, 7), (8, 9))
    with pytest.raises(DataError, match="equal tasks"):
        class_split(10, 3)


def test_stream_gives_each_class_once_in_its_task():
    y = np.random.default_rng(0).integers(0, 6, 300)
    stream = ClassIncrementalStream(y, ((0, 3), (1, 4), (2, 5)), seed=1)
    parts = list(stream)
    assert sorted(np.concatenate(parts).tolist()) == list(range(300))
    for rows, task in zip(parts, stream.tasks, strict=True):
        assert set(y[rows].tolist()) == set(task)
    with pytest.raises(DataError, match="more than one task"):
        ClassIncrementalStream(y, ((0, 1), (1, 2)))
    with pytest.raises(DataError, match="no training samples"):
        ClassIncrementalStream(y, ((0, 7),))


def test_per_class_accuracy_and_result():
    acc = per_class_accuracy([0, 0, 1, 1, 2], [0, 1, 1, 1, 0], 4)
    assert acc[:3].tolist() == [0.5, 1.0, 0.0] and np.isnan(acc[3])
    per_class = np.array([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]])
    r = StreamResult("x", ((0, 1), (2, 3)), per_class, 0.0)
    assert r.accuracy.tolist() == [0.5, 0.5] and r.seen_accuracy.tolist() == [1.0, 0.5]


def test_run_stream_and_iid_on_separable_features():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 50)
    x = (np.eye(4)[y] * 3 + 0.1 * rng.standard_normal((200, 4))).astype(np.float32)
    stream = ClassIncrementalStream(y, class_split(4, 2))
    r = run_stream(LinearProbe(4, 4, epochs=50, lr=0.05), "linear", stream, x, x, y, 4)
    assert r.per_class.shape == (2, 4)
    assert r.per_class[0, :2].tolist() == [1.0, 1.0]
    assert r.per_class[1, 2:].tolist() == [1.0, 1.0]
    assert run_iid(LinearProbe(4, 4, epochs=50, lr=0.05), x, y, x, y, 4) == 1.0


def test_shared_mnist_labels():
    path = shared_file("mnist/t10k-labels-idx1-ubyte.gz")
    test = load_labelled(path.parents[1], "mnist", "test")
    assert test.images.shape == (10_000, 28, 28) and test.labels.shape == (10_000,)
    assert np.bincount(test.labels).tolist()[:2] == [980, 1135]
