"""Dropout and nested dropout: the k distribution, masking, prefix scoring, learned ordering."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn

from latentzip.bottlenecks import Dropout, NestedDropout
from latentzip.bottlenecks.dropout import (
    best_prefix,
    keep_prefix,
    prefix_accuracy,
    prefix_accuracy_reference,
    prefix_logits,
)


@pytest.mark.parametrize(("d", "sigma", "mu"), [(32, 8.0, 0.0), (10, 3.0, 4.0)])
def test_k_probabilities_follow_the_formula(d, sigma, mu):
    k = np.arange(1, d + 1)
    expected = np.exp(-(((k - mu) / sigma) ** 2))
    expected /= expected.sum()
    np.testing.assert_allclose(NestedDropout(d, sigma, mu).probabilities().numpy(), expected)


def test_sampled_k_matches_its_distribution():
    nd = NestedDropout(32, sigma=8.0)
    draws = nd.sample_k(200_000, generator=torch.Generator().manual_seed(0)).numpy()
    assert draws.min() >= 1 and draws.max() <= 32
    counts = np.bincount(draws, minlength=33)[1:]
    p = nd.probabilities().numpy()
    keep = p * len(draws) >= 5  # chi-square needs enough expected counts per cell
    observed = np.append(counts[keep], counts[~keep].sum())
    expected = np.append(p[keep], p[~keep].sum()) * len(draws)
    assert stats.chisquare(observed, expected).pvalue > 1e-3
    # a wrong distribution (sigma 6 instead of 8) is rejected by the same test
    q = NestedDropout(32, sigma=6.0).probabilities().numpy()
    wrong = np.append(q[keep], q[~keep].sum()) * len(draws)
    assert stats.chisquare(observed, wrong).pvalue < 1e-6


def test_one_prefix_per_minibatch_in_training_and_fixed_k_in_eval():
    torch.manual_seed(0)
    nd = NestedDropout(16, sigma=4.0).train()
    x = torch.rand(8, 16) + 0.5
    ks = set()
    for _ in range(50):
        y = nd(x)
        kept = (y != 0).sum(1)
        assert (kept == kept[0]).all()  # the same k for every row
        k = int(kept[0])
        torch.testing.assert_close(y, keep_prefix(x, k))
        ks.add(k)
    assert len(ks) > 3
    nd.eval()
    nd.k = 5
    torch.testing.assert_close(nd(x), keep_prefix(x, 5))


def test_dropout_is_identity_in_eval_and_drops_in_training():
    torch.manual_seed(0)
    x = torch.ones(64, 32)
    d = Dropout(0.5)
    assert 0.3 < float((d.train()(x) == 0).double().mean()) < 0.7
    torch.testing.assert_close(d.eval()(x), x)
    with pytest.raises(ValueError):
        Dropout(1.0)


def test_prefix_scoring_fast_path_matches_reference():
    g = torch.Generator().manual_seed(1)
    features, labels = torch.randn(300, 12, generator=g), torch.randint(0, 4, (300,), generator=g)
    head = nn.Linear(12, 4, bias=False)
    logits = prefix_logits(features, head.weight)
    for k in (1, 5, 12):
        torch.testing.assert_close(logits[k - 1], head(keep_prefix(features, k)))
    fast = prefix_accuracy(features, labels, head, chunk=64)
    torch.testing.assert_close(fast, prefix_accuracy_reference(features, labels, head))


def test_best_prefix_breaks_ties_towards_smaller_k():
    assert best_prefix(torch.tensor([0.1, 0.7, 0.5, 0.7])) == 2
    assert best_prefix(np.array([0.9])) == 1


def _prefix_run(nested: bool) -> tuple[float, float]:
    """Train a 16-feature MLP on 4 separable classes; accuracy keeping the first / last half."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(4, 20, generator=g) * 3
    y = torch.randint(0, 4, (2000,), generator=g)
    x = centres[y] + torch.randn(2000, 20, generator=g)
    features = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 16), nn.ReLU())
    bottleneck = NestedDropout(16, sigma=4.0) if nested else nn.Identity()
    head = nn.Linear(16, 4, bias=False)
    net = nn.Sequential(features, bottleneck, head)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(15):
        for idx in torch.randperm(2000, generator=g).split(64):
            loss = nn.functional.cross_entropy(net(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        f = features(x)
        first = (head(keep_prefix(f, 8)).argmax(1) == y).double().mean()
        last = (head(f - keep_prefix(f, 8)).argmax(1) == y).double().mean()
    return float(first), float(last)


def test_nested_dropout_learns_a_prefix_ordered_representation():
    first, last = _prefix_run(nested=True)
    # dropping the trailing half costs little; dropping the leading half costs much more
    assert first > 0.9
    assert last < first - 0.3
    # control: without nested dropout the two halves are far closer to interchangeable
    plain_first, plain_last = _prefix_run(nested=False)
    assert (first - last) > (plain_first - plain_last) + 0.2
