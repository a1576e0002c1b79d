"""The ray caster's samples are shaded in chunks: the frames are those of one pass over them all."""

from __future__ import annotations

import numpy as np
import pytest

import emulator.scene as scene
from emulator.detector import Effects
from emulator.render import render_scenario
from emulator.scenario import load_scenario


def _frames(name: str, chunk: int, monkeypatch: pytest.MonkeyPatch) -> list:
    monkeypatch.setattr(scene, "SHADING_CHUNK", chunk)
    scenario = load_scenario(name)
    return [render_scenario(scenario, seed=5, effects=e) for e in (Effects.all(), Effects.none())]


@pytest.mark.parametrize(
    "name",
    [
        "dscovr-epic-2015-07-16",  # the Earth fills the frame: clouds, ocean, atmosphere
        "longjiang2-2019-02-03",  # the Moon in front of the Earth: nearest hit, both laws
    ],
)
def test_chunked_shading_gives_the_frame_of_one_pass(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    one_pass = _frames(name, 1 << 40, monkeypatch)
    for chunk in (scene.SHADING_CHUNK, 4093):  # the default, and an odd size that cuts rows anywhere
        chunked = _frames(name, chunk, monkeypatch)
        for a, b in zip(one_pass, chunked, strict=True):
            assert np.array_equal(a.pixels, b.pixels)
            assert np.array_equal(a.expected_electrons, b.expected_electrons)
            assert a.truth == b.truth


def _every_body_everywhere(
    bodies: list,
    u: np.ndarray,
    v: np.ndarray,
    camera: scene.Camera,
    options: scene.ShadingOptions,
    km_per_px: list[float],
    out: scene._Samples,
    start: int,
    total: int,
    alone: frozenset[int] = frozenset(),
) -> dict[int, int]:
    """The straightforward loop: every body against every sample, each front body shaded in full
    (called once, on every sample of the pass)."""
    rays = np.asarray(camera.rays(u, v), dtype=float)
    n = rays.shape[0]
    depth = np.full(n, np.inf)
    part = slice(start, start + n)
    radiance, owner, lit, near_edge = out.radiance[part], out.body[part], out.lit[part], out.near_edge[part]
    for body in bodies:
        t, miss = scene._intersect(body, rays)
        margin = scene._EDGE_MARGIN_PX * km_per_px[body.index]
        near_edge |= np.abs(miss - np.sqrt(body.radius_sq)) < margin
        front = t < depth
        if not front.any():
            continue
        sel = np.nonzero(front)[0]
        value, mu0, mu = scene._shade_hits(body, rays[sel], t[sel], options)
        depth[sel] = t[sel]
        radiance[sel] = value
        owner[sel] = body.index
        lit[sel] = mu0 > 0.0
        near_edge[sel] |= np.abs(mu0) < margin / np.sqrt(body.radius_sq) / np.maximum(mu, 0.05)
    return {}


@pytest.mark.parametrize(
    "name",
    [
        "dscovr-epic-2015-07-16",  # the Moon transits the Earth: Earth samples behind it
        "change5t1-2014-10-28",  # the Earth beside a large Moon, each in part of the other's box
        "longjiang2-2019-02-03",
        "tianwen2-2025-05-30",
    ],
)
def test_reach_and_nearest_only_shading_give_the_straightforward_frame(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bodies intersected only within their reach, surfaces shaded only where nearest: same frames."""
    scenario = load_scenario(name)
    fast = [render_scenario(scenario, seed=5, effects=e) for e in (Effects.all(), Effects.none())]
    monkeypatch.setattr(scene, "_shade_chunk", _every_body_everywhere)
    monkeypatch.setattr(scene, "SHADING_CHUNK", 1 << 40)
    plain = [render_scenario(scenario, seed=5, effects=e) for e in (Effects.all(), Effects.none())]
    for a, b in zip(plain, fast, strict=True):
        assert np.array_equal(a.pixels, b.pixels)
        assert np.array_equal(a.expected_electrons, b.expected_electrons)
        assert a.truth == b.truth


def _longjiang2_bodies() -> tuple:
    """Longjiang-2's Earth and Moon prepared for shading, with their reach, and its camera."""
    from emulator.geometry import compute_geometry
    from emulator.radiometry import band_named
    from emulator.textures import cloud_seed_for

    scenario = load_scenario("longjiang2-2019-02-03")
    geometry, camera = compute_geometry(scenario, 0), scenario.camera
    options = scene.ShadingOptions(band_named("pan"), True, True, True, 4, cloud_seed_for(geometry.epoch_utc))
    bodies = []
    for index, view in enumerate(geometry.bodies):
        box = scene._limb_bbox(view, camera)
        body = scene._prepare(view, index, options)
        r0, r1, c0, c1 = box
        m = scene.REACH_MARGIN_PX
        body.reach = (c0 - m, c1 + m, r0 - m, r1 + m)
        bodies.append(body)
    km_per_px = [scene._km_per_px(view, camera) for view in geometry.bodies]
    return bodies, camera, options, km_per_px


def test_a_chunk_or_a_body_of_one_sample_is_shaded_as_in_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of one sample, and a body in front of a single sample of the pass: the products of
    one row round as numpy rounds them in the one-pass product (``vector_sums.rows_times``)."""
    from emulator.blas import single_threaded

    bodies, camera, options, km_per_px = _longjiang2_bodies()
    v, u = np.mgrid[0 : camera.height : 3, 0 : camera.width : 3]
    u, v = u.ravel().astype(float), v.ravel().astype(float)
    whole = single_threaded(scene._shade_samples)(bodies, u, v, camera, options, km_per_px)
    earth = np.flatnonzero(whole.body == 0)
    # one of the Earth's samples whose hit, as a product of one row, rounds apart from many rows
    rays = camera.rays(u[earth], v[earth])
    t, _ = scene._intersect(bodies[0], rays)
    one = next(
        i
        for i in range(earth.size)
        if scene._hit_geometry(bodies[0], rays[i : i + 1], t[i : i + 1])[1].tobytes()
        != scene._hit_geometry(bodies[0], rays[i : i + 1], t[i : i + 1], many=True)[1].tobytes()
    )
    # keep it alone of the Earth's samples: the Earth is then in front of one sample of the pass
    keep = np.concatenate([np.flatnonzero(whole.body != 0)[::5], earth[one : one + 1]])
    keep.sort()
    cases = [(u, v), (u[keep], v[keep]), (u[:1], v[:1])]
    for cu, cv in cases:
        with monkeypatch.context() as m:  # the straightforward loop over the whole pass at once
            m.setattr(scene, "SHADING_CHUNK", 1 << 40)
            m.setattr(scene, "_shade_chunk", _every_body_everywhere)
            plain = single_threaded(scene._shade_samples)(bodies, cu, cv, camera, options, km_per_px)
        for chunk in (1, 2, 997, 1 << 40):
            monkeypatch.setattr(scene, "SHADING_CHUNK", chunk)
            got = single_threaded(scene._shade_samples)(bodies, cu, cv, camera, options, km_per_px)
            for field in ("radiance", "body", "lit", "near_edge"):
                assert getattr(got, field).tobytes() == getattr(plain, field).tobytes(), (chunk, field)
