"""CPU-sized classifiers with a bottleneck on the last feature layer.

    image --[feature network]--> features (n, D) --[bottleneck]--> --[linear, no bias]--> logits

The head has no bias so that, under nested dropout, the logits of every prefix ``K`` are one
cumulative sum over channels (:func:`latentzip.bottlenecks.dropout.prefix_accuracy`).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from latentzip.bottlenecks import Dropout, NestedDropout

__all__ = ["BOTTLENECKS", "FeatureClassifier", "make_bottleneck", "make_model"]

BOTTLENECKS = ("none", "dropout", "nested")


class FeatureClassifier(nn.Module):
    """``head(bottleneck(features(x)))`` with a bias-free linear ``head``.

    Parameters
    ----------
    features : nn.Module
        Maps a batch of inputs to ``(n, n_features)``.
    n_features, n_classes : int
    bottleneck : nn.Module, optional
        Applied to the feature vector; identity when ``None``.
    """

    def __init__(
        self,
        features: nn.Module,
        n_features: int,
        n_classes: int,
        bottleneck: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.features = features
        self.bottleneck = bottleneck if bottleneck is not None else nn.Identity()
        self.head = nn.Linear(n_features, n_classes, bias=False)
        self.n_features = n_features

    @property
    def nested(self) -> NestedDropout | None:
        return self.bottleneck if isinstance(self.bottleneck, NestedDropout) else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.bottleneck(self.features(x)))


def _mlp(n_inputs: int, hidden: tuple[int, ...]) -> nn.Module:
    layers: list[nn.Module] = [nn.Flatten()]
    for width in hidden:
        layers += [nn.Linear(n_inputs, width), nn.ReLU()]
        n_inputs = width
    return nn.Sequential(*layers)


def _cnn(image_shape: tuple[int, int], width: int) -> nn.Module:
    h, w = image_shape
    side = (h // 4) * (w // 4)
    return nn.Sequential(
        nn.Unflatten(1, (1, h, w)),
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * side, width),
        nn.ReLU(),
    )


def make_bottleneck(
    kind: str, n_features: int, dropout: float = 0.5, sigma: float = 32.0
) -> nn.Module | None:
    """``none`` (no bottleneck), ``dropout`` (rate ``dropout``) or ``nested`` (``sigma``)."""
    if kind == "none":
        return None
    if kind == "dropout":
        return Dropout(dropout)
    if kind == "nested":
        return NestedDropout(n_features, sigma)
    raise ValueError(f"unknown bottleneck {kind!r}; expected one of {BOTTLENECKS}")


def make_model(
    arch: str,
    image_shape: tuple[int, ...],
    n_classes: int,
    bottleneck: str = "none",
    hidden: tuple[int, ...] = (512, 256),
    dropout: float = 0.5,
    sigma: float = 32.0,
) -> FeatureClassifier:
    """An ``mlp`` (``prod(image_shape)``-``hidden`` features) or a small ``cnn``.

    The CNN (two 3x3 conv + max-pool blocks, 16 and 32 channels, then a dense layer of
    ``hidden[-1]`` features) takes ``(n, H, W)`` or ``(n, H * W)`` images.
    """
    if arch == "mlp":
        features, d = _mlp(math.prod(image_shape), hidden), hidden[-1]
    elif arch == "cnn":
        if len(image_shape) != 2:
            raise ValueError(f"the CNN needs 2-D images, got shape {image_shape}")
        d = hidden[-1]
        features = nn.Sequential(nn.Flatten(), _cnn((image_shape[0], image_shape[1]), d))
    else:
        raise ValueError(f"unknown model {arch!r}; expected 'mlp' or 'cnn'")
    return FeatureClassifier(features, d, n_classes, make_bottleneck(bottleneck, d, dropout, sigma))
