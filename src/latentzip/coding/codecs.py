"""What a codec registers: its id, bitstream versions, ``info`` summary and restore step.

The CLI never looks inside a container itself: it parses the framing, looks the codec id up
in :data:`latentzip.registry.CODECS`, checks the codec's bitstream version and hands over.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from latentzip.coding.container import Container
from latentzip.errors import ContainerError


@dataclass(frozen=True)
class CodecSpec:
    """One codec.

    Attributes
    ----------
    id : container codec id
    name : short name shown by ``info``
    version : bitstream version this latentzip writes
    oldest : oldest bitstream version it still reads
    describe : container -> ``[(label, text), ...]`` for ``latentzip info``
    restore : (container, CLI arguments) -> one-line summary; writes the restored output
    """

    id: int
    name: str
    version: int
    oldest: int
    describe: Callable[[Container], list[tuple[str, str]]]
    restore: Callable[[Container, object], str]

    def check(self, c: Container) -> Container:
        """``c`` if this codec reads its bitstream version, else a clear error."""
        if c.codec != self.id:
            raise ContainerError(
                f"container holds codec {c.codec}, expected {self.id} ({self.name})"
            )
        if not self.oldest <= c.codec_version <= self.version:
            raise ContainerError(
                f"{self.name} bitstream version {c.codec_version} is not supported: this "
                f"latentzip reads versions {self.oldest}..{self.version}"
            )
        return c
