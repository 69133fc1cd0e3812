"""Label noise generators and the clean validation split."""

from __future__ import annotations

import numpy as np
import pytest

from latentzip.errors import DataError
from latentzip.noisylabels import Noise, make_split, pair_flip, symmetric
from latentzip.noisylabels.noise import corrupt


def test_transition_matrices_are_exact():
    t = symmetric(4, 0.6)
    np.testing.assert_allclose(np.diag(t), 0.4)
    np.testing.assert_allclose(t[~np.eye(4, dtype=bool)], 0.2)
    p = pair_flip(4, 0.45)
    expected = np.array([[0.55, 0.45, 0, 0], [0, 0.55, 0.45, 0], [0, 0, 0.55, 0.45]])
    np.testing.assert_allclose(p[:3], expected)
    np.testing.assert_allclose(p[3], [0.45, 0, 0, 0.55])
    for m in (t, p):
        np.testing.assert_allclose(m.sum(1), 1.0)


@pytest.mark.parametrize("noise", [Noise("symmetric", 0.5), Noise("pairflip", 0.45)])
def test_corruption_hits_rate_and_transition_matrix(noise):
    c, per_class = 10, 5000
    y = np.repeat(np.arange(c), per_class)
    noisy = noise.apply(y, c, seed=3)
    t = noise.matrix(c)
    empirical = np.zeros((c, c))
    np.add.at(empirical, (y, noisy), 1.0)
    empirical /= per_class
    sd = np.sqrt(t * (1 - t) / per_class)
    assert (np.abs(empirical - t) <= 5 * sd + 1e-12).all()  # zeros in t stay exactly zero
    rate_sd = np.sqrt(noise.rate * (1 - noise.rate) / len(y))
    assert abs((noisy != y).mean() - noise.rate) < 5 * rate_sd


def test_corruption_is_deterministic_by_seed():
    y = np.arange(1000) % 10
    a, b = corrupt(y, symmetric(10, 0.5), 7), corrupt(y, symmetric(10, 0.5), 7)
    np.testing.assert_array_equal(a, b)
    assert (a != corrupt(y, symmetric(10, 0.5), 8)).any()


def test_invalid_noise_raises():
    with pytest.raises(DataError):
        Noise("uniform", 0.2)
    with pytest.raises(DataError):
        symmetric(10, 1.0)


def _images(n, rng):
    return rng.integers(0, 256, (n, 4, 4), dtype=np.uint8), rng.integers(0, 5, n)


def test_validation_split_is_cut_before_noise():
    rng = np.random.default_rng(0)
    (x, y), (xt, yt) = _images(2000, rng), _images(100, rng)
    split = make_split(x, y, xt, yt, Noise("symmetric", 0.5), seed=4)
    assert len(split.x_val) == 200 and len(split.x_train) == 1800
    assert split.x_train.dtype.is_floating_point and float(split.x_train.max()) <= 1.0
    # validation labels are the true labels of their images
    rows = {x[i].tobytes(): y[i] for i in range(len(x))}
    val_images = (split.x_val.numpy() * 255).round().astype(np.uint8)
    truth = [rows[im.tobytes()] for im in val_images]
    np.testing.assert_array_equal(truth, split.y_val.numpy())
    assert abs(split.actual_noise_rate - 0.5) < 0.06
    again = make_split(x, y, xt, yt, Noise("symmetric", 0.5), seed=4)
    assert (again.y_train == split.y_train).all()
