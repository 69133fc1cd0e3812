"""Discrete key-value bottleneck (Träuble et al., "Discrete Key-Value Bottleneck", ICML 2023).

::

    feature x (B, D) --C fixed random projections--> z (B, C, d_k)
        --nearest frozen key per head (top-1)--> indices (B, C)
        --fetch learnable values--> v (B, C, V) --decoder--> logits (B, n_classes)

Keys are learned once, without labels, by EMA k-means (:func:`ema_kmeans`) and then frozen
(they are buffers, never parameters). Only the values are trained; a step changes only the
values of the keys that the batch selected, so what was learned for inputs that land on other
keys is left alone: the reason the bottleneck learns class-incrementally without forgetting.

The default decoder is the parameter-free voting decoder (mean of the fetched values; value
dimension = number of classes); ``decoder="mlp"`` puts a small learned MLP on that mean.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from latentzip.errors import LatentzipError


def random_projections(in_dim: int, n_codebooks: int, key_dim: int, seed: int = 0) -> torch.Tensor:
    """``C`` fixed Gaussian projections ``(C, in_dim, key_dim)`` with unit-norm columns."""
    g = torch.Generator().manual_seed(seed)
    proj = torch.randn(n_codebooks, in_dim, key_dim, generator=g)
    return proj / proj.norm(dim=1, keepdim=True)


def nearest_keys(z: torch.Tensor, keys: torch.Tensor, allowed: torch.Tensor | None = None):
    """Index of the nearest key per head (squared Euclidean distance).

    Parameters
    ----------
    z : tensor of shape (B, C, d)
    keys : tensor of shape (C, P, d)
    allowed : bool tensor of shape (C, P), optional
        Only these keys may be picked; a head with no allowed key may pick any.

    Returns
    -------
    tensor of shape (B, C), dtype int64
    """
    k2 = (keys * keys).sum(-1).unsqueeze(1)  # (C, 1, P); |z|^2 does not change the argmin
    dist = torch.baddbmm(k2, z.transpose(0, 1), keys.transpose(1, 2), alpha=-2.0)  # (C, B, P)
    if allowed is not None:
        blocked = ~allowed & allowed.any(dim=1, keepdim=True)
        dist = dist.masked_fill(blocked.unsqueeze(1), float("inf"))
    return dist.argmin(dim=-1).transpose(0, 1)


def ema_kmeans(
    z: torch.Tensor,
    n_pairs: int,
    *,
    epochs: int = 10,
    batch_size: int = 256,
    decay: float = 0.95,
    eps: float = 1e-5,
    dead_threshold: float = 0.1,
    seed: int = 0,
    init: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mini-batch k-means with exponential-moving-average updates, one codebook per head.

    As in VQ-VAE's EMA codebook (van den Oord et al. 2017, appendix): per batch, the counts
    ``N_p`` and sums ``m_p`` of the points assigned to key ``p`` are averaged with ``decay``,
    the counts are Laplace-smoothed, ``(N_p + eps) / (N + P * eps) * N``, and the key is
    ``m_p / N_p``. A key whose average count falls below ``dead_threshold * B / P`` (a tiny
    share of its fair share) is dead: it is re-seeded on a random point of the batch.

    Parameters
    ----------
    z : tensor of shape (N, C, d)
        Unlabelled points, already projected into the C heads.
    n_pairs : int
        P, keys per head.
    init : tensor of shape (C, P, d), optional
        Starting keys; by default P random points of ``z`` (drawn independently per head).

    Returns
    -------
    keys : tensor of shape (C, P, d), float32
    """
    z = torch.as_tensor(z, dtype=torch.float32)
    if z.ndim != 3 or z.shape[0] == 0:
        raise LatentzipError(f"expected points of shape (N, C, d), got {tuple(z.shape)}")
    n, c, d = z.shape
    g = torch.Generator().manual_seed(seed)
    heads = torch.arange(c)
    if init is None:
        rows = torch.randint(0, n, (c, n_pairs), generator=g)
        keys = z[rows, heads[:, None]].clone()  # (C, P, d)
    else:
        keys = torch.as_tensor(init, dtype=torch.float32).clone()
        if keys.shape != (c, n_pairs, d):
            raise LatentzipError(
                f"init keys have shape {tuple(keys.shape)}, need {(c, n_pairs, d)}"
            )
    batch_size = min(batch_size, n)
    counts = torch.full((c, n_pairs), batch_size / n_pairs)
    sums = keys * counts[..., None]
    flat_offset = (heads * n_pairs)[None, :]  # (1, C)
    for _ in range(epochs):
        order = torch.randperm(n, generator=g)
        for start in range(0, n - batch_size + 1, batch_size):
            zb = z[order[start : start + batch_size]]  # (B, C, d)
            b = zb.shape[0]
            flat = (nearest_keys(zb, keys) + flat_offset).reshape(-1)
            n_new = torch.zeros(c * n_pairs).index_add_(0, flat, torch.ones(flat.shape[0]))
            s_new = torch.zeros(c * n_pairs, d).index_add_(0, flat, zb.reshape(-1, d))
            counts.mul_(decay).add_(n_new.view(c, n_pairs), alpha=1 - decay)
            sums.mul_(decay).add_(s_new.view(c, n_pairs, d), alpha=1 - decay)
            total = counts.sum(dim=1, keepdim=True)
            smoothed = (counts + eps) / (total + n_pairs * eps) * total
            keys = sums / smoothed[..., None]
            dead = counts < dead_threshold * b / n_pairs
            if dead.any():
                hc, hp = dead.nonzero(as_tuple=True)
                pick = torch.randint(0, b, (hc.shape[0],), generator=g)
                keys[hc, hp] = zb[pick, hc]
                fair = total[hc, 0] / n_pairs
                counts[hc, hp] = fair
                sums[hc, hp] = keys[hc, hp] * fair[:, None]
    return keys


class KeyValueBottleneck(nn.Module):
    """C codebooks of P frozen keys and P learnable values on a frozen feature.

    Parameters
    ----------
    in_dim : int
        D, dimension of the (frozen) input feature.
    n_codebooks : int
        C, number of heads.
    n_pairs : int
        P, key-value pairs per head.
    key_dim : int, optional
        d_k, dimension of a head; defaults to ``in_dim``.
    value_dim : int
        V; with the voting decoder the number of classes.
    projection : {"random", "identity"}
        Fixed random projections with unit-norm columns, or the feature itself in every head
        (needs ``key_dim == in_dim``).
    decoder : {"vote", "mlp"}
        ``"vote"``: logits are the mean of the fetched values (no parameters).
        ``"mlp"``: a learned MLP (``decoder_hidden`` units) on that mean, ``n_classes`` outputs.
    seed : int
        Seed of the projections.

    Examples
    --------
    >>> import torch
    >>> kv = KeyValueBottleneck(2, n_codebooks=4, n_pairs=8, key_dim=2, value_dim=3)
    >>> kv = kv.init_keys(torch.rand(500, 2), epochs=2)
    >>> idx = kv.key_indices(torch.rand(5, 2))
    >>> tuple(idx.shape), tuple(kv.decode(idx).shape)
    ((5, 4), (5, 3))
    """

    def __init__(
        self,
        in_dim: int,
        n_codebooks: int = 1,
        n_pairs: int = 400,
        key_dim: int | None = None,
        value_dim: int = 10,
        *,
        projection: str = "random",
        decoder: str = "vote",
        n_classes: int | None = None,
        decoder_hidden: int = 64,
        seed: int = 0,
    ) -> None:
        super().__init__()
        key_dim = in_dim if key_dim is None else key_dim
        if projection == "random":
            proj = random_projections(in_dim, n_codebooks, key_dim, seed)
        elif projection == "identity":
            if key_dim != in_dim:
                raise LatentzipError("projection='identity' needs key_dim == in_dim")
            proj = torch.eye(in_dim).expand(n_codebooks, in_dim, in_dim).clone()
        else:
            raise LatentzipError(f"unknown projection {projection!r} (random or identity)")
        self.in_dim, self.n_codebooks, self.n_pairs = in_dim, n_codebooks, n_pairs
        self.key_dim, self.value_dim = key_dim, value_dim
        self.register_buffer("projection", proj)
        self.register_buffer("keys", torch.zeros(n_codebooks, n_pairs, key_dim))
        self.register_buffer("used", torch.zeros(n_codebooks, n_pairs, dtype=torch.bool))
        self.register_buffer("initialised", torch.tensor(False))
        # (C*P, V): row c * P + p is the value of key p of head c
        self.values = nn.Parameter(torch.zeros(n_codebooks * n_pairs, value_dim))
        if decoder == "vote":
            if n_classes not in (None, value_dim):
                raise LatentzipError("the voting decoder needs value_dim == n_classes")
            self.decoder: nn.Module | None = None
        elif decoder == "mlp":
            out = value_dim if n_classes is None else n_classes
            self.decoder = nn.Sequential(
                nn.Linear(value_dim, decoder_hidden), nn.ReLU(), nn.Linear(decoder_hidden, out)
            )
        else:
            raise LatentzipError(f"unknown decoder {decoder!r} (vote or mlp)")

    @property
    def value_table(self) -> torch.Tensor:
        """The values as ``(C, P, V)`` (a view)."""
        return self.values.view(self.n_codebooks, self.n_pairs, self.value_dim)

    def project(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, D)`` features -> ``(B, C, d_k)`` head inputs."""
        return torch.einsum("bi,cik->bck", x.to(self.projection.dtype), self.projection)

    @torch.no_grad()
    def init_keys(self, x: torch.Tensor, **kmeans) -> KeyValueBottleneck:
        """Learn the keys by EMA k-means on unlabelled features ``(N, D)``, then freeze them.

        Keyword arguments go to :func:`ema_kmeans` (``epochs``, ``batch_size``, ``decay``...).
        Resets the record of used keys.
        """
        x = torch.as_tensor(x, dtype=torch.float32)
        self.keys.copy_(ema_kmeans(self.project(x), self.n_pairs, **kmeans))
        self.used.zero_()
        self.initialised.fill_(True)
        return self

    @torch.no_grad()
    def key_indices(
        self, x: torch.Tensor, *, mask_unused: bool | None = None, batch_size: int = 1024
    ) -> torch.Tensor:
        """Nearest key per head for features ``(B, D)`` -> ``(B, C)`` int64.

        With ``mask_unused`` (default: in eval mode) keys never marked used are skipped, so an
        input falls back to its nearest used key (a head with no used key keeps all).
        """
        if not bool(self.initialised):
            raise LatentzipError("keys are not initialised: call init_keys on unlabelled data")
        mask = (not self.training) if mask_unused is None else mask_unused
        allowed = self.used if mask else None
        x = torch.as_tensor(x, dtype=torch.float32)
        parts = [
            nearest_keys(self.project(x[i : i + batch_size]), self.keys, allowed)
            for i in range(0, x.shape[0], batch_size)
        ]
        return torch.cat(parts) if parts else torch.zeros(0, self.n_codebooks, dtype=torch.long)

    @torch.no_grad()
    def mark_used(self, indices: torch.Tensor) -> None:
        """Record that the keys in ``indices`` ``(B, C)`` were selected in training."""
        heads = torch.arange(self.n_codebooks).expand_as(indices)
        self.used[heads.reshape(-1), indices.reshape(-1)] = True

    def fetch(self, indices: torch.Tensor) -> torch.Tensor:
        """Values of the selected keys: ``(B, C)`` -> ``(B, C, V)``; the gradient is zero on
        the rows of keys not selected."""
        flat = indices + torch.arange(self.n_codebooks, device=indices.device) * self.n_pairs
        return F.embedding(flat, self.values)

    def decode(self, indices: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, n_classes)`` from key indices ``(B, C)``."""
        pooled = self.fetch(indices).mean(dim=1)
        return pooled if self.decoder is None else self.decoder(pooled)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.key_indices(x))

    def extra_repr(self) -> str:
        return (
            f"in_dim={self.in_dim}, n_codebooks={self.n_codebooks}, n_pairs={self.n_pairs}, "
            f"key_dim={self.key_dim}, value_dim={self.value_dim}"
        )


def usage(indices: torch.Tensor | np.ndarray, n_pairs: int) -> np.ndarray:
    """Fraction of keys per head that ``indices`` ``(B, C)`` select: ``(C,)`` floats."""
    idx = np.asarray(indices)
    return np.array([np.unique(idx[:, c]).size / n_pairs for c in range(idx.shape[1])])
