"""Dropout and nested dropout on a final feature vector, and scoring of nested prefixes.

Nested dropout (Rippel et al., ICML 2014) as used against noisy labels by Chen et al.,
"Compressing Features for Learning with Noisy Labels" (TNNLS 2022): for each mini-batch one
``k`` is drawn with ``p(k) ∝ exp(-((k - mu) / sigma)^2)``, ``k = 1..D``, and only the first
``k`` channels are kept. The leading channels are then trained far more often than the trailing
ones, so the representation becomes ordered by importance. At test time every prefix
``K = 1..D`` is scored on clean validation data and the best ``K`` (ties to the smaller) is
kept::

    features (n, D) --[keep channels < K]--> (n, D) --[linear head, no bias]--> logits (n, C)

With a bias-free linear head the logits of all ``D`` prefixes are one cumulative sum over
channels, which :func:`prefix_accuracy` uses; :func:`prefix_accuracy_reference` masks and
re-applies any head once per ``K``.

>>> import torch
>>> nd = NestedDropout(8, sigma=2.0)
>>> round(float(nd.probabilities().sum()), 6)
1.0
>>> x = torch.ones(3, 8)
>>> _ = nd.eval(); nd.k = 3
>>> nd(x)[0].tolist()
[1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

__all__ = [
    "Dropout",
    "NestedDropout",
    "best_prefix",
    "keep_prefix",
    "prefix_accuracy",
    "prefix_accuracy_reference",
    "prefix_logits",
]


class Dropout(nn.Dropout):
    """Standard (inverted) dropout on the final feature vector ``(n, D)``; identity in eval."""

    def __init__(self, p: float = 0.5) -> None:
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout rate must be in [0, 1), got {p}")
        super().__init__(p)


def keep_prefix(x: torch.Tensor, k: int) -> torch.Tensor:
    """Zero every channel of ``x`` (shape ``(n, D)``) from index ``k`` on."""
    mask = torch.arange(x.shape[1], device=x.device) < k
    return x * mask.to(x.dtype)


class NestedDropout(nn.Module):
    """Keep a random prefix of the ``D`` feature channels, one ``k`` per mini-batch.

    Parameters
    ----------
    n_features : int
        ``D``, the width of the feature vector this module receives, shape ``(n, D)``.
    sigma : float
        Width of ``p(k) ∝ exp(-((k - mu) / sigma)^2)``; smaller keeps fewer channels.
    mu : float
        Centre of the distribution (0 in the paper).

    Attributes
    ----------
    k : int
        Prefix kept in eval mode (``D`` until set, e.g. to the result of :func:`best_prefix`).
    """

    def __init__(self, n_features: int, sigma: float, mu: float = 0.0) -> None:
        super().__init__()
        if n_features < 1 or sigma <= 0:
            raise ValueError(f"need n_features >= 1 and sigma > 0, got {n_features}, {sigma}")
        self.n_features, self.sigma, self.mu = int(n_features), float(sigma), float(mu)
        self.k = self.n_features

    def probabilities(self) -> torch.Tensor:
        """``p(k)`` for ``k = 1..D`` as a float64 tensor of shape ``(D,)``."""
        k = torch.arange(1, self.n_features + 1, dtype=torch.float64)
        logits = -(((k - self.mu) / self.sigma) ** 2)
        return torch.softmax(logits, dim=0)

    def sample_k(self, size: int = 1, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw ``size`` values of ``k`` (in ``1..D``) from :meth:`probabilities`."""
        idx = torch.multinomial(self.probabilities(), size, replacement=True, generator=generator)
        return idx + 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = int(self.sample_k()) if self.training else self.k
        return keep_prefix(x, k)

    def extra_repr(self) -> str:
        return f"n_features={self.n_features}, sigma={self.sigma}, mu={self.mu}, k={self.k}"


def prefix_logits(features: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Logits of a bias-free linear head for every prefix: shape ``(D, n, C)``.

    ``features`` is ``(n, D)``, ``weight`` is ``(C, D)``; entry ``[K - 1]`` equals
    ``keep_prefix(features, K) @ weight.T``.
    """
    terms = features.unsqueeze(2) * weight.T.unsqueeze(0)  # (n, D, C)
    return terms.cumsum(dim=1).permute(1, 0, 2)


def prefix_accuracy(
    features: torch.Tensor, labels: torch.Tensor, head: nn.Module, chunk: int = 1024
) -> torch.Tensor:
    """Accuracy of ``head(keep_prefix(features, K))`` for ``K = 1..D``, shape ``(D,)``.

    Uses one cumulative sum when ``head`` is a bias-free ``nn.Linear``, otherwise
    :func:`prefix_accuracy_reference`.
    """
    if not (isinstance(head, nn.Linear) and head.bias is None):
        return prefix_accuracy_reference(features, labels, head)
    correct = torch.zeros(features.shape[1], dtype=torch.float64)
    with torch.no_grad():
        for start in range(0, len(features), chunk):
            logits = prefix_logits(features[start : start + chunk], head.weight)
            correct += (logits.argmax(2) == labels[start : start + chunk]).sum(1).double()
    return correct / len(features)


def prefix_accuracy_reference(
    features: torch.Tensor, labels: torch.Tensor, head: nn.Module
) -> torch.Tensor:
    """The slow obvious version of :func:`prefix_accuracy`: mask and apply ``head`` per ``K``."""
    with torch.no_grad():
        return torch.stack(
            [
                (head(keep_prefix(features, k)).argmax(1) == labels).double().mean()
                for k in range(1, features.shape[1] + 1)
            ]
        )


def best_prefix(accuracy: torch.Tensor | np.ndarray) -> int:
    """The ``K`` (1-based) with the highest accuracy; ties go to the smaller ``K``."""
    return int(np.argmax(np.asarray(accuracy))) + 1
