"""Volumetric video with dual Gaussian splatting: data, rasteriser, fitting, codec.

After DualGS (Jiang et al., "Robust Dual Gaussian Splatting for Immersive Human-centric
Volumetric Videos", SIGGRAPH Asia 2024).

The rasteriser (``raster``), metrics, fitting (``fit``, ``track``, ``pipeline``) import
PyTorch and are imported from their modules, so that ``import latentzip.splats`` stays light.
"""

from latentzip.splats.cameras import Camera, Capture, load_capture, write_capture
from latentzip.splats.codec import (
    SplatCodecConfig,
    SplatDecoder,
    compress_sequence,
    decode_frame,
    decompress_sequence,
)
from latentzip.splats.gaussians import Gaussians, sh_bands, sh_degree
from latentzip.splats.ply import ply_bytes, read_ply, write_ply
from latentzip.splats.sequence import DualGSSequence

__all__ = [
    "Camera",
    "Capture",
    "DualGSSequence",
    "Gaussians",
    "SplatCodecConfig",
    "SplatDecoder",
    "compress_sequence",
    "decode_frame",
    "decompress_sequence",
    "load_capture",
    "ply_bytes",
    "read_ply",
    "sh_bands",
    "sh_degree",
    "write_capture",
    "write_ply",
]
