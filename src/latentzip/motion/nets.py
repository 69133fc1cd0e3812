"""The networks: motion autoencoder, content / style encoders and AdaIN generator, classifier,
root regressor. All are 1-D convolutions over time on (N, C, T) tensors.

Shapes (``D`` feature channels, ``T`` frames, ``T`` divisible by 4)::

    MotionAE.encode   (N, D, T)   -> (N, L, T/4)          latent motion, frozen after training
    StyleNet.content  (N, C, T')  -> (N, K, T'/2^down)    instance-normalised content code
    StyleNet.style    (N, C, T'), label -> mu, logvar (N, Z)   global style code
    StyleNet.generate content, z, label -> (N, C, T')     AdaIN on the content code

The latent model runs ``StyleNet`` on the autoencoder's latents (``down=0``); the pose-space
baseline runs the same ``StyleNet`` on the features themselves with ``down=2``, so that both
content codes have the same length (Guo et al., ICLR 2024, Sec. 3 and the pose-space ablation).

>>> import torch
>>> net = StyleNet(in_ch=8, hidden=16, content_ch=4, style_dim=3, n_labels=2, down=2)
>>> c = net.content(torch.zeros(5, 8, 32))
>>> mu, logvar = net.style(torch.zeros(5, 8, 32), torch.full((5,), -1))
>>> tuple(c.shape), tuple(mu.shape), tuple(net.generate(c, mu, None).shape)
((5, 4, 8), (5, 3), (5, 8, 32))
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def _act() -> nn.Module:
    return nn.LeakyReLU(0.2)


def _down(ch: int) -> list[nn.Module]:
    return [nn.Conv1d(ch, ch, 4, stride=2, padding=1), _act()]


class MotionAE(nn.Module):
    """Convolutional autoencoder with 4x temporal downsampling."""

    def __init__(self, dim: int, hidden: int = 128, latent: int = 64):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv1d(dim, hidden, 3, padding=1),
            _act(),
            *_down(hidden),
            nn.Conv1d(hidden, hidden, 4, stride=2, padding=1),
            _act(),
            nn.Conv1d(hidden, latent, 3, padding=1),
        )
        self.decoder = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv1d(latent, hidden, 3, padding=1),
            _act(),
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv1d(hidden, hidden, 3, padding=1),
            _act(),
            nn.Conv1d(hidden, dim, 3, padding=1),
        )

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


class AdaINBlock(nn.Module):
    """Residual block whose normalisation takes scale and shift from the style code."""

    def __init__(self, ch: int):
        super().__init__()
        self.conv1 = nn.Conv1d(ch, ch, 3, padding=1)
        self.conv2 = nn.Conv1d(ch, ch, 3, padding=1)
        self.norm = nn.InstanceNorm1d(ch, affine=False)

    def forward(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        g1, b1, g2, b2 = params.unsqueeze(-1).chunk(4, dim=1)
        h = F.leaky_relu(self.norm(self.conv1(x)) * (1 + g1) + b1, 0.2)
        h = self.norm(self.conv2(h)) * (1 + g2) + b2
        return x + h


class StyleNet(nn.Module):
    """Content encoder, probabilistic style encoder and AdaIN generator.

    ``n_labels`` styles plus one "unknown" slot: a label of -1 (or ``None``) selects it, so the
    label conditioning is optional at inference.
    """

    def __init__(
        self,
        in_ch: int,
        hidden: int = 128,
        content_ch: int = 64,
        style_dim: int = 16,
        n_labels: int = 0,
        down: int = 0,
        n_blocks: int = 2,
        prior_scale: float = 1.0,
    ):
        super().__init__()
        self.n_labels, self.style_dim, self.down = n_labels, style_dim, down
        downs = [m for _ in range(down) for m in _down(hidden)]
        self.content_net = nn.Sequential(
            nn.Conv1d(in_ch, hidden, 3, padding=1),
            _act(),
            *downs,
            nn.Conv1d(hidden, hidden, 3, padding=1),
            _act(),
            nn.Conv1d(hidden, content_ch, 3, padding=1),
            nn.InstanceNorm1d(content_ch, affine=False),
        )
        downs = [m for _ in range(down) for m in _down(hidden)]
        self.style_net = nn.Sequential(
            nn.Conv1d(in_ch, hidden, 3, padding=1),
            _act(),
            *downs,
            nn.Conv1d(hidden, hidden, 3, padding=1),
            _act(),
        )
        n_onehot = n_labels + 1
        self.style_head = nn.Sequential(
            nn.Linear(hidden + n_onehot, hidden), _act(), nn.Linear(hidden, 2 * style_dim)
        )
        self.blocks = nn.ModuleList(AdaINBlock(hidden) for _ in range(n_blocks))
        self.mlp = nn.Sequential(
            nn.Linear(style_dim + n_onehot, hidden),
            _act(),
            nn.Linear(hidden, 4 * hidden * n_blocks),
        )
        # p(z | label) = N(prior[label], exp(prior_logvar[label])), learned; unlabelled windows
        # keep N(0, I)
        self.prior = nn.Parameter(torch.randn(n_labels, style_dim) * prior_scale)
        self.prior_logvar = nn.Parameter(torch.zeros(n_labels, style_dim))
        self.gen_in = nn.Conv1d(content_ch, hidden, 3, padding=1)
        ups: list[nn.Module] = []
        for _ in range(down):
            ups += [nn.Upsample(scale_factor=2), nn.Conv1d(hidden, hidden, 3, padding=1), _act()]
        self.gen_out = nn.Sequential(*ups, nn.Conv1d(hidden, in_ch, 3, padding=1))

    def onehot(self, label: torch.Tensor | None, n: int) -> torch.Tensor:
        if label is None:
            label = torch.full((n,), -1, dtype=torch.long)
        idx = torch.where(label < 0, torch.full_like(label, self.n_labels), label)
        return F.one_hot(idx.long(), self.n_labels + 1).float()

    def prior_params(self, label: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance (N, Z) of p(z | label); N(0, I) where the label is -1."""
        zero = torch.zeros(len(label), self.style_dim)
        if not self.n_labels:
            return zero, zero
        idx = label.long().clamp(min=0)
        known = (label >= 0)[:, None]
        mean = torch.where(known, self.prior[idx], zero)
        return mean, torch.where(known, self.prior_logvar[idx].clamp(-6.0, 2.0), zero)

    def content(self, x: torch.Tensor) -> torch.Tensor:
        return self.content_net(x)

    def style(
        self, x: torch.Tensor, label: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.style_net(x).mean(dim=-1)
        out = self.style_head(torch.cat([h, self.onehot(label, len(x))], dim=1))
        mu, logvar = out.chunk(2, dim=1)
        return mu, logvar.clamp(-10.0, 10.0)

    def generate(
        self, content: torch.Tensor, z: torch.Tensor, label: torch.Tensor | None
    ) -> torch.Tensor:
        params = self.mlp(torch.cat([z, self.onehot(label, len(z))], dim=1))
        h = F.leaky_relu(self.gen_in(content), 0.2)
        for block, p in zip(self.blocks, params.chunk(len(self.blocks), dim=1), strict=True):
            h = block(h, p)
        return self.gen_out(h)


class Classifier(nn.Module):
    """Style classifier on normalised feature windows; ``features`` feed the style FID."""

    def __init__(self, dim: int, n_classes: int, hidden: int = 64, feat: int = 32):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv1d(dim, hidden, 5, padding=2),
            _act(),
            nn.Dropout(0.2),
            *_down(hidden),
            *_down(hidden),
            nn.Conv1d(hidden, feat, 3, padding=1),
            _act(),
        )
        self.head = nn.Linear(feat, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).mean(dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class RootRegressor(nn.Module):
    """Predict the root channels (rotation / linear velocity, height) from the rest."""

    def __init__(self, in_ch: int, out_ch: int = 4, hidden: int = 96):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv1d(in_ch, hidden, 5, padding=2),
            _act(),
            nn.Conv1d(hidden, hidden, 5, padding=2),
            _act(),
            nn.Conv1d(hidden, out_ch, 5, padding=2),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


__all__ = ["AdaINBlock", "Classifier", "MotionAE", "RootRegressor", "StyleNet"]
