"""The models beside GenMoStyle: the style classifier (the judge) and the root regressor.

:class:`StyleClassifier` is trained independently of the stylization model; its accuracy and
pooled features score the results (style accuracy, style FID). :class:`RootModel` regresses the
root channels (0:4, root velocities and height) from the others, so that stylized poses get a
root motion that fits them.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from latentzip.errors import DataError
from latentzip.motion.nets import Classifier, RootRegressor
from latentzip.motion.torchutil import _check_windows, _fit_simple, _numpy, _tensor


class StyleClassifier:
    """Independent style classifier on normalised windows; its pooled features give the FID."""

    def __init__(self, n_styles: int, epochs: int = 40, lr: float = 1e-3, seed: int = 0):
        self.n_styles, self.epochs, self.lr, self.seed = n_styles, epochs, lr, seed

    def fit(self, x: np.ndarray, labels: np.ndarray, *, progress: bool = True) -> StyleClassifier:
        x = _check_windows(x)
        labels = np.asarray(labels, dtype=np.int64)
        keep = labels >= 0
        x, labels = x[keep], labels[keep]
        if len(x) == 0 or labels.max() >= self.n_styles:
            raise DataError("the classifier needs labelled windows with labels < n_styles")
        torch.manual_seed(self.seed)
        self.dim_ = x.shape[2]
        self.net_ = Classifier(self.dim_, self.n_styles)
        counts = np.bincount(labels, minlength=self.n_styles).astype(np.float64)
        weight = torch.as_tensor(
            len(labels) / (self.n_styles * np.maximum(counts, 1)), dtype=torch.float32
        )

        def loss(net, xb, yb):
            return F.cross_entropy(net(xb), yb, weight=weight)

        _fit_simple(
            self.net_,
            (_tensor(x), torch.as_tensor(labels)),
            loss,
            self.epochs,
            self.lr,
            64,
            self.seed,
            "classifier",
            progress,
            weight_decay=1e-4,
        )
        return self

    @torch.no_grad()
    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return torch.softmax(self.net_(_tensor(_check_windows(x, self.dim_))), 1).numpy()

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.predict_proba(x).argmax(1)

    def score(self, x: np.ndarray, labels: np.ndarray) -> float:
        return float(np.mean(self.predict(x) == np.asarray(labels)))

    @torch.no_grad()
    def features(self, x: np.ndarray) -> np.ndarray:
        return self.net_.features(_tensor(_check_windows(x, self.dim_))).numpy()


class RootModel:
    """The global regressor: root channels 0:4 from the other channels (normalised)."""

    def __init__(self, epochs: int = 30, lr: float = 1e-3, seed: int = 0):
        self.epochs, self.lr, self.seed = epochs, lr, seed

    def fit(self, x: np.ndarray, *, progress: bool = True) -> RootModel:
        x = _check_windows(x)
        torch.manual_seed(self.seed)
        self.dim_ = x.shape[2]
        self.net_ = RootRegressor(self.dim_ - 4)
        X = _tensor(x)

        def loss(net, xb):
            return F.smooth_l1_loss(net(xb[:, 4:]), xb[:, :4])

        _fit_simple(self.net_, (X,), loss, self.epochs, self.lr, 64, self.seed, "root", progress)
        return self

    @torch.no_grad()
    def restore(self, x: np.ndarray) -> np.ndarray:
        """``x`` with its root channels replaced by the regressor's prediction."""
        X = _tensor(_check_windows(x, self.dim_))
        out = X.clone()
        out[:, :4] = self.net_(X[:, 4:])
        return _numpy(out)


__all__ = ["RootModel", "StyleClassifier"]
