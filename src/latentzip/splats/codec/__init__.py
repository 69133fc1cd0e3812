"""Compression of Gaussian-splat volumetric video (the codec half of DualGS).

After Jiang et al., "Robust Dual Gaussian Splatting for Immersive Human-centric Volumetric
Videos" (SIGGRAPH Asia 2024): motion is coded as closed-loop quantised residuals against the
previous decoded frame, appearance (SH colour) through persistent per-band k-means codebooks
that live across a segment, opacity and scale quantised and entropy-coded (constriction rANS)::

    DualGSSequence ---joints (T, J)------\\             per segment of frames (independent):
      |-- skin binding --> model part     >-- tracks: position, rotation --> codec.motion
    [Gaussians] * T ---every Gaussian----/   appearance: log-scale, opacity --> codec.motion
                                             SH band l --> codebook + sticky indices
    container (codec 3, docs/splats-format.md): header, segment index + CRC, model, segments

A segment decodes on its own (plus the model part), so :func:`decode_frame` reads one segment.
Input is a :class:`DualGSSequence` (joint motion + skin appearance) or a list of
:class:`Gaussians` frames with the same number of Gaussians in the same order (a ``.ply``
sequence); decoding returns the same kind.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace

import numpy as np

from latentzip.coding import container, limits
from latentzip.coding.fields import Fields
from latentzip.errors import ContainerError, DataError
from latentzip.splats.codec.binding import Binding, predict_weights, weights_residual
from latentzip.splats.codec.motion import grid, grid_quaternions
from latentzip.splats.codec.segment import (
    SegmentCode,
    SegmentFrames,
    Steps,
    decode_segment,
    dequantise_segment,
    encode_segment,
    quantise_segment,
)
from latentzip.splats.gaussians import Gaussians
from latentzip.splats.sequence import DualGSSequence

__all__ = [
    "CODEC_NAME",
    "CODEC_SPLATS",
    "QUALITIES",
    "SplatCodecConfig",
    "SplatDecoder",
    "compress_sequence",
    "decode_frame",
    "decompress_sequence",
]

CODEC_SPLATS = 3
CODEC_NAME = "dualgs-splats"
CODEC_VERSION = 1
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
)
_PRESETS = {
    1: (2.0**-8, 2.0**-3, 2.0**-5, 0.64, 0.32, 1.0, 64, 16, 16.0, 0.8, 5, 5),
    2: (2.0**-9, 2.0**-4, 2.0**-6, 0.32, 0.16, 1.0, 128, 32, 8.0, 0.4, 6, 6),
    3: (2.0**-10, 2.0**-5, 2.0**-7, 0.16, 0.08, 1.0, 256, 64, 4.0, 0.2, 7, 7),
    4: (2.0**-11, 2.0**-6, 2.0**-8, 0.08, 0.04, 0.75, 1024, 256, 2.0, 0.1, 8, 8),
    5: (2.0**-13, 2.0**-8, 2.0**-11, 0.02, 0.01, 0.5, 8192, 2048, 0.5, 0.0, 12, 0),
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

    position_step: float = 2.0**-10
    rotation_step: float = 2.0**-5
    joint_rotation_step: float = 2.0**-7
    opacity_step: float = 0.16
    scale_step: float = 0.08
    deadzone: float = 1.0
    codebook_size: int = 256
    codebook_size_rest: int = 64
    gaussians_per_entry: float = 4.0
    hysteresis: float = 0.2
    segment_length: int = 50
    weight_bits: int = 7
    sh_grid_bits: int = 7
    kmeans_samples: int = 32768
    kmeans_iters: int = 12
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


# ----------------------------------------------------------------------------- input
def _frames_of(data) -> tuple[str, list[Gaussians] | DualGSSequence]:
    if isinstance(data, DualGSSequence):
        for name in data.__dataclass_fields__:
            if not np.all(np.isfinite(getattr(data, name))):
                raise DataError(f"DualGSSequence.{name} holds NaN or infinite values")
        return "dualgs", data
    if isinstance(data, Gaussians):
        raise DataError("give a sequence of frames (a list of Gaussians), not a single frame")
    if not isinstance(data, Sequence) or not data:
        raise DataError("expected a DualGSSequence or a non-empty list of Gaussians frames")
    if not all(isinstance(g, Gaussians) for g in data):
        raise DataError("every frame must be a Gaussians object")
    n, bands = len(data[0]), data[0].sh.shape[1]
    for t, g in enumerate(data):
        if len(g) != n or g.sh.shape[1] != bands:
            raise DataError(
                f"frame {t} has {len(g)} Gaussians of SH degree {g.degree}; frame 0 has {n} "
                f"of degree {data[0].degree} (frames must hold the same Gaussians in order)"
            )
    if n == 0:
        raise DataError("the frames hold no Gaussians")
    return "frames", list(data)


def _segment_frames(kind: str, data, start: int, stop: int) -> SegmentFrames:
    if kind == "dualgs":
        return SegmentFrames(
            data.joint_means[start:stop],
            data.joint_rotations[start:stop],
            data.skin_log_scales[start:stop],
            data.skin_opacity_logits[start:stop],
            data.skin_sh[start:stop],
        )
    frames = data[start:stop]
    return SegmentFrames(
        np.stack([g.means for g in frames]),
        np.stack([g.rotations for g in frames]),
        np.stack([g.log_scales for g in frames]),
        np.stack([g.opacity_logits for g in frames]),
        np.stack([g.sh for g in frames]),
    )


def _extent(kind: str, data) -> float:
    if kind == "dualgs":
        pts = np.concatenate([data.joint_means.reshape(-1, 3), data.skin_rest_means])
        lo, hi = pts.min(axis=0), pts.max(axis=0)
    else:
        lo = np.min([g.means.min(axis=0) for g in data], axis=0)
        hi = np.max([g.means.max(axis=0) for g in data], axis=0)
    diag = float(np.linalg.norm(hi.astype(np.float64) - lo))
    return diag if diag > 0 else 1.0


# ----------------------------------------------------------------------------- encode
def compress_sequence(
    data: DualGSSequence | Sequence[Gaussians], config: SplatCodecConfig | None = None
) -> bytes:
    """Compress a DualGS sequence or a list of Gaussians frames into one container.

    Examples
    --------
    >>> seq = DualGSSequence.random(frames=4, joints=3, skins=20, seed=0)
    >>> blob = compress_sequence(seq, SplatCodecConfig(segment_length=2))
    >>> out = decompress_sequence(blob)
    >>> step = SplatDecoder(blob).steps.position
    >>> bool(np.abs(out.joint_means - seq.joint_means).max() <= step / 2 + 1e-6)
    True
    >>> decode_frame(blob, 3).equals(out.frame(3))
    True
    """
    cfg = config or SplatCodecConfig()
    kind, data = _frames_of(data)
    steps = Steps(
        position=cfg.position_step * _extent(kind, data),
        rotation=cfg.joint_rotation_step if kind == "dualgs" else cfg.rotation_step,
        opacity=cfg.opacity_step,
        scale=cfg.scale_step,
        skin_rotation=cfg.rotation_step,
    )
    if kind == "dualgs":
        t_frames, m = data.joint_means.shape[:2]
        n, bands = data.skin_sh.shape[1:3]
        rest_means = grid(data.skin_rest_means, steps.position)
        joint_means0 = grid(data.joint_means[0], steps.position)
        predicted = predict_weights(
            rest_means * steps.position, joint_means0 * steps.position, data.skin_joints
        )
        binding = Binding(
            rest_means=rest_means,
            rest_rotations=grid_quaternions(data.skin_rest_rotations[None], steps.skin_rotation)[0],
            joints=data.skin_joints.astype(np.int64),
            weight_residuals=weights_residual(data.skin_weights, predicted, cfg.weight_bits),
            joint_means0=joint_means0,
            joint_rotations0=grid_quaternions(data.joint_rotations[:1], steps.rotation)[0],
        )
        model = binding.encode(steps.position)
    else:
        t_frames, m, n, bands = len(data), len(data[0]), len(data[0]), data[0].sh.shape[1]
        model = b""
    cap = max(1, round(n / cfg.gaussians_per_entry))
    sizes = (min(cfg.codebook_size, cap), min(cfg.codebook_size_rest, cap))
    records = []
    for start in range(0, t_frames, cfg.segment_length):
        stop = min(t_frames, start + cfg.segment_length)
        code = quantise_segment(
            _segment_frames(kind, data, start, stop),
            steps,
            codebook_sizes=sizes,
            hysteresis=cfg.hysteresis,
            deadzone=cfg.deadzone,
            sh_grid_bits=cfg.sh_grid_bits,
            kmeans_samples=cfg.kmeans_samples,
            kmeans_iters=cfg.kmeans_iters,
            seed=cfg.seed,
        )
        records.append((encode_segment(code), stop - start))
    header = {
        "codec": CODEC_NAME,
        "kind": kind,
        "n_frames": t_frames,
        "n_moving": m,
        "n_gaussians": n,
        "sh_bands": bands,
        "steps": asdict(steps),
        "weight_bits": cfg.weight_bits,
        "config": asdict(cfg),
        "model_fingerprint": _fingerprint(kind, model, m, n, bands),
        "payload_sha256": hashlib.sha256(b"".join(p for p, _ in records)).hexdigest(),
    }
    return container.pack(CODEC_SPLATS, CODEC_VERSION, header, records, model or None)


def _fingerprint(kind: str, model: bytes, m: int, n: int, bands: int) -> str:
    shape = json.dumps({"kind": kind, "moving": m, "gaussians": n, "bands": bands}).encode()
    return hashlib.sha256(shape + model).hexdigest()


# ----------------------------------------------------------------------------- decode
class SplatDecoder:
    """Reads a container made by :func:`compress_sequence`; segments are decoded on demand.

    ``segments_read`` lists the segments decoded so far (each once; they are cached).
    """

    def __init__(self, blob: bytes | container.Container):
        c = blob if isinstance(blob, container.Container) else container.unpack(blob)
        if c.codec != CODEC_SPLATS or c.codec_version != CODEC_VERSION:
            raise ContainerError(
                f"not a splats container of bitstream version {CODEC_VERSION} (codec {c.codec}"
                f" version {c.codec_version})"
            )
        self.container = c
        h = Fields(c.header, "splats header")
        h.str("codec", {CODEC_NAME})
        self.kind = h.str("kind", {"dualgs", "frames"})
        self.n_frames = h.int("n_frames", 1, 2**31)
        self.n_gaussians = h.int("n_gaussians", 1, 2**31)
        self.n_moving = h.int("n_moving", 1, 2**31)
        self.sh_bands = h.int("sh_bands", 1, 16)
        if self.sh_bands not in (1, 4, 9, 16) or (
            self.kind == "frames" and self.n_moving != self.n_gaussians
        ):
            raise ContainerError(f"invalid splats header ({self.sh_bands} SH bands)")
        steps = h.obj("steps")
        self.steps = Steps(**{f.name: steps.float(f.name, 1e-30, 1e30) for f in fields(Steps)})
        self.weight_bits = h.int("weight_bits", 4, 20)
        try:
            self.config = SplatCodecConfig(**h.obj("config").data)
        except (TypeError, DataError) as exc:
            raise ContainerError(f"invalid splats header: config ({exc})") from exc
        fingerprint = h.str("model_fingerprint", max_len=128)
        self._check_sizes(c)
        model = c.model or b""
        if _fingerprint(self.kind, model, self.n_moving, self.n_gaussians, self.sh_bands) != (
            fingerprint
        ):
            raise ContainerError("the model part does not match the model fingerprint")
        self.binding = None
        if self.kind == "dualgs":
            self.binding = Binding.decode(
                model, self.n_gaussians, self.n_moving, self.steps.position
            )
        counts = [e.n_samples for e in c.index]
        if sum(counts) != self.n_frames or any(k < 1 for k in counts):
            raise ContainerError(f"segment index covers {sum(counts)} of {self.n_frames} frames")
        self.first_frames = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(int).tolist()
        self.segments_read: list[int] = []
        self._cache: dict[int, SegmentFrames] = {}
        self._static_arrays: dict[str, np.ndarray] | None = None

    def _check_sizes(self, c: container.Container) -> None:
        """Refuse claims whose decoding would take more memory than the file justifies."""
        longest = max((e.n_samples for e in c.index), default=0)
        per_frame = 8 * (7 * self.n_moving + (3 * self.sh_bands + 8) * self.n_gaussians)
        budget = limits.memory_budget(len(c.blob))
        limits.check_claim(3 * longest * per_frame, budget, "decoding one segment")
        limits.check_claim(8 * 16 * self.n_gaussians, budget, "the skin binding")

    @property
    def n_segments(self) -> int:
        return len(self.container.index)

    def segment_of(self, t: int) -> int:
        """Index of the segment holding frame ``t``."""
        if not 0 <= t < self.n_frames:
            raise DataError(f"frame {t} is outside 0..{self.n_frames - 1}")
        return int(np.searchsorted(self.first_frames, t, side="right") - 1)

    def code(self, i: int) -> SegmentCode:
        """The lossless :class:`SegmentCode` of segment ``i`` (reads only that record)."""
        payload = self.container.record(i)
        f = self.container.index[i].n_samples
        return decode_segment(
            payload,
            f,
            self.n_moving,
            self.n_gaussians,
            round(np.sqrt(self.sh_bands)),
            f"segment {i}",
        )

    def segment(self, i: int) -> SegmentFrames:
        """The decoded frames of segment ``i``."""
        if i not in self._cache:
            self._cache[i] = dequantise_segment(self.code(i), self.steps)
            self.segments_read.append(i)
        return self._cache[i]

    def frame(self, t: int) -> Gaussians:
        """Frame ``t`` as Gaussians, decoding only its segment."""
        i = self.segment_of(t)
        seg, k = self.segment(i), t - self.first_frames[i]
        if self.kind == "frames":
            return Gaussians(
                seg.position[k],
                seg.log_scales[k],
                seg.rotation[k],
                seg.opacity_logits[k],
                seg.sh[k],
            )
        rest_m, rest_q = self._rest_skeleton()
        two = DualGSSequence(
            joint_means=np.stack([rest_m, seg.position[k]]),
            joint_rotations=np.stack([rest_q, seg.rotation[k]]),
            **self._static(),
            skin_log_scales=np.repeat(seg.log_scales[k : k + 1], 2, axis=0),
            skin_opacity_logits=np.repeat(seg.opacity_logits[k : k + 1], 2, axis=0),
            skin_sh=np.repeat(seg.sh[k : k + 1], 2, axis=0),
        )
        return two.frame(1)

    def sequence(self) -> DualGSSequence | list[Gaussians]:
        """Every frame: a :class:`DualGSSequence` or a list of :class:`Gaussians`."""
        limits.check_claim(
            4 * self.n_frames * (7 * self.n_moving + (3 * self.sh_bands + 5) * self.n_gaussians),
            limits.memory_budget(len(self.container.blob)),
            f"decoding all {self.n_frames} frames",
            "; decode frame by frame (SplatDecoder.frame)",
        )
        payload = b"".join(self.container.record(i) for i in range(self.n_segments))
        if hashlib.sha256(payload).hexdigest() != self.container.header.get("payload_sha256"):
            raise ContainerError("the segments do not match the overall checksum")
        if self.kind == "frames":
            return [self.frame(t) for t in range(self.n_frames)]
        segs = [self.segment(i) for i in range(self.n_segments)]
        if not np.array_equal(segs[0].position[0], self._rest_skeleton()[0]):
            raise ContainerError("the first frame does not match the rest skeleton")
        return DualGSSequence(
            joint_means=np.concatenate([s.position for s in segs]),
            joint_rotations=np.concatenate([s.rotation for s in segs]),
            **self._static(),
            skin_log_scales=np.concatenate([s.log_scales for s in segs]),
            skin_opacity_logits=np.concatenate([s.opacity_logits for s in segs]),
            skin_sh=np.concatenate([s.sh for s in segs]),
        )

    def _rest_skeleton(self) -> tuple[np.ndarray, np.ndarray]:
        b = self.binding
        return (
            (b.joint_means0 * self.steps.position).astype(np.float32),
            (b.joint_rotations0 * self.steps.rotation).astype(np.float32),
        )

    def _static(self) -> dict[str, np.ndarray]:
        if self._static_arrays is None:
            b, step = self.binding, self.steps
            self._static_arrays = {
                "skin_rest_means": (b.rest_means * step.position).astype(np.float32),
                "skin_rest_rotations": (b.rest_rotations * step.skin_rotation).astype(np.float32),
                "skin_joints": b.joints.astype(np.int32),
                "skin_weights": b.weights(step.position, self.weight_bits).astype(np.float32),
            }
        return self._static_arrays


def decompress_sequence(blob: bytes) -> DualGSSequence | list[Gaussians]:
    """Every frame of a container made by :func:`compress_sequence` (same kind as its input)."""
    return SplatDecoder(blob).sequence()


def decode_frame(blob: bytes, t: int) -> Gaussians:
    """Frame ``t`` as Gaussians; reads and checks only the segment that holds it."""
    return SplatDecoder(blob).frame(t)
