"""The image metadata contract: round trips, hostile maps, the one Brown distortion model."""

from __future__ import annotations

import copy
import math
import random

import msgpack
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.errors import DecodeError
from protocols.image import image_metadata
from protocols.image.image_metadata import (
    LAYER,
    MAX_STARS,
    BodyTruth,
    BrownDistortion,
    CameraCalibration,
    CaptureInfo,
    ForegroundTruth,
    ImageMetadata,
    PsfTruth,
    SensorTruth,
    StarTruth,
)

# -- strategies --------------------------------------------------------------------------------

finite = st.floats(-1e6, 1e6, allow_nan=False)
non_negative = st.one_of(st.floats(0.0, 1e9), st.integers(0, 10**9))  # ints stay ints on the wire
positive = st.floats(1e-3, 1e9)
names = st.text(max_size=20)
pixel = st.tuples(finite, finite)


def optional(strategy: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(st.none(), strategy)


distortions = st.builds(
    BrownDistortion,
    k1=st.floats(-0.2, 0.2),
    k2=st.floats(-0.05, 0.05),
    k3=st.floats(-0.01, 0.01),
    p1=st.floats(-1e-3, 1e-3),
    p2=st.floats(-1e-3, 1e-3),
)


@st.composite
def unit_quaternions(draw: st.DrawFn) -> tuple[float, float, float, float]:
    q = np.array(draw(st.tuples(*[st.floats(-1.0, 1.0)] * 4)))
    norm = float(np.linalg.norm(q))
    if norm < 0.1:
        return (1.0, 0.0, 0.0, 0.0)
    return tuple(float(c) for c in q / norm)  # type: ignore[return-value]


cameras = st.builds(
    CameraCalibration,
    fx_px=positive,
    fy_px=positive,
    cx_px=finite,
    cy_px=finite,
    cam_to_icrf_quaternion_wxyz=optional(unit_quaternions()),
    width_px=optional(st.integers(1, 65535)),
    height_px=optional(st.integers(1, 65535)),
    fov_x_deg=optional(st.floats(0.0, 180.0)),
    fov_y_deg=optional(st.floats(0.0, 180.0)),
    distortion=distortions,
)
bodies = st.builds(
    BodyTruth,
    centre_px=optional(pixel),
    in_frame=optional(st.booleans()),
    apparent_radius_px=optional(non_negative),
    apparent_radius_deg=optional(st.floats(0.0, 180.0)),
    range_km=optional(positive),
    phase_angle_deg=optional(st.floats(0.0, 180.0)),
    illuminated_fraction=optional(st.floats(0.0, 1.0)),
    sun_distance_km=optional(non_negative),
    rendered_as=optional(st.sampled_from(["disc", "point source"])),
    lit_fraction_rendered=optional(non_negative),
    peak_expected_e=optional(non_negative),
    peak_expected_dn=optional(non_negative),
    total_expected_e=optional(non_negative),
    total_expected_dn=optional(non_negative),
    photocentre_px=optional(pixel),
)
stars = st.builds(
    StarTruth,
    hip=optional(st.integers(0, 2**31)),
    v_mag=optional(st.floats(-30.0, 30.0)),
    ra_deg=optional(st.floats(0.0, 360.0)),
    dec_deg=optional(st.floats(-90.0, 90.0)),
    pixel=optional(pixel),
    expected_e=optional(non_negative),
    detectable=optional(st.booleans()),
)
sensors = st.builds(
    SensorTruth,
    band=optional(names),
    band_nm=optional(st.tuples(st.floats(0.0, 1e6), st.floats(0.0, 1e6))),
    bit_depth=optional(st.integers(1, 16)),
    exposure_s=optional(st.floats(0.0, 1e6)),
    exposure_mode=optional(st.sampled_from(["auto", "fixed"])),
    gain_e_per_dn=optional(positive),
    bias_dn=optional(non_negative),
    full_well_e=optional(non_negative),
    psf=optional(
        st.builds(PsfTruth, optional(names), optional(st.floats(0.0, 1e6)), optional(st.floats(0.0, 1e6)))
    ),
    peak_expected_e=optional(non_negative),
    electrons_per_unit_radiance_factor=optional(non_negative),
    saturated_pixels=optional(st.integers(0, 2**40)),
    cosmic_ray_hits=optional(st.integers(0, 2**40)),
)
metadata = st.builds(
    ImageMetadata,
    scenario=optional(names),
    epoch_utc=optional(
        st.datetimes().map(lambda t: t.isoformat(timespec="milliseconds") + "Z")  # as the probe writes it
    ),
    probe_position_km=optional(st.tuples(finite, finite, finite)),
    probe_earth_range_km=optional(non_negative),
    camera=optional(cameras),
    sun_direction_cam=optional(st.tuples(*[st.floats(-1.0, 1.0)] * 3)),
    bodies=optional(st.dictionaries(names, bodies, max_size=3)),
    capture=optional(
        st.builds(
            CaptureInfo,
            optional(names),
            optional(st.integers(0, 15)),
            optional(st.lists(names, min_size=1, max_size=4).map(tuple)),
        )
    ),
    sensor=optional(sensors),
    stars=optional(st.lists(stars, max_size=4).map(tuple)),
    foreground=optional(
        st.builds(ForegroundTruth, optional(names), optional(st.floats(0.0, 1.0)), optional(non_negative))
    ),
    effects=optional(st.dictionaries(names, st.booleans(), max_size=4)),
    seed=optional(st.integers(-(2**63), 2**64 - 1)),
    image_index=optional(st.integers(0, 2**32)),
    stars_in_field=optional(st.integers(0, 2**32)),
    image_id=optional(st.integers(0, 2**32 - 1)),
    onboard_pixels_sha256=optional(st.binary(min_size=32, max_size=32).map(bytes.hex)),
)


def packed(value: object) -> bytes:
    return msgpack.packb(value, use_bin_type=True)


def from_wire(octets: bytes) -> ImageMetadata:
    return ImageMetadata.from_map(msgpack.unpackb(octets, raw=False, strict_map_key=False))


# -- round trips -------------------------------------------------------------------------------


@given(metadata)
@settings(max_examples=300)
def test_metadata_survives_its_map_and_the_wire(value: ImageMetadata) -> None:
    octets = packed(value.to_map())
    decoded = from_wire(octets)
    assert decoded == value
    assert packed(decoded.to_map()) == octets


def test_a_probe_map_comes_back_octet_for_octet_keys_in_order_numbers_typed() -> None:
    wire = {
        "scenario": "tianwen1-2020-07-27",
        "epoch_utc": "2020-07-27T12:00:00.000Z",
        "camera": {
            "cam_to_icrf_quaternion_wxyz": [0.5, 0.5, -0.5, 0.5],
            "width_px": 1024,
            "height_px": 1024,
            "fx_px": 4871.35,
            "fy_px": 4871.35,
            "cx_px": 511.5,
            "cy_px": 511.5,
            "fov_x_deg": 12.0,
            "fov_y_deg": 12.0,
            "distortion": {"model": "brown", "k1": 0.0, "k2": 0.0, "k3": 0.0, "p1": 0.0, "p2": 0.0},
        },
        "bodies": {"earth": {"centre_px": None, "in_frame": False, "apparent_radius_px": 25.9}},
        "sensor": {"band": "pan", "bit_depth": 10, "gain_e_per_dn": 20, "bias_dn": 32.0, "psf": None},
        "seed": 7,
    }
    decoded = ImageMetadata.from_map(wire)
    assert packed(decoded.to_map()) == packed(wire)
    assert isinstance(decoded.sensor.gain_e_per_dn, int) and isinstance(decoded.sensor.bias_dn, float)
    assert list(decoded.to_map()) == list(wire)
    assert decoded.body_truths() == {}  # the Earth behind the camera: nothing to measure


# -- hostile maps ------------------------------------------------------------------------------

HOSTILE_VALUES = [
    None, True, 0, -1, 2**70, -(2**70), 1.5, math.nan, math.inf, -math.inf, 1e308, "", "x" * 300,
    b"\xff", [], [1.0], [math.nan, 1.0], {}, {"k": 1}, [[[]]], {1: 2}, {(1, 2): 3},
]  # fmt: skip


def _paths(value: object, path: tuple = ()) -> list[tuple]:
    """Every place in a nested map/list value (for mutating one of them)."""
    out = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            out += _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out += _paths(item, (*path, index))
    return out


def _replace(value: object, path: tuple, new: object) -> object:
    if not path:
        return new
    copied = copy.copy(value)
    copied[path[0]] = _replace(value[path[0]], path[1:], new)  # type: ignore[index]
    return copied


def _decodes_or_refuses(value: object) -> None:
    try:  # the readers themselves, without from_map's last-resort net: every refusal is explicit
        result = ImageMetadata._read(value, "metadata")
    except DecodeError as exc:
        assert exc.layer == LAYER
        return
    assert isinstance(result, ImageMetadata)
    assert ImageMetadata.from_map(result.to_map()) == result


@given(metadata, st.randoms(use_true_random=False), st.sampled_from(HOSTILE_VALUES), st.booleans())
@settings(max_examples=400)
def test_a_mutated_map_is_metadata_or_a_decode_error_never_another_exception(
    value: ImageMetadata, rnd: random.Random, hostile: object, add_key: bool
) -> None:
    wire = value.to_map()
    path = rnd.choice(_paths(wire))
    target: object = wire
    for step in path:
        target = target[step]  # type: ignore[index]
    if add_key and isinstance(target, dict):  # a key no one declared, beside the declared ones
        mutated = _replace(wire, path, {**target, rnd.choice(["extra", 7, b"k", "pixel_centre"]): hostile})
    else:
        mutated = _replace(wire, path, hostile)
    _decodes_or_refuses(mutated)


msgpack_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**64), 2**64),
        st.floats(),
        st.text(max_size=8),
        st.binary(max_size=8),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.text(max_size=8), st.integers()), children, max_size=4),
    ),
    max_leaves=20,
)


@given(
    st.one_of(msgpack_values, st.dictionaries(st.sampled_from(list(ImageMetadata._READERS)), msgpack_values))
)
@settings(max_examples=300)
def test_any_value_is_metadata_or_a_decode_error(value: object) -> None:
    _decodes_or_refuses(value)


@pytest.mark.parametrize(
    "wire",
    [
        pytest.param([], id="not-a-map"),
        pytest.param({"scenario": 3}, id="scenario-not-a-string"),
        pytest.param({"scenario": "x" * 257}, id="scenario-too-long"),
        pytest.param({"exposure_s": 0.001}, id="unknown-key"),
        pytest.param({"bodies": {"earth": {"pixel_centre": [1.0, 2.0]}}}, id="a-guessed-spelling"),
        pytest.param({"bodies": {"earth": {"centre_px": [math.nan, 2.0]}}}, id="nan-centre"),
        pytest.param({"bodies": {"earth": {"apparent_radius_px": -1.0}}}, id="negative-radius"),
        pytest.param({"bodies": {"earth": {"in_frame": 1}}}, id="int-for-bool"),
        pytest.param({"bodies": {"earth": {"range_km": True}}}, id="bool-for-number"),
        pytest.param({"bodies": {"earth": {"range_km": None}}}, id="nil-where-not-nullable"),
        pytest.param({"bodies": {str(i): {} for i in range(65)}}, id="too-many-bodies"),
        pytest.param({"stars": [{}] * (MAX_STARS + 1)}, id="too-many-stars"),
        pytest.param({"camera": {"fx_px": 1.0}}, id="camera-without-intrinsics"),
        pytest.param(
            {"camera": {"fx_px": 0.0, "fy_px": 1.0, "cx_px": 0, "cy_px": 0}}, id="zero-focal-length"
        ),
        pytest.param(
            {"camera": {"fx_px": 1, "fy_px": 1, "cx_px": 0, "cy_px": 0, "distortion": {"model": "fisheye"}}},
            id="unknown-distortion-model",
        ),
        pytest.param(
            {
                "camera": {
                    "fx_px": 1,
                    "fy_px": 1,
                    "cx_px": 0,
                    "cy_px": 0,
                    "cam_to_icrf_quaternion_wxyz": [2, 0, 0, 0],
                }
            },
            id="quaternion-not-unit",
        ),
        pytest.param({"epoch_utc": "yesterday"}, id="epoch-not-iso"),
        pytest.param({"onboard_pixels_sha256": "ab"}, id="short-sha256"),
        pytest.param({"sensor": {"bit_depth": 17}}, id="bit-depth-17"),
        pytest.param({"sensor": 3}, id="sensor-not-a-map"),
        pytest.param({"capture": {"bands": []}}, id="no-bands"),
        pytest.param({"effects": {"stars": "yes"}}, id="effect-not-a-flag"),
        pytest.param({"image_id": 2**32}, id="image-id-too-large"),
    ],
)
def test_hostile_maps_are_decode_errors_naming_the_layer(wire: object) -> None:
    with pytest.raises(DecodeError) as caught:
        ImageMetadata.from_map(wire)
    assert caught.value.layer == LAYER == "image-metadata"


def test_a_minimal_map_is_metadata_and_measures_nothing() -> None:
    decoded = ImageMetadata.from_map({"scenario": "unit"})
    assert decoded.scenario == "unit" and decoded.camera is None and decoded.body_truths() == {}
    assert decoded.to_map() == {"scenario": "unit"}


# -- the one Brown distortion model ------------------------------------------------------------


@given(distortions, st.lists(st.tuples(st.floats(-0.4, 0.4), st.floats(-0.4, 0.4)), min_size=1, max_size=20))
@settings(max_examples=200)
def test_undistort_inverts_distort(distortion: BrownDistortion, points: list[tuple[float, float]]) -> None:
    x, y = np.array(points).T
    xd, yd = distortion.distort(x, y)
    back_x, back_y = distortion.undistort(xd, yd)
    assert np.allclose(back_x, x, atol=1e-9) and np.allclose(back_y, y, atol=1e-9)


def _undistort_point_by_point(distortion: BrownDistortion, xd: float, yd: float) -> tuple[float, float]:
    """The fixed-point iteration of one point, until it gives its own bits again (the reference)."""
    d = distortion
    x, y = xd, yd
    for _ in range(image_metadata._UNDISTORT_ITERATIONS):
        r2 = x * x + y * y
        radial = 1.0 + r2 * (d.k1 + r2 * (d.k2 + r2 * d.k3))
        x_next = (xd - 2.0 * d.p1 * x * y - d.p2 * (r2 + 2.0 * x * x)) / radial
        y_next = (yd - d.p1 * (r2 + 2.0 * y * y) - 2.0 * d.p2 * x_next * y) / radial
        if np.array([x_next, y_next]).tobytes() == np.array([x, y]).tobytes():
            break
        x, y = x_next, y_next
    return x, y


def test_undistort_of_a_grid_is_each_points_own_iteration_bit_for_bit() -> None:
    """The whole-array iterations (before the moving points are gathered) change no bit."""
    distortion = BrownDistortion(k1=-0.12, k2=0.02, p1=0.0002, p2=-0.0001)
    grid = np.linspace(-0.6, 0.6, 41)
    xd, yd = (a.ravel() for a in np.meshgrid(grid, grid * 0.75))
    x, y = distortion.undistort(xd, yd)
    expected = np.array(
        [_undistort_point_by_point(distortion, float(a), float(b)) for a, b in zip(xd, yd, strict=True)]
    )
    assert x.tobytes() == expected[:, 0].tobytes() and y.tobytes() == expected[:, 1].tobytes()


def test_undistort_keeps_shape_and_a_zero_model_is_the_identity() -> None:
    distortion = BrownDistortion(k1=-0.08, k2=0.01)
    grid = np.linspace(-0.3, 0.3, 12).reshape(3, 4)
    x, y = distortion.undistort(grid, grid.T.copy().reshape(3, 4))
    assert x.shape == y.shape == (3, 4)
    assert BrownDistortion().undistort(grid, grid)[0] is grid


def test_lines_of_sight_and_pixels_are_inverse() -> None:
    camera = CameraCalibration(
        fx_px=2400.0,
        fy_px=2390.0,
        cx_px=639.5,
        cy_px=511.5,
        distortion=BrownDistortion(-0.06, 0.01, 0.0, 2e-4, -1e-4),
    )
    uv = np.array([[0.0, 0.0], [639.5, 511.5], [1279.0, 1023.0], [100.25, 900.75]])
    rays = camera.lines_of_sight(uv)
    assert np.allclose(np.linalg.norm(rays, axis=1), 1.0)
    assert np.allclose([camera.pixel_of(r) for r in rays], uv, atol=1e-7)


def test_probe_and_ground_use_the_same_calibration() -> None:
    """The probe's camera model distorts with protocols' BrownDistortion and writes its calibration
    as protocols' CameraCalibration; the ground navigates with the very class it reads back."""
    import emulator.camera
    import groundstation.horizon_navigation
    import groundstation.optical_navigation
    from emulator.geometry import compute_geometry
    from emulator.scenario import load_scenario

    scenario = load_scenario("longjiang2-2019-02-03")
    camera = scenario.camera
    assert type(camera.distortion) is BrownDistortion and emulator.camera.Distortion is BrownDistortion
    assert not camera.distortion.is_zero
    sent = camera.calibration(compute_geometry(scenario).cam_to_icrf)
    received = from_wire(packed(ImageMetadata(camera=sent).to_map())).camera
    assert received == sent and received.distortion == camera.distortion
    assert groundstation.horizon_navigation.CameraCalibration is CameraCalibration
    assert groundstation.optical_navigation.CameraCalibration is CameraCalibration
    uv = np.array([[10.0, 20.0], [320.0, 240.0], [630.5, 470.25]])
    assert np.array_equal(received.lines_of_sight(uv), sent.lines_of_sight(uv))
    assert np.allclose(received.lines_of_sight(uv), camera.rays(uv[:, 0], uv[:, 1]), atol=1e-12)
    assert np.allclose(camera.project(received.lines_of_sight(uv)), uv, atol=1e-7)


def test_the_band_of_a_capture() -> None:
    capture = CaptureInfo("c-001", 1, ("red", "green", "blue"))
    assert ImageMetadata(capture=capture, sensor=SensorTruth(band="green")).band_of_capture == "green"
    assert ImageMetadata(capture=capture).band_of_capture == "green"  # from the list when no sensor band
    assert ImageMetadata(capture=CaptureInfo("c", 0, ("pan",))).band_of_capture is None  # one band
    assert ImageMetadata(sensor=SensorTruth(band="pan")).band_of_capture is None
    assert ImageMetadata(capture=CaptureInfo("c", None, ("red", "blue"))).band_of_capture is None
