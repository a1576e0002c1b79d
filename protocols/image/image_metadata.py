"""The image metadata: what the probe says about each image, and the only source the ground has.

Every image header (:mod:`protocols.image.image_transport`) carries one msgpack map, declared here:

==========================  ======================================================================
``scenario``                str: the scenario's name (names the products on the ground)
``epoch_utc``               str: ISO 8601 UTC of the exposure
``probe_position_km``       [x, y, z]: the probe, geocentric ICRF
``probe_earth_range_km``    number
``camera``                  :class:`CameraCalibration`: attitude, pinhole intrinsics, Brown distortion
``sun_direction_cam``       [x, y, z]: unit vector to the Sun, camera frame
``bodies``                  {name: :class:`BodyTruth`}: where each body is and how bright
``capture``                 :class:`CaptureInfo`: the bands of one colour capture (optional)
``sensor``                  :class:`SensorTruth`: band, exposure, gain, PSF (:class:`PsfTruth`)
``stars``                   [:class:`StarTruth`]: the brightest catalogue stars in the field
``foreground``              :class:`ForegroundTruth`: hardware in front of the sky (optional)
``effects``                 {name: bool}: which detector and scene effects were rendered
``seed``, ``image_index``   int: the noise seed and the image's place in the scenario
``stars_in_field``          int: the stars in the field, of which ``stars`` lists the brightest
``image_id``                int
``onboard_pixels_sha256``   str: 64 hex digits, the pixels as captured on board
==========================  ======================================================================

Every key is optional (a header may come from a test or a minimal producer), but a key present
must hold what is declared, and no other key may appear. Keys are written in the order above, and
numbers keep their type (an ``int`` stays an ``int``), so ``ImageMetadata.from_map(m).to_map()``
is ``m`` again, octet for octet once packed.

The metadata travels in the downlink: :meth:`ImageMetadata.from_map` takes any value and returns
metadata or raises :class:`~protocols.errors.DecodeError` (layer ``image-metadata``, offset 0: the
offset is that of the map within its header), never another exception. Sizes are bounded.

:class:`BrownDistortion` is the one Brown–Conrady model (OpenCV's k1, k2, k3, p1, p2): the probe
renders through it and the ground inverts it for horizon navigation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, ClassVar, TypeVar

import numpy as np

from protocols.errors import DecodeError

LAYER = "image-metadata"

MAX_NAME = 256  # characters of any string
MAX_BODIES = 64
MAX_STARS = 4096
MAX_BANDS = 16
MAX_EFFECTS = 64
MAX_PIXELS_PER_SIDE = 65535
_UNDISTORT_ITERATIONS = 30

T = TypeVar("T")


def _fail(path: str, reason: str) -> DecodeError:
    return DecodeError(LAYER, 0, f"{path}: {reason}")


# -- readers of untrusted values ---------------------------------------------------------------


def _number(value: object, path: str, low: float = -math.inf, high: float = math.inf) -> float:
    """A finite int or float (not a bool) within [low, high], returned as given (type kept)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(path, f"must be a number, not {type(value).__name__}")
    if isinstance(value, int) and not -(2**63) <= value < 2**64:
        raise _fail(path, "integer out of range")
    if not math.isfinite(value) or not low <= value <= high:
        raise _fail(path, f"{value!r} outside {low}..{high}")
    return value


def _integer(value: object, path: str, low: int = 0, high: int = 2**63 - 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(path, f"must be an integer, not {type(value).__name__}")
    if not low <= value <= high:
        raise _fail(path, f"{value} outside {low}..{high}")
    return value


def _boolean(value: object, path: str) -> bool:
    if not isinstance(value, bool):
        raise _fail(path, f"must be true or false, not {type(value).__name__}")
    return value


def _string(value: object, path: str, max_length: int = MAX_NAME) -> str:
    if not isinstance(value, str):
        raise _fail(path, f"must be a string, not {type(value).__name__}")
    if len(value) > max_length:
        raise _fail(path, f"longer than {max_length} characters")
    return value


def _vector(value: object, path: str, length: int, low: float = -math.inf, high: float = math.inf) -> tuple:
    if not isinstance(value, list | tuple) or len(value) != length:
        raise _fail(path, f"must be a list of {length} numbers")
    return tuple(_number(v, f"{path}[{i}]", low, high) for i, v in enumerate(value))


def _map(value: object, path: str, max_size: int = 64) -> Mapping:
    if not isinstance(value, Mapping):
        raise _fail(path, f"must be a map, not {type(value).__name__}")
    if len(value) > max_size:
        raise _fail(path, f"more than {max_size} entries")
    return value


def _unit_quaternion(value: object, path: str) -> tuple:
    q = _vector(value, path, 4, -1.0, 1.0)
    if abs(math.sqrt(sum(c * c for c in q)) - 1.0) > 1e-3:
        raise _fail(path, "is not a unit quaternion")
    return q


def _epoch(value: object, path: str) -> str:
    text = _string(value, path, 64)
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _fail(path, "is not an ISO 8601 time") from None
    return text


def _sha256_hex(value: object, path: str) -> str:
    text = _string(value, path, 64)
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise _fail(path, "must be 64 lowercase hex digits")
    return text


# -- the declared records ----------------------------------------------------------------------


class _Record:
    """A frozen record of optional fields read from, and written to, a msgpack map.

    ``_READERS`` maps each field to the function that checks its untrusted value. A field holding
    None is left out of the map, except those in ``_NULLABLE`` (written as nil: the probe always
    writes them, nil meaning "none")."""

    _READERS: ClassVar[dict[str, Callable[[object, str], Any]]] = {}
    _NULLABLE: ClassVar[frozenset[str]] = frozenset()
    _REQUIRED: ClassVar[frozenset[str]] = frozenset()

    def to_map(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if value is None and f.name not in self._NULLABLE:
                continue
            out[f.name] = _to_wire(value)
        return out

    @classmethod
    def from_map(cls: type[T], value: object, path: str = "metadata") -> T:
        """Check an untrusted map; raises :class:`DecodeError`, never another exception."""
        try:
            return cls._read(value, path)  # type: ignore[attr-defined]
        except DecodeError:
            raise
        except Exception as exc:  # a reader's blind spot must still be a decode error
            raise _fail(path, f"unreadable ({type(exc).__name__})") from None

    @classmethod
    def _read(cls, value: object, path: str) -> Any:
        table = _map(value, path, len(cls._READERS))
        unknown = [k for k in table if k not in cls._READERS]
        if unknown:
            raise _fail(path, f"unknown key {str(unknown[0])[:40]!r}")
        for key in cls._REQUIRED:
            if key not in table:
                raise _fail(f"{path}.{key}", "is required")
        values = {}
        for key, read in cls._READERS.items():
            if key in table and table[key] is not None:
                values[key] = read(table[key], f"{path}.{key}")
            elif key in table and key not in cls._NULLABLE:
                raise _fail(f"{path}.{key}", "must not be nil")
        return cls(**values)


def _to_wire(value: Any) -> Any:
    if isinstance(value, _Record):
        return value.to_map()
    if isinstance(value, tuple | list):
        return [_to_wire(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _to_wire(v) for k, v in value.items()}
    return value


def _records(kind: type[_Record], max_size: int) -> Callable[[object, str], tuple]:
    def read(value: object, path: str) -> tuple:
        if not isinstance(value, list | tuple) or len(value) > max_size:
            raise _fail(path, f"must be a list of at most {max_size} entries")
        return tuple(kind._read(v, f"{path}[{i}]") for i, v in enumerate(value))

    return read


@dataclass(frozen=True)
class BrownDistortion(_Record):
    """Brown–Conrady coefficients (OpenCV convention); all zero is an ideal pinhole.

    Distortion maps ideal normalised coordinates ``(x, y) = (X/Z, Y/Z)`` to distorted ones::

        r² = x² + y²
        x_d = x (1 + k1 r² + k2 r⁴ + k3 r⁶) + 2 p1 x y + p2 (r² + 2 x²)
        y_d = y (1 + k1 r² + k2 r⁴ + k3 r⁶) + p1 (r² + 2 y²) + 2 p2 x y

    On the wire: ``{"model": "brown", "k1": …, "k2": …, "k3": …, "p1": …, "p2": …}``.
    """

    k1: float = 0.0
    k2: float = 0.0
    k3: float = 0.0
    p1: float = 0.0
    p2: float = 0.0

    _COEFFICIENTS: ClassVar[tuple[str, ...]] = ("k1", "k2", "k3", "p1", "p2")

    @property
    def is_zero(self) -> bool:
        return not any((self.k1, self.k2, self.k3, self.p1, self.p2))

    def distort(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ideal normalised coordinates → distorted normalised coordinates."""
        if self.is_zero:
            return x, y
        r2 = x * x + y * y
        radial = 1.0 + r2 * (self.k1 + r2 * (self.k2 + r2 * self.k3))
        xd = x * radial + 2.0 * self.p1 * x * y + self.p2 * (r2 + 2.0 * x * x)
        yd = y * radial + self.p1 * (r2 + 2.0 * y * y) + 2.0 * self.p2 * x * y
        return xd, yd

    def undistort(self, xd: np.ndarray, yd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Distorted normalised coordinates → ideal ones, by fixed-point iteration as OpenCV's
        undistortPoints does: x = (x_d - tangential(x)) / radial(x), which converges for the mild
        distortion of navigation cameras (the scenario loader refuses a camera it does not invert
        to 1e-3 px). A point stops once an iteration gives its very bits again: the result is that
        of all the iterations, in the time of the few most points need."""
        if self.is_zero:
            return xd, yd
        k1, k2, k3, p1, p2 = self.k1, self.k2, self.k3, self.p1, self.p2
        xd, yd = np.broadcast_arrays(np.asarray(xd, dtype=float), np.asarray(yd, dtype=float))
        shape = xd.shape
        xd, yd = xd.ravel(), yd.ravel()
        x, y = xd, yd
        # Each point iterates on its own: the settled ones are left be. While most points still
        # move, the whole arrays iterate (a settled point's next iteration gives its bits again,
        # so that changes nothing but saves the gathers); then only the moving ones do.
        active: np.ndarray | None = None
        for _ in range(_UNDISTORT_ITERATIONS):
            if active is None:
                xa, ya, xda, yda = x, y, xd, yd
            else:
                xa, ya, xda, yda = x[active], y[active], xd[active], yd[active]
            r2 = xa * xa + ya * ya
            radial = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3))
            x_next = (xda - 2.0 * p1 * xa * ya - p2 * (r2 + 2.0 * xa * xa)) / radial
            y_next = (yda - p1 * (r2 + 2.0 * ya * ya) - 2.0 * p2 * x_next * ya) / radial
            # the same bits again: every further iteration would give them too
            moving = (x_next.view(np.int64) != xa.view(np.int64)) | (
                y_next.view(np.int64) != ya.view(np.int64)
            )
            if active is None:
                x, y = x_next, y_next
                moving_count = int(np.count_nonzero(moving))
                if not moving_count:
                    break
                if 2 * moving_count < moving.size:
                    active = np.flatnonzero(moving)
                continue
            x[active], y[active] = x_next, y_next
            active = active[moving]
            if not active.size:
                break
        return x.reshape(shape), y.reshape(shape)

    def to_map(self) -> dict[str, Any]:
        return {"model": "brown", **{k: getattr(self, k) for k in self._COEFFICIENTS}}

    @classmethod
    def _read(cls, value: object, path: str) -> BrownDistortion:
        table = _map(value, path, 6)
        unknown = [k for k in table if k != "model" and k not in cls._COEFFICIENTS]
        if unknown:
            raise _fail(path, f"unknown key {str(unknown[0])[:40]!r}")
        if table.get("model", "brown") != "brown":
            raise _fail(f"{path}.model", "only the Brown model is known")
        return cls(
            **{k: _number(table[k], f"{path}.{k}", -1e6, 1e6) for k in cls._COEFFICIENTS if k in table}
        )


def _positive(low: float = 0.0, high: float = math.inf) -> Callable[[object, str], float]:
    def read(value: object, path: str) -> float:
        number = _number(value, path, low, high)
        if number <= 0:
            raise _fail(path, "must be positive")
        return number

    return read


def _ranged(low: float = -math.inf, high: float = math.inf) -> Callable[[object, str], float]:
    return lambda value, path: _number(value, path, low, high)


def _counted(low: int = 0, high: int = 2**63 - 1) -> Callable[[object, str], int]:
    return lambda value, path: _integer(value, path, low, high)


def _vector_of(length: int, low: float = -math.inf, high: float = math.inf) -> Callable[[object, str], tuple]:
    return lambda value, path: _vector(value, path, length, low, high)


@dataclass(frozen=True)
class CameraCalibration(_Record):
    """Where the camera pointed and how it maps directions to pixels: the attitude (camera to ICRF,
    scalar first), the detector size, the pinhole intrinsics and the Brown distortion.

    Pixel (0, 0) is the centre of the top-left pixel, +x right, +y down, +z along the boresight."""

    fx_px: float
    fy_px: float
    cx_px: float
    cy_px: float
    cam_to_icrf_quaternion_wxyz: tuple[float, float, float, float] | None = None
    width_px: int | None = None
    height_px: int | None = None
    fov_x_deg: float | None = None
    fov_y_deg: float | None = None
    distortion: BrownDistortion = BrownDistortion()

    _READERS: ClassVar[dict] = {
        "cam_to_icrf_quaternion_wxyz": _unit_quaternion,
        "width_px": _counted(1, MAX_PIXELS_PER_SIDE),
        "height_px": _counted(1, MAX_PIXELS_PER_SIDE),
        "fx_px": _positive(high=1e9),
        "fy_px": _positive(high=1e9),
        "cx_px": _ranged(-1e9, 1e9),
        "cy_px": _ranged(-1e9, 1e9),
        "fov_x_deg": _ranged(0.0, 180.0),
        "fov_y_deg": _ranged(0.0, 180.0),
        "distortion": BrownDistortion._read,
    }
    _REQUIRED: ClassVar[frozenset[str]] = frozenset({"fx_px", "fy_px", "cx_px", "cy_px"})

    def to_map(self) -> dict[str, Any]:  # the wire's order: attitude first
        out = super().to_map()
        return {k: out[k] for k in self._READERS if k in out}

    def lines_of_sight(self, uv: np.ndarray) -> np.ndarray:
        """Pixel positions (N, 2) → unit vectors (N, 3) in the camera frame (z along the boresight)."""
        uv = np.asarray(uv, dtype=np.float64)
        x, y = self.distortion.undistort(
            (uv[:, 0] - self.cx_px) / self.fx_px, (uv[:, 1] - self.cy_px) / self.fy_px
        )
        rays = np.column_stack([x, y, np.ones_like(x)])
        return rays / np.linalg.norm(rays, axis=1, keepdims=True)

    def pixel_of(self, direction: np.ndarray) -> tuple[float, float]:
        """Where a camera-frame direction in front of the camera appears (distortion applied)."""
        x, y = direction[0] / direction[2], direction[1] / direction[2]
        with np.errstate(all="ignore"):  # far off axis with strong distortion: inf, for the caller to refuse
            xd, yd = self.distortion.distort(np.array(x), np.array(y))
            return float(self.fx_px * xd + self.cx_px), float(self.fy_px * yd + self.cy_px)

    def attitude_matrix(self) -> np.ndarray | None:
        """Camera-to-ICRF rotation matrix of the attitude quaternion (None without one)."""
        q = self.cam_to_icrf_quaternion_wxyz
        if q is None:
            return None
        norm = math.sqrt(sum(c * c for c in q))
        w, x, y, z = (c / norm for c in q)
        return np.array(
            [
                [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
            ]
        )


@dataclass(frozen=True)
class BodyTruth(_Record):
    """One body (Earth, Moon…) as the camera saw it: geometry, then the rendered signal.

    ``centre_px`` is nil when the body is behind the camera; ``photocentre_px`` is given for bodies
    rendered as point sources."""

    centre_px: tuple[float, float] | None = None
    in_frame: bool | None = None
    apparent_radius_px: float | None = None
    apparent_radius_deg: float | None = None
    range_km: float | None = None
    phase_angle_deg: float | None = None
    illuminated_fraction: float | None = None
    sun_distance_km: float | None = None
    rendered_as: str | None = None
    lit_fraction_rendered: float | None = None
    peak_expected_e: float | None = None
    peak_expected_dn: float | None = None
    total_expected_e: float | None = None
    total_expected_dn: float | None = None
    photocentre_px: tuple[float, float] | None = None

    _READERS: ClassVar[dict] = {
        "centre_px": _vector_of(2),
        "in_frame": _boolean,
        "apparent_radius_px": _ranged(0.0),
        "apparent_radius_deg": _ranged(0.0, 180.0),
        "range_km": _positive(),
        "phase_angle_deg": _ranged(0.0, 180.0),
        "illuminated_fraction": _ranged(0.0, 1.0),
        "sun_distance_km": _ranged(0.0),
        "rendered_as": _string,
        "lit_fraction_rendered": _ranged(0.0),
        "peak_expected_e": _ranged(0.0),
        "peak_expected_dn": _ranged(0.0),
        "total_expected_e": _ranged(0.0),
        "total_expected_dn": _ranged(0.0),
        "photocentre_px": _vector_of(2),
    }
    _NULLABLE: ClassVar[frozenset[str]] = frozenset({"centre_px"})


@dataclass(frozen=True)
class StarTruth(_Record):
    """One catalogue star in the field: Hipparcos number, V magnitude, where and how bright."""

    hip: int | None = None
    v_mag: float | None = None
    ra_deg: float | None = None
    dec_deg: float | None = None
    pixel: tuple[float, float] | None = None
    expected_e: float | None = None
    detectable: bool | None = None

    _READERS: ClassVar[dict] = {
        "hip": _counted(0, 2**31),
        "v_mag": _ranged(-30.0, 30.0),
        "ra_deg": _ranged(0.0, 360.0),
        "dec_deg": _ranged(-90.0, 90.0),
        "pixel": _vector_of(2),
        "expected_e": _ranged(0.0),
        "detectable": _boolean,
    }


@dataclass(frozen=True)
class PsfTruth(_Record):
    """The optics' point spread function: its kind, Gaussian sigma and first Airy zero (pixels)."""

    kind: str | None = None
    sigma_px: float | None = None
    first_zero_px: float | None = None

    _READERS: ClassVar[dict] = {
        "kind": _string,
        "sigma_px": _ranged(0.0, 1e6),
        "first_zero_px": _ranged(0.0, 1e6),
    }


@dataclass(frozen=True)
class SensorTruth(_Record):
    """The detector and the exposure: band, bit depth, exposure, gain, bias, full well, PSF (nil:
    none), expected peak, the electrons of a unit radiance factor, saturation and cosmic rays."""

    band: str | None = None
    band_nm: tuple[float, float] | None = None
    bit_depth: int | None = None
    exposure_s: float | None = None
    exposure_mode: str | None = None
    gain_e_per_dn: float | None = None
    bias_dn: float | None = None
    full_well_e: float | None = None
    psf: PsfTruth | None = None
    peak_expected_e: float | None = None
    electrons_per_unit_radiance_factor: float | None = None
    saturated_pixels: int | None = None
    cosmic_ray_hits: int | None = None

    _READERS: ClassVar[dict] = {
        "band": _string,
        "band_nm": _vector_of(2, 0.0, 1e6),
        "bit_depth": _counted(1, 16),
        "exposure_s": _ranged(0.0, 1e6),
        "exposure_mode": _string,
        "gain_e_per_dn": _positive(),
        "bias_dn": _ranged(0.0),
        "full_well_e": _ranged(0.0),
        "psf": PsfTruth._read,
        "peak_expected_e": _ranged(0.0),
        "electrons_per_unit_radiance_factor": _ranged(0.0),
        "saturated_pixels": _counted(),
        "cosmic_ray_hits": _counted(),
    }
    _NULLABLE: ClassVar[frozenset[str]] = frozenset({"psf"})


def _band_names(value: object, path: str) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not 1 <= len(value) <= MAX_BANDS:
        raise _fail(path, f"must be a list of 1 to {MAX_BANDS} band names")
    return tuple(_string(v, f"{path}[{i}]", 64) for i, v in enumerate(value))


@dataclass(frozen=True)
class CaptureInfo(_Record):
    """One colour capture sent as one image a band: the capture's id, this band's index, the bands."""

    capture_id: str | None = None
    band_index: int | None = None
    bands: tuple[str, ...] | None = None

    _READERS: ClassVar[dict] = {
        "capture_id": _string,
        "band_index": _counted(0, MAX_BANDS - 1),
        "bands": _band_names,
    }


@dataclass(frozen=True)
class ForegroundTruth(_Record):
    """Spacecraft hardware in front of the sky: its kind, the fraction of the frame it covers and
    its expected peak signal."""

    kind: str | None = None
    covered_fraction: float | None = None
    peak_expected_e: float | None = None

    _READERS: ClassVar[dict] = {
        "kind": _string,
        "covered_fraction": _ranged(0.0, 1.0),
        "peak_expected_e": _ranged(0.0),
    }


def _bodies(value: object, path: str) -> dict[str, BodyTruth]:
    table = _map(value, path, MAX_BODIES)
    return {
        _string(name, f"{path} key", 64): BodyTruth._read(b, f"{path}.{name}") for name, b in table.items()
    }


def _effects(value: object, path: str) -> dict[str, bool]:
    table = _map(value, path, MAX_EFFECTS)
    return {
        _string(name, f"{path} key", 64): _boolean(flag, f"{path}.{name}") for name, flag in table.items()
    }


@dataclass(frozen=True)
class ImageMetadata(_Record):
    """Everything the probe says about one image (see the module's table)."""

    scenario: str | None = None
    epoch_utc: str | None = None
    probe_position_km: tuple[float, float, float] | None = None
    probe_earth_range_km: float | None = None
    camera: CameraCalibration | None = None
    sun_direction_cam: tuple[float, float, float] | None = None
    bodies: Mapping[str, BodyTruth] | None = None
    capture: CaptureInfo | None = None
    sensor: SensorTruth | None = None
    stars: tuple[StarTruth, ...] | None = None
    foreground: ForegroundTruth | None = None
    effects: Mapping[str, bool] | None = None
    seed: int | None = None
    image_index: int | None = None
    stars_in_field: int | None = None
    image_id: int | None = None
    onboard_pixels_sha256: str | None = None

    _READERS: ClassVar[dict] = {
        "scenario": _string,
        "epoch_utc": _epoch,
        "probe_position_km": _vector_of(3),
        "probe_earth_range_km": _ranged(0.0),
        "camera": CameraCalibration._read,
        "sun_direction_cam": _vector_of(3, -1.0 - 1e-9, 1.0 + 1e-9),
        "bodies": _bodies,
        "capture": CaptureInfo._read,
        "sensor": SensorTruth._read,
        "stars": _records(StarTruth, MAX_STARS),
        "foreground": ForegroundTruth._read,
        "effects": _effects,
        "seed": _counted(-(2**63), 2**64 - 1),
        "image_index": _counted(0, 2**32),
        "stars_in_field": _counted(0, 2**32),
        "image_id": _counted(0, 2**32 - 1),
        "onboard_pixels_sha256": _sha256_hex,
    }

    @property
    def band_of_capture(self) -> str | None:
        """This image's band when it is one band of a multi-band capture (None otherwise): the
        sensor's band, else the capture's band list at its index."""
        capture = self.capture
        if capture is None or capture.bands is None or len(capture.bands) < 2:
            return None
        if self.sensor is not None and self.sensor.band:
            return self.sensor.band
        index = capture.band_index
        return capture.bands[index] if index is not None and index < len(capture.bands) else None

    def body_truths(self) -> dict[str, BodyTruth]:
        """The bodies with a pixel centre and an apparent radius (those the ground can measure)."""
        return {
            name: body
            for name, body in (self.bodies or {}).items()
            if body.centre_px is not None and body.apparent_radius_px is not None
        }
