"""Identity of the splats container: codec id, name and bitstream version, model fingerprint.

Shared by the encoder (:func:`latentzip.splats.codec.compress_sequence`) and the decoder
(:class:`latentzip.splats.codec.decoder.SplatDecoder`); the layout is in docs/splats-format.md.
"""

from __future__ import annotations

import hashlib
import json

CODEC_SPLATS = 3
CODEC_NAME = "dualgs-splats"
CODEC_VERSION = 3


def _fingerprint(kind: str, model: bytes, m: int, n: int, bands: int) -> str:
    shape = json.dumps({"kind": kind, "moving": m, "gaussians": n, "bands": bands}).encode()
    return hashlib.sha256(shape + model).hexdigest()


__all__ = ["CODEC_NAME", "CODEC_SPLATS", "CODEC_VERSION"]
