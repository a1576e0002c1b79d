"""Raw ↔ engineering conversions declared in the mission database.

Both the probe (engineering → raw when it fills a housekeeping packet) and the
ground (raw → engineering when it decommutates) use these objects, so the two
ends can never disagree on a scale factor. Every calibration is checked to be
strictly monotonic over the raw range at load time, which is what makes the
inverse (and the round-trip test over every parameter) well defined.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

Engineering = float | int | bool | str


class CalibrationError(ValueError):
    """A calibration that cannot be inverted over its raw range."""


@dataclass(frozen=True)
class IdentityCalibration:
    """Engineering value = raw value (counters, floats sent in SI units)."""

    def to_engineering(self, raw: float) -> float:
        return raw

    def to_raw(self, value: float) -> float:
        return value

    def to_engineering_array(self, raw: np.ndarray) -> np.ndarray:
        return raw


@dataclass(frozen=True)
class BooleanCalibration:
    def to_engineering(self, raw: int) -> bool:
        return bool(raw)

    def to_raw(self, value: bool) -> int:
        return int(bool(value))

    def to_engineering_array(self, raw: np.ndarray) -> np.ndarray:
        return raw.astype(bool)


@dataclass(frozen=True)
class PolynomialCalibration:
    """eng = c0 + c1·raw + c2·raw² + …; inverted by bisection when the degree exceeds one."""

    coefficients: tuple[float, ...]
    raw_low: float
    raw_high: float

    def __post_init__(self) -> None:
        if not self.coefficients or all(c == 0 for c in self.coefficients[1:]):
            raise CalibrationError("polynomial needs a non-zero coefficient of degree >= 1")
        derivative = np.polynomial.polynomial.polyder(self.coefficients)
        grid = np.linspace(self.raw_low, self.raw_high, 4097)
        slopes = np.polynomial.polynomial.polyval(grid, derivative)
        if not (np.all(slopes > 0) or np.all(slopes < 0)):
            raise CalibrationError("polynomial is not strictly monotonic over the raw range")

    @property
    def increasing(self) -> bool:
        return self.to_engineering(self.raw_high) > self.to_engineering(self.raw_low)

    def to_engineering(self, raw: float) -> float:
        value = 0.0
        for c in reversed(self.coefficients):
            value = value * raw + c
        return value

    def to_engineering_array(self, raw: np.ndarray) -> np.ndarray:
        return np.polynomial.polynomial.polyval(raw.astype(np.float64), self.coefficients)

    def to_raw(self, value: float) -> float:
        """The real-valued raw reading giving ``value`` (clamped to the raw range)."""
        c = self.coefficients
        if len(c) == 2 or all(x == 0 for x in c[2:]):
            raw = (value - c[0]) / c[1]
            return min(max(raw, self.raw_low), self.raw_high)
        lo, hi = self.raw_low, self.raw_high
        sign = 1.0 if self.increasing else -1.0
        for _ in range(80):
            mid = 0.5 * (lo + hi)
            if sign * (self.to_engineering(mid) - value) < 0:
                lo = mid
            else:
                hi = mid
        return 0.5 * (lo + hi)


@dataclass(frozen=True)
class TableCalibration:
    """Piecewise-linear interpolation through (raw, eng) points that cover the raw range."""

    raw_points: tuple[float, ...]
    eng_points: tuple[float, ...]

    def __post_init__(self) -> None:
        raw, eng = np.asarray(self.raw_points), np.asarray(self.eng_points)
        if len(raw) < 2 or len(raw) != len(eng):
            raise CalibrationError("table needs at least two [raw, eng] points")
        if not np.all(np.diff(raw) > 0):
            raise CalibrationError("table raw values must strictly increase")
        d = np.diff(eng)
        if not (np.all(d > 0) or np.all(d < 0)):
            raise CalibrationError("table engineering values must be strictly monotonic")

    def to_engineering(self, raw: float) -> float:
        points, values = self.raw_points, self.eng_points  # np.interp's rule, without its per-call cost
        if raw <= points[0]:
            return float(values[0])
        if raw >= points[-1]:
            return float(values[-1])
        i = bisect.bisect_right(points, raw)
        x0, x1, y0, y1 = points[i - 1], points[i], values[i - 1], values[i]
        return y0 + (raw - x0) * (y1 - y0) / (x1 - x0)

    def to_engineering_array(self, raw: np.ndarray) -> np.ndarray:
        return np.interp(raw.astype(np.float64), self.raw_points, self.eng_points)

    def to_raw(self, value: float) -> float:
        raw, eng = self.raw_points, self.eng_points
        if eng[-1] < eng[0]:
            raw, eng = raw[::-1], eng[::-1]
        return float(np.interp(value, eng, raw))


@dataclass(frozen=True)
class EnumerationCalibration:
    """Raw integer ↔ state name; unknown raw values decode as ``UNKNOWN_<n>`` instead of failing."""

    values: Mapping[str, int]
    names: Mapping[int, str] = field(init=False)

    def __post_init__(self) -> None:
        names = {v: k for k, v in self.values.items()}
        if len(names) != len(self.values):
            raise CalibrationError("two enumeration states share one raw value")
        object.__setattr__(self, "names", names)

    def to_engineering(self, raw: int) -> str:
        return self.names.get(int(raw), f"UNKNOWN_{int(raw)}")

    def to_raw(self, value: str | int) -> int:
        if isinstance(value, str):
            if value not in self.values:
                raise KeyError(value)
            return self.values[value]
        return int(value)

    def to_engineering_array(self, raw: np.ndarray) -> np.ndarray:
        table = np.array(
            [self.names.get(i, f"UNKNOWN_{i}") for i in range(max(self.names) + 2)], dtype=object
        )
        raw = np.asarray(raw).astype(np.int64)
        out = table[np.clip(raw, 0, len(table) - 1)]
        outside = (raw < 0) | (raw >= len(table) - 1)
        for i in np.flatnonzero(outside):
            out[i] = self.to_engineering(int(raw[i]))
        return out


Calibration = (
    IdentityCalibration
    | BooleanCalibration
    | PolynomialCalibration
    | TableCalibration
    | EnumerationCalibration
)


def polynomial(coefficients: Sequence[float], raw_low: float, raw_high: float) -> PolynomialCalibration:
    return PolynomialCalibration(tuple(float(c) for c in coefficients), float(raw_low), float(raw_high))


def table(points: Sequence[Sequence[float]], raw_low: float, raw_high: float) -> TableCalibration:
    cal = TableCalibration(tuple(float(p[0]) for p in points), tuple(float(p[1]) for p in points))
    if cal.raw_points[0] > raw_low or cal.raw_points[-1] < raw_high:
        raise CalibrationError(f"table must cover the raw range {raw_low:g}..{raw_high:g}")
    return cal
