"""A trained bundle: skeleton, normaliser, GenMoStyle model, root regressor, style classifier.

From BVH clips to stylized BVH clips::

    BVH -> Motion (resampled, retargeted) -> features -> normalised (1, T, D)
        -> GenMoStyle (reference | label | prior samples) -> root regressor
        -> features -> Motion (integrated root, 6-D rotations) -> BVH

>>> from latentzip.motion.synthetic import toy_motion
>>> from latentzip.motion.model import StyleConfig
>>> clips = [("a", 0, toy_motion(40, seed=0)), ("b", 1, toy_motion(40, seed=1))]
>>> b = Bundle.train_on(clips, ["calm", "wild"], StyleConfig.tiny(), window=16, progress=False)
>>> out = b.stylize(toy_motion(30, seed=2), style="wild", n=2, seed=0)
>>> len(out), out[0].n_frames, out[0].skeleton.names == b.skeleton.names
(2, 28, True)
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from latentzip.errors import DataError, ModelError
from latentzip.motion.bvh import Motion, Skeleton, parse_bvh, write_bvh
from latentzip.motion.data import Normalizer, retarget, windows
from latentzip.motion.features import features_to_motion, motion_features
from latentzip.motion.model import GenMoStyle, RootModel, StyleClassifier, StyleConfig

FORMAT = "latentzip-motion-1"


def _skeleton_text(sk: Skeleton) -> str:
    from latentzip.motion.bvh import Bvh

    return write_bvh(Bvh(sk, np.zeros((1, sk.n_channels)), 1.0 / 30))


@dataclass
class Bundle:
    skeleton: Skeleton
    fps: float
    styles: list[str]
    normalizer: Normalizer
    model: GenMoStyle
    root: RootModel
    classifier: StyleClassifier | None = None
    window: int = 32

    # -- building ---------------------------------------------------------------------------
    @classmethod
    def train_on(
        cls,
        clips: list[tuple[str, int, Motion]],
        styles: list[str],
        config: StyleConfig,
        *,
        window: int = 32,
        stride: int = 2,
        progress: bool = True,
    ) -> Bundle:
        """Train everything on ``(name, style index or -1, motion)`` clips on one skeleton."""
        if not clips:
            raise DataError("no clips to train on")
        sk = clips[0][2].skeleton
        xs, labs, cids = [], [], []
        for cid, (_, lab, m) in enumerate(clips):
            w = windows(motion_features(retarget(m, sk)), window, stride)
            xs.append(w)
            labs.append(np.full(len(w), lab))
            cids.append(np.full(len(w), cid))
        x = np.concatenate(xs)
        if len(x) == 0:
            raise DataError(f"clips are shorter than the {window}-frame window")
        norm = Normalizer.fit(x)
        xn, lab, cid = norm.transform(x), np.concatenate(labs), np.concatenate(cids)
        model = GenMoStyle(config, len(styles)).fit(xn, lab, cid, progress=progress)
        root = RootModel(epochs=max(config.epochs // 2, 1), seed=config.seed).fit(
            xn, progress=progress
        )
        clf = None
        if (lab >= 0).any():
            clf = StyleClassifier(len(styles), epochs=max(config.epochs // 2, 1)).fit(
                xn, lab, progress=progress
            )
        fps = clips[0][2].fps
        return cls(sk, fps, list(styles), norm, model, root, clf, window)

    @classmethod
    def from_data(cls, data, model: GenMoStyle, root: RootModel, classifier=None) -> Bundle:
        """Wrap models trained on a :class:`~latentzip.motion.data.MotionData`."""
        return cls(
            data.skeleton,
            data.fps,
            list(data.styles),
            data.normalizer,
            model,
            root,
            classifier,
            data.config.window,
        )

    # -- inference --------------------------------------------------------------------------
    def prepare(self, motion: Motion) -> np.ndarray:
        """Normalised features (1, T, D) of a motion (resampled, retargeted, T cut to 4k)."""
        m = retarget(motion.downsample(self.fps), self.skeleton)
        f = motion_features(m)
        T = len(f) - len(f) % 4
        if T < 4:
            raise DataError(f"the motion is too short ({m.n_frames} frames at {self.fps:.0f} fps)")
        return self.normalizer.transform(f[None, :T])

    def style_index(self, style: str | None) -> int:
        if style is None:
            return -1
        if style not in self.styles:
            raise DataError(f"unknown style {style!r}; this model knows {', '.join(self.styles)}")
        return self.styles.index(style)

    def to_motion(self, x: np.ndarray) -> Motion:
        """Features of one normalised window (T, D) back to a motion on the skeleton."""
        return features_to_motion(self.normalizer.inverse(x), self.skeleton, self.fps)

    def stylize(
        self,
        content: Motion,
        *,
        style: str | None = None,
        reference: Motion | None = None,
        n: int = 1,
        seed: int = 0,
    ) -> list[Motion]:
        """Stylize ``content`` by a reference motion, by a style label, or from the prior.

        With ``reference`` the style code is the reference's posterior mean (``n`` must be 1);
        otherwise ``n`` codes are drawn from the style prior: the component of ``style`` when
        given, else the mixture of all styles' components.
        """
        x = self.prepare(content)
        lab = self.style_index(style)
        if reference is not None:
            if n != 1:
                raise DataError("a reference gives one output; use n=1")
            y = self.model.stylize_reference(x, self.prepare(reference), lab)[None]
        else:
            y = self.model.sample(x, n, seed=seed, label=lab)
        return [self.to_motion(self.root.restore(yi)[0]) for yi in y]

    # -- persistence ------------------------------------------------------------------------
    def state(self) -> dict:
        st = {
            "format": FORMAT,
            "skeleton": _skeleton_text(self.skeleton),
            "fps": float(self.fps),
            "styles": list(self.styles),
            "mean": torch.as_tensor(self.normalizer.mean),
            "std": torch.as_tensor(self.normalizer.std),
            "window": self.window,
            "model": self.model.state(),
            "root": self.root.net_.state_dict(),
            "classifier": None,
        }
        if self.classifier is not None:
            st["classifier"] = self.classifier.net_.state_dict()
        return st

    def save(self, path: str | Path, *, force: bool = False) -> Path:
        from latentzip.files import atomic_write

        buf = io.BytesIO()
        torch.save(self.state(), buf)
        return atomic_write(path, buf.getvalue(), force=force)

    @classmethod
    def load(cls, path: str | Path) -> Bundle:
        from latentzip.motion.nets import Classifier, RootRegressor

        path = Path(path)
        try:
            st = torch.load(path, map_location="cpu", weights_only=True)
        except FileNotFoundError:
            raise ModelError(f"{path}: no such model file") from None
        except Exception as exc:
            raise ModelError(f"{path}: not a motion model ({exc})") from None
        if not isinstance(st, dict) or st.get("format") != FORMAT:
            raise ModelError(f"{path}: not a latentzip motion model")
        sk = parse_bvh(st["skeleton"]).skeleton
        model = GenMoStyle.from_state(st["model"])
        root = RootModel()
        root.dim_ = model.dim_
        root.net_ = RootRegressor(model.dim_ - 4)
        root.net_.load_state_dict(st["root"])
        root.net_.eval()
        clf = None
        if st["classifier"] is not None:
            clf = StyleClassifier(len(st["styles"]))
            clf.dim_ = model.dim_
            clf.net_ = Classifier(model.dim_, len(st["styles"]))
            clf.net_.load_state_dict(st["classifier"])
            clf.net_.eval()
        norm = Normalizer(st["mean"].numpy(), st["std"].numpy())
        return cls(sk, st["fps"], st["styles"], norm, model, root, clf, st["window"])


__all__ = ["Bundle"]
