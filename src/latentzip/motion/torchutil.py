"""Helpers shared by the motion models: window checks, tensors, batches, progress, a fit loop.

Windows are normalised features (N, T, D) float32 with T a positive multiple of 4; the nets
take them channels first (N, D, T).
"""

from __future__ import annotations

import numpy as np
import torch

from latentzip.errors import DataError


def _tensor(x: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.ascontiguousarray(x), dtype=torch.float32).transpose(1, 2)


def _numpy(t: torch.Tensor) -> np.ndarray:
    return t.transpose(1, 2).detach().cpu().numpy().astype(np.float32)


def _check_windows(x: np.ndarray, dim: int | None = None) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 3:
        raise DataError(f"motion windows must be (N, T, D), got shape {x.shape}")
    if x.shape[1] % 4 or x.shape[1] == 0:
        raise DataError(f"window length must be a positive multiple of 4, got {x.shape[1]}")
    if dim is not None and x.shape[2] != dim:
        raise DataError(f"expected {dim} feature channels, got {x.shape[2]}")
    if not np.all(np.isfinite(x)):
        raise DataError("motion windows contain NaN or inf")
    return x


def _batches(n: int, size: int, rng: np.random.Generator):
    order = rng.permutation(n)
    for s in range(0, n, size):
        yield order[s : s + size]


def _progress(it, desc: str, show: bool):
    if not show:
        return it
    from tqdm.auto import tqdm

    return tqdm(it, desc=desc, leave=False)


def _fit_simple(net, inputs, loss_fn, epochs, lr, batch, seed, desc, progress, weight_decay=0.0):
    rng = np.random.default_rng(seed)
    opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(epochs, 1))
    net.train()
    for _ in _progress(range(epochs), desc, progress):
        for idx in _batches(len(inputs[0]), batch, rng):
            loss = loss_fn(net, *(t[idx] for t in inputs))
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
    net.eval()
    return net
