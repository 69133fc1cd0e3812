"""Volumetric video with dual Gaussian splatting: data, rasteriser, fitting, codec.

After DualGS (Jiang et al., "Robust Dual Gaussian Splatting for Immersive Human-centric
Volumetric Videos", SIGGRAPH Asia 2024).
"""

from latentzip.splats.gaussians import Gaussians, sh_bands, sh_degree
from latentzip.splats.ply import ply_bytes, read_ply, write_ply
from latentzip.splats.sequence import DualGSSequence

__all__ = [
    "DualGSSequence",
    "Gaussians",
    "ply_bytes",
    "read_ply",
    "sh_bands",
    "sh_degree",
    "write_ply",
]
