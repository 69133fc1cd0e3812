"""Frozen encoders: a small CNN trained on another dataset, and raw pixels through a fixed
random projection. Both map uint8 images ``(n, H, W)`` to float features ``(n, D)``."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from latentzip.errors import LatentzipError


def as_float_images(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """uint8 ``(n, H, W)`` -> float32 ``(n, 1, H, W)`` in [0, 1]."""
    a = np.asarray(images)
    x = torch.from_numpy(a if a.flags.writeable else a.copy())
    if x.ndim == 3:
        x = x.unsqueeze(1)
    return x.to(torch.float32) / 255.0


class SmallCNN(nn.Module):
    """Two 5x5 convolutions (16, 32 channels) with max-pooling, a ``feature_dim`` ReLU layer
    (the feature a frozen encoder hands on) and a linear classifier head, for 28x28 images."""

    def __init__(self, feature_dim: int = 128, n_classes: int = 10) -> None:
        super().__init__()
        self.feature_dim, self.n_classes = feature_dim, n_classes
        self.body = nn.Sequential(
            nn.Conv2d(1, 16, 5),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 5),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(32 * 4 * 4, feature_dim),
            nn.ReLU(),
        )
        self.head = nn.Linear(feature_dim, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def _save(path: Path, state: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def train_cnn(
    images: np.ndarray,
    labels: np.ndarray,
    *,
    feature_dim: int = 128,
    epochs: int = 2,
    batch_size: int = 128,
    lr: float = 1e-3,
    seed: int = 0,
    checkpoint: str | Path | None = None,
    progress: bool = False,
) -> SmallCNN:
    """Train :class:`SmallCNN` as a classifier; with ``checkpoint`` the state is saved after
    every epoch (atomically) and an interrupted run resumes from it; a checkpoint that already
    holds ``epochs`` epochs is simply loaded (asking for more epochs continues it)."""
    torch.manual_seed(seed)
    model = SmallCNN(feature_dim, int(labels.max()) + 1)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    start = 0
    path = Path(checkpoint) if checkpoint is not None else None
    if path is not None and path.exists():
        state = torch.load(path, weights_only=True)
        model.load_state_dict(state["model"])
        start = int(state["epoch"])
        if start >= epochs:
            return model.eval()
        opt.load_state_dict(state["optimizer"])
    x = as_float_images(images)
    y = torch.as_tensor(labels, dtype=torch.long)
    g = torch.Generator().manual_seed(seed)
    for epoch in range(start, epochs):
        g.manual_seed(seed * 1000 + epoch)
        order = torch.randperm(len(y), generator=g)
        model.train()
        batches = range(0, len(y), batch_size)
        if progress:
            from tqdm.auto import tqdm

            batches = tqdm(batches, desc=f"CNN epoch {epoch + 1}/{epochs}", leave=False)
        for i in batches:
            b = order[i : i + batch_size]
            opt.zero_grad()
            F.cross_entropy(model(x[b]), y[b]).backward()
            opt.step()
        if path is not None:
            _save(
                path,
                {
                    "model": model.state_dict(),
                    "optimizer": opt.state_dict(),
                    "epoch": epoch + 1,
                    "feature_dim": feature_dim,
                    "n_classes": model.n_classes,
                },
            )
    return model.eval()


def load_cnn(path: str | Path, epochs: int = 1) -> SmallCNN:
    """A :func:`train_cnn` checkpoint that holds at least ``epochs`` epochs."""
    state = torch.load(Path(path), weights_only=True)
    if int(state["epoch"]) < epochs:
        raise LatentzipError(
            f"{path}: {state['epoch']} of {epochs} epochs trained (resume it with train_cnn)"
        )
    model = SmallCNN(state["feature_dim"], state["n_classes"])
    model.load_state_dict(state["model"])
    return model.eval()


class CNNEncoder:
    """The feature layer of a trained :class:`SmallCNN`, frozen."""

    def __init__(self, cnn: SmallCNN) -> None:
        self.cnn = cnn.eval()
        self.dim = cnn.feature_dim

    def module(self) -> nn.Module:
        """The trainable part that maps float images to features (for fine-tuning)."""
        return self.cnn.body

    @torch.no_grad()
    def encode(self, images: np.ndarray, batch_size: int = 2048) -> torch.Tensor:
        x = as_float_images(images)
        return torch.cat(
            [self.cnn.body(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
        )


class RandomProjectionEncoder:
    """Raw pixels in [0, 1] through a fixed Gaussian projection ``(H*W, dim) / sqrt(H*W)``."""

    def __init__(self, n_pixels: int = 784, dim: int = 256, seed: int = 0) -> None:
        self.dim = dim
        g = torch.Generator().manual_seed(seed)
        self.weight = torch.randn(dim, n_pixels, generator=g) / n_pixels**0.5

    def module(self) -> nn.Module:
        linear = nn.Linear(self.weight.shape[1], self.dim, bias=False)
        with torch.no_grad():
            linear.weight.copy_(self.weight)
        return nn.Sequential(nn.Flatten(), linear)

    @torch.no_grad()
    def encode(self, images: np.ndarray, batch_size: int = 8192) -> torch.Tensor:
        x = as_float_images(images).flatten(1)
        return torch.cat(
            [x[i : i + batch_size] @ self.weight.T for i in range(0, len(x), batch_size)]
        )
