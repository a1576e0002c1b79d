"""The shared colour composite: channel roles by wavelength, the solar-white balance, and the
uncalibrated fallback when the metadata carries no radiometric truth."""

from __future__ import annotations

import numpy as np

from protocols.image.colour_composite import (
    BALANCE_PERCENTILE,
    BALANCE_SOLAR_WHITE,
    BandFrame,
    balance_of,
    colour_quicklook,
    composite_quicklook,
    rgb_roles,
)


def _frame(disc_dn: int, centre_nm: float, per_if: float | None = 1000.0, psf: object = None) -> BandFrame:
    rows, cols = np.indices((32, 32))
    pixels = np.full((32, 32), 50, dtype=np.uint16)
    pixels[np.hypot(cols - 16, rows - 16) <= 6] += disc_dn
    sensor = {"gain_e_per_dn": 2.0, "psf": psf}
    if per_if is not None:
        sensor["electrons_per_unit_radiance_factor"] = per_if
    bodies = {"earth": {"centre_px": [16.0, 16.0], "in_frame": True, "apparent_radius_px": 6.0,
                        "peak_expected_e": 2.0 * 400}}  # fmt: skip
    return BandFrame(pixels, centre_nm, {"sensor": sensor, "bodies": bodies}, 12)


def test_roles_follow_wavelength_not_order() -> None:
    assert rgb_roles({"blue": 450.0, "red": 640.0, "green": 545.0}) == ("red", "green", "blue")
    assert rgb_roles({"a": 500.0, "b": 700.0}) == ("b", None, "a")
    assert rgb_roles({"pan": 600.0}) == ("pan", "pan", "pan")


def test_equal_radiance_factor_is_grey_and_the_balance_divides_by_each_band() -> None:
    # the same I/F in each band, though the blue band collects half the electrons per unit I/F
    frames = {
        "red": _frame(200, 640.0),
        "green": _frame(200, 545.0),
        "blue": _frame(100, 450.0, per_if=500.0),
    }
    look = colour_quicklook(frames)
    centre = look[16, 16].astype(int)
    assert abs(centre[0] - centre[2]) <= 1 and abs(centre[0] - centre[1]) <= 1 and centre[0] > 100
    assert balance_of(frames) == BALANCE_SOLAR_WHITE


def test_without_radiometry_each_band_is_stretched_on_its_own() -> None:
    frames = {"red": _frame(200, 640.0, per_if=None), "blue": _frame(400, 450.0, per_if=None)}
    look = composite_quicklook(frames)
    assert look.shape == (32, 32, 3) and look.dtype == np.uint8
    assert look[16, 16, 0] > 200 and look[16, 16, 2] > 200 and look[0, 0].max() == 0
    assert balance_of(frames) == BALANCE_PERCENTILE


def test_a_point_body_with_no_psf_in_the_metadata() -> None:
    """The metadata writes ``psf`` as nil when the PSF was off: the point-body lift must not fail."""
    frames = {}
    for name, nm in (("red", 640.0), ("green", 545.0), ("blue", 450.0)):
        frame = _frame(0, nm)
        frame.pixels[16, 16] += 300
        frame.truth["bodies"]["earth"].update(apparent_radius_px=0.5, peak_expected_e=600.0)
        frame.truth["bodies"]["moon"] = {"centre_px": [4.0, 4.0], "in_frame": True, "apparent_radius_px": 0.4,
                                         "peak_expected_e": 6.0e4}  # fmt: skip
        frames[name] = frame
    look = colour_quicklook(frames)
    assert look[16, 16].min() > 0
