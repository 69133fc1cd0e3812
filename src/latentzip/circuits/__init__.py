"""Probabilistic circuits: HCLT structure, exact evaluation, EM, persistence."""

from latentzip.circuits.circuit import Circuit
from latentzip.circuits.hclt import HCLT, HCLTConfig
from latentzip.circuits.structure import Tree, chow_liu_tree, mutual_information

__all__ = [
    "HCLT",
    "Circuit",
    "HCLTConfig",
    "Tree",
    "chow_liu_tree",
    "mutual_information",
]
