"""``latentzip motion``: motion stylization in latent space (GenMoStyle)."""

from __future__ import annotations

import argparse


def add_motion_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``latentzip motion <verb>``; heavy imports happen inside each verb."""
    p = sub.add_parser("motion", help="generative human motion stylization in latent space")
    p.add_subparsers(dest="motion_verb", required=True)
    return p
