"""Sun, Earth, Moon, Mars and Mercury positions from JPL DE421, with nothing downloaded.

The kernel is the ``de421.bsp`` that the ``skyfield-data`` package ships inside
its wheel; it is opened with ``skyfield.api.Loader(path, expire=False)`` and the
timescale is skyfield's builtin one (``builtin=True``: leap seconds and ΔT
tables that ship with skyfield), so no code path here ever touches the
network. The kernel is loaded once per process (:func:`kernel`).

All vectors are ICRF (equatorial J2000 axes), in km, relative to the solar
system barycentre (SSB) unless a function says otherwise. Times are TDB Julian
dates in code; :func:`jd_tdb` converts an aware UTC ``datetime``.

Light time: the probe is not a skyfield object, so :func:`apparent_vector`
iterates the light-time equation itself: the body is taken where it was at
``t - |r| / c`` (three fixed-point iterations reach far below a millimetre for
anything in the inner solar system). Stellar aberration (≤ 20″ for a probe
moving at ~30 km/s around the Sun) is not applied: the scene is rendered in
the probe's inertial frame and both bodies share the same aberration, so it
would only shift the whole image by a fraction of a pixel for the narrowest
cameras here. Say so in any truth comparison finer than that.
"""

from __future__ import annotations

import threading
import warnings
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

C_KM_S = 299_792.458  # speed of light
AU_KM = 149_597_870.7

# NAIF ids of the bodies the emulator knows. Mars and Mercury are the barycentres
# in DE421's main table; the planet centres (499, 199) hang off them.
BODY_IDS: dict[str, int] = {
    "sun": 10,
    "earth": 399,
    "moon": 301,
    "mars": 499,
    "mercury": 199,
    "earth-moon-barycentre": 3,
}

# Mean radii used for rendering and for "is the probe inside the body" checks (km).
# Earth: WGS84 equatorial / polar. Moon: IAU mean radius. Others: IAU 2015 mean radii.
EQUATORIAL_RADIUS_KM: dict[str, float] = {
    "sun": 695_700.0,
    "earth": 6378.137,
    "moon": 1737.4,
    "mars": 3396.19,
    "mercury": 2439.4,
}
POLAR_RADIUS_KM: dict[str, float] = {
    "sun": 695_700.0,
    "earth": 6356.752,
    "moon": 1737.4,
    "mars": 3376.20,
    "mercury": 2439.4,
}

# DE421 coverage, as JD TDB (checked against the kernel's segments when it loads).
DE421_START_JD = 2414864.5  # 1899-07-29
DE421_END_JD = 2471184.5  # 2053-10-09

_lock = threading.Lock()
_cache: dict[str, object] = {}


class EphemerisRangeError(ValueError):
    """A date outside the span of the kernel."""


def data_directory() -> Path:
    """The directory inside the installed ``skyfield_data`` package that holds ``de421.bsp``."""
    with warnings.catch_warnings():
        # skyfield-data warns that its bundled finals2000A.all (polar motion) is old;
        # we never read that file (builtin timescale, no polar motion), so hush it.
        warnings.simplefilter("ignore")
        import skyfield_data

        return Path(skyfield_data.get_skyfield_data_path())


def _load() -> dict[str, object]:
    with _lock:
        if _cache:
            return _cache
        from skyfield.api import Loader

        directory = data_directory()
        loader = Loader(str(directory), expire=False, verbose=False)
        path = directory / "de421.bsp"
        if not path.is_file():  # pragma: no cover - packaging error
            raise FileNotFoundError(f"{path} missing: reinstall skyfield-data")
        kernel = loader("de421.bsp")
        ts = loader.timescale(builtin=True)
        segments = {(s.center, s.target): s for s in kernel.spk.segments}
        _cache.update(loader=loader, kernel=kernel, timescale=ts, segments=segments, directory=directory)
        return _cache


def kernel():
    """The skyfield SpiceKernel for DE421 (loaded once per process)."""
    return _load()["kernel"]


def timescale():
    """skyfield's builtin timescale (no download)."""
    return _load()["timescale"]


def loader_directory() -> Path:
    """Where the loader looks for files: the skyfield-data package directory."""
    return Path(_load()["directory"])


def jd_tdb(epoch: datetime) -> float:
    """TDB Julian date of an aware (or naive = UTC) ``datetime``."""
    if epoch.tzinfo is None:
        epoch = epoch.replace(tzinfo=UTC)
    t = timescale().from_datetime(epoch.astimezone(UTC))
    return float(t.tdb)


def skyfield_time(jd: float):
    """A skyfield Time at TDB Julian date ``jd``."""
    return timescale().tdb_jd(jd)


def check_in_range(jd: float) -> None:
    if not (DE421_START_JD <= jd <= DE421_END_JD):
        raise EphemerisRangeError(f"JD {jd:.1f} is outside DE421 (1899-07-29 .. 2053-10-09)")


# Chains of (centre, target) segments from the SSB to each body.
_CHAINS: dict[int, tuple[tuple[int, int], ...]] = {
    10: ((0, 10),),
    3: ((0, 3),),
    399: ((0, 3), (3, 399)),
    301: ((0, 3), (3, 301)),
    4: ((0, 4),),
    499: ((0, 4), (4, 499)),
    1: ((0, 1),),
    199: ((0, 1), (1, 199)),
}


def _body_id(body: str) -> int:
    try:
        return BODY_IDS[body]
    except KeyError:
        raise KeyError(f"unknown body {body!r} (known: {', '.join(sorted(EQUATORIAL_RADIUS_KM))})") from None


def position_ssb(body: str, jd: float) -> np.ndarray:
    """Barycentric ICRF position of ``body`` at TDB Julian date ``jd`` (km)."""
    check_in_range(jd)
    segments = _load()["segments"]
    r = np.zeros(3)
    for key in _CHAINS[_body_id(body)]:
        r = r + np.asarray(segments[key].compute(jd), dtype=float)
    return r


def velocity_ssb(body: str, jd: float) -> np.ndarray:
    """Barycentric ICRF velocity of ``body`` (km/s)."""
    check_in_range(jd)
    segments = _load()["segments"]
    v = np.zeros(3)
    for key in _CHAINS[_body_id(body)]:
        _, vel = segments[key].compute_and_differentiate(jd)
        v = v + np.asarray(vel, dtype=float) / 86400.0  # km/day → km/s
    return v


def position_relative(body: str, origin: str, jd: float) -> np.ndarray:
    """Geometric (instantaneous) position of ``body`` relative to ``origin`` (km)."""
    return position_ssb(body, jd) - position_ssb(origin, jd)


def apparent_vector(
    observer_ssb_km: np.ndarray, body: str, jd: float, iterations: int = 4
) -> tuple[np.ndarray, float]:
    """Light-time corrected vector observer → body (km) and the light time (s).

    The body is placed where it was when the light now reaching the observer
    left it: ``r = body(t - lt) - observer(t)``, ``lt = |r| / c``, iterated.
    """
    obs = np.asarray(observer_ssb_km, dtype=float)
    lt = 0.0
    r = position_ssb(body, jd) - obs
    for _ in range(iterations):
        lt = float(np.linalg.norm(r)) / C_KM_S
        r = position_ssb(body, jd - lt / 86400.0) - obs
    return r, lt


def earth_sun_distance_km(jd: float) -> float:
    return float(np.linalg.norm(position_relative("sun", "earth", jd)))


def moon_distance_km(jd: float) -> float:
    return float(np.linalg.norm(position_relative("moon", "earth", jd)))


KNOWN_BODIES: tuple[str, ...] = ("sun", "earth", "moon", "mars", "mercury")


def coverage_utc() -> tuple[datetime, datetime]:
    """First and last UTC instants of DE421 (a day of margin each side for light-time steps)."""
    ts = timescale()
    return ts.tdb_jd(DE421_START_JD + 1.0).utc_datetime(), ts.tdb_jd(DE421_END_JD - 1.0).utc_datetime()


def in_coverage(epoch: datetime) -> bool:
    """Whether an aware UTC instant lies inside :func:`coverage_utc`."""
    start, end = coverage_utc()
    return start <= epoch <= end


def utc_iso(epoch: datetime) -> str:
    """ISO 8601 UTC with millisecond precision and a trailing Z (for truth files)."""
    return epoch.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
