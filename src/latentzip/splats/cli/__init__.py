"""``latentzip splats``: capture multi-view data, fit DualGS, render, compress."""

from __future__ import annotations

import argparse

from latentzip.splats.cli import codec as cli_codec
from latentzip.splats.cli import fit as cli_fit


def add_splats_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``latentzip splats <verb>``; heavy imports happen inside each verb."""
    p = sub.add_parser("splats", help="volumetric video with dual Gaussian splatting")
    verbs = p.add_subparsers(dest="splats_verb", required=True)
    cli_fit.add_verbs(verbs)
    cli_codec.add_verbs(verbs)
    return p
