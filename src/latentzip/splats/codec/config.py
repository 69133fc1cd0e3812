"""Settings of the splats codec and the quality presets 1-5."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from latentzip.errors import DataError

QUALITIES = {"low": 1, "medium": 2, "default": 3, "high": 4, "max": 5}
_PRESET_FIELDS = (
    "position_step",
    "rotation_step",
    "joint_rotation_step",
    "opacity_step",
    "scale_step",
    "deadzone",
    "codebook_size",
    "codebook_size_rest",
    "gaussians_per_entry",
    "hysteresis",
    "weight_bits",
    "sh_grid_bits",
    "kmeans_samples",
    "kmeans_iters",
)
# q3 (default), bitstream v3, on a 128 px spinkick fit: SH colour is most of the distortion
# (codebooks of 1024 entries halve the drop), log scales the cheapest to coarsen; against
# position 2**-10, scale step 0.08, 384 band-1 entries, hysteresis 0.2 and a 32768 x 12 k-means
# (102.1x, 0.54 dB drop) this is 103.2x at 0.43 dB
_PRESETS = {
    1: (2.0**-8, 2.0**-3, 2.0**-5, 0.64, 0.32, 1.0, 64, 16, 16.0, 0.8, 5, 5, 131072, 30),
    2: (2.0**-9, 2.0**-4, 2.0**-6, 0.32, 0.16, 1.0, 128, 32, 8.0, 0.4, 6, 6, 131072, 30),
    3: (2.0**-11, 2.0**-4, 2.0**-7, 0.16, 0.12, 0.75, 192, 512, 4.0, 0.1, 6, 7, 131072, 30),
    4: (2.0**-11, 2.0**-6, 2.0**-8, 0.08, 0.04, 0.75, 1024, 256, 2.0, 0.1, 8, 8, 131072, 30),
    5: (2.0**-13, 2.0**-8, 2.0**-11, 0.02, 0.01, 0.5, 8192, 2048, 0.5, 0.0, 12, 0, 32768, 12),
}


@dataclass(frozen=True)
class SplatCodecConfig:
    """Settings of the splats codec; :meth:`from_quality` gives the presets.

    Attributes
    ----------
    position_step : positions, as a fraction of the bounding-box diagonal of the sequence.
    rotation_step : unit-quaternion components of the Gaussians' orientations (every Gaussian
        of a .ply sequence, the skin's rest rotations of a DualGS model).
    joint_rotation_step : unit-quaternion components of the DualGS joints (they move the skin:
        finer).
    opacity_step, scale_step : opacity logits and log scales.
    deadzone : opacity and log scale keep their previous decoded value while within this many
        steps of it (0.5: plain rounding); the error bound is ``max(0.5, deadzone) * step``.
    codebook_size, codebook_size_rest : entries of the SH codebooks of band 0 (DC) and of
        each higher band (at most 8192).
    gaussians_per_entry : codebooks hold at most ``N / gaussians_per_entry`` entries for N
        Gaussians (a codebook larger than the data it codes does not pay).
    sh_grid_bits : k-means codebook entries are rounded to multiples of ``2**-sh_grid_bits``
        (0: float16 as they come), which makes them cheaper to store.
    hysteresis : a Gaussian keeps its codebook entry of the previous frame unless the nearest
        one is closer by more than this factor (0.1 = 10 %); fewer changes, fewer bits.
    segment_length : frames per independently decodable segment.
    weight_bits : skinning weights are multiples of 2**-weight_bits summing to one.
    kmeans_samples, kmeans_iters, seed : k-means fitting (deterministic for a given seed).
    """

    position_step: float = 2.0**-11
    rotation_step: float = 2.0**-4
    joint_rotation_step: float = 2.0**-7
    opacity_step: float = 0.16
    scale_step: float = 0.12
    deadzone: float = 0.75
    codebook_size: int = 192
    codebook_size_rest: int = 512
    gaussians_per_entry: float = 4.0
    hysteresis: float = 0.1
    segment_length: int = 50
    weight_bits: int = 6
    sh_grid_bits: int = 7
    kmeans_samples: int = 131072
    kmeans_iters: int = 30
    seed: int = 0

    def __post_init__(self) -> None:
        steps = ("position_step", "rotation_step", "joint_rotation_step", "opacity_step")
        for name in (*steps, "scale_step"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise DataError(f"{name} must be a positive number, not {value}")
        for name in ("codebook_size", "codebook_size_rest"):
            if not 1 <= getattr(self, name) <= 8192:
                raise DataError(f"{name} must lie in 1..8192, not {getattr(self, name)}")
        if self.segment_length < 1:
            raise DataError(f"segment_length must be at least 1, not {self.segment_length}")
        if not 4 <= self.weight_bits <= 20:
            raise DataError(f"weight_bits must lie in 4..20, not {self.weight_bits}")
        if not 0 <= self.sh_grid_bits <= 24:
            raise DataError(f"sh_grid_bits must lie in 0..24, not {self.sh_grid_bits}")
        if not 0.5 <= self.deadzone <= 4:
            raise DataError(f"deadzone must lie in 0.5..4 steps, not {self.deadzone}")
        if not self.gaussians_per_entry > 0:
            raise DataError(f"gaussians_per_entry must be positive, not {self.gaussians_per_entry}")
        if self.hysteresis < 0:
            raise DataError(f"hysteresis must be >= 0, not {self.hysteresis}")

    @classmethod
    def from_quality(cls, quality: int | str = "default", **overrides) -> SplatCodecConfig:
        """Preset ``quality`` 1-5 (or ``low, medium, default, high, max``); higher is larger
        and closer to the original. Keyword arguments override single fields.

        >>> SplatCodecConfig.from_quality("default") == SplatCodecConfig()
        True
        >>> SplatCodecConfig.from_quality(5).codebook_size
        8192
        """
        q = QUALITIES.get(quality, quality) if isinstance(quality, str) else quality
        if q not in QUALITIES.values():
            raise DataError(f"quality must be 1-5 or one of {', '.join(QUALITIES)}, not {quality}")
        return replace(cls(**dict(zip(_PRESET_FIELDS, _PRESETS[q], strict=True))), **overrides)


__all__ = ["QUALITIES", "SplatCodecConfig"]
