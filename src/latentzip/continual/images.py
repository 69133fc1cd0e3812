"""MNIST / Fashion-MNIST class-incremental experiments on frozen encoders.

::

    images --frozen encoder--> features (computed once)
        --> KV bottleneck / linear probe / MLP / MLP with replay          (5 tasks x 2 classes)
    images --> fine-tuned copy of the encoder + head

Encoders: ``patches`` (k-means on patches of the stream's own training images, no labels:
:mod:`.patches`), ``cnn`` (a CNN trained with labels on the *other* dataset), ``random``
(pixels through a fixed random projection).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from latentzip.continual.encoders import (
    CNNEncoder,
    RandomProjectionEncoder,
    load_cnn,
    train_cnn,
)
from latentzip.continual.evaluate import StreamResult, run_iid, run_stream
from latentzip.continual.learners import (
    FineTuneEncoder,
    KVLearner,
    LinearProbe,
    MLPProbe,
    ReplayProbe,
)
from latentzip.continual.patches import PatchKMeansEncoder
from latentzip.continual.stream import ClassIncrementalStream, class_split, load_labelled
from latentzip.errors import LatentzipError

SOURCE = {"mnist": "fashion", "fashion": "mnist"}
METHODS = ("kv", "linear", "mlp", "replay", "finetune")
ENCODERS = ("patches", "cnn", "random")


def default_cache() -> Path:
    """Where trained encoders are kept: ``$LATENTZIP_CACHE`` or ``~/.cache/latentzip``."""
    env = os.environ.get("LATENTZIP_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "latentzip"


@dataclass(frozen=True)
class KVConfig:
    """Hyperparameters of the bottleneck learner on image features."""

    n_codebooks: int = 64
    n_pairs: int = 1024
    key_dim: int = 8
    epochs: int = 5
    lr: float = 0.05
    batch_size: int = 256
    kmeans_epochs: int = 3
    kmeans_samples: int = 10_000
    decoder: str = "vote"
    present_classes_only: bool = False  # the labels trick (see KVLearner)
    value_rule: str = "gradient"  # or "counts" (see KVLearner)

    @classmethod
    def quick(cls, **kw) -> KVConfig:
        return replace(cls(n_codebooks=32, n_pairs=256, epochs=3, kmeans_epochs=2), **kw)


def frozen_encoder(
    kind: str,
    dataset: str,
    data_root: str | Path,
    cache: str | Path | None = None,
    *,
    cnn_epochs: int = 2,
    progress: bool = False,
):
    """``"patches"``: k-means patch features learned from the unlabelled training images of
    ``dataset`` (kept in ``cache/continual_patches_<dataset>.npz``); ``"cnn"``: a
    :class:`SmallCNN` trained on the other dataset (trained once, kept in
    ``cache/continual_cnn_<source>.pt``, resumable); ``"random"``: pixels through a fixed
    random projection."""
    if kind == "random":
        return RandomProjectionEncoder(784, 256, seed=0)
    if kind not in ENCODERS:
        raise LatentzipError(f"unknown encoder {kind!r} ({', '.join(ENCODERS)})")
    cache = Path(cache) if cache is not None else default_cache()
    if kind == "patches":
        path = cache / f"continual_patches_{dataset}.npz"
        if path.exists():
            return PatchKMeansEncoder.load(path)
        images = load_labelled(data_root, dataset, "train").images  # its labels are not used
        enc = PatchKMeansEncoder.fit(images, trained_on=f"{dataset} train images, no labels")
        enc.save(path)
        return enc
    source = SOURCE[dataset]
    path = cache / f"continual_cnn_{source}.pt"
    if path.exists() and torch.load(path, weights_only=True)["epoch"] >= cnn_epochs:
        return CNNEncoder(load_cnn(path, cnn_epochs))
    cache.mkdir(parents=True, exist_ok=True)
    src = load_labelled(data_root, source, "train")
    cnn = train_cnn(src.images, src.labels, epochs=cnn_epochs, checkpoint=path, progress=progress)
    return CNNEncoder(cnn)


@dataclass
class Prepared:
    """A dataset with the frozen features of its images, computed once."""

    dataset: str
    encoder: object
    train_images: np.ndarray
    y_train: np.ndarray
    test_images: np.ndarray
    y_test: np.ndarray
    x_train: torch.Tensor
    x_test: torch.Tensor


def prepare(dataset: str, encoder, data_root: str | Path) -> Prepared:
    """Load ``dataset`` and encode its train and test images with the frozen ``encoder``."""
    train = load_labelled(data_root, dataset, "train")
    test = load_labelled(data_root, dataset, "test")
    return Prepared(
        dataset,
        encoder,
        train.images,
        train.labels,
        test.images,
        test.labels,
        encoder.encode(train.images),
        encoder.encode(test.images),
    )


def validation_split(prep: Prepared, fraction: float = 0.1, seed: int = 0) -> Prepared:
    """The training set cut in two (per class, seeded): the rest to train on and a held-out
    ``fraction`` standing in for the test set, for choosing settings without the test set."""
    rng = np.random.default_rng(seed)
    held = np.zeros(len(prep.y_train), bool)
    for c in np.unique(prep.y_train):
        rows = np.flatnonzero(prep.y_train == c)
        held[rng.choice(rows, round(fraction * len(rows)), replace=False)] = True
    keep, val = np.flatnonzero(~held), np.flatnonzero(held)
    return Prepared(
        f"{prep.dataset} (validation split)", prep.encoder,
        prep.train_images[keep], prep.y_train[keep], prep.train_images[val], prep.y_train[val],
        prep.x_train[torch.as_tensor(keep)], prep.x_train[torch.as_tensor(val)],
    )  # fmt: skip


def make_learner(
    method: str,
    prep: Prepared,
    seed: int = 0,
    kv: KVConfig | None = None,
    key_data: torch.Tensor | None = None,
    n_classes: int = 10,
):
    """A fresh learner; ``kv`` keys are fitted on ``key_data`` (default: the unlabelled
    training features of the stream)."""
    dim = prep.x_train.shape[1]
    if method == "kv":
        kv = kv or KVConfig()
        learner = KVLearner(
            dim,
            n_classes,
            n_codebooks=kv.n_codebooks,
            n_pairs=kv.n_pairs,
            key_dim=kv.key_dim,
            decoder=kv.decoder,
            epochs=kv.epochs,
            lr=kv.lr,
            batch_size=kv.batch_size,
            seed=seed,
            present_classes_only=kv.present_classes_only,
            value_rule=kv.value_rule,
        )
        data = prep.x_train if key_data is None else key_data
        if len(data) > kv.kmeans_samples:  # keys learn from an unlabelled subsample
            g = torch.Generator().manual_seed(seed)
            data = data[torch.randperm(len(data), generator=g)[: kv.kmeans_samples]]
        return learner.init_keys(data, epochs=kv.kmeans_epochs, batch_size=1024, decay=0.95)
    if method == "linear":
        return LinearProbe(dim, n_classes, seed=seed, epochs=3)
    if method == "mlp":
        return MLPProbe(dim, n_classes, seed=seed, epochs=3)
    if method == "replay":
        return ReplayProbe(dim, n_classes, seed=seed, epochs=3, buffer_size=500)
    if method == "finetune":
        return FineTuneEncoder(prep.encoder, n_classes, seed=seed, epochs=1)
    raise LatentzipError(f"unknown method {method!r}: choose from {METHODS}")


def run_method(
    method: str,
    prep: Prepared,
    seed: int = 0,
    *,
    kv: KVConfig | None = None,
    n_tasks: int = 5,
    key_data: torch.Tensor | None = None,
    iid: bool = False,
) -> tuple[StreamResult, float | None]:
    """One learner through the class-incremental stream, and optionally the i.i.d. accuracy
    of a fresh twin (same configuration and seed) trained on all classes at once."""
    n_classes = int(prep.y_train.max()) + 1
    stream = ClassIncrementalStream(prep.y_train, class_split(n_classes, n_tasks), seed=seed)
    images = method == "finetune"
    x_train = prep.train_images if images else prep.x_train
    x_test = prep.test_images if images else prep.x_test
    learner = make_learner(method, prep, seed, kv, key_data, n_classes)
    result = run_stream(learner, method, stream, x_train, x_test, prep.y_test, n_classes)
    ceiling = None
    if iid:
        twin = make_learner(method, prep, seed, kv, key_data, n_classes)
        ceiling = run_iid(twin, x_train, prep.y_train, x_test, prep.y_test, n_classes, seed)
    return result, ceiling
