"""One regression test per failure the fault-injection campaign reported (issue 21).

Some live beside the code they test; this file names them and holds the rest.

1. npy with trailing bytes: tests/data/test_sources.py::test_trailing_bytes_are_refused_not_shifted
2. n_categories beyond the leaf table: tests/coding/test_modelfile.py (category count test)
3. self-parent / cycle in the tree: tests/coding/test_modelfile.py (tree tests)
4. allocation bombs: tests/hostile/test_resources.py, test_fuzz_containers.py (claims)
5. tracebacks: loaders (tests/data/test_loaders.py), BVH (tests/motion/test_bvh.py),
   --fps (tests/motion/test_cli_motion.py), container headers (below, test_seams.py)
6. models that train but cannot be used: below
7. partial PNG folders: tests/data/test_sources.py, tests/hostile/test_resources.py (kill -9)
8. silent folder creation, long CSV fields: below, tests/tables/test_table_csvfile.py
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import random_circuit

from latentzip.circuits.codec import compress, decompress
from latentzip.cli import main
from latentzip.coding import container
from latentzip.errors import ContainerError
from latentzip.tables import TableModel, parse_csv
from latentzip.tables import compress as table_compress
from latentzip.tables import decompress as table_decompress


def _train_compress_decompress(tmp_path, src, extra=()) -> bytes:
    model, lz, back = tmp_path / "m.model", tmp_path / "x.lz", tmp_path / "back"
    assert main(["train", str(src), "-o", str(model), "-q", "--epochs", "1", *extra]) == 0
    assert main(["compress", str(src), "-m", str(model), "-o", str(lz)]) == 0
    assert main(["decompress", str(lz), "-m", str(model), "-o", str(back)]) == 0
    return back.read_bytes()


@pytest.mark.parametrize(
    "text",
    [
        b"1\n2\n1\n3\n",  # a single-column CSV
        b"7\n",  # one cell
        b"x,y\n1,2\n1,2\n",  # a header and constant columns: nothing to code
        b"id,v\n" + b"".join(b"%d,a\n" % i for i in range(50)),  # one modelled column
    ],
)
def test_tables_with_one_modelled_column_train_and_round_trip(tmp_path, text):
    src = tmp_path / "t.csv"
    src.write_bytes(text)
    assert _train_compress_decompress(tmp_path, src) == text


def test_an_idx1_label_file_trains_and_round_trips(tmp_path):
    labels = np.random.default_rng(0).integers(0, 10, 300).astype(np.uint8)
    src = tmp_path / "labels-idx1-ubyte"
    src.write_bytes(b"\x00\x00\x08\x01" + (300).to_bytes(4, "big") + labels.tobytes())
    assert _train_compress_decompress(tmp_path, src) == src.read_bytes()


def test_one_variable_codes_exactly():
    circuit = random_circuit(1, 2, 5, seed=0)
    x = np.random.default_rng(0).integers(0, 5, (33, 1)).astype(np.uint8)
    assert np.array_equal(decompress(compress(x, circuit), circuit), x)


def test_output_in_a_missing_folder_is_refused(tmp_path, capsys):
    src = tmp_path / "t.csv"
    src.write_bytes(b"1\n2\n")
    assert main(["train", str(src), "-o", str(tmp_path / "m.model"), "-q"]) == 0
    out = tmp_path / "a" / "b" / "c.lz"
    assert main(["compress", str(src), "-m", str(tmp_path / "m.model"), "-o", str(out)]) == 2
    assert "does not exist" in capsys.readouterr().err and not (tmp_path / "a").exists()


@pytest.mark.parametrize(
    "path, value",
    [
        (("format", "delimiter"), ";;"),
        (("format", "delimiter"), 5),
        (("format",), [1]),
        (("format", "header"), "yes"),
        (("mode",), "other"),
        (("n_rows",), -1),
        (("n_rows",), 61),
        (("n_rows",), 2**39),
        (("n_columns",), 3),
        (("block_rows",), "x"),
        (("block_rows",), 16),
        (("n_bytes",), 2**61),
        (("sha",), 5),
        (("plan",), {"columns": [{"role": "number"}]}),
    ],
)
def test_table_headers_of_the_wrong_shape_are_clean_errors(path, value):
    raw = b"id,v\n" + b"".join(b"%d,%s\n" % (i, b"ab"[i % 2 : i % 2 + 1]) for i in range(60))
    from latentzip.circuits import HCLTConfig

    model = TableModel(HCLTConfig.quick(epochs=1)).fit(parse_csv(raw), progress=False)
    c = container.unpack(table_compress(raw, model))
    header = json.loads(json.dumps(c.header))
    target = header
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    records = [(c.record(i), e.n_samples, e.check) for i, e in enumerate(c.index)]
    blob = container.pack(c.codec, c.codec_version, header, records)
    with pytest.raises(ContainerError):
        table_decompress(blob, None if path == ("plan",) else model)


def test_a_garbage_root_edge_row_is_refused_not_a_traceback():
    """Heavy fuzzing: the root's (unused) edge row was not checked, and quantising it for the
    coder raised ValueError("rows do not sum to one") from a model file."""
    from latentzip.circuits.circuit import Circuit
    from latentzip.errors import ModelError

    arrays, settings = random_circuit(6, 3, 4, seed=2).to_arrays()
    root = int(np.flatnonzero(arrays["parent"] < 0)[0])
    arrays["edges"] = arrays["edges"].copy()
    arrays["edges"][root, 0] = [-0.5, 1.0, 0.5]
    with pytest.raises(ModelError, match="edges"):
        Circuit.from_arrays(arrays, settings)
