"""Crafted claims stay within the memory budget, and kill -9 never leaves partial output.

Memory: each crafted file is decoded in a fresh process that resets its peak-RSS counter
(``/proc/self/clear_refs``) after start-up, so the growth measured is the decoder's own; it
must stay under 50 x file size + 500 MB (``latentzip.coding.limits.memory_budget``).

Kill: ``compress``/``decompress`` (a file, a PNG folder) are killed with SIGKILL at random
moments, 20 times each; the destination must be absent or complete, never partial, and the
next successful run leaves no temporary files behind. Slow (about 3 minutes): runs in CI or
with ``LATENTZIP_SLOW=1``.
"""

from __future__ import annotations

import lzma
import os
import signal
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from conftest import random_circuit
from fuzzing import Parts

from latentzip.circuits import HCLT, HCLTConfig
from latentzip.circuits.codec import CodecConfig, compress
from latentzip.coding import limits
from latentzip.data import load_digits

slow = pytest.mark.skipif(
    not (os.environ.get("CI") or os.environ.get("LATENTZIP_SLOW")),
    reason="slow: runs in CI or with LATENTZIP_SLOW=1",
)

_PROBE = """
import sys, resource
from pathlib import Path
import latentzip.cli  # start-up imports are not the decoder's memory
from latentzip.cli import main
def rss(key):
    for line in open('/proc/self/status'):
        if line.startswith(key):
            return int(line.split()[1]) * 1024
before = rss('VmRSS:')
open('/proc/self/clear_refs', 'w').write('5')  # reset the peak (VmHWM) to now
code = main(sys.argv[1:])
print(code, rss('VmHWM:') - before)
"""


def _peak(args: list[str]) -> tuple[int, int]:
    done = subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]  # no traceback, whatever the file says
    code, grown = done.stdout.split()[-2:]
    return int(code), int(grown)


@pytest.fixture(scope="module")
def crafted(tmp_path_factory) -> list[tuple[str, Path, list[str]]]:
    root = tmp_path_factory.mktemp("crafted")
    circuit = random_circuit(64, 8, 256, seed=1)
    model = root / "m.model"
    from latentzip.coding import modelfile

    modelfile.save(circuit, model)
    x = circuit.sample(64, np.random.default_rng(0)).astype(np.uint8).reshape(64, 8, 8)
    blob = compress(x, circuit, CodecConfig(block_size=16))
    cases = []

    def add(name, data: bytes, *extra):
        path = root / f"{name}.lz"
        path.write_bytes(data)
        cases.append((name, path, ["decompress", str(path), "-o", str(root / name), *extra]))

    for claim in (10**6, 10**7, 2**32 - 1):  # one index entry claiming many samples
        p = Parts.of(blob)
        p.entries[0][2] = claim
        head = p.header_dict()
        head["n_samples"], head["block_size"] = sum(e[2] for e in p.entries), claim
        add(f"claim{claim}", p.with_header(head).pack(reseal=True), "-m", str(model))
    p = Parts.of(blob)  # thousands of records, each at the largest allowed block
    head = p.header_dict()
    block = limits.WORK_BYTES // circuit.coding_model().bytes_per_sample
    p.entries = [[0, 0, block, 0, 0] for _ in range(4000)]
    p.payloads = [b""] * 4000
    head["n_samples"], head["block_size"] = 4000 * block, block
    add("many-records", p.with_header(head).pack(reseal=True), "-m", str(model))
    add("xz-bomb", _table_with_xz_bomb(root))
    add("xz-bomb-stored", _table_with_xz_bomb(root, stored=True))
    add("splats-huge", _splats_claim(n_gaussians=10**9))
    add("splats-frames", _splats_claim(n_frames=10**9))
    return cases


def _xz_bomb() -> bytes:
    """1 GiB of JSON-like bytes as one raw LZMA2 stream, compressed in pieces."""
    from latentzip.coding import general

    z = lzma.LZMACompressor(format=lzma.FORMAT_RAW, filters=general._LZMA2)
    chunk = b'"",' * (2**20 // 3)
    bomb = z.compress(b"[") + b"".join(z.compress(chunk) for _ in range(1024))
    return bytes([general.XZ]) + bomb + z.compress(b'""]') + z.flush()


def _table_with_xz_bomb(root: Path, stored: bool = False) -> bytes:
    """A table whose side data (or whole stored file) inflates to 1 GiB."""
    from latentzip.coding.parts import varint
    from latentzip.tables import TableModel, compress_report, parse_csv

    rows = "".join(f"{i % 3},{i}\n" for i in range(100)).encode()
    if stored:
        p = Parts.of(compress_report(rows + b"\xff")[0])
        head = p.header_dict()
        head["n_bytes"] = 200 * 2**20  # within the budget: the inflation must stop at it
        p.payloads[0] = _xz_bomb()
        return p.with_header(head).pack(reseal=True)
    model = TableModel(HCLTConfig.quick(epochs=1, full_batch_epochs=0)).fit(
        parse_csv(rows), progress=False
    )
    p = Parts.of(compress_report(rows, model, embed=True, safeguard=False)[0])
    bomb = _xz_bomb()
    p.payloads[0] = varint(1) + varint(len(bomb)) + bomb
    p.entries[0][4] = zlib.crc32(p.payloads[0])
    return p.pack(reseal=True)


def _splats_claim(**claim) -> bytes:
    from latentzip.splats import DualGSSequence
    from latentzip.splats.codec import SplatCodecConfig, compress_sequence

    seq = DualGSSequence.random(frames=2, joints=2, skins=6, degree=0, seed=0)
    p = Parts.of(compress_sequence(seq, SplatCodecConfig(kmeans_iters=1, kmeans_samples=100)))
    head = p.header_dict()
    head.update(claim)
    return p.with_header(head).pack(reseal=True)


def test_crafted_claims_stay_within_the_memory_budget(crafted):
    for name, path, args in crafted:
        code, grown = _peak(args)
        budget = limits.memory_budget(path.stat().st_size)
        assert code == 2, f"{name}: the crafted file was not refused"
        assert grown <= budget, f"{name}: grew {grown / 2**20:.0f} MiB > {budget / 2**20:.0f}"


# ----------------------------------------------------------------------------- kill -9
def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "latentzip.cli", *args]


def _kill_at_random(cmd: list[str], seconds: float, rng) -> None:
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(rng.uniform(0, seconds))
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def _strays(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith((".tmp", ".old"))]


@slow
@pytest.mark.parametrize("what", ["compress", "decompress-file", "decompress-folder"])
def test_kill_9_leaves_the_destination_absent_or_complete(tmp_path, what):
    rng = np.random.default_rng(["compress", "decompress-file", "decompress-folder"].index(what))
    digits = (load_digits().data.reshape(-1, 8, 8) * 15).astype(np.uint8)
    images = np.tile(digits, (6, 1, 1))[:9000]
    model = HCLT(HCLTConfig.quick(epochs=1, full_batch_epochs=0)).fit(
        images.reshape(len(images), -1)[:1500], 256, progress=False
    )
    model.save(tmp_path / "m.model")
    src = tmp_path / "x.npy"
    np.save(src, images)
    if what == "decompress-folder":
        src = tmp_path / "pngs"
        src.mkdir()
        from PIL import Image

        for i, im in enumerate(images[:1500]):
            Image.fromarray(im, mode="L").save(src / f"{i:05d}.png")
    lz = tmp_path / "x.lz"
    compress_cmd = _cli("compress", str(src), "-m", str(tmp_path / "m.model"), "-o", str(lz))
    subprocess.run(compress_cmd, check=True, capture_output=True)
    reference_lz = lz.read_bytes()
    out = tmp_path / "out"
    decompress_cmd = _cli("decompress", str(lz), "-m", str(tmp_path / "m.model"), "-o", str(out))
    if what == "compress":
        cmd, dest, expected = compress_cmd, lz, reference_lz
    else:
        subprocess.run(decompress_cmd, check=True, capture_output=True)
        cmd, dest = decompress_cmd, out
        expected = _snapshot(out)
    start = time.perf_counter()
    _remove(dest)
    subprocess.run([*cmd, "-f"], check=True, capture_output=True)
    full = time.perf_counter() - start
    for _ in range(20):
        _remove(dest)
        _kill_at_random([*cmd, "-f"], 1.2 * full, rng)
        if dest.exists():  # absent, or complete: never a partial file or folder
            assert _snapshot(dest) == expected
    subprocess.run([*cmd, "-f"], check=True, capture_output=True)
    assert _snapshot(dest) == expected
    assert not _strays(tmp_path), _strays(tmp_path)


def _snapshot(path: Path):
    if path.is_dir():
        return {p.name: p.read_bytes() for p in sorted(path.iterdir())}
    return path.read_bytes()


def _remove(path: Path) -> None:
    import shutil

    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()
