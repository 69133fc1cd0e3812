"""Photo codec: exact round trips of any size, depth and channel count, tiles decoded alone,
damage and wrong models refused, the learned prior, the JPEG-XL safeguard and the CLI."""

from __future__ import annotations

import hashlib
import zlib
from functools import cache
from pathlib import Path

import imagecodecs
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from latentzip.cli import main
from latentzip.coding import container, modelfile
from latentzip.errors import ContainerError, DataError, LatentzipError, ModelError
from latentzip.photos import (
    Photo,
    PhotoModel,
    codec,
    compaction,
    compress,
    compress_images,
    decompress,
    decompress_images,
    decompress_tile,
    kernel,
)
from latentzip.photos.codec import code_tile, decode_tile
from latentzip.photos.model import fit_linear
from latentzip.photos.planes import RCTS, from_planes, to_planes


def scene(h: int, w: int, channels: int = 3, dtype=np.uint8, seed: int = 0) -> np.ndarray:
    """A photo-like image: smooth shading, an edge, texture and a little noise."""
    rng = np.random.default_rng(seed)
    top = np.iinfo(dtype).max
    y, x = np.mgrid[0:h, 0:w] / max(h, w, 1)
    base = 0.5 + 0.3 * np.sin(6 * x + 3 * y) + 0.2 * (x > 0.6)
    out = np.stack([base * (0.8 + 0.1 * c) for c in range(channels)], -1)
    out += rng.normal(0, 0.02, out.shape)
    img = np.clip(out * top, 0, top).astype(dtype)
    return img[:, :, 0] if channels == 1 else img


def paired(img: np.ndarray) -> np.ndarray:
    """``img`` with every 2x2 block repeating its top-left pixel (chroma as many JPEG
    decoders upsample it)."""
    h, w = img.shape[:2]
    return np.ascontiguousarray(np.repeat(np.repeat(img[::2, ::2], 2, 0), 2, 1)[:h, :w])


@cache
def trained() -> PhotoModel:
    return PhotoModel.fit([scene(96, 80, 3, seed=1), scene(64, 100, 1, seed=2)])


@pytest.mark.parametrize("rct", RCTS)
def test_colour_transforms_are_exact_on_every_rgb_value(rct):
    v = np.arange(256, dtype=np.uint8)
    rgb = np.stack(np.meshgrid(v, v, v[::17], indexing="ij"), -1).reshape(256, -1, 3)
    planes = to_planes(rgb, rct=rct)
    for p in planes:
        assert p.values.min() >= 0 and p.values.max() <= p.maxval
    assert (from_planes([p.values for p in planes], np.uint8, rct) == rgb).all()
    wide = rgb.astype(np.uint16) * 257  # 16-bit extremes too
    planes = to_planes(wide, rct=rct)
    assert all(p.values.min() >= 0 and p.values.max() <= p.maxval for p in planes)
    assert (from_planes([p.values for p in planes], np.uint16, rct) == wide).all()


def layout_of(payload: bytes, channels: int = 3, dtype=np.uint8) -> tuple:
    """(colour transform, own predictors, (period, texture) of each plane, offset of the
    first plane's flags)."""
    _, pos = compaction.from_bytes(payload, channels, np.dtype(dtype), "t")
    rct = None
    if channels >= 3:
        rct, pos = payload[pos], pos + 1
    own, periods, _ = codec._planes_from_bytes(payload, pos, channels, "t")
    return rct, own, periods, pos


@pytest.mark.parametrize("shape", [(1, 1), (1, 37), (29, 1), (1, 1, 3), (2, 1, 4), (3, 5, 2)])
def test_tiny_and_degenerate_images(shape):
    rng = np.random.default_rng(sum(shape))
    for dtype in (np.uint8, np.uint16):
        img = rng.integers(0, np.iinfo(dtype).max + 1, shape, dtype=dtype)
        blob = compress(img, trained(), tile=16)
        back = decompress(blob, trained())
        assert back.dtype == img.dtype and back.shape == img.shape and (back == img).all()


@given(
    h=st.integers(1, 70),
    w=st.integers(1, 70),
    channels=st.sampled_from([1, 2, 3, 4]),
    wide=st.booleans(),
    tile=st.sampled_from([16, 32, 48]),
    noise=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_property_round_trip_is_pixel_exact(h, w, channels, wide, tile, noise, seed):
    dtype = np.uint16 if wide else np.uint8
    img = scene(h, w, channels, dtype, seed)
    if noise:  # extremes and jumps: residuals wrap around the plane's range
        rng = np.random.default_rng(seed)
        mask = rng.random(img.shape) < 0.2
        img[mask] = rng.choice([0, np.iinfo(dtype).max], mask.sum())
    blob = compress(img, trained(), tile=tile, safeguard=False)
    back = decompress(blob, trained())
    assert back.shape == img.shape and back.dtype == img.dtype and (back == img).all()


@pytest.mark.parametrize("pairs", [False, True])
def test_kernel_matches_plain_python_integer_arithmetic(pairs):
    # the decoder's agreement on every machine rests on integer-only arithmetic: the JIT
    # kernel and the same code run by the Python interpreter give the same stream
    model = trained()
    img = scene(9, 13, 3, np.uint16, seed=4)
    img = paired(img) if pairs else img
    payload = code_tile(model, img, kernel.ENCODE)
    jit = kernel.code_plane
    try:
        kernel.code_plane = jit.py_func
        assert code_tile(model, img, kernel.ENCODE) == payload
    finally:
        kernel.code_plane = jit
    t = decode_tile(model, payload, 9, 13, 3, np.dtype(np.uint16), "t")
    assert (t == img).all()


@pytest.mark.parametrize(("bitstream", "period", "texture"), [(2, 2, False), (3, 1, True)])
def test_kernel_modes_match_plain_python(bitstream, period, texture):
    # the legacy path (files of bitstream 2) and texture mode, as the interpreter runs them
    plane = scene(11, 14, 1, np.uint8, seed=8).astype(np.int64)
    table = codec._start_table(trained(), 0, texture)
    side = np.full(plane.shape, -1, np.int64)
    outs = []
    for fn in (kernel.code_plane, kernel.code_plane.py_func):
        starts, freqs = np.zeros(400, np.int64), np.zeros(400, np.int64)
        tokens, errors, n = fn(
            kernel.ENCODE, plane, 255, side, plane, False, fit_linear(plane), table.copy(),
            np.zeros(len(table), np.int64), starts, freqs, 0, np.zeros(1, np.uint32),
            np.zeros(3, np.uint64), period, bitstream, texture,
        )  # fmt: skip
        outs.append((tokens.tolist(), errors.tolist(), starts[:n].tolist(), freqs[:n].tolist()))
    assert outs[0] == outs[1]


def flat_chroma(h: int, w: int, seed: int) -> np.ndarray:
    """RGB whose R - G and B - G are constant over 16 x 16 blocks, with a few steps of 2
    inside (chroma as a heavily quantised JPEG leaves it)."""
    rng = np.random.default_rng(seed)
    g = scene(h, w, 1, seed=seed).astype(np.int64) // 2 + 40
    blocks = rng.integers(-3, 4, (h // 16 + 1, w // 16 + 1, 2)) * 2
    d = np.repeat(np.repeat(blocks, 16, 0), 16, 1)[:h, :w]
    d += (rng.random((h, w, 2)) < 0.02) * 2
    return np.stack([g + 60 + d[..., 0], g, g - 20 + d[..., 1]], -1).astype(np.uint8)


def test_piecewise_flat_planes_are_coded_in_texture_mode(monkeypatch):
    img = flat_chroma(96, 112, seed=15)
    payload = code_tile(trained(), img, kernel.ENCODE)
    _, _, hows, _ = layout_of(payload)
    assert any(texture for _, texture in hows[1:])
    assert (decode_tile(trained(), payload, 96, 112, 3, np.dtype(np.uint8), "t") == img).all()
    monkeypatch.setattr(codec, "_HOWS", tuple(h for h in codec._HOWS if not h[1]))
    assert len(code_tile(trained(), img, kernel.ENCODE)) > 1.1 * len(payload)


def test_bitstream_is_pinned():
    i, j, c = np.mgrid[0:40, 0:50, 0:3]
    img = ((i * 3 + j * 2 + c * 40 + (i * j * 7) % 13) % 256).astype(np.uint8)
    blob = compress(img, PhotoModel(), tile=32, safeguard=False)
    assert hashlib.sha256(blob).hexdigest()[:16] == "9f4ce38527617be8"


@pytest.mark.parametrize(("dtype", "scale"), [(np.uint8, 3), (np.uint16, 16)])
def test_sparse_histograms_are_coded_as_ranks(dtype, scale):
    # contrast-stretched or 12-bit-in-16 data: only every scale-th value occurs
    img = (scene(60, 50, 1, np.uint8, seed=2) // scale).astype(dtype) * scale
    blob = compress(img, trained(), safeguard=False)
    assert (decompress(blob, trained()) == img).all()
    dense = compress((img // scale).astype(dtype), trained(), safeguard=False)
    assert len(blob) < len(dense) + 80  # the same cost as the dense image, plus the map
    rgb = np.stack([img, img // 2 * 2, img], -1)
    assert (decompress(compress(rgb, trained(), safeguard=False), trained()) == rgb).all()


@given(st.sets(st.integers(0, 255), min_size=1), st.sampled_from([1, 2, 3]))
def test_value_maps_round_trip_in_every_version(values, version):
    used = np.array(sorted(values), np.uint8)
    data = compaction.to_bytes([used, None], np.dtype(np.uint8))
    if version < 3:  # the layout of versions 1 and 2: a bitmap of all 256 values
        bits = np.zeros(256, np.uint8)
        bits[used] = 1
        data = data[:1] + np.packbits(bits, bitorder="little").tobytes() + b"\x00"
    maps, pos = compaction.from_bytes(data, 2, np.dtype(np.uint8), "t", version)
    assert pos == len(data) and maps[1] is None and (maps[0] == used).all()


def test_damaged_value_maps_are_refused():
    data = compaction.to_bytes([np.array([3, 5, 9], np.uint8)], np.dtype(np.uint8))
    assert data[:3] == bytes([3, 3, 9])  # n, lowest, highest, then 7 bits in one byte
    for bad in (data[:2], bytes([3, 9, 3]) + data[3:], data[:3] + b"\xff", bytes([2]) + data[1:]):
        with pytest.raises(ContainerError, match="value map"):
            compaction.from_bytes(bad, 1, np.dtype(np.uint8), "t")


def diagonal_texture(n: int, seed: int) -> np.ndarray:
    """Grey texture where each pixel follows its NE neighbour (the training scenes do not)."""
    rng = np.random.default_rng(seed)
    a = np.full((n, n), 128.0)
    for i in range(1, n):
        a[i] = np.roll(a[i - 1], -1) * 0.97 + 0.03 * 128 + rng.normal(0, 6, n)
    return np.clip(a, 0, 255).astype(np.uint8)


def test_planes_carry_their_own_predictor_where_it_pays(monkeypatch):
    g = diagonal_texture(80, seed=3)
    img = np.stack([g, g // 2 + 30, 255 - g], -1)
    payload = code_tile(trained(), img, kernel.ENCODE)
    _, own, _, at = layout_of(payload)
    assert own[0] is not None and own[0].shape == (2, kernel.N_LINEAR)
    assert (decode_tile(trained(), payload, 80, 80, 3, np.dtype(np.uint8), "t") == img).all()
    monkeypatch.setattr(codec, "_OWN_PREDICTOR", 10**9)  # never: the model's predictor
    assert len(code_tile(trained(), img, kernel.ENCODE)) > len(payload) + 50
    monkeypatch.undo()
    # on images like the training ones the model's predictor is as good: no coefficients
    like_training = scene(80, 80, 1, seed=11)[..., None]
    assert layout_of(code_tile(trained(), like_training, kernel.ENCODE), 1)[1] == [None]
    bad = payload[:at] + b"\x08" + payload[at + 1 :]
    with pytest.raises(ContainerError, match="predictor"):
        decode_tile(trained(), bad, 80, 80, 3, img.dtype, "t")
    bad = payload[: at - 1] + b"\x09" + payload[at:]
    with pytest.raises(ContainerError, match="colour transform"):
        decode_tile(trained(), bad, 80, 80, 3, img.dtype, "t")


def test_pixel_pairs_are_coded_with_period_2(monkeypatch):
    # chroma upsampled from a JPEG repeats in 2x2 blocks: the encoder picks period 2 per plane
    img = scene(64, 80, 3, seed=6)
    img[:, :, 0] = paired(img[:, :, 0])
    img[:, :, 2] = paired(img[:, :, 2])  # R and B paired: Co = R - B is paired, Y is not
    payload = code_tile(trained(), img, kernel.ENCODE)
    _, _, hows, _ = layout_of(payload)
    assert hows[0][0] == 1 and (2, False) in hows[1:]  # G is not paired (and Y not quite)
    assert (decode_tile(trained(), payload, 64, 80, 3, np.dtype(np.uint8), "t") == img).all()
    monkeypatch.setattr(codec, "_HOWS", ((1, False), (1, True)))
    assert len(code_tile(trained(), img, kernel.ENCODE)) > len(payload) + 20


@pytest.mark.parametrize("rct", RCTS)
def test_every_colour_transform_round_trips(monkeypatch, rct):
    monkeypatch.setattr(codec, "RCTS", (rct,))
    for img in (scene(70, 90, 3, seed=12), scene(33, 20, 4, np.uint16, seed=13)):
        payload = code_tile(trained(), img, kernel.ENCODE)
        assert layout_of(payload, img.shape[2], img.dtype)[0] == rct
        blob = compress(img, trained(), tile=32, safeguard=False)
        assert (decompress(blob, trained()) == img).all()


def test_the_encoder_picks_the_colour_transform_that_codes_shortest(monkeypatch):
    # green dominates and R, B follow it at different contrasts: coding R and B as they are
    # (each guided by G's gradients) beats any difference of channels
    g = scene(96, 96, 1, seed=14).astype(np.int64)
    img = np.stack([g // 3 + 40, g, 255 - g // 2], -1).astype(np.uint8)
    sizes = {}
    for rct in RCTS:
        monkeypatch.setattr(codec, "RCTS", (rct,))
        sizes[rct] = len(code_tile(trained(), img, kernel.ENCODE))
    monkeypatch.setattr(codec, "RCTS", RCTS)
    payload = code_tile(trained(), img, kernel.ENCODE)
    assert layout_of(payload)[0] == min(sizes, key=sizes.get)
    assert len(payload) == min(sizes.values())


def _v1_image() -> np.ndarray:
    img = scene(40, 50, 3, seed=5)
    img[:, :, 1] = paired(img[:, :, 1])
    return img


def _v2_image() -> np.ndarray:
    img = scene(40, 50, 3, seed=7)
    img[:, :, 0] = paired(img[:, :, 0])
    img[:, :, 2] = paired(img[:, :, 2])
    return img


@pytest.mark.parametrize(("name", "version", "image"), [("v1", 1, _v1_image), ("v2", 2, _v2_image)])
def test_files_of_older_bitstream_versions_still_decode(name, version, image):
    # written by earlier latentzip releases (commits 5e0ae27^ and 5e0ae27) from these images
    blob = (Path(__file__).parent / "data" / f"{name}_rgb.lz").read_bytes()
    c = container.unpack(blob)
    assert c.codec_version == version
    if version == 2:  # the file exercises period 2 somewhere
        periods = []
        for k in range(len(c.index)):
            _, pos = compaction.from_bytes(c.record(k), 3, np.dtype(np.uint8), "t", version)
            periods += codec._planes_from_bytes(c.record(k), pos, 3, "t")[1]
        assert any(period == 2 for period, _ in periods)
    assert (decompress(blob, PhotoModel()) == image()).all()
    recs = [(c.record(k), e.n_samples, e.check) for k, e in enumerate(c.index)]
    future = container.pack(c.codec, codec.CODEC.version + 1, c.header, recs, None)
    with pytest.raises(ContainerError, match=r"photos bitstream version 4 .*not supported"):
        decompress(future, PhotoModel())


def test_the_learned_prior_helps_on_unseen_images():
    img = scene(64, 64, 3, seed=9)
    plain = len(compress(img, PhotoModel(), safeguard=False))
    assert len(compress(img, trained(), safeguard=False)) < 0.97 * plain


def test_tiles_decode_alone():
    img = scene(70, 90, 3, seed=3)
    blob = compress(img, trained(), tile=32, safeguard=False)
    c = container.unpack(blob)
    assert len(c.index) == 3 * 3
    broken = bytearray(blob)  # damage the first tile: the last still decodes
    broken[c.payload_start + 2] ^= 0xFF
    with pytest.raises(ContainerError):
        decompress(bytes(broken), trained())
    assert (decompress_tile(bytes(broken), trained(), 0, 2, 2) == img[64:, 64:]).all()
    with pytest.raises(DataError, match="outside"):
        decompress_tile(blob, trained(), 0, 3, 0)


def test_damage_truncation_and_wrong_model_are_refused():
    img = scene(40, 40, 3, seed=5)
    blob = compress(img, trained(), safeguard=False)
    for cut in (10, len(blob) // 2, len(blob) - 1):
        with pytest.raises(ContainerError):
            decompress(blob[:cut], trained())
    with pytest.raises(ContainerError, match="wrong model"):
        decompress(blob, PhotoModel())
    with pytest.raises(ContainerError, match="no embedded model"):
        decompress(blob)
    embedded = compress(img, trained(), safeguard=False, embed=True)
    assert (decompress(embedded) == img).all()


def test_unsupported_images_are_refused():
    for bad, msg in [
        (np.zeros((4, 4), np.float32), "uint8 or uint16"),
        (np.zeros((4, 4, 5), np.uint8), "1..4"),
        (np.zeros((0, 4), np.uint8), "empty"),
        (np.zeros((2, 2, 2, 2), np.uint8), "image"),
    ]:
        with pytest.raises(DataError, match=msg):
            compress(bad, trained())
    with pytest.raises(ModelError):
        compress(np.zeros((4, 4), np.uint8), object())


def test_safeguard_stores_jpegxl_when_it_is_smaller():
    palette = np.array([[0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255]], np.uint8)
    flat = palette[np.random.default_rng(0).integers(0, 4, (64, 64))]  # JPEG-XL's palette wins
    report: list = []
    blob = compress_images([Photo(flat, "flat.png", "png")], trained(), report=report)
    assert report[0][2] is True
    photos = decompress_images(blob, trained())
    assert photos[0].name == "flat.png" and (photos[0].pixels == flat).all()
    assert container.unpack(blob).header["images"][0]["stored"] == "jpegxl"


def test_model_file_round_trip():
    model = trained()
    again, _ = modelfile.from_bytes(modelfile.to_bytes(model))
    assert isinstance(again, PhotoModel) and again.fingerprint == model.fingerprint
    assert model.prior.min() >= 1 and (model.prior.sum(-1) == kernel.TOTAL).all()


def test_names_that_could_not_be_restored_are_refused_at_compression():
    img = scene(8, 8, 1)
    for names in (["a.png", "a.png"], ["../a.png"], ["a/b.png"]):
        with pytest.raises(DataError, match="plain, unique"):
            compress_images([Photo(img, n, "png") for n in names], trained())


def test_crafted_names_never_leave_the_output_folder():
    blob = compress_images([Photo(scene(8, 8, 1), "a.png", "png")], trained(), safeguard=False)
    p = container.unpack(blob)
    head = dict(p.header)
    head["images"] = [{**head["images"][0], "name": "../evil.png"}]
    forged = container.pack(
        p.codec, p.codec_version, head, [(p.record(0), 64, p.index[0].check)], None
    )
    with pytest.raises(ContainerError, match="plain, unique file name"):
        decompress_images(forged, trained())


@pytest.mark.parametrize(
    ("key", "value"),
    [("model_fingerprint", 12345), ("tile", "x"), ("images", {}), ("images", [{"shape": 3}])],
)
def test_info_and_decompress_refuse_headers_of_the_wrong_shape(tmp_path, key, value):
    blob = compress(scene(8, 8, 1), trained(), safeguard=False)
    c = container.unpack(blob)
    head = {**c.header, key: value}
    forged = container.pack(
        c.codec, c.codec_version, head, [(c.record(0), 64, c.index[0].check)], None
    )
    path = tmp_path / "x.lz"
    path.write_bytes(forged)
    assert main(["info", str(path)]) == 2
    assert main(["decompress", str(path), "-o", str(tmp_path / "o.png")]) == 2


def test_cli_train_compress_decompress(tmp_path, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "a.png").write_bytes(imagecodecs.png_encode(scene(80, 70, 3, seed=1)))
    (photos / "b.tif").write_bytes(imagecodecs.tiff_encode(scene(50, 90, 1, seed=2)))
    model = tmp_path / "photo.model"
    assert main(["train", str(photos), "-o", str(model), "-q"]) == 0
    img = scene(75, 61, 3, seed=3)
    (tmp_path / "new.png").write_bytes(imagecodecs.png_encode(img))
    assert main(["compress", str(tmp_path / "new.png"), "-m", str(model)]) == 0
    lz = tmp_path / "new.png.lz"
    assert main(["info", str(lz)]) == 0
    assert "photos (id 4" in capsys.readouterr().out
    assert main(["decompress", str(lz), "-m", str(model)]) == 0
    back = imagecodecs.png_decode((tmp_path / "new.restored.png").read_bytes())
    assert (back == img).all()
    out = tmp_path / "folder.lz"
    assert main(["compress", str(photos), "-m", str(model), "-o", str(out)]) == 0
    assert main(["decompress", str(out), "-m", str(model), "-o", str(tmp_path / "r")]) == 0
    assert (
        imagecodecs.tiff_decode((tmp_path / "r" / "b.tif").read_bytes()) == scene(50, 90, 1, seed=2)
    ).all()
    assert main(["compress", str(tmp_path / "new.png")]) == 2  # photos need a model


def test_records_check_the_decoded_pixels():
    img = scene(20, 20, 3, seed=6)
    blob = compress(img, trained(), safeguard=False)
    p = container.unpack(blob)
    assert p.index[0].check == zlib.crc32(img.astype("<u1").tobytes())
    with pytest.raises(LatentzipError):
        decompress(blob, PhotoModel.fit([scene(30, 30, 3, seed=8)]))
