"""The README's main job: train on scikit-learn digits, compress the held-out ones, compare."""

from __future__ import annotations

import math
import time

import numpy as np

from latentzip.baselines import byte_codecs, image_codecs, measure
from latentzip.circuits import HCLT, HCLTConfig
from latentzip.circuits.codec import compress, decompress
from latentzip.data import load_digits

N_TRAIN = 1500


def run_demo(quiet: bool = False) -> dict:
    """Returns the measured bits per dimension by codec name (also printed)."""
    digits = load_digits()
    images = digits.data.reshape(-1, *digits.shape).astype(np.uint8)
    train, test = images[:N_TRAIN], images[N_TRAIN:]
    start = time.perf_counter()
    model = HCLT(HCLTConfig.quick()).fit(
        train.reshape(len(train), -1), digits.n_categories, progress=not quiet
    )
    fit_s = time.perf_counter() - start
    blob = compress(test, model)
    restored = decompress(blob, model)
    if not np.array_equal(restored, test):
        raise AssertionError("round trip failed")
    dims = test.size
    theory = -model.score_samples(test.reshape(len(test), -1)).sum() / math.log(2) / dims
    rates = {
        "latentzip (theoretical -log2 p)": theory,
        "latentzip (actual file)": 8 * len(blob) / dims,
    }
    wanted = {"PNG (level 9)", "WebP lossless", "JPEG-XL lossless e7", "zstd -19"}
    for codecs, per_image, where in (
        (image_codecs(), True, "per image"),
        (byte_codecs(), False, "on raw bytes"),
    ):
        for codec in codecs:
            if codec.name in wanted:
                rates[f"{codec.name} {where}"] = 8 * measure(codec, test, per_image) / dims
    print(
        f"scikit-learn digits: trained HCLT (K={model.config.n_latents}) on {len(train)} "
        f"images in {fit_s:.1f} s; {len(test)} held-out 8x8 images, 17 grey levels"
    )
    print(f"round trip exact: yes ({len(blob)} bytes)")
    width = max(map(len, rates))
    for name, bpd in rates.items():
        print(f"  {name:<{width}}  {bpd:6.3f} bits/dim")
    return rates
