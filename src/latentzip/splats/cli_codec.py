"""``latentzip splats`` verbs for compress and decompress."""

from __future__ import annotations

import argparse


def add_verbs(verbs: argparse._SubParsersAction) -> None:
    """Register this module's verbs on the ``latentzip splats`` sub-parser."""
