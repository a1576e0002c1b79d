"""Colour captures: every band rendered, an RGB composite where the Earth is blue and the Moon is not."""

from __future__ import annotations

import numpy as np
import pytest

from emulator.colour import colour_quicklook, rgb_roles
from emulator.contact_sheet import contact_sheet
from emulator.render import render_bands, render_scenario
from emulator.scenario import load_scenario

COLOUR_SEEDS = [
    "hayabusa2-onct-2015-11-26",
    "osirisrex-mapcam-2017-10-02",
    "dscovr-epic-2015-07-16",
    "tianwen2-2025-armcam",
]


def _disc_mean(image: np.ndarray, body: dict) -> np.ndarray:
    centre = body.get("photocentre_px") or body["centre_px"]
    radius = max(body["apparent_radius_px"], 1.5)  # a point source: its PSF core
    rows, cols = np.indices(image.shape[:2])
    inside = np.hypot(cols - centre[0], rows - centre[1]) <= radius
    return image[inside].astype(float).mean(axis=0)


@pytest.mark.parametrize("name", COLOUR_SEEDS)
def test_quicklook_earth_is_blue_and_moon_is_not(name: str) -> None:
    frames = render_bands(load_scenario(name))
    assert len(frames) == 3
    look = colour_quicklook(frames)
    assert look.shape[-1] == 3 and look.dtype == np.uint8
    bodies = next(iter(frames.values())).truth["bodies"]
    earth = _disc_mean(look, bodies["earth"])
    assert earth[2] > earth[0], f"Earth mean RGB {earth}"
    # The Moon is judged where it is detected: in the arm camera's frame, exposed for the capsule,
    # it collects a few electrons and its colour is noise.
    detected = all(
        f.truth["bodies"]["moon"]["total_expected_e"] > 60.0 * f.truth["sensor"]["gain_e_per_dn"]
        for f in frames.values()
    )
    if bodies["moon"]["in_frame"] and detected:
        moon = _disc_mean(look, bodies["moon"])
        assert not moon[2] > moon[0], f"Moon mean RGB {moon}"


def test_bands_share_a_capture_and_the_first_band_is_the_default_frame() -> None:
    scenario = load_scenario("hayabusa2-onct-2015-11-26")
    frames = render_bands(scenario)
    captures = [f.truth["capture"] for f in frames.values()]
    assert len({c["capture_id"] for c in captures}) == 1
    assert [c["band_index"] for c in captures] == [0, 1, 2]
    first = next(iter(frames.values()))
    assert np.array_equal(first.pixels, render_scenario(scenario).pixels)
    red, green = list(frames.values())[:2]
    assert not np.array_equal(red.pixels, green.pixels)  # each band has its own noise


def test_epic_renders_its_narrow_channels() -> None:
    frames = render_bands(load_scenario("dscovr-epic-2015-07-16"))
    assert list(frames) == ["epic680", "epic551", "epic443"]
    assert rgb_roles(list(frames)) == ("epic680", "epic551", "epic443")
    for frame in frames.values():
        low, high = frame.truth["sensor"]["band_nm"]
        assert high - low < 4.0


def test_contact_sheet_is_in_colour() -> None:
    frames = render_bands(load_scenario("osirisrex-mapcam-2017-10-02"))
    sheet = contact_sheet([("orex", frames), ("orex-red", frames["red"])])
    assert sheet.ndim == 3 and sheet.shape[-1] == 3
    blue_excess = sheet[..., 2].astype(int) - sheet[..., 0].astype(int)
    assert blue_excess.max() > 20  # a blue Earth somewhere in the colour tile


@pytest.mark.parametrize("name", ["messenger-mdis-2010-05-06"])
def test_quicklook_stretch_is_anchored_on_the_bodies(name: str) -> None:
    """Sky stays black (no grey noise) and the Earth, even unresolved, reaches near white."""
    from emulator.colour import quicklook_rgb

    frames = render_bands(load_scenario(name))
    look = quicklook_rgb(frames)[..., 1]
    earth = next(iter(frames.values())).truth["bodies"]["earth"]
    u, v = earth.get("photocentre_px") or earth["centre_px"]
    core = look[round(v) - 2 : round(v) + 3, round(u) - 2 : round(u) + 3]
    assert np.median(look) <= 3
    assert np.percentile(look, 99) <= 20
    assert core.max() >= 200


def test_capture_products_per_band_with_fits(tmp_path) -> None:
    from emulator.colour import write_capture_products

    frames = render_bands(load_scenario("osirisrex-mapcam-2017-10-02"))
    paths = write_capture_products(frames, tmp_path, "orex")
    for band in frames:
        for kind in ("quicklook", "raw", "truth", "fits"):
            assert paths[f"{band}.{kind}"].exists()
    assert paths["rgb"].name == "orex-rgb.png"
