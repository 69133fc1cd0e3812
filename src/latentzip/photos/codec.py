"""Lossless photo containers: images cut into tiles, each tile one independently decodable
record coded by :mod:`.kernel` under a :class:`~latentzip.photos.model.PhotoModel`.

Container (codec 4, bitstream version 3, ``docs/format.md``): the header lists the images
(name, shape, dtype, file format, and ``stored`` for an image kept as a JPEG-XL stream because
that was smaller: the per-file safeguard); records follow image by image, tiles in raster
order. A record is the rANS stream (32-bit words, little-endian) of every plane of its tile;
its ``check`` is the CRC-32 of the tile's pixels, so a record decodes without any other and
anything that decodes to other pixels is refused.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from latentzip.coding import container, limits, rans
from latentzip.coding.fields import Fields
from latentzip.coding.records import CodecId
from latentzip.errors import ContainerError, DataError, ModelError
from latentzip.photos import compaction, kernel
from latentzip.photos.model import PhotoModel, fit_linear
from latentzip.photos.planes import (
    DTYPES,
    MAX_CHANNELS,
    RCTS,
    check_image,
    from_planes,
    shapes,
    to_planes,
)

__all__ = ["CODEC", "Photo", "compress", "compress_images", "decompress", "decompress_images"]

CODEC = CodecId(4, "photos", 3)
OLDEST = 1  # 1: no period-2 planes; 2: no colour transform choice, unsigned contexts
TILE = 512
MAX_TILE = 1024  # a plane's coder state (~180 bytes per pixel) stays under 200 MiB
_MAX_SIDE = 2**16 - 1  # a stored image's pixel count fits the index's u32
_STORED = "jpegxl"
_FINGERPRINT = 16  # hex digits (64 bits) of the model's SHA-256 written (versions 1, 2: 32)
_OWN_PREDICTOR = 4096  # planes of this many pixels may carry their own linear predictor
_OWN_BYTES = 4 * kernel.N_LINEAR  # its two fits as int16


@dataclass(frozen=True)
class Photo:
    """An image and where it came from: ``name`` (a file name, or ``""``) and ``format``
    (``png``, ``tiff``, ``bmp``, ``pnm``, or ``""`` for arrays)."""

    pixels: np.ndarray
    name: str = ""
    format: str = ""


def tiles_of(img: np.ndarray, tile: int) -> list[np.ndarray]:
    """The (h, w, c) tiles of an image in raster order (edge tiles are smaller)."""
    h, w = img.shape[:2]
    return [img[i : i + tile, j : j + tile] for i in range(0, h, tile) for j in range(0, w, tile)]


def _tops(maps: list, channels: int, dtype) -> list[int]:
    top = (1 << (8 * np.dtype(dtype).itemsize)) - 1
    tops = [top if m is None else max(len(m) - 1, 1) for m in maps]
    return tops if channels < 3 else [top] * 3 + tops[3:]


def code_tile(model: PhotoModel, tile: np.ndarray, mode: int, counts=None) -> bytes:
    """STATS: add token counts to ``counts``; ENCODE: the tile's record payload.

    The colour transform (three or more channels) and how each plane is coded (period 1 or
    2, or texture mode: see :func:`.kernel.code_plane`) are those that code three bands of
    the tile's rows shortest; both are written in the record."""
    tile, maps = compaction.compact(tile)
    tops = _tops(maps, tile.shape[2], tile.dtype)
    rct, hows, owns = _choose(model, tile, tops)
    planes = to_planes(tile, tops, rct)
    own = [fit_linear(p.values) if k else None for p, k in zip(planes, owns, strict=True)]
    luma = luma_tokens = None
    starts, freqs = [], []
    for p, linear, how in zip(planes, own, hows, strict=True):
        linear = _model_linear(model, p.kind) if linear is None else linear
        table = None
        if mode == kernel.STATS:  # texture-mode contexts are not the prior's: not counted
            table = np.zeros_like(_TEXTURE_PRIOR) if how[1] else counts[p.kind]
        tokens, s, f = _code_plane(model, p, luma, luma_tokens, linear, how, mode, table)
        starts.append(s)
        freqs.append(f)
        if luma is None:
            luma, luma_tokens = p.values, tokens
    if mode != kernel.ENCODE:
        return b""
    words = rans.encode_reverse(np.concatenate(starts), np.concatenate(freqs), kernel.PRECISION)
    head = compaction.to_bytes(maps, tile.dtype)
    head += bytes([rct]) if tile.shape[2] >= 3 else b""
    return head + _planes_to_bytes(own, hows) + words.astype("<u4").tobytes()


_HOWS = ((1, False), (2, False), (1, True))  # (period, texture mode) a plane may be coded in
_BANDS, _BAND = 3, 32  # transforms and ways of coding are tried on this many bands of rows
_EMPTY = np.zeros(1, np.uint32)
_TEXTURE_PRIOR = kernel.texture_prior()


def _choose(model: PhotoModel, tile: np.ndarray, tops: list) -> tuple[int, list, list]:
    """(colour transform, (period, texture) of each plane, whether each plane carries its own
    predictor) that code bands of the tile shortest."""
    h = tile.shape[0]
    if h <= _BANDS * _BAND:
        crop = tile
    else:  # bands of rows spread over the tile, stacked
        at = [(h - _BAND) * k // (_BANDS - 1) for k in range(_BANDS)]
        crop = np.concatenate([tile[i : i + _BAND] for i in at])
    crop = np.ascontiguousarray(crop)
    best = None
    scale = tile.shape[0] * tile.shape[1] / (crop.shape[0] * crop.shape[1])
    firsts: list = []  # (values, choice) of first planes tried: transforms 1 and 2 share G
    for rct in RCTS if tile.shape[2] >= 3 else (0,):
        luma = luma_tokens = None
        bits, hows, owns = 0.0, [], []
        for p in to_planes(crop, tops, rct):
            seen = [c for v, c in firsts if luma is None and np.array_equal(v, p.values)]
            choice = seen[0] if seen else _choose_plane(model, p, luma, luma_tokens, scale)
            if luma is None and not seen:
                firsts.append((p.values, choice))
            cost, how, own, tokens = choice
            bits += cost
            hows.append(how)
            owns.append(own)
            if luma is None:
                luma, luma_tokens = p.values, tokens
        if best is None or bits < best[0]:
            best = (bits, rct, hows, owns)
    return best[1], best[2], best[3]


def _choose_plane(model: PhotoModel, p, luma, luma_tokens, scale: float) -> tuple:
    """(bits, (period, texture), own predictor?, tokens) of the shortest way to code the
    plane ``p`` of a crop; ``scale``: the tile's pixels per crop pixel."""
    own = p.values.size * scale >= _OWN_PREDICTOR
    model_linear = _model_linear(model, p.kind)
    linear = fit_linear(p.values) if own else model_linear
    trials = []
    for k, how in enumerate(_HOWS):
        tokens, _, f = _code_plane(model, p, luma, luma_tokens, linear, how)
        trials.append((_cost(f), k, tokens))
    cost, k, tokens = min(trials, key=lambda t: t[:2])
    if own:  # its coefficients must pay for themselves over the whole tile
        _, _, f = _code_plane(model, p, luma, luma_tokens, model_linear, _HOWS[k])
        own = (_cost(f) - cost) * scale > 8 * _OWN_BYTES
        cost = cost if own else _cost(f)
    return cost, _HOWS[k], own, tokens


def _code_plane(model, p, luma, luma_tokens, linear, how, mode=kernel.ENCODE, counts=None):
    """(tokens, starts, freqs): one plane coded from the model's prior (ENCODE), or its
    tokens counted into ``counts`` (STATS); ``how`` is (period, texture mode)."""
    h, w = p.values.shape
    side = luma_tokens // 3 if p.kind == 1 else np.full((h, w), -1, np.int64)
    ref = luma if p.kind == 1 else p.values
    n_max = 2 * p.values.size if mode == kernel.ENCODE else 1
    starts = np.zeros(n_max, np.int64)
    freqs = np.zeros(n_max, np.int64)
    table = counts if mode == kernel.STATS else _start_table(model, p.kind, how[1])
    seen = np.zeros(len(table), np.int64)
    dec = np.zeros(3, np.uint64)
    tokens, _, n = kernel.code_plane(
        mode, p.values, p.maxval, side, ref, p.kind == 1,
        linear, table, seen, starts, freqs, 0, _EMPTY, dec, how[0], CODEC.version, how[1],
    )  # fmt: skip
    return tokens, starts[:n], freqs[:n]


def _model_linear(model: PhotoModel, kind: int) -> np.ndarray:
    """The model's predictor for planes too small to carry their own (both fits alike)."""
    return np.stack([model.linear[kind], model.linear[kind]])


def _start_table(model: PhotoModel, kind: int, texture: bool) -> np.ndarray:
    return (_TEXTURE_PRIOR if texture else model.prior[kind]).copy()


def _cost(freqs: np.ndarray) -> float:
    """Bits of a coded plane (only the encoder's choice depends on it, never the decoder)."""
    return float(np.log2(freqs.astype(np.float64)).sum() * -1 + kernel.PRECISION * len(freqs))


def _planes_to_bytes(own: list, hows: list) -> bytes:
    """Per plane a flags byte (1: the plane's own int16 coefficients follow, both fits;
    2: period 2; 4: texture mode)."""
    out = bytearray()
    for linear, (period, texture) in zip(own, hows, strict=True):
        out.append((linear is not None) | (2 if period == 2 else 0) | (4 if texture else 0))
        if linear is not None:
            out += linear.astype("<i2").tobytes()
    return bytes(out)


def _planes_from_bytes(
    data: bytes, pos: int, n: int, label: str, version: int = CODEC.version
) -> tuple[list, list, int]:
    own, hows = [], []
    fits = 2 if version >= 3 else 1  # the plain fit came with bitstream 3
    size = 2 * kernel.N_LINEAR * fits
    top = 7 if version >= 3 else 3  # and texture mode
    for _ in range(n):
        flags = data[pos] if pos < len(data) else 255
        if flags > top or (flags & 1 and pos + 1 + size > len(data)):
            raise ContainerError(f"{label}: invalid plane flags or predictor coefficients")
        hows.append((2 if flags & 2 else 1, bool(flags & 4)))
        if flags & 1:
            coef = np.frombuffer(data[pos + 1 : pos + 1 + size], "<i2").astype(np.int64)
            own.append(np.resize(coef, (2, kernel.N_LINEAR)))  # version 1, 2: the one fit twice
            pos += 1 + size
        else:
            own.append(None)
            pos += 1
    return own, hows, pos


def decode_tile(
    model: PhotoModel, payload: bytes, h: int, w: int, c: int, dtype, label: str,
    version: int = CODEC.version,
):  # fmt: skip
    """The (h, w, c) tile of one record of bitstream ``version``."""
    maps, pos = compaction.from_bytes(payload, c, dtype, label, version)
    rct = 0
    if c >= 3 and version >= 3:
        rct = payload[pos] if pos < len(payload) else -1
        if rct not in RCTS:
            raise ContainerError(f"{label}: unknown colour transform")
        pos += 1
    kinds = shapes(c, dtype, _tops(maps, c, dtype), rct)
    own, hows, pos = _planes_from_bytes(payload, pos, len(kinds), label, version)
    if (len(payload) - pos) % 4:
        raise ContainerError(f"{label}: not a whole number of 32-bit words")
    words = np.frombuffer(payload[pos:], "<u4").astype(np.uint32)
    state, pos, status = rans.decoder_init(words)
    rans.raise_for_status(status, label)
    dec = np.array([state, pos, rans.OK], np.uint64)
    dummy = np.zeros(1, np.int64)
    planes = []
    luma = luma_tokens = None
    for (maxval, kind), linear, (period, texture) in zip(kinds, own, hows, strict=True):
        has_ref = kind == 1
        values = np.zeros((h, w), np.int64)
        side = luma_tokens // 3 if has_ref else np.full((h, w), -1, np.int64)
        ref = luma if has_ref else values
        table = _start_table(model, kind, texture)
        seen = np.zeros(len(table), np.int64)
        linear = _model_linear(model, kind) if linear is None else linear
        tokens, _, _ = kernel.code_plane(
            kernel.DECODE, values, maxval, side, ref, has_ref,
            linear, table, seen, dummy, dummy, 0, words, dec, period, version, texture,
        )  # fmt: skip
        rans.raise_for_status(int(dec[2]), label)
        if luma is None:
            luma, luma_tokens = values, tokens
        planes.append(values)
    if not rans.decoder_is_empty(dec[0], int(dec[1])):
        raise ContainerError(f"{label}: stream has leftover data (wrong model?)")
    try:
        return compaction.expand(from_planes(planes, dtype, rct), maps, label)
    except DataError as exc:
        raise ContainerError(f"{label}: {exc}") from exc


# ------------------------------------------------------------------------------ encoding
def compress(pixels: np.ndarray, model: PhotoModel, **kwargs) -> bytes:
    """One image (uint8/uint16, (h, w) or (h, w, 1..4)) -> container bytes."""
    return compress_images([Photo(pixels)], model, **kwargs)


def compress_images(
    photos: list[Photo],
    model: PhotoModel,
    *,
    tile: int = TILE,
    safeguard: bool = True,
    embed: bool = False,
    report: list | None = None,
    folder: bool = False,
) -> bytes:
    """Images -> one container; ``safeguard`` stores an image as JPEG-XL (effort 7) when that
    is smaller than the learned stream; ``report`` (a list) receives per image
    ``(name, bytes, stored)``."""
    if not isinstance(model, PhotoModel):
        raise ModelError("photos need a photo model (latentzip train on a folder of photos)")
    if not 16 <= tile <= MAX_TILE:
        raise DataError(f"tile must be in 16..{MAX_TILE}, got {tile}")
    names = [p.name for p in photos if p.name]
    if len(set(names)) != len(names) or any(
        n in (".", "..") or any(ch in n for ch in "/\\\0") or len(n) > 255 for n in names
    ):
        raise DataError("image names must be plain, unique file names (they are restored as such)")
    entries, recs = [], []
    for photo in photos:
        img = check_image(photo.pixels)
        if max(img.shape[:2]) > _MAX_SIDE:
            raise DataError(f"{photo.name or 'image'}: sides above {_MAX_SIDE} are not supported")
        tiles = [(code_tile(model, t, kernel.ENCODE), t) for t in tiles_of(img, tile)]
        learned = sum(len(b) for b, _ in tiles)
        entry = {"shape": list(img.shape), "dtype": img.dtype.str}
        if photo.name:
            entry["name"] = photo.name
        if np.ndim(photo.pixels) == 2:
            entry["ndim"] = 2
        if photo.format:
            entry["format"] = photo.format
        stored = _jpegxl(img) if safeguard else None
        if stored is not None and len(stored) < learned:
            entry["stored"] = _STORED
            recs.append((stored, img.shape[0] * img.shape[1], _tile_check(img)))
        else:
            recs += [(b, t.shape[0] * t.shape[1], _tile_check(t)) for b, t in tiles]
        entries.append(entry)
        if report is not None:
            report.append((photo.name, len(recs[-1][0]) if "stored" in entry else learned,
                           "stored" in entry))  # fmt: skip
    header = {
        "model_fingerprint": model.fingerprint[:_FINGERPRINT],
        "tile": tile,
        "images": entries,
    }
    if folder:  # restored as a folder even when it holds one image
        header["folder"] = True
    from latentzip.coding import modelfile

    embedded = modelfile.to_bytes(model, compact=True) if embed else None
    return container.pack(CODEC.id, CODEC.version, header, recs, embedded)


def _jpegxl(img: np.ndarray) -> bytes | None:
    import imagecodecs

    try:
        return imagecodecs.jpegxl_encode(_squeeze(img), lossless=True, effort=7, numthreads=1)
    except Exception:
        return None


def _squeeze(img: np.ndarray) -> np.ndarray:
    return img[:, :, 0] if img.shape[2] == 1 else img


def _tile_check(t: np.ndarray) -> int:
    return zlib.crc32(np.ascontiguousarray(t).astype(t.dtype.newbyteorder("<")).tobytes())


# ------------------------------------------------------------------------------ decoding
def decompress(blob: bytes, model: PhotoModel | None = None) -> np.ndarray:
    """The image of a one-image container, as (h, w) or (h, w, c)."""
    photos = decompress_images(blob, model)
    if len(photos) != 1:
        raise ContainerError(f"the container holds {len(photos)} images: use decompress_images")
    return photos[0].pixels


def decompress_images(blob: bytes, model: PhotoModel | None = None) -> list[Photo]:
    """Every image of a container, in order."""
    return restore(container.unpack(blob, CODEC.id), model)


def restore(c: container.Container, model: PhotoModel | None = None) -> list[Photo]:
    images = layout(c)
    model = _resolve_model(c, model)
    out = []
    budget = limits.memory_budget(len(c.blob))
    for entry, first, _n_records in images:
        h, w, ch = entry["shape"]
        dtype = np.dtype(entry["dtype"])
        limits.check_claim(2 * h * w * ch * dtype.itemsize, budget, f"image {entry['name']!r}")
        if entry["stored"]:
            img = _decode_stored(c, first, h, w, ch, dtype)
        else:
            img = np.zeros((h, w, ch), dtype)
            tile = c.header["tile"]
            k = first
            for i in range(0, h, tile):
                for j in range(0, w, tile):
                    th, tw = min(tile, h - i), min(tile, w - j)
                    img[i : i + th, j : j + tw] = _tile(c, model, k, th, tw, ch, dtype)
                    k += 1
        pixels = img[:, :, 0] if entry["ndim"] == 2 else img
        out.append(Photo(pixels, entry["name"], entry["format"]))
    return out


def decompress_tile(blob: bytes, model: PhotoModel, image: int, row: int, col: int):
    """One tile (``row``, ``col`` in tiles) of one image, reading only its record."""
    c = container.unpack(blob, CODEC.id)
    images = layout(c)
    model = _resolve_model(c, model)
    if not 0 <= image < len(images):
        raise DataError(f"image {image} does not exist ({len(images)} images)")
    entry, first, _ = images[image]
    if entry["stored"]:
        raise DataError("this image is stored as JPEG-XL: decode it whole")
    h, w, ch = entry["shape"]
    tile = c.header["tile"]
    cols = -(-w // tile)
    if not (0 <= row < -(-h // tile) and 0 <= col < cols):
        raise DataError(f"tile ({row}, {col}) is outside the image")
    th, tw = min(tile, h - row * tile), min(tile, w - col * tile)
    return _tile(c, model, first + row * cols + col, th, tw, ch, np.dtype(entry["dtype"]))


def _tile(c, model, k: int, th: int, tw: int, ch: int, dtype) -> np.ndarray:
    e = c.index[k]
    if e.n_samples != th * tw:
        raise ContainerError(f"record {k}: {e.n_samples} pixels, expected {th * tw}")
    t = decode_tile(model, c.record(k), th, tw, ch, dtype, f"record {k}", c.codec_version)
    if _tile_check(t) != e.check:
        raise ContainerError(f"record {k}: decoded pixels fail their check (corrupted record)")
    return t


def _decode_stored(c, k: int, h: int, w: int, ch: int, dtype) -> np.ndarray:
    import imagecodecs

    data = c.record(k)
    img = np.empty((h, w, ch), dtype)
    out = img[:, :, 0] if ch == 1 else img  # decoded in place: never larger than stated
    try:
        imagecodecs.jpegxl_decode(data, numthreads=1, out=out)
    except Exception as exc:
        raise ContainerError(
            f"record {k}: not a JPEG-XL stream of the stated image ({exc})"
        ) from exc
    if _tile_check(img) != c.index[k].check:
        raise ContainerError(f"record {k}: decoded pixels fail their check (corrupted record)")
    return img


def _resolve_model(c, model: PhotoModel | None) -> PhotoModel:
    from latentzip.coding import modelfile

    if model is None:
        if c.model is None:
            raise ContainerError("this container has no embedded model: pass the photo model")
        model, _ = modelfile.from_bytes(c.model, "embedded model")
    if not isinstance(model, PhotoModel):
        raise ModelError("photos need a photo model")
    want = Fields(c.header, "container header").str("model_fingerprint", max_len=128)
    if len(want) < _FINGERPRINT or model.fingerprint[: len(want)] != want:
        raise ContainerError(
            f"wrong model: the container was made with model {want[:16]}, this model is "
            f"{model.fingerprint[:16]}"
        )
    return model


def layout(c) -> list[tuple[dict, int, int]]:
    """(image entry, first record, number of records) of each image, all fields checked."""
    if c.codec != CODEC.id or not OLDEST <= c.codec_version <= CODEC.version:
        raise ContainerError(
            f"photos bitstream version {c.codec_version} (codec {c.codec}) is not supported: "
            f"this latentzip reads versions {OLDEST}..{CODEC.version}"
        )
    h = Fields(c.header, "container header")
    tile = h.int("tile", 16, MAX_TILE)
    images = c.header.get("images")
    if not isinstance(images, list) or len(images) > len(c.index):
        raise ContainerError("container header: invalid list of images")
    out, first, names = [], 0, set()
    for k, raw in enumerate(images):
        f = Fields(raw, f"image {k}")
        shape = f.ints("shape", 1, _MAX_SIDE, 3)
        if len(shape) != 3 or shape[2] > MAX_CHANNELS:
            raise ContainerError(f"image {k}: invalid shape {shape!r}")
        dtype = f.str("dtype", tuple(d.str for d in DTYPES))
        stored = f.str("stored", (_STORED, ""), default="") == _STORED
        n = 1 if stored else -(-shape[0] // tile) * -(-shape[1] // tile)
        name = f.str("name", max_len=255, default="")
        if name in names or name in (".", "..") or any(ch in name for ch in "/\\\0"):
            raise ContainerError(f"image {k}: {name!r} is not a plain, unique file name")
        if name:
            names.add(name)
        entry = {
            "name": name,
            "format": f.str("format", max_len=16, default=""),
            "shape": shape,
            "dtype": dtype,
            "stored": stored,
            "ndim": f.int("ndim", 2, 3, default=3),
        }
        out.append((entry, first, n))
        first += n
        if first > len(c.index):
            break
    if first != len(c.index):
        raise ContainerError(f"{len(c.index)} records for images that need {first}")
    return out
