"""The seams: codec and model registries, lazy verbs, versions, progress (issue 16)."""

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from latentzip import progress
from latentzip.circuits import HCLT, HCLTConfig
from latentzip.circuits.codec import CodecConfig, compress, decompress
from latentzip.cli import main
from latentzip.coding import container
from latentzip.data import load_digits
from latentzip.errors import ContainerError

LEGACY = Path(__file__).resolve().parent / "legacy"


@pytest.fixture(scope="module")
def model():
    return HCLT(HCLTConfig.quick(epochs=1, full_batch_epochs=0)).fit(
        load_digits().data[:400], 17, progress=False
    )


def test_containers_of_latentzip_0_1_are_refused_naming_their_version():
    blob = (LEGACY / "v1_digits.lz").read_bytes()
    with pytest.raises(ContainerError, match=r"framing version 1 \(written by latentzip 0.1\)"):
        decompress(blob)
    assert main(["info", str(LEGACY / "v1_digits.lz")]) == 2


def test_unknown_codecs_and_bitstream_versions_are_refused(model, tmp_path, capsys):
    x = load_digits().data[:10].astype(np.uint8)
    c = container.unpack(compress(x, model))
    records = [(c.record(i), e.n_samples, e.check) for i, e in enumerate(c.index)]
    for codec, version, message in ((9, 1, "unknown codec 9"), (1, 7, "versions 1..1")):
        path = tmp_path / f"{codec}-{version}.lz"
        path.write_bytes(container.pack(codec, version, c.header, records))
        assert main(["info", str(path)]) == 2
        assert message in capsys.readouterr().err
        assert main(["decompress", str(path), "-o", str(tmp_path / "x")]) == 2
        assert message in capsys.readouterr().err


def test_info_describes_arrays_and_tables(model, tmp_path, capsys):
    x = load_digits().data[:70].reshape(-1, 8, 8).astype(np.uint8)
    (tmp_path / "a.lz").write_bytes(compress(x, model, CodecConfig(embed_model=True)))
    assert main(["info", str(tmp_path / "a.lz")]) == 0
    out = capsys.readouterr().out
    assert "arrays (id 1, bitstream v1, container v2)" in out and "70 samples x (8, 8)" in out
    assert "embedded" in out and "bits/dim" in out
    csv = tmp_path / "t.csv"
    csv.write_bytes(b"a,b\n" + b"".join(b"%d,%d\n" % (i % 3, i % 5) for i in range(60)))
    assert main(["train", str(csv), "-o", str(tmp_path / "t.model"), "-q", "--epochs", "1"]) == 0
    assert main(["compress", str(csv), "-m", str(tmp_path / "t.model")]) == 0
    capsys.readouterr()
    assert main(["info", str(csv) + ".lz"]) == 0
    out = capsys.readouterr().out
    assert "tables (id 2" in out and "60 rows x 2 columns" in out


def test_compressing_an_idx_file_needs_no_splats_or_motion_dependencies(model, tmp_path):
    images = load_digits().data[:50].reshape(-1, 8, 8).astype(np.uint8)
    idx = tmp_path / "x-idx3-ubyte"
    idx.write_bytes(bytes([0, 0, 8, 3, 0, 0, 0, 50, 0, 0, 0, 8, 0, 0, 0, 8]) + images.tobytes())
    model.save(tmp_path / "m.model")
    blocker = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('plyfile', 'pybullet', 'torch', 'imageio'):\n"
        "            raise ImportError(f'{name} is blocked by the test')\n"
        "sys.meta_path.insert(0, Block())\n"
        "from latentzip.cli import main\n"
        "args = sys.argv[1:]\n"
        "assert main(['compress', args[0], '-m', args[1], '-o', args[2]]) == 0\n"
        "assert main(['decompress', args[2], '-m', args[1], '-o', args[3]]) == 0\n"
        "assert main(['info', args[2]]) == 0\n"
        "assert not {'plyfile', 'pybullet', 'torch'} & set(sys.modules)\n"
    )
    lz, back = tmp_path / "x.lz", tmp_path / "back"
    done = subprocess.run(
        [sys.executable, "-c", blocker, str(idx), str(tmp_path / "m.model"), str(lz), str(back)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert (
        main(["decompress", str(lz), "-m", str(tmp_path / "m.model"), "-o", str(tmp_path / "b2")])
        == 0
    )
    assert (tmp_path / "b2").read_bytes() == idx.read_bytes() == back.read_bytes()


def test_help_lists_lazy_verbs_without_importing_them(capsys):
    before = set(sys.modules)
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "splats" in capsys.readouterr().out
    assert not {m for m in set(sys.modules) - before if m.startswith("latentzip.splats")}


def test_progress_bars_advance_per_batch(monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr(progress, "STREAM", stream)
    monkeypatch.setattr(progress, "MIN_INTERVAL", 0.0)
    x = load_digits().data[:600]
    HCLT(HCLTConfig.quick(epochs=1, full_batch_epochs=0, batch_size=100)).fit(x, 17)
    text = stream.getvalue()
    shown = [i for i in range(7) if f"| {i}/6 [" in text]
    assert shown == list(range(7)), text[-500:]  # 0/6 .. 6/6: every batch advances the bar
    assert "bpd=" in text


def test_header_fields_are_read_typed(model):
    x = load_digits().data[:10].astype(np.uint8)
    c = container.unpack(compress(x, model))
    records = [(c.record(i), e.n_samples, e.check) for i, e in enumerate(c.index)]
    for key, value, message in (
        ("dtype", "garbage", "dtype"),
        ("block_size", "x", "block_size must be an integer"),
        ("sample_shape", [3, 3], "does not fit"),
        ("n_samples", 11, "the header says 11"),
        ("precision", 16, "precision"),
    ):
        header = json.loads(json.dumps(c.header))
        header[key] = value
        with pytest.raises(ContainerError, match=message):
            decompress(container.pack(1, 1, header, records), model)
