"""GenMoStyle estimator: shapes, seeded prior sampling, bad input; classifier and regressor."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from latentzip.errors import DataError, ModelError
from latentzip.motion.model import GenMoStyle, RootModel, StyleClassifier, StyleConfig


@pytest.fixture(scope="module")
def toy_data():
    rng = np.random.default_rng(0)
    t = np.linspace(0, 2 * np.pi, 16)
    x, lab, clip = [], [], []
    for c in range(8):
        style = c % 2
        base = np.sin(t[:, None] * (1 + style) + rng.uniform(0, 6, size=6))
        for _ in range(3):
            x.append(base + 0.1 * rng.normal(size=(16, 6)))
            lab.append(style)
            clip.append(c)
    return np.array(x, dtype=np.float32), np.array(lab), np.array(clip)


@pytest.fixture(scope="module", params=["latent", "pose"])
def model(request, toy_data):
    x, lab, clip = toy_data
    cfg = StyleConfig.tiny(space=request.param)
    return GenMoStyle(cfg, n_styles=2).fit(x, lab, clip, progress=False)


def test_shapes(model, toy_data):
    x = toy_data[0][:5]
    assert model.content_codes(x).shape == (5, 8, 4)
    mu, lv = model.style_codes(x, label=np.array([0, 1, 0, 1, -1]))
    assert mu.shape == lv.shape == (5, 4)
    assert model.stylize_reference(x, x[::-1]).shape == x.shape
    assert model.stylize_label(x, 1, seed=0).shape == x.shape
    assert model.sample(x, 3, seed=0).shape == (3, *x.shape)
    assert set(model.history_) >= {"rec_pose", "cycle_pose", "kl", "homo", "content"}
    assert ("rec_latent" in model.history_) == (model.config.space == "latent")


def test_prior_sampling_is_seeded(model, toy_data):
    x = toy_data[0][:4]
    a = model.sample(x, 2, seed=11, label=0)
    b = model.sample(x, 2, seed=11, label=0)
    c = model.sample(x, 2, seed=12, label=0)
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)
    assert not np.allclose(a[0], a[1])  # two draws of one call differ too
    # the label is used: the same code with another label gives another motion
    z = np.zeros((4, 4), dtype=np.float32)
    assert not np.allclose(model.generate(x, z, 0), model.generate(x, z, 1))


def test_bad_inputs(model, toy_data):
    x = toy_data[0][:3]
    with pytest.raises(DataError, match="channels"):
        model.sample(x[..., :5], 1)
    with pytest.raises(DataError, match="multiple of 4"):
        model.sample(x[:, :14], 1)
    with pytest.raises(DataError, match=r"\(N, T, D\)"):
        model.content_codes(x[0])
    with pytest.raises(DataError, match="labels"):
        model.stylize_label(x, 2)
    with pytest.raises(DataError, match="one reference per input"):
        model.stylize_reference(x, x[:2])
    with pytest.raises(DataError, match="style codes"):
        model.generate(x, np.zeros((3, 5)))
    with pytest.raises(DataError, match="NaN"):
        model.sample(np.full_like(x, np.nan), 1)
    with pytest.raises(DataError, match="n must be"):
        model.sample(x, 0)


def test_fit_errors_and_untrained(toy_data):
    x, lab, clip = toy_data
    with pytest.raises(ModelError, match="not trained"):
        GenMoStyle(StyleConfig.tiny(), 2).sample(x, 1)
    with pytest.raises(DataError, match="n_styles"):
        GenMoStyle(StyleConfig.tiny(), 1).fit(x, lab, clip, progress=False)
    with pytest.raises(DataError, match="same length"):
        GenMoStyle(StyleConfig.tiny(), 2).fit(x, lab[:-1], clip, progress=False)
    with pytest.raises(DataError, match="space"):
        GenMoStyle(StyleConfig.tiny(space="joint"), 2)


def test_state_round_trip(model, toy_data):
    x = toy_data[0][:4]
    again = GenMoStyle.from_state(model.state())
    assert np.array_equal(again.sample(x, 2, seed=5, label=1), model.sample(x, 2, seed=5, label=1))
    with pytest.raises(ModelError):
        GenMoStyle.from_state({"config": {}})
    # a state saved before the per-style prior (no prior in the net, no prior keys in the
    # config) loads with N(0, I) for every style, as it was trained
    old = model.state()
    old["net"] = {k: v for k, v in old["net"].items() if not k.startswith("prior")}
    old["config"] = {
        k: v for k, v in old["config"].items() if k not in ("prior_scale", "temperature")
    }
    legacy = GenMoStyle.from_state(old)
    with pytest.raises(ModelError):  # a crafted net entry that is not a mapping
        GenMoStyle.from_state({**model.state(), "net": ["abc"]})
    assert not legacy.net_.prior.detach().any() and not legacy.net_.prior_logvar.detach().any()
    assert legacy.sample(x, 1, seed=0, label=1).shape == (1, *x.shape)


def test_classifier_and_root_regressor_learn(toy_data):
    x, lab, _ = toy_data
    clf = StyleClassifier(2, epochs=30).fit(x, lab, progress=False)
    assert clf.score(x, lab) > 0.9
    assert clf.predict_proba(x).shape == (len(x), 2)
    assert clf.features(x).shape == (len(x), 32)
    # root channels that are a fixed function of the others are recovered
    y = x.copy()
    y[..., :4] = 0.5 * x[..., 4:6].sum(-1, keepdims=True)
    root = RootModel(epochs=60).fit(y, progress=False)
    err = np.abs(root.restore(y)[..., :4] - y[..., :4]).mean()
    assert err < 0.25 * np.abs(y[..., :4]).mean()
    assert np.array_equal(root.restore(y)[..., 4:], y[..., 4:])


def test_prior_components_sit_on_each_styles_training_codes(model, toy_data):
    x, lab, _ = toy_data
    for k in (0, 1):
        mu, _ = model.style_codes(x[lab == k])
        mean = model.net_.prior[k].detach().numpy()
        var = model.net_.prior_logvar[k].detach().exp().numpy()
        assert np.allclose(mean, mu.mean(0), atol=1e-5)
        assert np.allclose(var, mu.var(0) + 1e-4, rtol=1e-4)
    z = model.prior_codes(np.zeros(4000, dtype=int), seed=1)
    assert np.allclose(z.mean(0), model.net_.prior[0].detach().numpy(), atol=0.1)
    assert np.array_equal(z, model.prior_codes(np.zeros(4000, dtype=int), seed=1))
    # unlabelled: the content prior N(0, I)
    z = model.prior_codes(np.full(4000, -1), seed=2)
    assert np.allclose(z.mean(0), 0, atol=0.1) and np.allclose(z.std(0), 1, atol=0.1)
    with pytest.raises(DataError):
        model.prior_codes(np.array([2]))


def test_unlabelled_samples_mix_the_styles_components(model, toy_data):
    """Prior sampling without a label draws each code from one style's component."""
    m = copy.deepcopy(model)
    with torch.no_grad():
        m.net_.prior[0], m.net_.prior[1] = 5.0, -5.0
        m.net_.prior_logvar[:] = -6.0
    codes = []
    m.generate = lambda x, z, label=None: codes.append((z, label)) or x
    m.sample(toy_data[0][:4], 40, seed=0)
    z = np.concatenate([c[0] for c in codes]).mean(axis=1)
    assert np.all(np.abs(np.abs(z) - 5.0) < 0.5)
    assert (z > 0).sum() > 40 and (z < 0).sum() > 40  # both components, about half each
    assert all(c[1] is None for c in codes)  # the generator is not told the style
    codes.clear()
    m.sample(toy_data[0][:4], 10, seed=0, label=1)
    assert np.all(np.abs(np.concatenate([c[0] for c in codes]) + 5.0) < 0.5)
