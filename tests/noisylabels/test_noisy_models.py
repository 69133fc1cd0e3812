"""The CPU-sized classifiers: shapes, bias-free heads, bottleneck placement."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from latentzip.bottlenecks import Dropout, NestedDropout
from latentzip.noisylabels import make_model


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
@pytest.mark.parametrize(
    ("kind", "cls"), [("none", nn.Identity), ("dropout", Dropout), ("nested", NestedDropout)]
)
def test_models_put_the_bottleneck_on_the_last_feature_layer(arch, kind, cls):
    torch.manual_seed(0)
    net = make_model(arch, (28, 28), 10, kind, hidden=(64, 32))
    assert isinstance(net.bottleneck, cls)
    assert net.head.bias is None and net.head.in_features == 32
    x = torch.rand(5, 28, 28)
    assert net.features(x).shape == (5, 32)
    assert net.train()(x).shape == (5, 10)
    if kind == "nested":
        net.eval()
        net.bottleneck.k = 3
        f = net.features(x)
        torch.testing.assert_close(net(x), f[:, :3] @ net.head.weight[:, :3].T)


def test_unknown_model_raises():
    with pytest.raises(ValueError):
        make_model("resnet", (28, 28), 10)
