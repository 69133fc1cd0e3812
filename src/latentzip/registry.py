"""Where models and codecs are registered: one line each, imported only when used.

``MODELS`` maps a model file's ``kind`` to the class that reads it (a coding model, or a
float training model whose ``coding_model()`` is one); ``CODECS`` maps a container's codec id to
its :class:`~latentzip.coding.codecs.CodecSpec` (what ``info`` prints, how ``decompress`` restores).
"""

from __future__ import annotations

from latentzip.coding.registry import Registry
from latentzip.errors import ContainerError, ModelError

MODELS = Registry(
    "model kind",
    {
        "hclt": "latentzip.circuits.circuit:Circuit",
        "hclt-q": "latentzip.circuits.quantised:QuantisedCircuit",
        "hclt-mixture": "latentzip.circuits.mixture:MixtureCircuit",
        "hclt-mixture-q": "latentzip.circuits.quantised_mixture:QuantisedMixture",
        "photo-context": "latentzip.photos.model:PhotoModel",
    },
    ModelError,
)

CODECS = Registry(
    "codec",
    {
        1: "latentzip.cli.arrays:SPEC",
        2: "latentzip.cli.tables:SPEC",
        3: "latentzip.splats.cli.codec:SPEC",
        4: "latentzip.cli.photos:SPEC",
    },
    ContainerError,
)
