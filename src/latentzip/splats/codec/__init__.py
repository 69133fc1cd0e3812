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
sequence); decoding returns the same kind, a DualGS model with its skin Gaussians in the
file's order (:func:`skin_coding_order`: sorted in space, which makes frame 0 cheaper).

Modules: ``config`` (settings, quality presets), ``header`` (codec id, version, model
fingerprint), ``decoder`` (:class:`SplatDecoder`); the encoder is here. Below them: ``segment``
(one segment of frames), ``motion`` (tracks), ``appearance`` (SH codebooks), ``binding`` (the
DualGS skin binding), ``entropy`` (rANS integer streams).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict

import numpy as np

from latentzip.coding import container
from latentzip.errors import DataError
from latentzip.splats.codec.binding import Binding, predict_weights, weights_residual
from latentzip.splats.codec.config import QUALITIES, SplatCodecConfig
from latentzip.splats.codec.decoder import SplatDecoder, decode_frame, decompress_sequence
from latentzip.splats.codec.header import CODEC_NAME, CODEC_SPLATS, CODEC_VERSION, _fingerprint
from latentzip.splats.codec.motion import grid, grid_quaternions
from latentzip.splats.codec.segment import (
    SegmentFrames,
    Steps,
    encode_segment,
    quantise_segment,
)
from latentzip.splats.codec.spatial import morton_order
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
    "skin_coding_order",
]


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
def skin_coding_order(seq: DualGSSequence, config: SplatCodecConfig | None = None) -> np.ndarray:
    """The order in which the encoder stores the skin Gaussians of ``seq``: decoded skin
    Gaussian ``i`` is ``seq``'s skin Gaussian ``order[i]`` (``seq.take_skins(order)`` lines
    the input up with the decoded sequence).

    Their rest positions sorted along a Morton curve, so that neighbours in the file are
    neighbours in space and the frame-0 values code as small differences (the rest positions
    in about half the bits). Rendering does not depend on the order of Gaussians.
    """
    cfg = config or SplatCodecConfig()
    step = cfg.position_step * _extent("dualgs", seq)
    return morton_order(grid(seq.skin_rest_means, step))


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
    if kind == "dualgs":
        data = data.take_skins(skin_coding_order(data, cfg))
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
        records.append((encode_segment(code), stop - start, code.checksum()))
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
        "payload_sha256": hashlib.sha256(b"".join(r[0] for r in records)).hexdigest(),
    }
    return container.pack(CODEC_SPLATS, CODEC_VERSION, header, records, model or None)
