"""The encoder learned without labels, the labels trick and the replay baseline."""

import numpy as np
import pytest
import torch

from latentzip.continual import PatchKMeansEncoder, ReplayProbe
from latentzip.continual.evaluate import run_stream
from latentzip.continual.learners import KVLearner
from latentzip.continual.stream import ClassIncrementalStream, class_split
from latentzip.errors import LatentzipError


def shapes(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Bars, crosses and squares at random places and brightness: (n, 16, 16) uint8."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    img = np.zeros((n, 16, 16), np.uint8)
    for i, c in enumerate(y):
        r, col = rng.integers(2, 9, 2)
        v = rng.integers(120, 256)
        if c == 0:
            img[i, r : r + 6, col + 2] = v
        elif c == 1:
            img[i, r + 3, col : col + 6] = v
            img[i, r : r + 6, col + 3] = v
        else:
            img[i, r : r + 5, col : col + 5] = v
            img[i, r + 1 : r + 4, col + 1 : col + 4] = 0
    return img, y


@pytest.fixture(scope="module")
def encoder():
    images, _ = shapes(400)
    return PatchKMeansEncoder.fit(images, n_centroids=16, n_patches=5000, trained_on="shapes")


def test_patch_features_separate_shapes_never_seen_with_labels(encoder):
    train, y_train = shapes(300, seed=1)
    test, y_test = shapes(200, seed=2)
    from sklearn.linear_model import LogisticRegression

    f_train, f_test = encoder.encode(train), encoder.encode(test)
    assert f_train.shape == (300, 64) and torch.isfinite(f_train).all()
    # a linear classifier on the features beats the same on the pixels (shapes move around)
    score = {}
    for name, a, b in (
        ("features", f_train.numpy(), f_test.numpy()),
        ("pixels", train.reshape(300, -1) / 255, test.reshape(200, -1) / 255),
    ):
        score[name] = LogisticRegression(max_iter=2000).fit(a, y_train).score(b, y_test)
    assert score["features"] >= 0.95 and score["features"] > score["pixels"] + 0.1


def test_the_encoder_file_round_trips_and_says_what_it_saw(encoder, tmp_path):
    path = encoder.save(tmp_path / "enc.npz")
    back = PatchKMeansEncoder.load(path)
    images, _ = shapes(20, seed=3)
    assert torch.equal(back.encode(images), encoder.encode(images))
    assert back.meta["trained_on"] == "shapes" and back.meta["n_centroids"] == 16
    with pytest.raises(LatentzipError):
        PatchKMeansEncoder.fit(np.zeros((3, 4, 4), np.uint8))


def _separable(n_classes=4, per_class=60, seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(n_classes), per_class)
    x = np.eye(n_classes)[y] * 2 + 0.3 * rng.standard_normal((len(y), n_classes))
    return torch.as_tensor(x, dtype=torch.float32), y


def test_the_labels_trick_leaves_old_classes_votes_alone():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 150)
    x = torch.as_tensor(rng.standard_normal((4, 8))[y] * 1.5 + rng.standard_normal((600, 8)),
                        dtype=torch.float32)  # fmt: skip
    stream = ClassIncrementalStream(y, class_split(4, 2))
    kw = dict(n_codebooks=16, n_pairs=6, key_dim=2, epochs=20, lr=0.1)
    old = {}
    for trick in (False, True):
        kv = KVLearner(8, 4, present_classes_only=trick, **kw).init_keys(x, epochs=3)
        old[trick] = run_stream(kv, "kv", stream, x, x, y, 4).per_class[-1, :2].mean()
    # 6 keys per head for 4 classes: keys are shared by old and new classes; without the trick
    # the new classes' softmax pushes the old ones' votes down on those keys (0.6 vs 0.9 here)
    assert old[True] > 0.8 and old[True] > old[False] + 0.15


def test_replay_keeps_a_balanced_buffer_and_remembers():
    x, y = _separable(per_class=100)
    stream = ClassIncrementalStream(y, class_split(4, 2))
    probe = ReplayProbe(4, 4, buffer_size=40, epochs=20, lr=0.05)
    result = run_stream(probe, "replay", stream, x, x, y, 4)
    assert sorted(probe._buffer) == [0, 1, 2, 3]
    assert [len(v) for v in probe._buffer.values()] == [10, 10, 10, 10]
    assert result.accuracy[-1] > 0.9  # old classes kept through the buffer


def test_counted_values_do_not_depend_on_the_order_of_the_tasks():
    from latentzip.continual.evaluate import run_iid

    rng = np.random.default_rng(1)
    y = np.repeat(np.arange(6), 80)
    x = torch.as_tensor(rng.standard_normal((6, 8))[y] * 1.5 + rng.standard_normal((480, 8)),
                        dtype=torch.float32)  # fmt: skip
    kw = dict(n_codebooks=16, n_pairs=12, key_dim=3, value_rule="counts")

    def learner():
        return KVLearner(8, 6, **kw).init_keys(x, epochs=3)

    stream = ClassIncrementalStream(y, class_split(6, 3))
    first = learner()
    result = run_stream(first, "kv", stream, x, x, y, 6)
    assert np.isnan(result.per_class[0, 2:]).sum() == 0 and (result.per_class[0, 2:] == 0).all()
    twin = learner()
    iid = run_iid(twin, x, y, x, y, 6)
    assert torch.allclose(first.bottleneck.values, twin.bottleneck.values)
    assert result.accuracy[-1] == pytest.approx(iid) and iid > 0.8
    with pytest.raises(ValueError, match="voting decoder"):
        KVLearner(8, 6, value_rule="counts", decoder="mlp")


def test_a_damaged_or_crafted_encoder_file_is_refused_cleanly(encoder, tmp_path):
    import io

    from latentzip.errors import ModelError

    good = encoder.save(tmp_path / "enc.npz")
    with np.load(good) as z:
        arrays = {k: z[k] for k in z.files}

    def crafted(**change):
        buf = io.BytesIO()
        np.savez(buf, **{k: v for k, v in {**arrays, **change}.items() if v is not None})
        path = tmp_path / "crafted.npz"
        path.write_bytes(buf.getvalue())
        return path

    blob = good.read_bytes()
    (tmp_path / "cut.npz").write_bytes(blob[: len(blob) // 2])
    bad = [
        tmp_path / "cut.npz",
        crafted(components=None),
        crafted(whiten=arrays["whiten"][:-1]),
        crafted(mean=np.float32(1.0)),
        crafted(centroids=arrays["centroids"].astype(np.int64)),
        crafted(feature_mean=np.full_like(arrays["feature_mean"], np.nan)),
        crafted(meta=np.frombuffer(b'{"patch": 1000}', np.uint8)),
        crafted(meta=np.frombuffer(b"[1, 2]", np.uint8)),
        crafted(meta=np.frombuffer(b"\\xff{", np.uint8)),
    ]
    for path in bad:
        with pytest.raises(ModelError):
            PatchKMeansEncoder.load(path)
