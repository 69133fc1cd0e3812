import numpy as np
import torch

from latentzip.continual.encoders import (
    CNNEncoder,
    RandomProjectionEncoder,
    load_cnn,
    train_cnn,
)
from latentzip.continual.learners import FineTuneEncoder


def tiny_images(n: int = 64, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 3, n)


def test_cnn_checkpoint_resumes_to_the_same_weights(tmp_path):
    x, y = tiny_images()
    ckpt = tmp_path / "cnn.pt"
    train_cnn(x, y, feature_dim=16, epochs=1, batch_size=16, checkpoint=ckpt)
    assert torch.load(ckpt, weights_only=True)["epoch"] == 1
    resumed = train_cnn(x, y, feature_dim=16, epochs=2, batch_size=16, checkpoint=ckpt)
    straight = train_cnn(x, y, feature_dim=16, epochs=2, batch_size=16)
    for a, b in zip(resumed.state_dict().values(), straight.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    loaded = load_cnn(ckpt, epochs=2)
    assert torch.equal(CNNEncoder(loaded).encode(x), CNNEncoder(straight).encode(x))


def test_random_projection_encoder_matches_its_module():
    x, _ = tiny_images(8)
    enc = RandomProjectionEncoder(784, 32, seed=1)
    feats = enc.encode(x)
    assert feats.shape == (8, 32)
    module_out = enc.module()(torch.from_numpy(x).float()[:, None] / 255)
    assert torch.allclose(feats, module_out, atol=1e-5)


def test_fine_tuning_leaves_the_frozen_encoder_alone():
    x, y = tiny_images()
    cnn = train_cnn(x, y, feature_dim=16, epochs=1, batch_size=32)
    enc = CNNEncoder(cnn)
    before = enc.encode(x)
    ft = FineTuneEncoder(enc, 3, epochs=2, batch_size=16).partial_fit(x, y)
    assert torch.equal(enc.encode(x), before)
    assert ft.predict(x).shape == (64,)
