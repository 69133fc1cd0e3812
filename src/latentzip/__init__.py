"""latentzip: learned lossless compression with discrete latents and tractable models."""

from latentzip.circuits import HCLT, HCLTConfig
from latentzip.errors import ContainerError, DataError, LatentzipError, ModelError

__version__ = "0.1.0"
__all__ = [
    "HCLT",
    "ContainerError",
    "DataError",
    "HCLTConfig",
    "LatentzipError",
    "ModelError",
    "__version__",
]
