"""A small BVH reader and writer, forward kinematics, resampling and mirroring.

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

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from latentzip.errors import DataError
from latentzip.motion.rotations import euler_to_matrix, matrix_to_euler

_POS = ("Xposition", "Yposition", "Zposition")
_ROT = ("Xrotation", "Yrotation", "Zrotation")


@dataclass(frozen=True)
class Skeleton:
    """A joint tree.

    Attributes
    ----------
    names : list of str, J joint names, parents before children (file order)
    parents : int array (J,), -1 for the root
    offsets : float array (J, 3), rest translation from the parent
    channels : list of tuple of str, the channel names of every joint in file order
    end_sites : list of (joint index, offset (3,)) for the ``End Site`` blocks
    """

    names: list[str]
    parents: np.ndarray
    offsets: np.ndarray
    channels: list[tuple[str, ...]]
    end_sites: list[tuple[int, np.ndarray]] = field(default_factory=list)

    @property
    def n_joints(self) -> int:
        return len(self.names)

    @property
    def n_channels(self) -> int:
        return sum(len(c) for c in self.channels)

    def rotation_order(self, j: int) -> str:
        """Euler order of joint ``j`` (e.g. ``"ZYX"``), ``""`` when it has no rotation."""
        return "".join(c[0] for c in self.channels[j] if c in _ROT)

    def channel_slices(self) -> list[slice]:
        """Column range of every joint in the frame rows."""
        out, start = [], 0
        for c in self.channels:
            out.append(slice(start, start + len(c)))
            start += len(c)
        return out

    def signature(self) -> str:
        """A short key naming this skeleton's topology (joint count and names)."""
        import hashlib

        text = ",".join(f"{n}:{p}" for n, p in zip(self.names, self.parents.tolist(), strict=True))
        return f"j{self.n_joints}-" + hashlib.sha1(text.encode()).hexdigest()[:8]

    def find(self, *keys: str) -> int:
        """Index of the first joint whose lower-cased name contains every key."""
        for j, name in enumerate(self.names):
            low = name.lower()
            if all(k in low for k in keys):
                return j
        raise DataError(f"no joint named like {'+'.join(keys)} in {self.names}")

    def mirror_map(self) -> np.ndarray:
        """Index of every joint's left/right counterpart (itself when unpaired)."""
        idx = {n: j for j, n in enumerate(self.names)}
        out = np.arange(self.n_joints)
        for j, n in enumerate(self.names):
            for a, b in (("Left", "Right"), ("Right", "Left")):
                if n.startswith(a) and b + n[len(a) :] in idx:
                    out[j] = idx[b + n[len(a) :]]
            if len(n) > 1 and n[0] in "LR" and n[1].isupper():
                other = {"L": "R", "R": "L"}[n[0]] + n[1:]
                if other in idx:
                    out[j] = idx[other]
        return out


@dataclass(frozen=True)
class Bvh:
    """A parsed BVH file: ``values`` (T, n_channels) float64 and the frame time in seconds."""

    skeleton: Skeleton
    values: np.ndarray
    frame_time: float

    @property
    def n_frames(self) -> int:
        return int(self.values.shape[0])

    def to_motion(self) -> Motion:
        """Rotation matrices and root positions from the channel values."""
        sk = self.skeleton
        T = self.n_frames
        rot = np.tile(np.eye(3), (T, sk.n_joints, 1, 1))
        root = np.tile(sk.offsets[0], (T, 1)).astype(np.float64)
        for j, sl in enumerate(sk.channel_slices()):
            names = sk.channels[j]
            cols = self.values[:, sl]
            rcols = [i for i, c in enumerate(names) if c in _ROT]
            if rcols:
                rot[:, j] = euler_to_matrix(cols[:, rcols], sk.rotation_order(j))
            if j == 0:
                for i, c in enumerate(names):
                    if c in _POS:
                        root[:, _POS.index(c)] = cols[:, i]
        return Motion(sk, root, rot, 1.0 / self.frame_time)


@dataclass(frozen=True)
class Motion:
    """Joint rotations as matrices: the form the features and the exporter use.

    Attributes
    ----------
    skeleton : Skeleton
    root : float array (T, 3), root translation
    rotations : float array (T, J, 3, 3), local rotation of every joint
    fps : float
    """

    skeleton: Skeleton
    root: np.ndarray
    rotations: np.ndarray
    fps: float

    @property
    def n_frames(self) -> int:
        return int(self.root.shape[0])

    def global_transforms(self) -> tuple[np.ndarray, np.ndarray]:
        """Global rotations (T, J, 3, 3) and positions (T, J, 3) by forward kinematics."""
        return forward_kinematics(self.skeleton, self.rotations, self.root)

    def positions(self) -> np.ndarray:
        """Global joint positions (T, J, 3)."""
        return self.global_transforms()[1]

    def downsample(self, fps: float) -> Motion:
        """Keep every k-th frame so that the rate is closest to ``fps`` (k >= 1)."""
        k = max(1, round(self.fps / fps))
        return Motion(self.skeleton, self.root[::k], self.rotations[::k], self.fps / k)

    def slice(self, start: int, stop: int) -> Motion:
        return Motion(self.skeleton, self.root[start:stop], self.rotations[start:stop], self.fps)

    def mirror(self) -> Motion:
        """Reflect through the x = 0 plane and swap left and right joints.

        The skeleton's own offsets are kept, so the result is exact only for a symmetric
        skeleton (the shared ones are within a few per cent).
        """
        M = np.diag([-1.0, 1.0, 1.0])
        swap = self.skeleton.mirror_map()
        rot = M @ self.rotations[:, swap] @ M
        return Motion(self.skeleton, self.root * np.array([-1.0, 1.0, 1.0]), rot, self.fps)

    def to_bvh(self) -> Bvh:
        """Channel values for this motion in the skeleton's channel layout."""
        sk = self.skeleton
        values = np.zeros((self.n_frames, sk.n_channels))
        for j, sl in enumerate(sk.channel_slices()):
            names = sk.channels[j]
            block = np.zeros((self.n_frames, len(names)))
            order = sk.rotation_order(j)
            if order:
                if len(order) != 3:
                    raise DataError(f"joint {sk.names[j]} needs three rotation channels")
                eul = matrix_to_euler(self.rotations[:, j], order)
                ri = [i for i, c in enumerate(names) if c in _ROT]
                block[:, ri] = eul
            for i, c in enumerate(names):
                if c in _POS:
                    src = self.root if j == 0 else np.tile(sk.offsets[j], (self.n_frames, 1))
                    block[:, i] = src[:, _POS.index(c)]
            values[:, sl] = block
        return Bvh(sk, values, 1.0 / self.fps)


def forward_kinematics(
    skeleton: Skeleton, rotations: np.ndarray, root: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Global rotations and positions from local rotations and the root translation.

    Parameters
    ----------
    skeleton : Skeleton (offsets are the local translations of non-root joints)
    rotations : array (T, J, 3, 3)
    root : array (T, 3)

    Returns
    -------
    global rotations (T, J, 3, 3), global positions (T, J, 3)
    """
    T, J = rotations.shape[:2]
    if skeleton.n_joints != J or root.shape != (T, 3):
        raise DataError(
            f"rotations {rotations.shape} / root {root.shape} do not fit a "
            f"{skeleton.n_joints}-joint skeleton"
        )
    grot = np.empty_like(rotations)
    gpos = np.empty((T, J, 3))
    for j, p in enumerate(skeleton.parents.tolist()):
        if p < 0:
            grot[:, j] = rotations[:, j]
            gpos[:, j] = root
        else:
            grot[:, j] = grot[:, p] @ rotations[:, j]
            gpos[:, j] = gpos[:, p] + grot[:, p] @ skeleton.offsets[j]
    return grot, gpos


def parse_bvh(text: str) -> Bvh:
    """Parse BVH text; malformed input raises :class:`DataError`."""
    tokens = text.split()
    pos = 0

    def take() -> str:
        nonlocal pos
        if pos >= len(tokens):
            raise DataError("BVH ends early")
        pos += 1
        return tokens[pos - 1]

    def expect(word: str) -> None:
        got = take()
        if got != word:
            raise DataError(f"BVH: expected {word!r}, found {got!r}")

    def floats(n: int) -> list[float]:
        try:
            return [float(take()) for _ in range(n)]
        except ValueError as exc:
            raise DataError(f"BVH: bad number ({exc})") from None

    names: list[str] = []
    parents: list[int] = []
    offsets: list[list[float]] = []
    channels: list[tuple[str, ...]] = []
    ends: list[tuple[int, np.ndarray]] = []

    def joint(parent: int) -> None:
        name = take()
        j = len(names)
        names.append(name)
        parents.append(parent)
        expect("{")
        expect("OFFSET")
        offsets.append(floats(3))
        expect("CHANNELS")
        try:
            n = int(take())
        except ValueError:
            raise DataError(f"BVH: bad channel count for {name}") from None
        ch = tuple(take() for _ in range(n))
        bad = [c for c in ch if c not in _POS + _ROT]
        if bad or len(set(ch)) != n:
            raise DataError(f"BVH: bad channels {ch} for {name}")
        if sum(c in _ROT for c in ch) not in (0, 3):
            raise DataError(f"BVH: joint {name} needs 0 or 3 rotation channels, has {ch}")
        channels.append(ch)
        while True:
            word = take()
            if word == "}":
                return
            if word == "JOINT":
                joint(j)
            elif word == "End":
                expect("Site")
                expect("{")
                expect("OFFSET")
                ends.append((j, np.array(floats(3))))
                expect("}")
            else:
                raise DataError(f"BVH: unexpected {word!r} in joint {name}")

    expect("HIERARCHY")
    expect("ROOT")
    joint(-1)
    expect("MOTION")
    expect("Frames:")
    try:
        n_frames = int(take())
    except ValueError:
        raise DataError("BVH: bad frame count") from None
    expect("Frame")
    expect("Time:")
    frame_time = floats(1)[0]
    if not frame_time > 0:
        raise DataError(f"BVH: frame time must be positive, got {frame_time}")
    n_ch = sum(len(c) for c in channels)
    rest = tokens[pos:]
    if len(rest) != n_frames * n_ch:
        raise DataError(
            f"BVH: {n_frames} frames of {n_ch} channels need {n_frames * n_ch} values, "
            f"found {len(rest)}"
        )
    try:
        values = np.array(rest, dtype=np.float64).reshape(n_frames, n_ch)
    except ValueError as exc:
        raise DataError(f"BVH: bad number in the motion block ({exc})") from None
    if not np.all(np.isfinite(values)):
        raise DataError("BVH: non-finite channel values")
    sk = Skeleton(names, np.array(parents), np.array(offsets, dtype=np.float64), channels, ends)
    return Bvh(sk, values, frame_time)


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
    "Bvh",
    "Motion",
    "Skeleton",
    "forward_kinematics",
    "parse_bvh",
    "read_bvh",
    "save_bvh",
    "write_bvh",
]
