"""Data loaders: every format becomes an integer array ``(n, D)`` plus the record shape."""

from latentzip.data.loaders import (
    Dataset,
    load,
    load_digits,
    load_idx,
    load_labels,
    load_npy,
    load_png_folder,
    validate_symbols,
)

__all__ = [
    "Dataset",
    "load",
    "load_digits",
    "load_idx",
    "load_labels",
    "load_npy",
    "load_png_folder",
    "validate_symbols",
]
