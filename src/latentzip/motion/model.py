"""GenMoStyle: motion stylization with a probabilistic style space, in latent or pose space.

Guo et al. (Mu, Guo et al.), "Generative Human Motion Stylization in Latent Space", ICLR 2024.
Training has two stages::

    windows x --MotionAE--> latent h      (stage 1: reconstruction, then frozen)

    h1, h2: two segments of one clip (same style)      h3 = h2 of another sample (swap)
    c_i = E_c(h_i)   (mu_i, logvar_i) = E_s(h_i, label)   z_i ~ N(mu_i, exp(logvar_i))
    r_i  = G(c_i, z_i)            -> |r_i - h_i| + |dec(r_i) - x_i|          (reconstruction)
    r3   = G(c_2, z_3)            content of 2 in the style of 3
    rr2  = G(E_c(r3), z_2) ~ h2,  rr3 = G(c_3, z(E_s(r3))) ~ h3               (cycle)
    KL(q_i || p(z | label_i)) and KL(q_1 || q_2)                    (prior, homo-style alignment)

The style prior is a mixture with one learned Gaussian per style, p(z | k) = N(m_k, diag s_k^2)
(N(0, I) for unlabelled content); after training each component is refit to the posterior
means of its style's training windows, so that sampled codes land where the generator has
seen codes. By label: z ~ p(z | k), label given to the generator; prior sampling: k uniform,
z ~ p(z | k), no label; by reference: z = the reference's posterior mean.

``space="pose"`` is the ablation the paper argues against: the same encoders, generator and
losses on the normalised pose features directly (``StyleNet(down=2)``, no autoencoder).

Inputs and outputs of the public methods are normalised feature windows (N, T, D) float32
with T divisible by 4; labels are style indices (-1 = unknown).

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> x = rng.normal(size=(8, 16, 6)).astype(np.float32)
>>> lab, clip = np.array([0, 1] * 4), np.repeat(np.arange(4), 2)
>>> m = GenMoStyle(StyleConfig.tiny(), n_styles=2).fit(x, lab, clip, progress=False)
>>> a, b = m.sample(x[:2], n=2, seed=3), m.sample(x[:2], n=2, seed=3)
>>> a.shape, bool(np.array_equal(a, b)), bool(np.allclose(a[0], a[1]))
((2, 2, 16, 6), True, False)
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch.nn import functional as F

from latentzip.errors import DataError, ModelError

# StyleClassifier and RootModel live in ``auxiliary``; re-exported here.
from latentzip.motion.auxiliary import RootModel, StyleClassifier
from latentzip.motion.nets import MotionAE, StyleNet
from latentzip.motion.torchutil import _batches, _check_windows, _numpy, _progress, _tensor


@dataclass(frozen=True)
class StyleConfig:
    """Sizes, schedule and loss weights of the style model (and its autoencoder)."""

    space: str = "latent"
    hidden: int = 128
    latent: int = 64
    content_ch: int = 16
    style_dim: int = 16
    ae_epochs: int = 30
    epochs: int = 25
    batch_size: int = 64
    lr: float = 1e-3
    w_latent: float = 1.0
    w_pose: float = 1.0
    w_cycle: float = 1.0
    w_content: float = 0.5
    w_kl: float = 0.1
    w_homo: float = 0.01
    label_dropout: float = 0.3
    prior_scale: float = 1.0
    temperature: float = 1.0
    seed: int = 0

    @classmethod
    def tiny(cls, **kw) -> StyleConfig:
        """Seconds on a CPU: for tests and doctests."""
        base = dict(hidden=16, latent=8, content_ch=8, style_dim=4, ae_epochs=2, epochs=2)
        return cls(**{**base, **kw})

    @classmethod
    def quick(cls, **kw) -> StyleConfig:
        return cls(**{**dict(ae_epochs=15, epochs=15), **kw})


def _kl(mu1, logvar1, mu2, logvar2) -> torch.Tensor:
    return 0.5 * (logvar2 - logvar1 + (logvar1.exp() + (mu1 - mu2) ** 2) / logvar2.exp() - 1).mean()


class GenMoStyle:
    """Stylization model (sklearn-like: hyperparameters in ``__init__``, ``fit`` returns self).

    Parameters
    ----------
    config : StyleConfig
    n_styles : int, number of style labels
    autoencoder : MotionAE, optional; a trained one to freeze (``space="latent"``), else one is
        trained in :meth:`fit`

    Attributes
    ----------
    ae_ : MotionAE or None, net_ : StyleNet, dim_ : int, history_ : dict of loss curves,
    fit_seconds_ : float
    """

    def __init__(self, config: StyleConfig | None = None, n_styles: int = 0, autoencoder=None):
        self.config = config or StyleConfig()
        self.n_styles = n_styles
        self.autoencoder = autoencoder
        if self.config.space not in ("latent", "pose"):
            raise DataError(f"space must be 'latent' or 'pose', got {self.config.space!r}")

    # -- training ---------------------------------------------------------------------------
    def fit(
        self, x: np.ndarray, labels: np.ndarray, clips: np.ndarray, *, progress: bool = True
    ) -> GenMoStyle:
        """Train on normalised windows ``x`` (N, T, D) with style ``labels`` (-1: none) and
        source ``clips`` (segments of one clip are the homo-style pairs)."""
        cfg = self.config
        x = _check_windows(x)
        labels, clips = np.asarray(labels, dtype=np.int64), np.asarray(clips)
        if len(labels) != len(x) or len(clips) != len(x):
            raise DataError("x, labels and clips must have the same length")
        if labels.max(initial=-1) >= self.n_styles:
            raise DataError(f"labels must be < n_styles={self.n_styles}")
        start = time.perf_counter()
        torch.manual_seed(cfg.seed)
        self.dim_ = x.shape[2]
        self.history_: dict[str, list[float]] = {}
        if cfg.space == "latent":
            self.ae_ = self.autoencoder or train_autoencoder(x, cfg, progress=progress)[0]
            self.ae_.eval()
            for p in self.ae_.parameters():
                p.requires_grad_(False)
            in_ch, down = cfg.latent, 0
        else:
            self.ae_ = None
            in_ch, down = self.dim_, 2
        self.net_ = self._net(in_ch, down)
        self._fit_style(x, labels, clips, progress)
        self.net_.eval()
        self._refit_prior(x, labels)
        self.fit_seconds_ = time.perf_counter() - start
        return self

    def _net(self, in_ch: int, down: int) -> StyleNet:
        c = self.config
        return StyleNet(
            in_ch, c.hidden, c.content_ch, c.style_dim, self.n_styles, down, 2, c.prior_scale
        )

    def _front(self, x: torch.Tensor) -> torch.Tensor:
        if self.ae_ is None:
            return x
        with torch.no_grad():
            return self.ae_.encode(x)

    def _back(self, h: torch.Tensor) -> torch.Tensor:
        return h if self.ae_ is None else self.ae_.decode(h)

    def _fit_style(self, x, labels, clips, progress) -> None:
        cfg = self.config
        rng = np.random.default_rng(cfg.seed)
        gen = torch.Generator().manual_seed(cfg.seed)
        members = {c: np.flatnonzero(clips == c) for c in np.unique(clips)}
        X = _tensor(x)
        opt = torch.optim.Adam(self.net_.parameters(), lr=cfg.lr)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(cfg.epochs, 1))
        net = self.net_
        net.train()
        for _ in _progress(range(cfg.epochs), f"style ({cfg.space})", progress):
            sums: dict[str, float] = {}
            count = 0
            for idx in _batches(len(x), cfg.batch_size, rng):
                if len(idx) < 2:
                    continue
                partner = np.array([rng.choice(members[clips[i]]) for i in idx])
                true = torch.as_tensor(labels[idx])
                drop = torch.rand(len(idx), generator=gen) < cfg.label_dropout
                lab = torch.where(drop, torch.full_like(true, -1), true)
                losses = self._losses(X[idx], X[partner], lab, true, gen)
                total = sum(w * losses[k] for k, w in self._weights().items())
                opt.zero_grad()
                total.backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
                opt.step()
                for k, v in losses.items():
                    sums[k] = sums.get(k, 0.0) + v.item()
                count += 1
            sched.step()
            for k, v in sums.items():
                self.history_.setdefault(k, []).append(v / max(count, 1))

    @torch.no_grad()
    def _refit_prior(self, x: np.ndarray, labels: np.ndarray) -> None:
        """Fit each style's prior component to that style's training codes (posterior means,
        label not given): samples then land where the generator has seen codes (ex-post
        density estimation, Ghosh et al., ICLR 2020)."""
        for k in range(self.n_styles):
            sel = np.flatnonzero(labels == k)
            if len(sel) < 2:
                continue
            mu = np.concatenate(
                [self.style_codes(x[b])[0] for b in np.array_split(sel, 1 + len(sel) // 256)]
            )
            self.net_.prior[k] = torch.as_tensor(mu.mean(0))
            self.net_.prior_logvar[k] = torch.as_tensor(np.log(mu.var(0) + 1e-4))

    def _weights(self) -> dict[str, float]:
        c = self.config
        w = {"rec_pose": c.w_pose, "cycle_pose": c.w_cycle * c.w_pose, "content": c.w_content}
        w |= {"kl": c.w_kl, "homo": c.w_homo}
        if self.ae_ is not None:
            w |= {"rec_latent": c.w_latent, "cycle_latent": c.w_cycle * c.w_latent}
        return w

    def _losses(self, x1, x2, lab, true, gen) -> dict[str, torch.Tensor]:
        """Losses of one batch; ``lab`` is what the nets see (some dropped to -1), ``true``
        the labels that choose each code's prior."""
        net = self.net_

        def sample(mu, logvar):
            eps = torch.randn(mu.shape, generator=gen)
            return mu + eps * (0.5 * logvar).exp()

        h1, h2 = self._front(x1), self._front(x2)
        c1, c2 = net.content(h1), net.content(h2)
        (mu1, lv1), (mu2, lv2) = net.style(h1, lab), net.style(h2, lab)
        r1 = net.generate(c1, sample(mu1, lv1), lab)
        r2 = net.generate(c2, sample(mu2, lv2), lab)
        perm = torch.roll(torch.arange(len(x1)), 1)  # batches are shuffled already
        h3, lab3, x3 = h2[perm], lab[perm], x2[perm]
        pm, plv = net.prior_params(true)
        r3 = net.generate(c2, sample(mu2[perm], lv2[perm]), lab3)
        c4 = net.content(r3)
        mu4, lv4 = net.style(r3, lab3)
        rr2 = net.generate(c4, sample(mu2, lv2), lab)
        rr3 = net.generate(c2[perm].detach(), sample(mu4, lv4), lab3)
        out = {
            "rec_pose": F.smooth_l1_loss(self._back(r1), x1) + F.smooth_l1_loss(self._back(r2), x2),
            "cycle_pose": F.smooth_l1_loss(self._back(rr2), x2)
            + F.smooth_l1_loss(self._back(rr3), x3),
            "content": F.smooth_l1_loss(c4, c2.detach()),
            "kl": _kl(mu1, lv1, pm, plv)
            + _kl(mu2, lv2, pm, plv)
            + _kl(mu4, lv4, pm[perm], plv[perm]),
            "homo": _kl(mu1, lv1, mu2, lv2),
        }
        if self.ae_ is not None:
            out["rec_latent"] = F.smooth_l1_loss(r1, h1) + F.smooth_l1_loss(r2, h2)
            out["cycle_latent"] = F.smooth_l1_loss(rr2, h2) + F.smooth_l1_loss(rr3, h3)
        return out

    # -- inference --------------------------------------------------------------------------
    def _ready(self, x: np.ndarray) -> torch.Tensor:
        if not hasattr(self, "net_"):
            raise ModelError("the model is not trained; call fit() or load one")
        return _tensor(_check_windows(x, self.dim_))

    def _labels(self, label, n: int) -> torch.Tensor:
        lab = np.broadcast_to(np.asarray(-1 if label is None else label, dtype=np.int64), (n,))
        if np.any(lab >= self.n_styles) or np.any(lab < -1):
            raise DataError(f"style labels must be in [-1, {self.n_styles}), got {np.unique(lab)}")
        return torch.as_tensor(lab.copy())

    @torch.no_grad()
    def content_codes(self, x: np.ndarray) -> np.ndarray:
        """Content codes (N, K, T / 4) of normalised windows (N, T, D)."""
        return self.net_.content(self._front(self._ready(x))).numpy()

    @torch.no_grad()
    def style_codes(self, x: np.ndarray, label=None) -> tuple[np.ndarray, np.ndarray]:
        """Mean and log-variance (N, Z) of the style posterior."""
        mu, lv = self.net_.style(self._front(self._ready(x)), self._labels(label, len(x)))
        return mu.numpy(), lv.numpy()

    @torch.no_grad()
    def generate(self, x: np.ndarray, z: np.ndarray, label=None) -> np.ndarray:
        """Content of ``x`` with style code ``z`` (N, Z) and optional ``label``."""
        X = self._ready(x)
        z = np.asarray(z, dtype=np.float32)
        if z.shape != (len(x), self.config.style_dim):
            raise DataError(
                f"style codes must be ({len(x)}, {self.config.style_dim}), got {z.shape}"
            )
        c = self.net_.content(self._front(X))
        out = self.net_.generate(c, torch.as_tensor(z), self._labels(label, len(x)))
        return _numpy(self._back(out))

    def stylize_reference(self, x: np.ndarray, reference: np.ndarray, label=None) -> np.ndarray:
        """Content of ``x`` in the style of ``reference`` (same N; the posterior mean)."""
        ref = _check_windows(reference, getattr(self, "dim_", None))
        if len(ref) != len(x):
            raise DataError(f"need one reference per input, got {len(ref)} for {len(x)}")
        mu, _ = self.style_codes(ref, label)
        return self.generate(x, mu, label)

    def stylize_label(self, x: np.ndarray, label, seed: int = 0) -> np.ndarray:
        """Content of ``x`` in style ``label``, with a style code drawn from the prior."""
        return self.sample(x, 1, seed=seed, label=label)[0]

    def sample(self, x: np.ndarray, n: int, seed: int = 0, label=None) -> np.ndarray:
        """``n`` stylizations (n, N, T, D) of every window with codes from the style prior.

        With a ``label`` the codes come from that style's component (:meth:`prior_codes`);
        without one from the mixture of all styles' components (a style drawn uniformly per
        output, the generator not told it).
        """
        if n < 1:
            raise DataError(f"n must be >= 1, got {n}")
        lab = self._labels(label, len(self._ready(x)))
        gen = torch.Generator().manual_seed(int(seed))
        if label is None or np.all(np.asarray(label) < 0):
            lab = torch.randint(0, max(self.n_styles, 1), (n * len(x),), generator=gen)
        else:
            lab = lab.repeat(n)
        z = self.prior_codes(lab.numpy(), generator=gen).reshape(n, len(x), -1)
        return np.stack([self.generate(x, z[i], label) for i in range(n)])

    @torch.no_grad()
    def prior_codes(self, labels, seed: int = 0, *, generator=None) -> np.ndarray:
        """Style codes (N, Z) drawn from p(z | label) for every label (-1: N(0, I)), scaled
        about the component's mean by ``config.temperature``."""
        if not hasattr(self, "net_"):
            raise ModelError("the model is not trained; call fit() or load one")
        lab = self._labels(labels, len(np.atleast_1d(labels)))
        gen = generator or torch.Generator().manual_seed(int(seed))
        eps = torch.randn((len(lab), self.config.style_dim), generator=gen)
        mean, logvar = self.net_.prior_params(lab)
        return (mean + self.config.temperature * eps * (0.5 * logvar).exp()).numpy()

    # -- persistence ------------------------------------------------------------------------
    def state(self) -> dict:
        return {
            "config": asdict(self.config),
            "n_styles": self.n_styles,
            "dim": self.dim_,
            "net": self.net_.state_dict(),
            "ae": None if self.ae_ is None else self.ae_.state_dict(),
        }

    @classmethod
    def from_state(cls, state: dict) -> GenMoStyle:
        try:
            cfg = StyleConfig(**state["config"])
            m = cls(cfg, int(state["n_styles"]))
            m.dim_ = int(state["dim"])
            in_ch, down = (cfg.latent, 0) if cfg.space == "latent" else (m.dim_, 2)
            m.net_ = m._net(in_ch, down)
            net = dict(state["net"])
            if "prior" not in net:  # saved before the per-style prior: N(0, I) for every style
                net["prior"] = torch.zeros_like(m.net_.prior)
                net["prior_logvar"] = torch.zeros_like(m.net_.prior_logvar)
            m.net_.load_state_dict(net)
            m.ae_ = None
            if state["ae"] is not None:
                m.ae_ = MotionAE(m.dim_, cfg.hidden, cfg.latent)
                m.ae_.load_state_dict(state["ae"])
                m.ae_.eval()
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise ModelError(f"not a GenMoStyle state ({exc})") from None
        m.net_.eval()
        return m


def train_autoencoder(
    x: np.ndarray, config: StyleConfig, *, progress: bool = True
) -> tuple[MotionAE, list[float]]:
    """Stage 1: the motion autoencoder on normalised windows (N, T, D)."""
    x = _check_windows(x)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    ae = MotionAE(x.shape[2], config.hidden, config.latent)
    X = _tensor(x)
    opt = torch.optim.Adam(ae.parameters(), lr=config.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(config.ae_epochs, 1))
    curve = []
    for _ in _progress(range(config.ae_epochs), "autoencoder", progress):
        tot, n = 0.0, 0
        for idx in _batches(len(x), config.batch_size, rng):
            loss = F.smooth_l1_loss(ae(X[idx]), X[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            tot, n = tot + loss.item(), n + 1
        sched.step()
        curve.append(tot / max(n, 1))
    ae.eval()
    return ae, curve


__all__ = [
    "GenMoStyle",
    "RootModel",
    "StyleClassifier",
    "StyleConfig",
    "train_autoencoder",
]
