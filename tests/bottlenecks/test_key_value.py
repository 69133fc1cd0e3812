import numpy as np
import pytest
import torch

from latentzip.bottlenecks import KeyValueBottleneck
from latentzip.bottlenecks.key_value import ema_kmeans, nearest_keys, random_projections
from latentzip.continual.learners import KVLearner
from latentzip.errors import LatentzipError


def blobs(n_per: int = 200, std: float = 0.02, seed: int = 0):
    centres = np.array([[0.2, 0.2], [0.2, 0.8], [0.8, 0.2], [0.8, 0.8]], dtype=np.float32)
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(4), n_per)
    x = centres[y] + std * rng.standard_normal((len(y), 2)).astype(np.float32)
    return torch.from_numpy(x), y, centres


@pytest.fixture
def learner():
    x, y, _ = blobs()
    lrn = KVLearner(2, 4, n_codebooks=5, n_pairs=16, key_dim=2, epochs=1, seed=3)
    return lrn.init_keys(torch.rand(2000, 2, generator=torch.Generator().manual_seed(0))), x, y


def test_nearest_keys_matches_brute_force():
    g = torch.Generator().manual_seed(0)
    z, keys = torch.randn(50, 3, 4, generator=g), torch.randn(3, 7, 4, generator=g)
    ref = torch.stack([torch.cdist(z[:, c], keys[c]).argmin(1) for c in range(3)], dim=1)
    assert torch.equal(nearest_keys(z, keys), ref)


def test_projections_have_unit_columns():
    p = random_projections(10, 4, 3, seed=1)
    assert p.shape == (4, 10, 3)
    assert torch.allclose(p.norm(dim=1), torch.ones(4, 3))


def test_keys_stay_frozen_during_value_training(learner):
    lrn, x, y = learner
    kv = lrn.bottleneck
    keys, proj = kv.keys.clone(), kv.projection.clone()
    assert [name for name, _ in kv.named_parameters()] == ["values"]
    for task in ((0, 1), (2, 3)):
        rows = np.isin(y, task)
        lrn.partial_fit(x[rows], y[rows])
    assert torch.equal(kv.keys, keys) and torch.equal(kv.projection, proj)
    assert kv.values.abs().sum() > 0  # the values did train


def test_a_step_changes_only_the_values_of_selected_keys(learner):
    lrn, x, y = learner
    kv = lrn.bottleneck
    lrn.batch_size = 10_000  # one step per epoch
    first = np.isin(y, (0, 1))
    lrn.partial_fit(x[first], y[first])
    before = kv.value_table.detach().clone()
    rows = np.isin(y, (2, 3))
    idx = kv.key_indices(x[rows], mask_unused=False)
    selected = torch.zeros(kv.n_codebooks, kv.n_pairs, dtype=torch.bool)
    selected[torch.arange(kv.n_codebooks).expand_as(idx), idx] = True
    lrn.fit_indices(idx, y[rows])
    changed = (kv.value_table.detach() != before).any(dim=-1)
    assert torch.equal(changed, selected)
    assert 0 < selected.sum() < selected.numel()


def test_unused_keys_are_masked_at_evaluation():
    kv = KeyValueBottleneck(1, 2, 3, value_dim=2, projection="identity")
    kv.keys.copy_(torch.tensor([[[0.0], [1.0], [2.0]], [[0.0], [1.0], [2.0]]]))
    kv.initialised.fill_(True)
    kv.mark_used(torch.tensor([[0, 0], [2, 0]]))  # head 0: keys 0, 2; head 1: key 0
    x = torch.tensor([[1.1], [0.4]])
    assert kv.key_indices(x, mask_unused=False).tolist() == [[1, 1], [0, 0]]
    kv.eval()
    assert kv.key_indices(x).tolist() == [[2, 0], [0, 0]]  # falls back to the nearest used
    kv.used.zero_()  # no key used: nothing to fall back to, all keys allowed
    assert kv.key_indices(x).tolist() == [[1, 1], [0, 0]]
    kv.train()
    kv.mark_used(torch.tensor([[0, 0]]))
    assert kv.key_indices(x).tolist() == [[1, 1], [0, 0]]  # training mode: no mask


def test_ema_kmeans_converges_on_separable_blobs():
    x, _, centres = blobs(std=0.02)
    keys = ema_kmeans(x[:, None, :], 12, epochs=15, batch_size=128, seed=0)[0].numpy()
    dist = np.linalg.norm(keys[:, None] - centres[None], axis=-1)
    assert dist.min(axis=1).max() < 0.05  # no key stranded between blobs
    assert np.bincount(dist.argmin(axis=1), minlength=4).min() >= 1  # every blob has keys
    sq = ((x.numpy()[:, None] - keys[None]) ** 2).sum(-1).min(axis=1).mean()
    assert sq < 2 * 0.02**2  # below the blobs' own variance: the keys cover each blob


def test_ema_kmeans_reseeds_dead_keys_from_the_batch():
    x, _, centres = blobs()
    far = torch.full((1, 8, 2), 10.0)
    far[0, 0] = 0.5  # one live key; the seven far away are never picked and die
    keys = ema_kmeans(x[:, None, :], 8, epochs=20, batch_size=128, init=far, seed=1)[0]
    d = torch.cdist(keys[1:], torch.from_numpy(centres))
    assert d.min(dim=1).values.max() < 0.1  # every dead key was moved into a blob
    assert len(set(d.argmin(dim=1).tolist())) == 4


def test_keys_must_be_initialised_and_options_checked():
    kv = KeyValueBottleneck(4, 2, 8, key_dim=2, value_dim=3)
    with pytest.raises(LatentzipError, match="init_keys"):
        kv.key_indices(torch.zeros(1, 4))
    with pytest.raises(LatentzipError, match="identity"):
        KeyValueBottleneck(4, 2, 8, key_dim=2, projection="identity")
    with pytest.raises(LatentzipError, match="decoder"):
        KeyValueBottleneck(4, 2, 8, decoder="attention")


def test_learned_decoder_option_trains():
    x, y, _ = blobs(n_per=50)
    lrn = KVLearner(2, 4, n_codebooks=4, n_pairs=8, key_dim=2, decoder="mlp", epochs=30)
    lrn.init_keys(x, epochs=5).partial_fit(x, y)
    assert (lrn.predict(x) == y).mean() > 0.95
