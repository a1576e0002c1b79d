"""Ray-cast the Earth and Moon into a photon-radiance image (before optics blur and detector).

Rays come from ``camera.rays(u, v)`` so lens distortion is honoured.  Each body is an
ellipsoid of revolution (equatorial ``radius_km``, polar ``polar_radius_km``; the Moon's are
equal, the Earth's differ by 1/298) oriented by ``body_to_cam``; the nearest hit wins, so a
Moon transiting the Earth hides it.  Work is confined to each body's bounding box.  Pixel
centres are shaded first; pixels on a limb, a terminator or a change of body are then
re-shaded with ``supersample`` x ``supersample`` sub-pixel rays (adaptive anti-aliasing).

A body whose apparent radius is below ``POINT_SOURCE_RADIUS_PX`` is unresolved: it is
rendered off-line at high resolution in a virtual camera pointed at it, and enters the
frame as a point source carrying the exact disc-integrated, phase-dependent flux at its
photocentre (which a crescent shifts toward the Sun).

Photometry (``emulator.photometry``): with albedo maps on, the Earth and the Moon follow the
calibrated laws, whose disc-integrated brightness matches the published V-band phase curves
(Mallama & Hilton 2018 for the Earth, Allen's lunar law for the Moon) scaled to each band's
geometric albedo; with albedo maps off they are the textbook uniform Lambert and
lunar-Lambert spheres (the analytic reference of the geometric tests).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from emulator import photometry
from emulator.blas import single_threaded
from emulator.lunar_albedo import HIGHLAND_ALBEDO, lunar_albedo_map
from emulator.radiometry import Band, band_photon_irradiance
from emulator.scene_geometry import BodyView, SceneGeometry
from emulator.textures import (
    CLOUD_ALBEDO,
    CLOUD_COVER,
    CLOUD_SEED,
    EquirectMap,
    area_mean,
    cloud_fraction_map,
    ocean_mask_map,
    sample_maps_xyz,
    surface_albedo_map,
)
from emulator.vector_sums import row_dot, rows_times, unit_components, vector_norm

POINT_SOURCE_RADIUS_PX = 1.5  # below this apparent radius a body is a point source
DEFAULT_EARTH_ALBEDO = 0.30  # uniform albedo used when albedo maps are switched off
DEFAULT_OTHER_ALBEDO = 0.30
_EDGE_MARGIN_PX = 1.5  # how close to a limb or terminator a pixel must be to be supersampled
# A body is intersected only by samples within its limb box widened by this: its limb lies inside
# the box, and a sample farther than 1.5 px from the limb (the edge margin) changes nothing.
REACH_MARGIN_PX = 4.0
_VIRTUAL_DISC_PX = 96  # virtual-camera resolution across an unresolved body's disc
# Samples shaded at a time: a chunk's float64 temporaries (a few dozen arrays) fit in a core's
# L2 cache; on 1024x1024 DSCOVR this is 3x faster than shading every sample in one pass.
SHADING_CHUNK = 32768


class Camera(Protocol):
    """What the renderer needs from ``emulator.camera.CameraModel``."""

    width: int
    height: int
    fx: float
    fy: float

    def project(self, points_cam: np.ndarray) -> np.ndarray: ...

    def rays(self, u: np.ndarray, v: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class ShadingOptions:
    """Scene switches (the detector's live in ``emulator.detector.Effects``)."""

    band: Band
    albedo_maps: bool = True
    clouds: bool = True
    atmosphere: bool = True
    supersample: int = 4
    cloud_seed: int = CLOUD_SEED  # the day's weather (``textures.cloud_seed_for``)


@dataclass
class BodyImage:
    """Per-body bookkeeping of one rendered frame."""

    name: str
    projected_centre_px: tuple[float, float]
    apparent_radius_px: float
    resolved: bool
    in_frame: bool
    bbox: tuple[int, int, int, int] | None  # row0, row1, col0, col1 (half-open), resolved only
    flux_radiance_px: float = 0.0  # Σ pixel photon radiance reaching the frame (radiance · pixels)
    lit_area_px: float = 0.0  # lit, visible area in pixels (from sub-pixel coverage)
    photocentre_px: tuple[float, float] | None = None  # unresolved bodies: where the light lands


@dataclass
class PointSource:
    """An unresolved body: total flux (radiance · pixels) at a sub-pixel position."""

    name: str
    u: float
    v: float
    flux_radiance_px: float


@dataclass
class SceneRadiance:
    """Photon radiance per pixel (photons s^-1 m^-2 sr^-1, pixel-averaged) plus bookkeeping."""

    radiance: np.ndarray  # (H, W) float64, resolved bodies only
    lit_coverage: np.ndarray  # (H, W) float32, fraction of each pixel that is lit visible surface
    body_label: np.ndarray  # (H, W) int8, index of the body seen at the pixel centre, -1 for sky
    bodies: list[BodyImage] = field(default_factory=list)
    point_sources: list[PointSource] = field(default_factory=list)


@dataclass
class _PreparedBody:
    """A body reduced to what the inner shading loop needs."""

    view: BodyView
    index: int
    kind: str
    scale_body: np.ndarray  # 3x3, camera vector → scaled body frame where the ellipsoid is a sphere
    centre_scaled: np.ndarray
    centre_scaled_sq: float
    radius_sq: float
    flattening_sq: float  # (a/c)², for the normal
    radiance_scale: float  # solar photon irradiance / π at this body
    lunar_weight: float
    cos_phase: float
    tau: float
    albedo_map: object | None
    uniform_albedo: float
    gain: float = 1.0  # calibrated photometry: g(α) (Moon: divided by the map's mean albedo)
    cloud_map: EquirectMap | None = None
    ocean_map: EquirectMap | None = None
    # (u0, u1, v0, v1): samples outside can neither hit the body nor lie near its limb; None: all
    reach: tuple[float, float, float, float] | None = None


def _prepare(view: BodyView, index: int, options: ShadingOptions) -> _PreparedBody:
    a = float(view.radius_km)
    c = float(view.polar_radius_km or a)
    stretch = np.diag([1.0, 1.0, a / c])
    scale_body = stretch @ np.asarray(view.body_to_cam, dtype=float).T
    centre_scaled = scale_body @ np.asarray(view.centre_cam_km, dtype=float)
    kind = view.name.lower()
    band = options.band
    phase = float(view.phase_angle_deg)
    gain, cloud_map, ocean_map = 1.0, None, None
    if kind == "earth" and options.albedo_maps:
        albedo_map = surface_albedo_map(band.name, band.centre_nm)
        ocean_map = ocean_mask_map()
        cloud_map = cloud_fraction_map(options.cloud_seed) if options.clouds else None
        gain = photometry.earth_gain(
            phase,
            photometry.band_geometric_albedo("earth", band.low_nm, band.high_nm),
            photometry.rayleigh_optical_depth(band.centre_nm),
            _map_mean(albedo_map),
            _map_mean(ocean_map) * (1.0 - CLOUD_COVER),
            CLOUD_COVER,
            CLOUD_ALBEDO,
        )
        uniform = DEFAULT_EARTH_ALBEDO
    elif kind == "earth":
        albedo_map, uniform = None, DEFAULT_EARTH_ALBEDO
    elif kind == "moon" and options.albedo_maps:
        albedo_map = lunar_albedo_map()
        p_band = photometry.band_geometric_albedo("moon", band.low_nm, band.high_nm)
        gain = photometry.moon_gain(phase, p_band) / _lunar_reference_albedo(albedo_map, view)
        uniform = HIGHLAND_ALBEDO
    elif kind == "moon":
        albedo_map, uniform = None, HIGHLAND_ALBEDO
    else:
        albedo_map, uniform = None, DEFAULT_OTHER_ALBEDO
    return _PreparedBody(
        view=view,
        index=index,
        kind=kind,
        scale_body=scale_body,
        centre_scaled=centre_scaled,
        centre_scaled_sq=float(centre_scaled @ centre_scaled),
        radius_sq=a * a,
        flattening_sq=(a / c) ** 2,
        radiance_scale=band_photon_irradiance(band, float(view.sun_distance_km)) / np.pi,
        lunar_weight=photometry.lunar_lambert_weight(phase),
        cos_phase=float(np.cos(np.radians(phase))),
        tau=photometry.rayleigh_optical_depth(band.centre_nm) if options.atmosphere else 0.0,
        albedo_map=albedo_map,
        uniform_albedo=uniform,
        gain=gain,
        cloud_map=cloud_map,
        ocean_map=ocean_map,
    )


_MAP_MEANS: dict[int, float] = {}
_COARSE_STEP = 6  # texels: the lit-face mean needs no more


def _lunar_reference_albedo(texture: EquirectMap, view: BodyView) -> float:
    """The albedo the lunar law's geometric albedo stands for, for this view.

    The empirical law averages the near side over many lunations, waxing and waning.  A
    quarter of the reference is the global mean albedo and three quarters the mean over the
    lit, visible face (weighted μ·μ0), so a far-side or a mare-rich face keeps a quarter of
    its contrast against the average Moon (the far side comes out about 5 % brighter than the
    near side; the real waxing/waning asymmetry is of that order).
    """
    values = texture.values[::_COARSE_STEP, ::_COARSE_STEP]
    rows, cols = texture.values.shape
    shape = values.shape
    lat = np.radians(90.0 - (np.arange(0, rows, _COARSE_STEP) + 0.5) * 180.0 / rows)
    lon = np.radians(-180.0 + (np.arange(0, cols, _COARSE_STEP) + 0.5) * 360.0 / cols)
    clat = np.cos(lat)[:, None]
    points = np.stack(
        np.broadcast_arrays(clat * np.cos(lon)[None, :], clat * np.sin(lon)[None, :], np.sin(lat)[:, None]),
        axis=-1,
    ).reshape(-1, 3)
    rotation = np.asarray(view.body_to_cam, dtype=float)
    observer = -(rotation.T @ np.asarray(view.centre_cam_km, dtype=float))
    observer /= np.linalg.norm(observer)
    sun = rotation.T @ np.asarray(view.sun_dir_cam, dtype=float)
    weight = np.maximum(points @ observer, 0.0) * np.maximum(points @ sun, 0.0)
    weight = weight * np.broadcast_to(clat, shape).reshape(-1)
    global_mean = _map_mean(texture)
    if weight.sum() <= 0.0:
        return global_mean
    lit_mean = float((values.reshape(-1) * weight).sum() / weight.sum())
    return 0.25 * global_mean + 0.75 * lit_mean


def _map_mean(texture: EquirectMap) -> float:
    """Area-weighted mean of a (cached, immutable) map, remembered by identity."""
    key = id(texture.values)
    if key not in _MAP_MEANS:
        _MAP_MEANS[key] = area_mean(texture.values)
    return _MAP_MEANS[key]


def _intersect(body: _PreparedBody, rays: np.ndarray, many: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Distance along each unit ray to the first hit (inf on a miss) and the scaled miss distance.

    ``many``: the rays are part of a product of more than one ray (``vector_sums.rows_times``)."""
    d = rows_times(rays, body.scale_body.T, many)
    aa = row_dot(d, d)
    bb = rows_times(d, body.centre_scaled, many)
    miss_sq = body.centre_scaled_sq - bb * bb / aa
    disc = bb * bb - aa * (body.centre_scaled_sq - body.radius_sq)
    with np.errstate(invalid="ignore"):
        t = (bb - np.sqrt(disc)) / aa
    t = np.where((disc >= 0.0) & (t > 0.0), t, np.inf)
    return t, np.sqrt(np.maximum(miss_sq, 0.0))


def _hit_geometry(
    body: _PreparedBody, rays: np.ndarray, t: np.ndarray, many: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Body-fixed hit points, incidence cosine and emission cosine of ``rays`` hitting at ``t``.

    Lengths and dot products are written out on the vectors' components in the order numpy's
    ``linalg.norm`` and ``einsum`` sum them, so the values are theirs bit for bit
    (``emulator.vector_sums``) without their per-row reductions; ``many`` as for :func:`_intersect`.
    """
    view = body.view
    rotation = np.asarray(view.body_to_cam, dtype=float)
    relative = rays * t[:, None]
    relative -= np.asarray(view.centre_cam_km, dtype=float)
    body_fixed = rows_times(relative, rotation, many)  # = (R^T r^T)^T
    gradient = body_fixed.copy()
    gradient[:, 2] *= body.flattening_sq
    normal = rows_times(gradient, rotation.T, many)
    normal /= vector_norm(normal)[:, None]
    mu0 = rows_times(normal, np.asarray(view.sun_dir_cam, dtype=float), many)
    mu = row_dot(normal, rays)
    np.negative(mu, out=mu)
    return body_fixed, mu0, mu


def _surface_radiance(
    body: _PreparedBody, body_fixed: np.ndarray, mu0: np.ndarray, mu: np.ndarray
) -> np.ndarray:
    """Photon radiance of the surface at body-fixed hit points (see :func:`_hit_geometry`)."""
    view = body.view
    if body.kind == "earth" and body.albedo_map is not None:
        maps = [m for m in (body.albedo_map, body.ocean_map, body.cloud_map) if m is not None]
        looked_up = iter(sample_maps_xyz(maps, *unit_components(body_fixed)))
        surface = next(looked_up)
        ocean = next(looked_up) if body.ocean_map is not None else 0.0
        cloud = next(looked_up) if body.cloud_map is not None else 0.0
        factor = body.gain * photometry.earth_reflectance(
            surface, cloud, ocean, mu0, mu, view.phase_angle_deg, body.tau, CLOUD_ALBEDO
        )
        return factor * body.radiance_scale
    if body.albedo_map is not None:
        (sampled,) = sample_maps_xyz([body.albedo_map], *unit_components(body_fixed))
        albedo = sampled.astype(float) * body.gain
    else:
        albedo = body.uniform_albedo
    if body.kind == "moon":
        factor = photometry.lunar_lambert(albedo, mu0, mu, view.phase_angle_deg)
    else:
        factor = photometry.lambert(albedo, mu0)
        if body.tau > 0.0:
            factor = factor * photometry.surface_transmission(mu0, mu, body.tau)
            factor = factor + photometry.rayleigh_single_scatter(mu0, mu, body.cos_phase, body.tau)
    return factor * body.radiance_scale


def _shade_hits(
    body: _PreparedBody, rays: np.ndarray, t: np.ndarray, options: ShadingOptions
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Photon radiance, incidence cosine and emission cosine at the hit points of ``rays``."""
    body_fixed, mu0, mu = _hit_geometry(body, rays, t)
    return _surface_radiance(body, body_fixed, mu0, mu), mu0, mu


@dataclass
class _Samples:
    radiance: np.ndarray
    body: np.ndarray  # index of the body hit, -1 for none
    lit: np.ndarray
    near_edge: np.ndarray


def _shade_samples(
    bodies: list[_PreparedBody],
    u: np.ndarray,
    v: np.ndarray,
    camera: Camera,
    options: ShadingOptions,
    km_per_px: list[float],
) -> _Samples:
    """Nearest-hit shading of arbitrary sample positions (u, v) against every candidate body.

    The samples are shaded ``SHADING_CHUNK`` at a time: every step is a per-sample formula, so a
    sample's values do not depend on the chunk it is in (``tests/emulator/test_scene_chunks.py``),
    and a chunk's temporaries stay in the processor's cache instead of streaming through memory.
    """
    n = u.shape[0]
    out = _Samples(
        np.zeros(n), np.full(n, -1, dtype=np.int16), np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    )
    fronts: dict[int, int] = {}  # front samples of each body over all the chunks
    where: dict[int, int] = {}  # the start of the last chunk a body was in front in
    for start in range(0, n, SHADING_CHUNK):
        stop = min(start + SHADING_CHUNK, n)
        counts = _shade_chunk(bodies, u[start:stop], v[start:stop], camera, options, km_per_px, out, start, n)
        for index, count in counts.items():
            fronts[index] = fronts.get(index, 0) + count
            where[index] = start
    # A body in front of one sample only was shaded, in one pass, as a product of one row, which
    # numpy rounds its own way (``vector_sums.rows_times``): that sample's chunk is shaded again so.
    alone = frozenset(index for index, count in fronts.items() if count == 1)
    for start in sorted({where[index] for index in alone}):
        stop = min(start + SHADING_CHUNK, n)
        out.radiance[start:stop], out.body[start:stop] = 0.0, -1
        out.lit[start:stop], out.near_edge[start:stop] = False, False
        _shade_chunk(bodies, u[start:stop], v[start:stop], camera, options, km_per_px, out, start, n, alone)
    return out


def _shade_chunk(
    bodies: list[_PreparedBody],
    u: np.ndarray,
    v: np.ndarray,
    camera: Camera,
    options: ShadingOptions,
    km_per_px: list[float],
    out: _Samples,
    start: int,
    total: int,
    alone: frozenset[int] = frozenset(),
) -> dict[int, int]:
    """:func:`_shade_samples` of one chunk, written into ``out`` from ``start`` on; returns how
    many samples each body was in front of.  ``total``: the samples of the whole pass;
    ``alone``: the bodies in front of one sample of the whole pass.

    Each body is intersected by the samples within its reach only (the others miss it and are
    far from its limb), and its surface (albedo maps, reflectance) is shaded only where it is
    the nearest body in the end: a body hidden behind a nearer one gives its samples' incidence
    and emission cosines (the terminator test) but is not shaded there.
    """
    rays = np.asarray(camera.rays(u, v), dtype=float)
    n = rays.shape[0]
    depth = np.full(n, np.inf)
    radiance = out.radiance[start : start + n]
    owner = out.body[start : start + n]
    lit = out.lit[start : start + n]
    near_edge = out.near_edge[start : start + n]
    hits = []
    counts: dict[int, int] = {}
    many = total > 1
    for body in bodies:
        within = _within(body.reach, u, v)
        if within is None:
            t, miss = _intersect(body, rays, many)
            seen = depth
        elif within.size:
            t, miss = _intersect(body, rays[within], many)
            seen = depth[within]
        else:
            continue
        margin = _EDGE_MARGIN_PX * km_per_px[body.index]
        radius = np.sqrt(body.radius_sq)
        limb = np.abs(miss - radius) < margin
        if within is None:
            near_edge |= limb
        else:
            near_edge[within] |= limb
        front = t < seen
        if not front.any():
            continue
        if within is None and front.all():  # the whole chunk on this body: no gathers
            sel, t_sel, hit_rays = slice(None), t, rays
        else:
            picked = np.nonzero(front)[0]
            sel = picked if within is None else within[picked]
            t_sel, hit_rays = t[picked], rays[sel]
        counts[body.index] = t_sel.shape[0]
        geometry = _hit_geometry(body, hit_rays, t_sel, body.index not in alone)
        mu0, mu = geometry[1], geometry[2]
        depth[sel] = t_sel
        owner[sel] = body.index
        lit[sel] = mu0 > 0.0
        terminator_window = margin / radius / np.maximum(mu, 0.05)
        near_edge[sel] |= np.abs(mu0) < terminator_window
        hits.append((body, sel, geometry))
    for body, sel, geometry in hits:
        mine = owner[sel] == body.index
        if not mine.all():
            sel = np.nonzero(mine)[0] if isinstance(sel, slice) else sel[mine]
            geometry = (geometry[0][mine], geometry[1][mine], geometry[2][mine])
        if mine.any():
            radiance[sel] = _surface_radiance(body, *geometry)
    return counts


def _within(
    reach: tuple[float, float, float, float] | None, u: np.ndarray, v: np.ndarray
) -> np.ndarray | None:
    """Indices of the samples inside ``reach``, or None when that is every sample."""
    if reach is None:
        return None
    u0, u1, v0, v1 = reach
    inside = (u >= u0) & (u < u1) & (v >= v0) & (v < v1)
    if inside.all():
        return None
    return np.nonzero(inside)[0]


def _limb_bbox(view: BodyView, camera: Camera) -> tuple[int, int, int, int] | None:
    """Pixel rows/cols (half-open) that can see the body, from its projected limb circle."""
    centre = np.asarray(view.centre_cam_km, dtype=float)
    distance = float(np.linalg.norm(centre))
    radius = float(max(view.radius_km, view.polar_radius_km or 0.0))
    if distance <= radius * 1.0001:
        return 0, camera.height, 0, camera.width
    axis = centre / distance
    helper = np.array([1.0, 0.0, 0.0]) if abs(axis[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    e1 = np.cross(axis, helper)
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(axis, e1)
    angle = np.linspace(0.0, 2.0 * np.pi, 96, endpoint=False)
    ratio = radius / distance
    limb_radius = radius * np.sqrt(1.0 - ratio * ratio) * 1.01  # small pad for the polygon's chords
    limb_centre = centre * (1.0 - ratio * ratio)
    points = limb_centre + limb_radius * (np.cos(angle)[:, None] * e1 + np.sin(angle)[:, None] * e2)
    if np.any(points[:, 2] <= 1e-9 * distance):
        return 0, camera.height, 0, camera.width  # straddles the image plane: search everything
    uv = np.asarray(camera.project(points), dtype=float)
    col0 = int(np.floor(uv[:, 0].min())) - 1
    col1 = int(np.ceil(uv[:, 0].max())) + 2
    row0 = int(np.floor(uv[:, 1].min())) - 1
    row1 = int(np.ceil(uv[:, 1].max())) + 2
    row0, row1 = max(row0, 0), min(row1, camera.height)
    col0, col1 = max(col0, 0), min(col1, camera.width)
    if row0 >= row1 or col0 >= col1:
        return None
    return row0, row1, col0, col1


def _apparent_radius_px(view: BodyView, camera: Camera) -> float:
    """Apparent radius in pixels at the boresight scale (f · tan θ, θ the angular radius)."""
    return float(np.sqrt(camera.fx * camera.fy) * np.tan(view.angular_radius_rad))


def _km_per_px(view: BodyView, camera: Camera) -> float:
    return view.range_km / float(np.sqrt(camera.fx * camera.fy))


def _subpixel_offsets(n: int) -> np.ndarray:
    return (np.arange(n) + 0.5) / n - 0.5


@single_threaded
def render_radiance(geometry: SceneGeometry, camera: Camera, options: ShadingOptions) -> SceneRadiance:
    """Ray-cast every body of ``geometry`` through ``camera`` (see the module docstring)."""
    height, width = int(camera.height), int(camera.width)
    radiance = np.zeros((height, width))
    coverage = np.zeros((height, width), dtype=np.float32)
    label = np.full((height, width), -1, dtype=np.int8)
    scene = SceneRadiance(radiance, coverage, label)

    prepared: list[_PreparedBody] = []
    boxes: list[tuple[int, int, int, int]] = []
    for view in geometry.bodies:
        in_front = float(view.centre_cam_km[2]) > -float(view.radius_km)
        centre_uv = (
            camera.project(np.asarray(view.centre_cam_km, dtype=float)[None, :])[0] if in_front else None
        )
        apparent = _apparent_radius_px(view, camera)
        bbox = _limb_bbox(view, camera) if in_front else None
        info = BodyImage(
            name=view.name,
            projected_centre_px=(float(centre_uv[0]), float(centre_uv[1]))
            if centre_uv is not None
            else (np.nan,) * 2,
            apparent_radius_px=apparent,
            resolved=apparent >= POINT_SOURCE_RADIUS_PX,
            in_frame=bbox is not None,
            bbox=None,
        )
        scene.bodies.append(info)
        if bbox is None:
            continue
        if info.resolved:
            info.bbox = bbox
            body = _prepare(view, len(scene.bodies) - 1, options)
            r0, r1, c0, c1 = bbox
            body.reach = (
                c0 - REACH_MARGIN_PX,
                c1 + REACH_MARGIN_PX,
                r0 - REACH_MARGIN_PX,
                r1 + REACH_MARGIN_PX,
            )
            prepared.append(body)
            boxes.append(bbox)
        else:
            _add_point_source(scene, info, view, camera, options)

    if not prepared:
        return scene
    km_per_px = [0.0] * len(scene.bodies)
    for body in prepared:
        km_per_px[body.index] = _km_per_px(body.view, camera)

    # Everything below works in the window that encloses every box (row-major order inside
    # the window is the frame's row-major order, so sums and sample order are unchanged), on
    # contiguous arrays of the window's own (flat indices instead of row and column pairs),
    # copied into the frame at the end.
    w_r0, w_r1 = min(b[0] for b in boxes), max(b[1] for b in boxes)
    w_c0, w_c1 = min(b[2] for b in boxes), max(b[3] for b in boxes)
    shape = (w_r1 - w_r0, w_c1 - w_c0)
    local = [(r0 - w_r0, r1 - w_r0, c0 - w_c0, c1 - w_c0) for r0, r1, c0, c1 in boxes]

    # 1. Pixel centres inside the union of the bounding boxes.
    inside = np.zeros(shape, dtype=bool)
    for r0, r1, c0, c1 in local:
        inside[r0:r1, c0:c1] = True
    if inside.all():
        flat = None
        u = np.tile(np.arange(w_c0, w_c1).astype(float), shape[0])
        v = np.repeat(np.arange(w_r0, w_r1).astype(float), shape[1])
    else:
        flat = np.flatnonzero(inside)
        u = (flat % shape[1] + w_c0).astype(float)
        v = (flat // shape[1] + w_r0).astype(float)
    samples = _shade_samples(prepared, u, v, camera, options, km_per_px)
    del u, v
    radiance_w = _spread(samples.radiance, flat, shape, 0.0)
    coverage_w = _spread(samples.lit, flat, shape, 0.0, np.float32)
    label_w = _spread(samples.body, flat, shape, -1, np.int8)
    near_edge = _spread(samples.near_edge, flat, shape, False)
    del samples

    # 2. Pixels whose 3x3 neighbourhood changes body or lit state are edges too.
    state = np.where(label_w >= 0, label_w.astype(np.int16) * 2 + coverage_w.astype(np.int16), -1)
    for r0, r1, c0, c1 in local:
        sub = state[r0:r1, c0:c1]
        changed = np.zeros(sub.shape, dtype=bool)
        changed[1:, :] |= sub[1:, :] != sub[:-1, :]
        changed[:-1, :] |= sub[1:, :] != sub[:-1, :]
        changed[:, 1:] |= sub[:, 1:] != sub[:, :-1]
        changed[:, :-1] |= sub[:, 1:] != sub[:, :-1]
        near_edge[r0:r1, c0:c1] |= changed

    # 3. Supersample the edge pixels.
    near_edge &= inside
    edge = np.flatnonzero(near_edge)
    per_body_flux = np.zeros(len(scene.bodies) + 1)
    per_body_lit = np.zeros(len(scene.bodies) + 1)
    interior = inside & ~near_edge
    interior_owner = label_w[interior].astype(np.intp) + 1
    per_body_flux += np.bincount(interior_owner, weights=radiance_w[interior], minlength=per_body_flux.size)
    per_body_lit += np.bincount(interior_owner, weights=coverage_w[interior], minlength=per_body_lit.size)
    if edge.size:
        edge_rows, edge_cols = np.divmod(edge, shape[1])
        n = max(1, int(options.supersample))
        offsets = _subpixel_offsets(n)
        du = np.tile(offsets, n)
        dv = np.repeat(offsets, n)
        u = ((edge_cols + w_c0)[:, None] + du[None, :]).ravel()
        v = ((edge_rows + w_r0)[:, None] + dv[None, :]).ravel()
        sub = _shade_samples(prepared, u, v, camera, options, km_per_px)
        weight = 1.0 / (n * n)
        radiance_w.reshape(-1)[edge] = sub.radiance.reshape(-1, n * n).mean(axis=1)
        coverage_w.reshape(-1)[edge] = sub.lit.reshape(-1, n * n).mean(axis=1)
        per_body_flux += np.bincount(
            sub.body + 1, weights=sub.radiance * weight, minlength=per_body_flux.size
        )
        per_body_lit += np.bincount(sub.body + 1, weights=sub.lit * weight, minlength=per_body_lit.size)
    window = (slice(w_r0, w_r1), slice(w_c0, w_c1))
    radiance[window] = radiance_w
    coverage[window] = coverage_w
    label[window] = label_w
    for body in prepared:
        info = scene.bodies[body.index]
        info.flux_radiance_px = float(per_body_flux[body.index + 1])
        info.lit_area_px = float(per_body_lit[body.index + 1])
    return scene


def _spread(
    values: np.ndarray,
    flat: np.ndarray | None,
    shape: tuple[int, int],
    fill: float,
    dtype: type | None = None,
) -> np.ndarray:
    """A window-shaped array holding ``values`` at the flat indices ``flat`` (None: every pixel)
    and ``fill`` elsewhere, in ``dtype`` (by default the values' own)."""
    out = np.full(shape[0] * shape[1], fill, dtype=dtype or values.dtype)
    if flat is None:
        out[:] = values
    else:
        out[flat] = values
    return out.reshape(shape)


def _add_point_source(
    scene: SceneRadiance, info: BodyImage, view: BodyView, camera: Camera, options: ShadingOptions
) -> None:
    """Integrate an unresolved body's disc in a virtual camera and record it as a point source."""
    flux, offset_e1, offset_e2, lit_fraction, axes = disc_integrated_flux(view, options)
    centre = np.asarray(view.centre_cam_km, dtype=float)
    direction = centre / np.linalg.norm(centre) + offset_e1 * axes[0] + offset_e2 * axes[1]
    u, v = np.asarray(camera.project(direction[None, :]), dtype=float)[0]
    pixel_sr = 1.0 / (float(camera.fx) * float(camera.fy))
    flux_px = flux / pixel_sr
    info.photocentre_px = (float(u), float(v))
    info.flux_radiance_px = flux_px
    info.lit_area_px = lit_fraction * np.pi * info.apparent_radius_px**2
    if -0.5 <= u < camera.width - 0.5 and -0.5 <= v < camera.height - 0.5:
        scene.point_sources.append(PointSource(view.name, float(u), float(v), flux_px))


@single_threaded
def disc_integrated_flux(
    view: BodyView, options: ShadingOptions, resolution: int = _VIRTUAL_DISC_PX, supersample: int = 2
) -> tuple[float, float, float, float, tuple[np.ndarray, np.ndarray]]:
    """Disc-integrated photon radiance · solid angle of a body, by rendering it in a virtual camera.

    Returns (Σ L·Ω in photons s^-1 m^-2, photocentre offset along e1 and e2 in tangent-plane
    units, lit fraction of the disc, (e1, e2)).  The virtual pinhole looks straight at the body,
    so the sum is the exact flux up to the sampling of the limb.
    """
    centre = np.asarray(view.centre_cam_km, dtype=float)
    distance = float(np.linalg.norm(centre))
    axis = centre / distance
    helper = np.array([1.0, 0.0, 0.0]) if abs(axis[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    e1 = np.cross(helper, axis)
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(axis, e1)
    half_extent = np.tan(view.angular_radius_rad) * 1.05
    n = resolution * supersample
    grid = (np.arange(n) + 0.5) / n * 2.0 - 1.0
    x, y = np.meshgrid(grid * half_extent, grid * half_extent)
    x, y = x.ravel(), y.ravel()
    rays = axis[None, :] + x[:, None] * e1[None, :] + y[:, None] * e2[None, :]
    norms = np.linalg.norm(rays, axis=1)
    rays /= norms[:, None]
    # Solid angle of each tangent-plane cell: dA · cos³(off-axis angle) with unit focal distance.
    cell_sr = (2.0 * half_extent / n) ** 2 / norms**3
    body = _prepare(view, 0, options)
    t, _ = _intersect(body, rays)
    hit = np.isfinite(t)
    radiance = np.zeros(rays.shape[0])
    lit = np.zeros(rays.shape[0], dtype=bool)
    if hit.any():
        value, mu0, _ = _shade_hits(body, rays[hit], t[hit], options)
        radiance[hit] = value
        lit[hit] = mu0 > 0.0
    weights = radiance * cell_sr
    total = float(weights.sum())
    if total > 0.0:
        cx = float((weights * x).sum() / total)
        cy = float((weights * y).sum() / total)
    else:
        cx = cy = 0.0
    lit_fraction = float(lit.sum() / max(hit.sum(), 1))
    return total, cx, cy, lit_fraction, (e1, e2)
