"""Learned lossless compression of tables: CSV files (byte for byte), DataFrames and Parquet.

``parse_csv``/``format_csv`` turn bytes into cell strings and back exactly; a ``TablePlan``
types each column (numbers, dates, categories, text) and maps it to the circuit's variables
and residuals; ``TableModel`` trains the circuit; ``compress``/``decompress`` write and read
``.lz`` files, with the model trained on the file and embedded unless one is given;
``compress_frame``/``decompress_frame`` do the same for pandas DataFrames.
"""

from latentzip.tables.codec import (
    CODEC_TABLE,
    Report,
    compress,
    compress_report,
    decompress,
    decompress_table,
)
from latentzip.tables.csvfile import CsvFormat, Table, format_csv, is_csv_path, parse_csv, read_csv
from latentzip.tables.frames import compress_frame, decompress_frame
from latentzip.tables.model import TableModel
from latentzip.tables.plan import ColumnPlan, PlanConfig, TablePlan

__all__ = [
    "CODEC_TABLE",
    "ColumnPlan",
    "CsvFormat",
    "PlanConfig",
    "Report",
    "Table",
    "TableModel",
    "TablePlan",
    "compress",
    "compress_frame",
    "compress_report",
    "decompress",
    "decompress_frame",
    "decompress_table",
    "format_csv",
    "is_csv_path",
    "parse_csv",
    "read_csv",
]
