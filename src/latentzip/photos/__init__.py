"""Lossless photographs: a causal predictive coder with a prior learned on a collection.

::

    model = PhotoModel.fit(training_images)          # uint8/uint16, grey or RGB(A), any size
    blob = compress(image, model)                     # tiles of 512 x 512, one record each
    assert (decompress(blob, model) == image).all()
"""

from latentzip.photos.codec import (
    Photo,
    compress,
    compress_images,
    decompress,
    decompress_images,
    decompress_tile,
)
from latentzip.photos.model import PhotoModel

__all__ = [
    "Photo",
    "PhotoModel",
    "compress",
    "compress_images",
    "decompress",
    "decompress_images",
    "decompress_tile",
]
