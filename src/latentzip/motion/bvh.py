"""A small BVH reader and writer (the text format; the data types are in ``skeleton``).

BVH (Biovision hierarchy) holds a joint tree with rest offsets and, per frame, the channel
values of every joint: positions (``Xposition`` ...) and Euler angles in degrees, applied in the
listed order (``Zrotation Yrotation Xrotation`` is ``Rz @ Ry @ Rx``). A joint's local
translation is its position channels when it has them (Blender's convention), its ``OFFSET``
otherwise; global transforms chain from the root.

    text --parse_bvh--> Bvh (skeleton + channel values) --to_motion--> Motion (rotation matrices)
         <-write_bvh---                                  <-from_motion--

>>> text = '''HIERARCHY
... ROOT Hips
... {
...   OFFSET 0 0 0
...   CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation
...   JOINT Leg
...   {
...     OFFSET 0 -1 0
...     CHANNELS 3 Zrotation Xrotation Yrotation
...     End Site
...     {
...       OFFSET 0 -1 0
...     }
...   }
... }
... MOTION
... Frames: 1
... Frame Time: 0.033333
... 0 2 0 0 0 0 90 0 0
... '''
>>> bvh = parse_bvh(text)
>>> bvh.skeleton.names, bvh.values.shape
(['Hips', 'Leg'], (1, 9))
>>> bvh.to_motion().positions()[0, 1].round(6).tolist()   # Leg at the hips: no turn yet
[0.0, 1.0, 0.0]
>>> parse_bvh(write_bvh(bvh)).values.tolist() == bvh.values.tolist()
True
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from latentzip.errors import DataError

# The data types live in ``skeleton``; re-exported here, where they were first defined.
from latentzip.motion.skeleton import _POS, _ROT, Bvh, Motion, Skeleton, forward_kinematics

#: Most joints accepted in one skeleton (motion-capture skeletons have tens of joints).
MAX_JOINTS = 1024
#: Deepest nesting of joints accepted (a chain from the root).
MAX_DEPTH = 256
#: Shortest frame time in seconds (a million frames per second); also what ``write_bvh``'s
#: six decimals can still write.
MIN_FRAME_TIME = 1e-6


def parse_bvh(text: str) -> Bvh:
    """Parse BVH text; malformed input raises :class:`DataError` naming the line.

    Refused: more than :data:`MAX_JOINTS` joints or nesting deeper than :data:`MAX_DEPTH`,
    non-finite offsets or channel values, a frame time that is not finite or under
    :data:`MIN_FRAME_TIME` seconds, no frames, a ``Frames:`` count that differs from the
    number of frame lines, and a frame line without exactly one value per channel.
    """
    lines = text.split("\n")
    words = _Words(lines)
    names, parents, offsets, channels, ends = _hierarchy(words)
    words.expect("MOTION")
    words.expect("Frames:")
    n_frames = _frame_count(words)
    words.expect("Frame")
    words.expect("Time:")
    frame_time = _frame_time(words)
    n_ch = sum(len(c) for c in channels)
    if n_ch == 0:
        raise DataError("BVH: the skeleton has no channels")
    values = _frames(lines, words.row + 1, n_frames, n_ch)
    sk = Skeleton(names, np.array(parents), np.array(offsets, dtype=np.float64), channels, ends)
    return Bvh(sk, values, frame_time)


class _Words:
    """The whitespace-separated words of BVH text, read one at a time with their line."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.row = -1  # index of the line the last word came from
        self.words: list[str] = []

    @property
    def line(self) -> int:
        return self.row + 1

    def take(self, what: str = "more") -> str:
        while not self.words:
            if self.row + 1 >= len(self.lines):
                raise DataError(f"BVH ends early (line {self.line}): expected {what}")
            self.row += 1
            self.words = self.lines[self.row].split()[::-1]
        return self.words.pop()

    def expect(self, word: str) -> None:
        got = self.take(repr(word))
        if got != word:
            raise self.error(f"expected {word!r}, found {got!r}")

    def rest_of_line(self) -> list[str]:
        rest, self.words = self.words[::-1], []
        return rest

    def numbers(self, n: int, what: str) -> list[float]:
        out = [self.take(what) for _ in range(n)]
        try:
            values = [float(w) for w in out]
        except ValueError:
            raise self.error(f"bad number in {what}: {' '.join(out)}") from None
        if not all(np.isfinite(values)):
            raise self.error(f"non-finite number in {what}: {' '.join(out)}")
        return values

    def error(self, message: str) -> DataError:
        return DataError(f"BVH line {self.line}: {message}")


def _hierarchy(words: _Words):
    """Joint names, parents, offsets, channels and end sites, parents before children.

    Iterative (an explicit stack of open joints), so deep nesting cannot exhaust Python's
    recursion limit; bounded by :data:`MAX_JOINTS` and :data:`MAX_DEPTH`.
    """
    names: list[str] = []
    parents: list[int] = []
    offsets: list[list[float]] = []
    channels: list[tuple[str, ...]] = []
    ends: list[tuple[int, np.ndarray]] = []
    words.expect("HIERARCHY")
    words.expect("ROOT")
    open_joints = [_joint(words, names, parents, offsets, channels, parent=-1)]
    while open_joints:
        word = words.take("'}', 'JOINT' or 'End Site'")
        if word == "}":
            open_joints.pop()
        elif word == "JOINT":
            if len(open_joints) >= MAX_DEPTH:
                raise words.error(f"joints nested deeper than {MAX_DEPTH} levels")
            j = _joint(words, names, parents, offsets, channels, parent=open_joints[-1])
            open_joints.append(j)
        elif word == "End":
            words.expect("Site")
            words.expect("{")
            words.expect("OFFSET")
            ends.append((open_joints[-1], np.array(words.numbers(3, "the End Site OFFSET"))))
            words.expect("}")
        else:
            raise words.error(f"unexpected {word!r} in joint {names[open_joints[-1]]}")
    return names, parents, offsets, channels, ends


def _joint(words: _Words, names, parents, offsets, channels, *, parent: int) -> int:
    """Read one joint's name, OFFSET and CHANNELS (up to its children); its index."""
    if len(names) >= MAX_JOINTS:
        raise words.error(f"more than {MAX_JOINTS} joints")
    name = words.take("a joint name")
    words.expect("{")
    words.expect("OFFSET")
    offset = words.numbers(3, f"the OFFSET of {name}")
    words.expect("CHANNELS")
    channels.append(_channels(words, name))
    names.append(name)
    parents.append(parent)
    offsets.append(offset)
    return len(names) - 1


def _channels(words: _Words, name: str) -> tuple[str, ...]:
    """The channel names, which must fill the rest of the CHANNELS line."""
    count = words.take("a channel count")
    ch = tuple(words.rest_of_line())
    try:
        n = int(count)
    except ValueError:
        raise words.error(f"bad channel count {count!r} for {name}") from None
    if n != len(ch):
        raise words.error(f"CHANNELS {n} for {name} is followed by {len(ch)} channel names")
    bad = [c for c in ch if c not in _POS + _ROT]
    if bad or len(set(ch)) != n:
        raise words.error(f"bad channels {ch} for {name} (unknown or repeated)")
    if sum(c in _ROT for c in ch) not in (0, 3):
        raise words.error(f"joint {name} needs 0 or 3 rotation channels, has {ch}")
    return ch


def _frame_count(words: _Words) -> int:
    word = words.take("the frame count")
    try:
        n = int(word)
    except ValueError:
        raise words.error(f"bad frame count {word!r}") from None
    if n <= 0:
        raise words.error(f"the file must hold at least one frame, Frames: says {n}")
    return n


def _frame_time(words: _Words) -> float:
    word = words.take("the frame time")
    try:
        frame_time = float(word)
    except ValueError:
        raise words.error(f"bad frame time {word!r}") from None
    if not (np.isfinite(frame_time) and frame_time >= MIN_FRAME_TIME):
        raise words.error(
            f"frame time must be positive and finite, at least {MIN_FRAME_TIME} s, got {word}"
        )
    if words.rest_of_line():
        raise words.error("unexpected words after the frame time (frames start on the next line)")
    return frame_time


def _frames(lines: list[str], first: int, n_frames: int, n_ch: int) -> np.ndarray:
    """The frame lines from ``lines[first]`` on (blank lines skipped) as (T, n_ch) values.

    The frame count and every line's width are checked before the values are converted, and
    nothing is allocated from the ``Frames:`` claim itself.
    """
    rows = [(i + 1, line) for i, line in enumerate(lines[first:], start=first) if line.strip()]
    if len(rows) != n_frames:
        raise DataError(
            f"BVH: Frames: {n_frames} with {n_ch} channels each need {n_frames} frame lines, "
            f"found {len(rows)}"
        )
    tokens: list[str] = []
    for lineno, line in rows:
        row = line.split()
        if len(row) != n_ch:
            raise DataError(
                f"BVH line {lineno}: {len(row)} values, the skeleton has {n_ch} channels"
            )
        tokens.extend(row)
    try:
        values = np.array(tokens, dtype=np.float64).reshape(n_frames, n_ch)
    except ValueError:
        raise _first_bad_frame(rows) from None
    finite = np.isfinite(values).all(axis=1)
    if not finite.all():
        lineno = rows[int(np.argmin(finite))][0]
        raise DataError(f"BVH line {lineno}: non-finite channel values")
    return values


def _first_bad_frame(rows: list[tuple[int, str]]) -> DataError:
    for lineno, line in rows:
        for word in line.split():
            try:
                float(word)
            except ValueError:
                return DataError(f"BVH line {lineno}: bad number {word!r} in a frame")
    return DataError("BVH: bad number in the motion block")


def read_bvh(path: str | Path) -> Bvh:
    """Read a BVH file."""
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from None
    try:
        return parse_bvh(text)
    except DataError as exc:
        raise DataError(f"{path}: {exc}") from None


def write_bvh(bvh: Bvh) -> str:
    """BVH text with the same hierarchy, ``%.6f`` numbers."""
    sk = bvh.skeleton
    children: dict[int, list[int]] = {j: [] for j in range(sk.n_joints)}
    for j, p in enumerate(sk.parents.tolist()):
        if p >= 0:
            children[p].append(j)
    ends: dict[int, list[np.ndarray]] = {}
    for j, off in sk.end_sites:
        ends.setdefault(j, []).append(off)
    lines = ["HIERARCHY"]

    def vec(v) -> str:
        return " ".join(f"{x:.6f}" for x in v)

    def emit(j: int, depth: int) -> None:
        pad = "\t" * depth
        lines.append(f"{pad}{'ROOT' if depth == 0 else 'JOINT'} {sk.names[j]}")
        lines.append(pad + "{")
        lines.append(f"{pad}\tOFFSET {vec(sk.offsets[j])}")
        lines.append(f"{pad}\tCHANNELS {len(sk.channels[j])} {' '.join(sk.channels[j])}")
        for c in children[j]:
            emit(c, depth + 1)
        for off in ends.get(j, []):
            lines.extend([f"{pad}\tEnd Site", f"{pad}\t{{", f"{pad}\t\tOFFSET {vec(off)}"])
            lines.append(f"{pad}\t}}")
        lines.append(pad + "}")

    emit(0, 0)
    lines += ["MOTION", f"Frames: {bvh.n_frames}", f"Frame Time: {bvh.frame_time:.6f}"]
    lines += [vec(row) for row in bvh.values]
    return "\n".join(lines) + "\n"


def save_bvh(bvh: Bvh, path: str | Path, *, force: bool = False) -> Path:
    """Write ``bvh`` to ``path`` atomically (an existing file needs ``force``)."""
    from latentzip.files import atomic_write

    return atomic_write(path, write_bvh(bvh).encode(), force=force)


__all__ = [
    "MAX_DEPTH",
    "MAX_JOINTS",
    "MIN_FRAME_TIME",
    "Bvh",
    "Motion",
    "Skeleton",
    "forward_kinematics",
    "parse_bvh",
    "read_bvh",
    "save_bvh",
    "write_bvh",
]
