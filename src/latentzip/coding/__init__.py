"""Entropy coding (constriction rANS), probability quantisation, and the container format."""

from latentzip.coding.ans import StreamDecoder, encode
from latentzip.coding.quantise import PRECISION, quantise

__all__ = ["PRECISION", "StreamDecoder", "encode", "quantise"]
