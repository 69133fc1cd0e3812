"""latentzip: learned lossless compression with discrete latents and tractable models."""

import os

# The coder runs many short parallel regions (numba's OpenMP layer). OpenMP's default
# busy-waiting between them collapses throughput ~10x when the cores are shared with other
# work; passive waiting costs little when they are not. A user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

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
