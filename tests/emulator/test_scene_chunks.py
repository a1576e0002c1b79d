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
) -> None:
    """The straightforward loop: every body against every sample, each front body shaded in full."""
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
    plain = [render_scenario(scenario, seed=5, effects=e) for e in (Effects.all(), Effects.none())]
    for a, b in zip(plain, fast, strict=True):
        assert np.array_equal(a.pixels, b.pixels)
        assert np.array_equal(a.expected_electrons, b.expected_electrons)
        assert a.truth == b.truth
