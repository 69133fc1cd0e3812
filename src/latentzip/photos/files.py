"""Image files in and out: PNG, TIFF, BMP (imagecodecs) and PPM/PGM (Pillow), 8 or 16 bits,
grey, grey+alpha, RGB or RGBA. Decompression writes the same pixels in the same format."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from latentzip.errors import DataError
from latentzip.photos.codec import Photo
from latentzip.photos.planes import check_image

__all__ = ["FORMATS", "encode_image", "is_image_path", "read_folder", "read_image"]

FORMATS = {".png": "png", ".tif": "tiff", ".tiff": "tiff", ".bmp": "bmp"}
FORMATS |= {".ppm": "pnm", ".pgm": "pnm", ".pnm": "pnm"}
_EXTENSION = {"png": ".png", "tiff": ".tif", "bmp": ".bmp", "pnm": ".pnm", "": ".png"}


def is_image_path(path: str | Path) -> bool:
    return Path(path).suffix.lower() in FORMATS


def read_image(path: str | Path) -> Photo:
    """The pixels of one image file, its name and format; :class:`DataError` otherwise."""
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise DataError(f"{path}: not an image file ({', '.join(sorted(FORMATS))})")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from exc
    try:
        pixels = _decode(data, fmt)
    except DataError:
        raise
    except Exception as exc:  # the codecs' own exception types
        raise DataError(f"{path}: not a readable {fmt.upper()} image ({exc})") from exc
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    try:
        check_image(pixels)
    except DataError as exc:
        raise DataError(f"{path}: {exc}") from exc
    return Photo(np.ascontiguousarray(pixels), path.name, fmt)


def _decode(data: bytes, fmt: str) -> np.ndarray:
    import imagecodecs

    if fmt == "png":
        return np.asarray(imagecodecs.png_decode(data))
    if fmt == "tiff":
        return np.asarray(imagecodecs.tiff_decode(data))
    if fmt == "bmp":
        return np.asarray(imagecodecs.bmp_decode(data))
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        wide = im.mode.startswith("I")
        pixels = np.asarray(im)
    if wide:  # Pillow reads 16-bit PGM as 32-bit integers
        if pixels.min() < 0 or pixels.max() > 65535:
            raise DataError("a PGM sample outside 0..65535")
        pixels = pixels.astype(np.uint16)
    return pixels


def encode_image(photo: Photo) -> bytes:
    """The image file of ``photo`` in its format (PNG for arrays)."""
    import imagecodecs

    pixels, fmt = photo.pixels, photo.format or "png"
    if fmt == "png":
        return imagecodecs.png_encode(pixels, level=6)
    if fmt == "tiff":
        return imagecodecs.tiff_encode(pixels)
    if fmt == "bmp":
        return imagecodecs.bmp_encode(pixels)
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "PPM")
    return buf.getvalue()


def restored_name(photo: Photo, index: int) -> str:
    """The file name an image is restored under: its own, or ``image-<i>.<ext>``."""
    return photo.name or f"image-{index:04d}{_EXTENSION[photo.format]}"


def read_folder(path: str | Path) -> list[Photo]:
    """Every image file of a folder (not its subfolders), in name order."""
    path = Path(path)
    files = sorted(p for p in path.iterdir() if p.is_file() and is_image_path(p))
    if not files:
        raise DataError(f"{path}: no image files ({', '.join(sorted(FORMATS))})")
    return [read_image(p) for p in files]
