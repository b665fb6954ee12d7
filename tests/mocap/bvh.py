"""A small BVH reader with forward kinematics, for the motion-capture validation tests.

Handles any CHANNELS list (position and rotation channels in the order the file gives them).
A joint's position channels replace its OFFSET as the local translation (the Bandai-Namco files
repeat the offset in every joint's position channels); joints without position channels use
their OFFSET. Rotations compose in the listed order (e.g. "Zrotation Xrotation Yrotation" is
R = Rz @ Rx @ Ry, applied to child vectors).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

CM_TO_M = 0.01


@dataclass
class Joint:
    """One joint of the hierarchy."""

    name: str
    parent: int                       # index into BVH.joints, -1 for the root
    offset: np.ndarray                # (3,) centimetres, in the parent's frame
    channels: list[str] = field(default_factory=list)
    channel_start: int = 0            # first column of this joint in a MOTION row
    end_site: np.ndarray | None = None  # (3,) End Site offset in this joint's frame, if any


@dataclass
class BVH:
    """A parsed BVH file: hierarchy and raw channel values (frames, channels)."""

    joints: list[Joint]
    frame_time_s: float
    motion: np.ndarray

    @property
    def names(self) -> list[str]:
        return [j.name for j in self.joints]

    @property
    def fps(self) -> float:
        return 1.0 / self.frame_time_s

    def index(self, name: str) -> int:
        return self.names.index(name)

    def __len__(self) -> int:
        return int(self.motion.shape[0])


def _tokens(text: str) -> list[str]:
    return text.replace("{", " { ").replace("}", " } ").split()


def parse_bvh(text: str) -> BVH:
    """Parse BVH text into a `BVH` (End Sites are skipped)."""
    tok = _tokens(text)
    i = 0
    joints: list[Joint] = []
    stack: list[int] = []
    n_channels = 0
    in_end_site = False
    if tok[0] != "HIERARCHY":
        raise ValueError("not a BVH file: missing HIERARCHY")
    i = 1
    while tok[i] != "MOTION":
        t = tok[i]
        if t in ("ROOT", "JOINT"):
            parent = stack[-1] if stack else -1
            joints.append(Joint(tok[i + 1], parent, np.zeros(3)))
            i += 2
        elif t == "End":
            in_end_site = True
            i += 2
        elif t == "{":
            if not in_end_site:
                stack.append(len(joints) - 1)
            i += 1
        elif t == "}":
            if in_end_site:
                in_end_site = False
            else:
                stack.pop()
            i += 1
        elif t == "OFFSET":
            value = np.array([float(v) for v in tok[i + 1 : i + 4]])
            if in_end_site:
                joints[-1].end_site = value
            else:
                joints[-1].offset = value
            i += 4
        elif t == "CHANNELS":
            n = int(tok[i + 1])
            joints[-1].channels = tok[i + 2 : i + 2 + n]
            joints[-1].channel_start = n_channels
            n_channels += n
            i += 2 + n
        else:
            raise ValueError(f"unexpected token {t!r} in BVH hierarchy")
    i += 1
    if tok[i] != "Frames:":
        raise ValueError("BVH MOTION section lacks 'Frames:'")
    n_frames = int(tok[i + 1])
    if tok[i + 2 : i + 4] != ["Frame", "Time:"]:
        raise ValueError("BVH MOTION section lacks 'Frame Time:'")
    frame_time = float(tok[i + 4])
    values = np.array(tok[i + 5 :], dtype=np.float64)
    if values.size != n_frames * n_channels:
        raise ValueError(f"expected {n_frames}x{n_channels} values, found {values.size}")
    return BVH(joints, frame_time, values.reshape(n_frames, n_channels))


def load_bvh(path: str | Path) -> BVH:
    """Read and parse a BVH file."""
    return parse_bvh(Path(path).read_text())


def _axis_rotation(axis: str, deg: np.ndarray) -> np.ndarray:
    """(T, 3, 3) rotation matrices about one axis."""
    a = np.radians(deg)
    c, s = np.cos(a), np.sin(a)
    one, zero = np.ones_like(a), np.zeros_like(a)
    if axis == "X":
        rows = [[one, zero, zero], [zero, c, -s], [zero, s, c]]
    elif axis == "Y":
        rows = [[c, zero, s], [zero, one, zero], [-s, zero, c]]
    elif axis == "Z":
        rows = [[c, -s, zero], [s, c, zero], [zero, zero, one]]
    else:
        raise ValueError(f"unknown rotation axis {axis!r}")
    return np.stack([np.stack(r, axis=-1) for r in rows], axis=-2)


def forward_kinematics(bvh: BVH) -> np.ndarray:
    """World joint positions (T, J, 3) in metres, Y up, joints in hierarchy order."""
    return forward_kinematics_full(bvh)[0]


def forward_kinematics_full(bvh: BVH) -> tuple[np.ndarray, np.ndarray]:
    """World positions (T, J, 3) in metres and world rotations (T, J, 3, 3) of every joint.

    The rotation of joint j maps vectors in j's local frame to world axes.
    """
    n = len(bvh)
    pos = np.zeros((n, len(bvh.joints), 3))
    rot = np.zeros((n, len(bvh.joints), 3, 3))
    for j, joint in enumerate(bvh.joints):
        local_t = np.tile(joint.offset, (n, 1))
        local_r = np.tile(np.eye(3), (n, 1, 1))
        for k, ch in enumerate(joint.channels):
            col = bvh.motion[:, joint.channel_start + k]
            axis, kind = ch[0].upper(), ch[1:].lower()
            if kind == "position":
                local_t[:, "XYZ".index(axis)] = col
            elif kind == "rotation":
                local_r = local_r @ _axis_rotation(axis, col)
            else:
                raise ValueError(f"unknown channel {ch!r}")
        if joint.parent < 0:
            pos[:, j] = local_t
            rot[:, j] = local_r
        else:
            p_rot = rot[:, joint.parent]
            pos[:, j] = pos[:, joint.parent] + np.einsum("tij,tj->ti", p_rot, local_t)
            rot[:, j] = p_rot @ local_r
    return pos * CM_TO_M, rot


def end_sites(bvh: BVH, pos: np.ndarray, rot: np.ndarray) -> dict[str, np.ndarray]:
    """World positions (T, 3) in metres of the End Sites, keyed by their joint's name."""
    return {
        j.name: pos[:, k] + np.einsum("tij,j->ti", rot[:, k], j.end_site) * CM_TO_M
        for k, j in enumerate(bvh.joints)
        if j.end_site is not None
    }


def load_joints(path: str | Path) -> tuple[np.ndarray, list[str], float]:
    """World joints (T, J, 3) in metres, joint names and fps of a BVH file."""
    bvh = load_bvh(path)
    return forward_kinematics(bvh), bvh.names, bvh.fps
