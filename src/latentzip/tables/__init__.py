"""Learned lossless compression of CSV tables with an HCLT over their categorical columns.

``parse_csv``/``format_csv`` turn bytes into cell strings and back exactly; ``TableSchema``
maps each column's values to codes (or sends a free-text column to a general compressor);
``TableModel`` trains the circuit; ``compress``/``decompress`` write and read ``.lz`` files.
"""

from latentzip.tables.codec import CODEC_TABLE, compress, decompress, decompress_table
from latentzip.tables.csvfile import CsvFormat, Table, format_csv, is_csv_path, parse_csv, read_csv
from latentzip.tables.model import TableModel
from latentzip.tables.schema import ColumnSpec, TableConfig, TableSchema

__all__ = [
    "CODEC_TABLE",
    "ColumnSpec",
    "CsvFormat",
    "Table",
    "TableConfig",
    "TableModel",
    "TableSchema",
    "compress",
    "decompress",
    "decompress_table",
    "format_csv",
    "is_csv_path",
    "parse_csv",
    "read_csv",
]
