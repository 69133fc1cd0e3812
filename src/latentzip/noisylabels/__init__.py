"""Learning with noisy labels through compressed features (Chen et al., TNNLS 2022).

Dropout and nested dropout on the last feature layer limit how much a network can memorise
of noisy labels; Co-teaching (Han et al., NeurIPS 2018) keeps each network's small-loss
samples for its peer; the two-stage recipe trains two bottlenecked networks and fine-tunes
them with Co-teaching.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> y = rng.integers(0, 3, 300)
>>> x = (rng.random((300, 4, 4)) * 60 + 60 * y[:, None, None]).astype(np.uint8)
>>> split = make_split(x, y, x[:60], y[:60], Noise("symmetric", 0.2), seed=0)
>>> cfg = TrainConfig.quick(hidden=(16, 8), epochs=2, finetune_epochs=1)
>>> results = run_methods(split, cfg, ["ce", "nested+coteaching"], seed=0)
>>> [(r.method, len(r.history)) for r in results]
[('ce', 2), ('nested+coteaching', 3)]
"""

from latentzip.noisylabels.data import NoisySplit, load_folder, make_split
from latentzip.noisylabels.methods import METHODS, run_methods
from latentzip.noisylabels.models import FeatureClassifier, make_model
from latentzip.noisylabels.noise import Noise, pair_flip, symmetric, transition_matrix
from latentzip.noisylabels.results import (
    MethodResult,
    markdown_table,
    plot_curves,
    summarise,
    write_json,
)
from latentzip.noisylabels.train import TrainConfig, coteach, coteaching_select, fit

__all__ = [
    "METHODS",
    "FeatureClassifier",
    "MethodResult",
    "Noise",
    "NoisySplit",
    "TrainConfig",
    "coteach",
    "coteaching_select",
    "fit",
    "load_folder",
    "make_model",
    "make_split",
    "markdown_table",
    "pair_flip",
    "plot_curves",
    "run_methods",
    "summarise",
    "symmetric",
    "transition_matrix",
    "write_json",
]
