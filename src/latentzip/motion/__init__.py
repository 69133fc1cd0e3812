"""Generative human motion stylization in latent space.

After GenMoStyle (Guo et al., "Generative Human Motion Stylization in Latent Space", ICLR 2024).

Modules, bottom up (torch is imported only from ``nets`` on)::

    rotations   Euler angles in any BVH order, 6-D rotations (Zhou et al. 2019), geodesics
    skeleton    Skeleton, Bvh (channel values), Motion (rotation matrices): forward
                kinematics, resampling, mirroring
    bvh         BVH text reader / writer and its limits (re-exports the skeleton types)
    features    per-frame features (root motion, local positions, 6-D rotations, velocities,
                foot contacts) and their inverse
    data        style / content clips -> normalised windows, held-out clip ends
    synthetic   a tiny skeleton and motion for tests
    render      stick-figure GIF / PNG strip
    nets        autoencoder, content / style encoders, AdaIN generator, classifier, regressor
    torchutil   shared training helpers: window checks, tensors, batches, progress, fit loop
    auxiliary   StyleClassifier (the judge), RootModel (the root regressor)
    model       GenMoStyle (latent or pose space), its autoencoder; re-exports auxiliary
    evaluate    style accuracy, content preservation, style FID, diversity
    pipeline    Bundle: BVH in, stylized BVH out; save / load
"""

from latentzip.motion.bvh import Bvh, Motion, Skeleton, parse_bvh, read_bvh, save_bvh, write_bvh
from latentzip.motion.features import (
    feature_layout,
    features_to_motion,
    features_to_positions,
    motion_features,
)

__all__ = [
    "Bvh",
    "Motion",
    "Skeleton",
    "feature_layout",
    "features_to_motion",
    "features_to_positions",
    "motion_features",
    "parse_bvh",
    "read_bvh",
    "save_bvh",
    "write_bvh",
]
