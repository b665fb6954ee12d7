"""Write a clip played backwards: backward-walking stand-ins made from forward-walking footage.

Run as `python -m tools.reverse_clip SRC DST`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import av
import numpy as np

from posecoach.errors import VideoError, user_message
from posecoach.media.probe import VideoInfo, file_label, probe
from posecoach.media.reader import rotate_upright
from posecoach.media.writer import VideoWriter

_MAX_REVERSE_S = 60.0
_REVERSE_BUDGET_BYTES = 512 * 1024 * 1024


def _reverse_by_segments(src: str, info: VideoInfo, writer: VideoWriter) -> int:
    """Write src's frames last to first, decoding one keyframe segment at a time.

    Holding a whole clip would take gigabytes at 1080p, so each segment between keyframes is
    decoded after a seek, in slices that fit the memory budget, and written backwards.
    """
    with av.open(src, mode="r") as container:
        stream = container.streams.video[0]
        pts_list: list[int] = []
        keyframes: list[int] = []
        for packet in container.demux(stream):
            if packet.size == 0 or packet.pts is None:
                continue
            pts_list.append(int(packet.pts))
            if packet.is_keyframe:
                keyframes.append(int(packet.pts))
        if not pts_list:
            return 0
        pts_list = sorted(set(pts_list))
        keyframes = sorted(set(keyframes)) or [pts_list[0]]
        if keyframes[0] > pts_list[0]:
            keyframes[0] = pts_list[0]
        tb = stream.time_base
        t_end = float(pts_list[-1] * tb)
        out_w, out_h = writer.in_width, writer.in_height
        rot = info.rotation_deg
        fw, fh = (out_h, out_w) if rot in (90, 270) else (out_w, out_h)
        per_slice = max(1, _REVERSE_BUDGET_BYTES // (out_w * out_h * 3))
        written = 0
        bounds = keyframes + [pts_list[-1] + 1]
        for seg in range(len(keyframes) - 1, -1, -1):
            lo, hi = bounds[seg], bounds[seg + 1]
            seg_pts = [p for p in pts_list if lo <= p < hi]
            stop_after = bounds[min(seg + 2, len(bounds) - 1)]
            for s_end in range(len(seg_pts), 0, -per_slice):
                wanted = set(seg_pts[max(0, s_end - per_slice) : s_end])
                got: dict[int, np.ndarray] = {}
                container.seek(lo, stream=stream, backward=True, any_frame=False)
                for frame in container.decode(stream):
                    if frame.pts in wanted:
                        rgb = frame.reformat(
                            width=fw, height=fh, format="rgb24", interpolation="AREA"
                        ).to_ndarray()
                        got[int(frame.pts)] = rotate_upright(rgb, rot)
                        if len(got) == len(wanted):
                            break
                    if frame.pts is not None and frame.pts >= stop_after and seg + 1 < len(
                        keyframes
                    ):
                        break
                for p in sorted(got, reverse=True):
                    writer.write(got[p], time_s=t_end - float(p * tb))
                    written += 1
        return written


def reverse_video(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> int:
    """Write src played backwards to dst (H.264 MP4, no audio); returns the frames written.

    Used to make backward-walking stand-ins from forward-walking footage. Clips longer than
    60 s are refused.
    """
    if Path(dst).resolve() == Path(src).resolve():
        raise VideoError(f"{file_label(src)} cannot be reversed onto itself: choose another output")
    info = probe(src)
    length = info.duration_s
    if length is None and info.frame_count and info.fps:
        length = info.frame_count / info.fps
    if length is None or length > _MAX_REVERSE_S:
        shown = "of unknown length" if length is None else f"{length:.0f} s long"
        raise VideoError(
            f"{file_label(src)} is {shown}; only clips up to {_MAX_REVERSE_S:.0f} s can be reversed"
        )
    fps = info.fps or 30.0
    with VideoWriter(dst, fps, info.width, info.height) as writer:
        try:
            written = _reverse_by_segments(str(src), info, writer)
        except (av.error.FFmpegError, OSError) as exc:
            raise VideoError(
                f"{file_label(src)} could not be reversed: it is damaged ({exc})"
            ) from exc
        if written == 0:
            raise VideoError(f"{file_label(src)} has no frames to reverse")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.reverse_clip", description="Write SRC played backwards to DST."
    )
    parser.add_argument("src", type=Path, help="the clip to reverse (at most 60 s)")
    parser.add_argument("dst", type=Path, help="the MP4 file to write")
    args = parser.parse_args(argv)
    try:
        frames = reverse_video(args.src, args.dst)
    except VideoError as exc:
        print(f"error: {user_message(exc)}", file=sys.stderr)
        return 1
    print(f"{args.dst}: {frames} frames")
    return 0


if __name__ == "__main__":
    sys.exit(main())
