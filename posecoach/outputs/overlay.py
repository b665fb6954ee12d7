"""Draw the coaching overlay on a video frame: skeleton, trunk and head lines, steps, cue banner.

Drawing happens in place with OpenCV on RGB frames and stays cheap enough for live use: only
lines, circles and text, and the one blended area is the cue banner (plus the small status
box), never the whole frame. Sizes follow the frame height so 480p and 1080p look alike.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from posecoach.coach.cues import Cue
from posecoach.coach.gait import Step
from posecoach.coach.metrics import FrameMetrics
from posecoach.outputs.palette import LEFT_RGB, RGB, RIGHT_RGB
from posecoach.pose.landmarks import SKELETON_EDGES, Landmark, PoseFrame
from posecoach.settings import Settings, load_settings

LEFT_COLOUR: RGB = LEFT_RGB
RIGHT_COLOUR: RGB = RIGHT_RGB
CENTRE_COLOUR: RGB = (235, 235, 235)
JOINT_COLOUR: RGB = (255, 255, 255)
GOOD: RGB = (40, 200, 90)
WARN: RGB = (255, 160, 0)
BAD: RGB = (235, 45, 45)
NEUTRAL: RGB = (200, 200, 200)
SEVERITY_COLOUR: dict[str, RGB] = {"info": (30, 150, 70), "warning": (230, 145, 0),
                                    "critical": (205, 30, 30)}
SEVERITY_TEXT: dict[str, RGB] = {"info": (255, 255, 255), "warning": (20, 20, 20),
                                 "critical": (255, 255, 255)}
FONT = cv2.FONT_HERSHEY_SIMPLEX
BANNER_ALPHA = 0.82
STATUS_ALPHA = 0.6
STEP_MEMORY_S = 4.0
MAX_STEP_MARKS = 8
HISTORY_FRAMES = 240  # ankle positions kept for steps reported after the fact

_LEFT = {int(lm) for lm in Landmark if lm.name.startswith("LEFT_")}
_RIGHT = {int(lm) for lm in Landmark if lm.name.startswith("RIGHT_")}
_JOINTS = sorted({i for edge in SKELETON_EDGES for i in edge} | {int(Landmark.NOSE)})

DIRECTION_LABEL = {"backward": "BACKWARD", "forward": "FORWARD", "standing": "STANDING",
                   "turning": "TURNING", "unknown": "DIRECTION ?"}
VIEW_LABEL = {"side": "side view", "front": "front view", "back": "back view",
              "unknown": "view ?"}


@dataclass
class _StepMark:
    key: tuple[int, str]
    time_s: float
    side: str
    x: float
    y: float


def _limit_colour(value: float, low: float, high: float) -> RGB:
    """Green inside [low, high], amber just outside, red well outside (1.5x the limit)."""
    if not math.isfinite(value):
        return NEUTRAL
    if low <= value <= high:
        return GOOD
    over = value - high if value > high else low - value
    limit = high if value > high else -low
    return BAD if over > 0.5 * max(limit, 1.0) else WARN


def _pair_point(points: np.ndarray, a: int, b: int) -> np.ndarray | None:
    """Mean (x, y) of two landmarks, or of the one that is finite; None if neither is."""
    xy = points[[a, b], :2]
    ok = np.isfinite(xy).all(axis=1)
    if not ok.any():
        return None
    return xy[ok].mean(axis=0)


class Overlay:
    """Draws posecoach's overlay; keeps a short memory of recent step positions between frames.

    `scale` fixes the size of lines and text (1.0 suits 720p); by default it follows each
    frame's height.
    """

    def __init__(self, settings: Settings | None = None, scale: float | None = None) -> None:
        self.settings = settings if settings is not None else load_settings()
        self.scale = scale
        self._ankles: deque[tuple[int, float, np.ndarray]] = deque(maxlen=HISTORY_FRAMES)
        self._marks: list[_StepMark] = []
        self._seen_steps: set[tuple[int, str]] = set()
        self._blocks: dict[tuple[tuple[int, ...], RGB], np.ndarray] = {}

    def reset(self) -> None:
        """Forget step positions (for a new clip or session)."""
        self._ankles.clear()
        self._marks.clear()
        self._seen_steps.clear()

    # ------------------------------------------------------------------ public

    def draw(
        self,
        image_rgb: np.ndarray,
        frame: PoseFrame | None,
        metrics: FrameMetrics | None,
        cue: Cue | None,
        steps: Sequence[Step] = (),
        direction_label: bool = True,
    ) -> np.ndarray:
        """Draw everything on image_rgb (RGB uint8, H x W x 3) in place and return it."""
        if image_rgb.ndim != 3 or image_rgb.shape[2] != 3 or image_rgb.dtype != np.uint8:
            raise ValueError(f"expected an RGB uint8 image, got {image_rgb.shape}")
        target = image_rgb
        if not (image_rgb.flags.c_contiguous and image_rgb.flags.writeable):
            target = np.ascontiguousarray(image_rgb)
        h, w = target.shape[:2]
        s = self.scale if self.scale is not None else h / 720.0
        s = max(s, 0.35)

        pts = None
        if frame is not None and frame.has_person:
            pts = self._to_image(frame, w, h)
            self._remember_ankles(frame, pts)
        now = self._now(frame, metrics)
        self._update_marks(steps, frame, now)

        self._draw_step_marks(target, s, now)
        if pts is not None:
            self._draw_skeleton(target, pts, s)
            self._draw_trunk_and_head(target, pts, metrics, s)
        banner_h = self._draw_banner(target, cue, s) if cue is not None else 0
        self._draw_status(target, frame, metrics, s, direction_label, now, banner_h)
        if target is not image_rgb:
            image_rgb[...] = target
        return image_rgb

    # ------------------------------------------------------------------ geometry

    @staticmethod
    def _to_image(frame: PoseFrame, w: int, h: int) -> np.ndarray:
        """Landmark (x, y) scaled from the pose frame's size to this image's size."""
        xy = frame.points[:, :2].astype(np.float64, copy=True)
        if frame.width > 0 and frame.height > 0 and (frame.width, frame.height) != (w, h):
            xy[:, 0] *= w / frame.width
            xy[:, 1] *= h / frame.height
        # keep far-off values inside what OpenCV's integer coordinates accept
        bound = 4.0 * max(w, h)
        return np.clip(xy, -bound, bound)

    @staticmethod
    def _ipt(p: np.ndarray) -> tuple[int, int]:
        return int(round(float(p[0]))), int(round(float(p[1])))

    @staticmethod
    def _now(frame: PoseFrame | None, metrics: FrameMetrics | None) -> float:
        if frame is not None and math.isfinite(frame.time_s):
            return float(frame.time_s)
        if metrics is not None and math.isfinite(metrics.time_s):
            return float(metrics.time_s)
        return math.nan

    # ------------------------------------------------------------------ steps

    def _remember_ankles(self, frame: PoseFrame, pts: np.ndarray) -> None:
        feet = np.full((2, 2), np.nan)
        for row, side in enumerate(("LEFT", "RIGHT")):
            ground = [Landmark[f"{side}_HEEL"], Landmark[f"{side}_FOOT_INDEX"],
                      Landmark[f"{side}_ANKLE"]]
            cand = pts[[int(g) for g in ground]]
            ok = np.isfinite(cand).all(axis=1)
            if ok[2]:
                feet[row, 0] = cand[2, 0]
            elif ok.any():
                feet[row, 0] = cand[ok, 0].mean()
            if ok.any():
                feet[row, 1] = cand[ok, 1].max()  # lowest point: the ground under the foot
        self._ankles.append((frame.index, float(frame.time_s), feet))

    def _update_marks(self, steps: Sequence[Step], frame: PoseFrame | None, now: float) -> None:
        current = frame.index if frame is not None else None
        for step in steps:
            key = (int(step.frame), str(step.side))
            if key in self._seen_steps:
                continue
            if current is not None and step.frame > current:
                continue  # a future step of an offline analysis: wait for it
            if math.isfinite(now) and now - step.time_s > STEP_MEMORY_S:
                self._seen_steps.add(key)
                continue
            pos = self._position_at(int(step.frame), 0 if step.side == "left" else 1)
            if pos is None:
                if not self._ankles or self._ankles[0][0] > step.frame:
                    self._seen_steps.add(key)  # too old for the memory; never drawable
                continue
            self._seen_steps.add(key)
            self._marks.append(_StepMark(key, float(step.time_s), step.side, pos[0], pos[1]))
        if math.isfinite(now):
            self._marks = [m for m in self._marks if -0.5 <= now - m.time_s <= STEP_MEMORY_S]
        self._marks = self._marks[-MAX_STEP_MARKS:]
        if len(self._seen_steps) > 4096:
            recent = {m.key for m in self._marks}
            self._seen_steps = {k for k in self._seen_steps if k in recent}

    def _position_at(self, index: int, row: int) -> tuple[float, float] | None:
        best = None
        for idx, _, feet in reversed(self._ankles):
            if abs(idx - index) > 3:
                if idx < index - 3:
                    break
                continue
            p = feet[row]
            if np.isfinite(p).all() and (best is None or abs(idx - index) < best[0]):
                best = (abs(idx - index), float(p[0]), float(p[1]))
        return None if best is None else (best[1], best[2])

    def _draw_step_marks(self, img: np.ndarray, s: float, now: float) -> None:
        n = len(self._marks)
        for k, m in enumerate(self._marks):
            colour = LEFT_COLOUR if m.side == "left" else RIGHT_COLOUR
            if k < n - 4:  # older marks fade towards grey
                colour = tuple(int(0.5 * c + 0.5 * 128) for c in colour)
            x, y = int(round(m.x)), int(round(m.y))
            half = max(4, int(14 * s))
            t = max(1, int(round(2 * s)))
            cv2.line(img, (x - half, y), (x + half, y), colour, t + 1)
            cv2.line(img, (x, y - half // 2), (x, y + half // 2), colour, t)
            label = "L" if m.side == "left" else "R"
            fs = 0.55 * s
            (tw, th), _ = cv2.getTextSize(label, FONT, fs, max(1, int(2 * s)))
            gap = max(2, int(4 * s))
            below = y + half // 2 + th + gap
            if below > img.shape[0] - gap:  # no room under the mark: label it above
                below = y - half // 2 - gap
            org = (x - tw // 2, below)
            self._text(img, label, org, fs, colour, max(1, int(2 * s)))

    # ------------------------------------------------------------------ body

    def _draw_skeleton(self, img: np.ndarray, pts: np.ndarray, s: float) -> None:
        t = max(1, int(round(3 * s)))
        for a, b in SKELETON_EDGES:
            pa, pb = pts[a], pts[b]
            if not (np.isfinite(pa).all() and np.isfinite(pb).all()):
                continue
            if a in _LEFT and b in _LEFT:
                colour = LEFT_COLOUR
            elif a in _RIGHT and b in _RIGHT:
                colour = RIGHT_COLOUR
            else:
                colour = CENTRE_COLOUR
            cv2.line(img, self._ipt(pa), self._ipt(pb), colour, t)
        r = max(2, int(round(4 * s)))
        for i in _JOINTS:
            p = pts[i]
            if np.isfinite(p).all():
                colour = JOINT_COLOUR
                if i in _LEFT:
                    colour = LEFT_COLOUR
                elif i in _RIGHT:
                    colour = RIGHT_COLOUR
                cv2.circle(img, self._ipt(p), r, colour, -1)
                cv2.circle(img, self._ipt(p), r, (0, 0, 0), 1)

    def _draw_trunk_and_head(
        self, img: np.ndarray, pts: np.ndarray, metrics: FrameMetrics | None, s: float
    ) -> None:
        L = Landmark
        hip = _pair_point(pts, L.LEFT_HIP, L.RIGHT_HIP)
        shoulder = _pair_point(pts, L.LEFT_SHOULDER, L.RIGHT_SHOULDER)
        ear = _pair_point(pts, L.LEFT_EAR, L.RIGHT_EAR)
        rules = self.settings.rules
        t = max(2, int(round(4 * s)))
        fs = 0.7 * s
        tt = max(1, int(round(2 * s)))

        if hip is not None and shoulder is not None:
            lean = metrics.trunk_lean_deg if metrics is not None else math.nan
            cfg = rules.trunk_upright
            colour = _limit_colour(lean, -cfg.max_backward_lean_deg, cfg.max_forward_lean_deg)
            length = float(np.hypot(*(shoulder - hip)))
            top = (hip[0], hip[1] - max(length, 20 * s))
            self._dashed(img, self._ipt(hip), self._ipt(np.array(top)), (255, 255, 255),
                         max(1, t // 2), max(6, int(12 * s)))
            cv2.line(img, self._ipt(hip), self._ipt(shoulder), colour, t)
            cv2.circle(img, self._ipt(hip), max(3, int(6 * s)), colour, -1)
            if math.isfinite(lean):
                label = f"trunk {lean:+.0f}"
                org = (int(shoulder[0] + 14 * s), int((shoulder[1] + hip[1]) / 2))
                self._text_deg(img, label, org, fs, colour, tt, s)

        if shoulder is not None and ear is not None:
            angle = metrics.head_angle_deg if metrics is not None else math.nan
            limit = rules.head_up.max_head_angle_deg
            colour = _limit_colour(angle, -math.inf, limit)
            cv2.line(img, self._ipt(shoulder), self._ipt(ear), colour, t)
            cv2.circle(img, self._ipt(ear), max(3, int(5 * s)), colour, -1)
            if math.isfinite(angle):
                label = f"head {angle:+.0f}"
                org = (int(ear[0] + 14 * s), int(ear[1] - 10 * s))
                self._text_deg(img, label, org, fs, colour, tt, s)

    # ------------------------------------------------------------------ status and banner

    def _draw_status(
        self,
        img: np.ndarray,
        frame: PoseFrame | None,
        metrics: FrameMetrics | None,
        s: float,
        direction_label: bool,
        now: float,
        top: int,
    ) -> None:
        """A compact box in the top-left corner (under the banner): direction, view, framing."""
        h, w = img.shape[:2]
        items: list[tuple[str, RGB]] = []
        person = (metrics.has_person if metrics is not None
                  else frame is not None and frame.has_person)
        if direction_label and metrics is not None and person:
            colour = GOOD if metrics.direction == "backward" else (255, 255, 255)
            items.append((DIRECTION_LABEL.get(metrics.direction, "DIRECTION ?"), colour))
        if metrics is not None and person:
            view_colour = GOOD if metrics.view == "side" else (255, 255, 255)
            items.append((VIEW_LABEL.get(metrics.view, "view ?"), view_colour))
        if not person:
            items.append(("nobody in view", BAD))
        elif metrics is not None and metrics.fallen:
            items.append(("FALL?", BAD))
        elif metrics is not None and not metrics.fully_in_frame:
            items.append(("partly out of frame", WARN))
        elif metrics is not None:
            items.append(("in frame", GOOD))
        if math.isfinite(now):
            items.append((f"{int(now // 60)}:{now % 60:04.1f}", (255, 255, 255)))

        fs = 0.65 * s
        tt = max(1, int(round(2 * s)))
        pad = max(4, int(8 * s))
        gap = max(10, int(22 * s))
        (_, th), base = cv2.getTextSize("Ag", FONT, fs, tt)
        widths = [cv2.getTextSize(text, FONT, fs, tt)[0][0] for text, _ in items]
        margin = max(4, int(10 * s))
        x0, y0 = margin, top + margin
        x1 = min(w, x0 + 2 * pad + sum(widths) + gap * (len(items) - 1))
        y1 = min(h, y0 + th + base + 2 * pad)
        self._blend(img, y0, y1, (0, 0, 0), STATUS_ALPHA, x0, x1)
        x = x0 + pad
        y = y0 + pad + th
        for (text, colour), tw in zip(items, widths, strict=True):
            if x + tw > w:
                break
            cv2.putText(img, text, (x, y), FONT, fs, colour, tt, cv2.LINE_AA)  # dark box
            x += tw + gap

    def _draw_banner(self, img: np.ndarray, cue: Cue, s: float) -> int:
        h, w = img.shape[:2]
        fs = 1.05 * s
        tt = max(1, int(round(2.5 * s)))
        pad = max(6, int(14 * s))
        lines = self._wrap(cue.message, w - 2 * pad, fs, tt, max_lines=3)
        (_, th), base = cv2.getTextSize("Ag", FONT, fs, tt)
        line_h = th + base + max(2, int(6 * s))
        banner_h = min(h, 2 * pad + line_h * len(lines))
        self._blend(img, 0, banner_h, SEVERITY_COLOUR.get(cue.severity, WARN), BANNER_ALPHA)
        colour = SEVERITY_TEXT.get(cue.severity, (255, 255, 255))
        y = pad + th
        for line in lines:
            tw = cv2.getTextSize(line, FONT, fs, tt)[0][0]
            cv2.putText(img, line, ((w - tw) // 2, y), FONT, fs, colour, tt, cv2.LINE_AA)
            y += line_h
        return banner_h

    # ------------------------------------------------------------------ primitives

    def _blend(
        self, img: np.ndarray, y0: int, y1: int, colour: RGB, alpha: float, x0: int = 0,
        x1: int | None = None,
    ) -> None:
        """Tint the rectangle rows y0..y1, columns x0..x1 in place (never the whole frame)."""
        x1 = img.shape[1] if x1 is None else x1
        if y1 <= y0 or x1 <= x0:
            return
        roi = img[y0:y1, x0:x1]
        key = (roi.shape, colour)
        block = self._blocks.get(key)
        if block is None:
            block = np.empty(roi.shape, np.uint8)
            block[:] = colour
            if len(self._blocks) > 16:
                self._blocks.clear()
            self._blocks[key] = block
        roi[...] = cv2.addWeighted(roi, 1.0 - alpha, block, alpha, 0.0)

    @staticmethod
    def _text(
        img: np.ndarray, text: str, org: tuple[int, int], fs: float, colour: RGB, t: int
    ) -> None:
        """Text with a dark outline so it reads on any background."""
        cv2.putText(img, text, org, FONT, fs, (0, 0, 0), t + 2, cv2.LINE_AA)
        cv2.putText(img, text, org, FONT, fs, colour, t, cv2.LINE_AA)

    def _text_deg(
        self, img: np.ndarray, text: str, org: tuple[int, int], fs: float, colour: RGB, t: int,
        s: float,
    ) -> None:
        """Text followed by a degree sign (Hershey fonts have none, so it is drawn)."""
        self._text(img, text, org, fs, colour, t)
        (tw, th), _ = cv2.getTextSize(text, FONT, fs, t)
        r = max(2, int(round(4 * s)))
        centre = (org[0] + tw + r + 2, org[1] - th + r)
        cv2.circle(img, centre, r, (0, 0, 0), t + 2, cv2.LINE_AA)
        cv2.circle(img, centre, r, colour, t, cv2.LINE_AA)

    @staticmethod
    def _dashed(
        img: np.ndarray, p0: tuple[int, int], p1: tuple[int, int], colour: RGB, t: int, dash: int
    ) -> None:
        length = math.hypot(p1[0] - p0[0], p1[1] - p0[1])
        n = max(1, int(length // dash))
        for k in range(0, n, 2):
            a = k / n
            b = min(1.0, (k + 1) / n)
            q0 = (int(p0[0] + (p1[0] - p0[0]) * a), int(p0[1] + (p1[1] - p0[1]) * a))
            q1 = (int(p0[0] + (p1[0] - p0[0]) * b), int(p0[1] + (p1[1] - p0[1]) * b))
            cv2.line(img, q0, q1, colour, t)

    @staticmethod
    def _wrap(text: str, width: int, fs: float, t: int, max_lines: int) -> list[str]:
        """Greedy word wrap to a pixel width; the last line ends in '...' if text is left."""

        def fits(candidate: str) -> bool:
            return cv2.getTextSize(candidate, FONT, fs, t)[0][0] <= width

        lines: list[str] = []
        current = ""
        for word in text.split():
            candidate = f"{current} {word}".strip()
            if fits(candidate):
                current = candidate
                continue
            if current:
                lines.append(current)
            current = word
            while not fits(current) and len(current) > 1:  # a word wider than the frame
                cut = len(current) - 1
                while cut > 1 and not fits(current[:cut]):
                    cut -= 1
                lines.append(current[:cut])
                current = current[cut:]
        if current:
            lines.append(current)
        if len(lines) > max_lines:
            last = lines[max_lines - 1]
            while last and not fits(last + "..."):
                last = last[:-1]
            lines = lines[: max_lines - 1] + [last.rstrip() + "..."]
        return lines or [""]

