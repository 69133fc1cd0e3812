"""Decoding of splats containers: whole sequences, or one frame by reading only its segment."""

from __future__ import annotations

import hashlib
from dataclasses import fields

import numpy as np

from latentzip.coding import container, limits
from latentzip.coding.fields import Fields
from latentzip.errors import ContainerError, DataError
from latentzip.splats.codec.binding import Binding
from latentzip.splats.codec.config import SplatCodecConfig
from latentzip.splats.codec.header import CODEC_NAME, CODEC_SPLATS, CODEC_VERSION, _fingerprint
from latentzip.splats.codec.segment import (
    SegmentCode,
    SegmentFrames,
    Steps,
    decode_segment,
    dequantise_segment,
)
from latentzip.splats.gaussians import Gaussians
from latentzip.splats.sequence import DualGSSequence


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
        except (TypeError, ValueError, DataError) as exc:  # informative, but typed
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
        entry = self.container.index[i]
        code = decode_segment(
            payload,
            entry.n_samples,
            self.n_moving,
            self.n_gaussians,
            round(np.sqrt(self.sh_bands)),
            f"segment {i}",
        )
        # framing CRCs are easy to recompute; what the segment decodes to is not
        if code.checksum() != entry.check:
            raise ContainerError(f"segment {i}: decoded data fails its check (corrupted)")
        return code

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


__all__ = ["SplatDecoder", "decode_frame", "decompress_sequence"]
