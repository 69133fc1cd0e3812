"""Class-incremental learning without forgetting through a discrete key-value bottleneck.

::

    stream of tasks (classes arrive in groups, no task labels, no replay)
        -> frozen encoder (k-means patch features learned without labels / a CNN trained on
       another dataset / random projection of pixels)
        -> KeyValueBottleneck (frozen keys, trained values) or a baseline
        -> mean per-class test accuracy after every task
"""

from latentzip.continual.encoders import (
    CNNEncoder,
    RandomProjectionEncoder,
    SmallCNN,
    load_cnn,
    train_cnn,
)
from latentzip.continual.evaluate import (
    StreamResult,
    format_results,
    per_class_accuracy,
    run_iid,
    run_stream,
)
from latentzip.continual.images import (
    KVConfig,
    frozen_encoder,
    make_learner,
    prepare,
    run_method,
    validation_split,
)
from latentzip.continual.learners import (
    FineTuneEncoder,
    KVLearner,
    LinearProbe,
    MLPProbe,
    ReplayProbe,
)
from latentzip.continual.patches import PatchKMeansEncoder
from latentzip.continual.stream import (
    ClassIncrementalStream,
    class_split,
    load_labelled,
)
from latentzip.continual.toy import make_toy, plot_toy, run_toy

__all__ = [
    "CNNEncoder",
    "ClassIncrementalStream",
    "FineTuneEncoder",
    "KVConfig",
    "KVLearner",
    "LinearProbe",
    "MLPProbe",
    "PatchKMeansEncoder",
    "RandomProjectionEncoder",
    "ReplayProbe",
    "SmallCNN",
    "StreamResult",
    "class_split",
    "format_results",
    "frozen_encoder",
    "load_cnn",
    "load_labelled",
    "make_learner",
    "make_toy",
    "per_class_accuracy",
    "plot_toy",
    "prepare",
    "run_iid",
    "run_method",
    "run_stream",
    "run_toy",
    "train_cnn",
    "validation_split",
]
