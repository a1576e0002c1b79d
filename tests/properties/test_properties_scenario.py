"""Any mutated scenario file either loads as a scenario within the stated limits or raises the
loader's one-line ScenarioError: never another exception, whatever the mutation."""

from __future__ import annotations

import math
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from emulator.detector import SensorConfig
from emulator.scenario import (
    MAX_PIXELS,
    NAME_PATTERN,
    Scenario,
    ScenarioError,
    load_scenario,
    scenario_names,
    seeds_directory,
)
from protocols.image.image_transport import MAX_IMAGE_OCTETS

SEEDS = {name: (seeds_directory() / f"{name}.toml").read_text() for name in scenario_names()}
_ASSIGNMENT = re.compile(r"^([A-Za-z_\"][^=\n]*?) = (.*)$", re.MULTILINE)

_numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(2**70), 2**70),
    st.sampled_from([0, -1, 1, 0.5, 1e300, -1e300, 2**63 - 1, 65535, 65536, 4096, 8192, 16, 17]),
)


def _toml_number(value: float) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    return str(value)


_datetimes = st.builds(
    lambda moment, minutes: (
        moment.replace(microsecond=0).isoformat()
        + (
            "Z"
            if minutes == 0
            else f"{'+' if minutes > 0 else '-'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
        )
    ),
    st.datetimes(),
    st.integers(-(24 * 60 - 1), 24 * 60 - 1),
)

_literals = st.one_of(
    _numbers.map(_toml_number),
    _datetimes,
    _datetimes.map(lambda text: f'"{text}"'),
    st.text(max_size=20).map(
        lambda t: '"' + t.encode("unicode_escape").decode("ascii").replace('"', '\\"') + '"'
    ),
    st.sampled_from(
        [
            "true",
            "[]",
            "{}",
            '"../x"',
            '"."',
            '"ultraviolet"',
            '{ kind = "airy", wavelength_nm = 100.0 }',
            '{ kind = "gaussian", sigma_px = 1e6 }',
            "[1, 2, 3]",
            "[[[[[1]]]]]",
            "{ a = { b = { c = 1 } } }",
            "1979-05-27T07:32:00Z",
            "0001-01-01T00:00:00+23:59",
            '"9999-12-31T23:59:59-23:59"',
            "2053-10-07T00:00:00",
            '"auto"',
        ]
    ),
    st.lists(_numbers.map(_toml_number), max_size=5).map(lambda xs: "[" + ", ".join(xs) + "]"),
)


@st.composite
def mutated_scenarios(draw: st.DrawFn) -> bytes:
    text = SEEDS[draw(st.sampled_from(sorted(SEEDS)))]
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["value", "value", "value", "delete-line", "duplicate-line", "bytes"]))
        if kind == "value":
            matches = list(_ASSIGNMENT.finditer(text))
            match = draw(st.sampled_from(matches))
            text = text[: match.start(2)] + draw(_literals) + text[match.end(2) :]
        elif kind in ("delete-line", "duplicate-line"):
            lines = text.splitlines(keepends=True)
            index = draw(st.integers(0, len(lines) - 1))
            lines[index : index + 1] = [] if kind == "delete-line" else [lines[index]] * 2
            text = "".join(lines)
        else:
            data = bytearray(text.encode())
            position = draw(st.integers(0, len(data) - 1))
            data[position] = draw(st.integers(0, 255))
            return bytes(data)
    return text.encode()


# each example loads a scenario (ephemeris and geometry included), about 15 ms: the 20,000 examples
# of `make fuzz` take about 5 minutes, past the suite's 300 s default
@pytest.mark.timeout(1200)
@given(mutated_scenarios())
def test_a_mutated_scenario_loads_within_the_limits_or_is_one_line(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "mutated.toml"
        path.write_bytes(data)
        try:
            scenario = load_scenario(path)
        except ScenarioError as exc:
            message = str(exc)
            event(f"refused: {exc.field.partition('.')[0] or 'file'}")
            assert message.startswith(f"{path}: ") and "\n" not in message and len(message) <= 300
            return
    event("loaded")
    assert isinstance(scenario, Scenario)
    assert NAME_PATTERN.fullmatch(scenario.name)
    sensor = SensorConfig.from_dict(scenario.sensor)  # what the renderer does first: it must agree
    pixels = scenario.camera.width * scenario.camera.height
    assert pixels <= MAX_PIXELS
    assert pixels * (1 if sensor.bit_depth <= 8 else 2) <= MAX_IMAGE_OCTETS
    assert math.isfinite(scenario.range_km)
