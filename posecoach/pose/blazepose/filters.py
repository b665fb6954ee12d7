"""Smoothing landmarks over time the way MediaPipe's video mode does (One Euro filter).

The filter adapts to speed: still points are smoothed hard, moving points hardly at all. Speeds
are measured in body sizes per second, so a small far person and a large near one are treated
alike.
"""

from __future__ import annotations

import math

import numpy as np


class OneEuroFilter:
    """A One Euro filter over an array of values, all sharing one time base and scale."""

    def __init__(self, min_cutoff_hz: float, beta: float, derivative_cutoff_hz: float,
                 frequency_hz: float = 30.0) -> None:
        self.min_cutoff_hz = min_cutoff_hz
        self.beta = beta
        self.derivative_cutoff_hz = derivative_cutoff_hz
        self._frequency_hz = frequency_hz
        self._last_time_s: float | None = None
        self._value: np.ndarray | None = None
        self._raw: np.ndarray | None = None
        self._speed: np.ndarray | None = None

    def _alpha(self, cutoff_hz: np.ndarray | float) -> np.ndarray | float:
        tau = 1.0 / (2.0 * math.pi * np.asarray(cutoff_hz))
        return 1.0 / (1.0 + tau * self._frequency_hz)

    def reset(self) -> None:
        self._last_time_s = None
        self._value = self._raw = self._speed = None

    def apply(self, value: np.ndarray, time_s: float, value_scale: float) -> np.ndarray:
        if self._last_time_s is not None:
            if time_s <= self._last_time_s:
                return value
            self._frequency_hz = 1.0 / (time_s - self._last_time_s)
        self._last_time_s = time_s
        if self._raw is None or self._value is None or self._raw.shape != value.shape:
            speed = np.zeros_like(value)
        else:
            speed = (value - self._raw) * value_scale * self._frequency_hz
        self._raw = value.copy()
        if self._speed is None or self._speed.shape != value.shape:
            self._speed = speed
        else:
            a = self._alpha(self.derivative_cutoff_hz)
            self._speed = a * speed + (1 - a) * self._speed
        cutoff = self.min_cutoff_hz + self.beta * np.abs(self._speed)
        if self._value is None or self._value.shape != value.shape:
            self._value = value.copy()
        else:
            a = self._alpha(cutoff)
            self._value = a * value + (1 - a) * self._value
        return self._value.copy()


class LandmarkSmoother:
    """Smooths one person's landmarks (x, y, z in pixels) from frame to frame."""

    def __init__(self, min_cutoff_hz: float, beta: float, derivative_cutoff_hz: float = 1.0):
        self._filter = OneEuroFilter(min_cutoff_hz, beta, derivative_cutoff_hz)

    def reset(self) -> None:
        self._filter.reset()

    def apply(self, xyz_px: np.ndarray, time_s: float, object_scale_px: float) -> np.ndarray:
        if not (math.isfinite(object_scale_px) and object_scale_px > 1e-6):
            return xyz_px
        return self._filter.apply(xyz_px, time_s, 1.0 / object_scale_px)
