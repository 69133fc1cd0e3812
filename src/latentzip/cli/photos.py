"""Verbs for photographs: train a photo model on a folder, compress images or folders of
images with it, restore them (``latentzip decompress`` through the codec registry)."""

from __future__ import annotations

import time
from pathlib import Path

from latentzip.cliutil import guard_output
from latentzip.coding.codecs import CodecSpec
from latentzip.errors import LatentzipError

_SMALL_SIDE = 64  # equal-sized grey images this small are samples for an HCLT, not photos


def is_photo_input(path: str | Path) -> bool:
    """An image file, or a folder of images that are not all equal small grey ones (those
    train a per-pixel HCLT, as MNIST-like PNG folders always have)."""
    from latentzip.photos.files import FORMATS, is_image_path

    path = Path(path)
    if path.is_file():
        return is_image_path(path)
    if not path.is_dir():
        return False
    files = [p for p in path.iterdir() if p.suffix.lower() in FORMATS]
    return bool(files) and _not_small_grey(files)


def _not_small_grey(files) -> bool:
    from latentzip.photos.files import read_image

    shapes = set()
    for p in sorted(files)[:64]:
        try:
            pixels = read_image(p).pixels
        except LatentzipError:
            return False  # the arrays reader gives the error
        if pixels.ndim != 2 or pixels.dtype.itemsize != 1 or max(pixels.shape) > _SMALL_SIDE:
            return True
        shapes.add(pixels.shape)
    return len(shapes) > 1


def train(args) -> None:
    from latentzip.coding import modelfile
    from latentzip.photos import PhotoModel
    from latentzip.photos.files import read_folder, read_image

    path = Path(args.data)
    photos = read_folder(path) if path.is_dir() else [read_image(path)]
    start = time.perf_counter()
    model = PhotoModel.fit([p.pixels for p in photos], progress=not args.quiet)
    pixels = sum(p.pixels.shape[0] * p.pixels.shape[1] for p in photos)
    modelfile.save(model, args.output, {"images": len(photos), "pixels": pixels})
    print(
        f"trained a photo model on {len(photos)} images ({pixels / 1e6:.1f} megapixels) in "
        f"{time.perf_counter() - start:.1f} s -> {args.output}"
    )
    if args.test:
        test = Path(args.test)
        held = read_folder(test) if test.is_dir() else [read_image(test)]
        print(f"test: {_bits_per_pixel(model, held):.3f} bits/pixel on {len(held)} images")


def _bits_per_pixel(model, photos) -> float:
    from latentzip.photos import compress_images

    blob = compress_images(photos, model, safeguard=False)
    return 8 * len(blob) / sum(p.pixels.shape[0] * p.pixels.shape[1] for p in photos)


def compress(args, model) -> None:
    from latentzip.files import atomic_write
    from latentzip.photos import compress_images
    from latentzip.photos.files import read_folder, read_image

    path = Path(args.input)
    out = guard_output(Path(args.output or f"{str(path).rstrip('/')}.lz"), path, force=args.force)
    photos = read_folder(path) if path.is_dir() else [read_image(path)]
    tile = 512 if args.block_size is None else args.block_size
    report: list = []
    start = time.perf_counter()
    blob = compress_images(
        photos, model, tile=tile, embed=args.embed_model, report=report, folder=path.is_dir()
    )
    seconds = time.perf_counter() - start
    atomic_write(out, blob, force=args.force)
    pixels = sum(p.pixels.shape[0] * p.pixels.shape[1] for p in photos)
    stored = sum(1 for _, _, s in report if s)
    print(
        f"{path}: {len(photos)} images, {pixels / 1e6:.2f} megapixels -> {len(blob)} bytes "
        f"({8 * len(blob) / pixels:.3f} bits/pixel, {pixels / 1e6 / seconds:.2f} MP/s"
        f"{f'; {stored} stored as JPEG-XL, which was smaller' if stored else ''}) -> {out}"
    )


def restore(c, args) -> str:
    """``latentzip decompress`` of a photos container: one image file, or a folder."""
    from latentzip.coding import modelfile
    from latentzip.files import atomic_folder, atomic_write
    from latentzip.photos import codec
    from latentzip.photos.files import encode_image, restored_name

    model = modelfile.load(args.model)[0] if args.model else None
    start = time.perf_counter()
    photos = codec.restore(c, model)
    seconds = time.perf_counter() - start
    if len(photos) == 1 and c.header.get("folder") is not True:
        name = restored_name(photos[0], 0)
        default = Path(args.input).with_name(Path(name).stem + ".restored" + Path(name).suffix)
        out = guard_output(Path(args.output or default), args.input, force=args.force)
        atomic_write(out, encode_image(photos[0]), force=args.force)
    else:
        out = guard_output(
            Path(args.output or str(args.input).removesuffix(".lz") + ".restored"),
            args.input, force=args.force, folder_ok=True,
        )  # fmt: skip
        with atomic_folder(out, force=args.force) as tmp:
            for i, photo in enumerate(photos):
                (tmp / restored_name(photo, i)).write_bytes(encode_image(photo))
    pixels = sum(p.pixels.shape[0] * p.pixels.shape[1] for p in photos)
    return (
        f"{args.input}: {len(photos)} images ({pixels / 1e6:.2f} megapixels) decoded in "
        f"{seconds:.1f} s ({pixels / 1e6 / max(seconds, 1e-9):.2f} MP/s) -> {out}"
    )


def describe(c) -> list[tuple[str, str]]:
    from latentzip.coding.fields import Fields
    from latentzip.photos.codec import layout

    images = layout(c)
    pixels = sum(e["shape"][0] * e["shape"][1] for e, _, _ in images)
    stored = sum(1 for e, _, _ in images if e["stored"])
    first = images[0][0] if images else None
    shape = "x".join(map(str, first["shape"])) if first else "-"
    model = "embedded" if c.model is not None else "separate"
    h = Fields(c.header, "container header")
    fingerprint, tile = h.str("model_fingerprint", max_len=128)[:16], h.int("tile", 1)
    return [
        ("content", f"{len(images)} images, {pixels} pixels (first: {shape})"),
        ("model", f"photo-context {fingerprint} ({model})"),
        ("tiles", f"{tile} x {tile} pixels per record"),
        ("stored", f"{stored} of {len(images)} images kept as JPEG-XL (smaller than the model's)"),
        ("bits/pixel", f"{8 * len(c.blob) / pixels:.3f}" if pixels else "n/a"),
    ]


def _spec() -> CodecSpec:
    from latentzip.photos.codec import CODEC, OLDEST

    return CodecSpec(CODEC.id, CODEC.name, CODEC.version, OLDEST, describe, restore)


SPEC = _spec()
