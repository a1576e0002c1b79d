"""Calibrations: every database parameter round-trips raw → engineering → raw; bad curves are refused."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.mdb.calibration import (
    CalibrationError,
    EnumerationCalibration,
    PolynomialCalibration,
    TableCalibration,
    polynomial,
    table,
)
from protocols.mdb.mission_db import FieldDef, load_mission_db

MDB = load_mission_db()
FIELDS: list[FieldDef] = (
    [f for _, f in MDB.parameters.values()]
    + [f for e in MDB.events for f in e.layout.values]
    + [f for c in MDB.commands for f in c.layout.values]
)
IDS = [f"{i}-{f.name}" for i, f in enumerate(FIELDS)]


def raw_values(f: FieldDef) -> st.SearchStrategy:
    if f.kind == "float":
        return st.floats(allow_nan=False, allow_infinity=False, width=f.bits)
    if f.kind == "enum":
        return st.sampled_from(sorted(f.calibration.values.values()))
    lo, hi = f.raw_range
    return st.integers(int(lo), int(hi))


@pytest.mark.parametrize("f", FIELDS, ids=IDS)
@given(data=st.data())
def test_every_parameter_round_trips_raw_engineering_raw(f: FieldDef, data) -> None:
    raw = data.draw(raw_values(f))
    engineering = f.to_engineering(raw)
    back = f.to_raw(engineering)
    if f.kind == "float" and isinstance(f.calibration, PolynomialCalibration):
        assert math.isclose(back, raw, rel_tol=1e-9, abs_tol=1e-9)
    else:
        assert back == raw  # integers: exact (calibrations are strictly monotonic, resolution > error)
    array = f.calibration.to_engineering_array(np.array([raw]))
    assert array[0] == engineering or math.isclose(float(array[0]), float(engineering), rel_tol=1e-12)


def test_quadratic_polynomial_inverts_by_bisection() -> None:
    cal = polynomial([-80.0, 0.04, 2e-6], 0, 4095)
    for raw in (0, 1, 1234, 4095):
        assert cal.to_raw(cal.to_engineering(raw)) == pytest.approx(raw, abs=1e-6)


def test_decreasing_table_interpolates_both_ways() -> None:
    cal = table([[0, 100.0], [10, 50.0], [20, 0.0]], 0, 20)
    assert cal.to_engineering(5) == 75.0
    assert cal.to_raw(25.0) == 15.0


@pytest.mark.parametrize(
    "make",
    [
        lambda: polynomial([0.0, 1.0, -0.01], 0, 255),  # turns over inside the raw range
        lambda: polynomial([5.0], 0, 255),  # constant
        lambda: table([[0, 0.0], [10, 5.0], [5, 6.0]], 0, 10),  # raw not increasing
        lambda: table([[0, 0.0], [10, 5.0], [20, 5.0]], 0, 20),  # flat segment
        lambda: table([[0, 0.0], [100, 5.0]], 0, 255),  # does not cover the raw range
        lambda: EnumerationCalibration({"A": 1, "B": 1}),
    ],
)
def test_uninvertible_calibrations_are_refused(make) -> None:
    with pytest.raises(CalibrationError):
        make()


def test_unknown_enumeration_value_decodes_as_unknown() -> None:
    cal = EnumerationCalibration({"SAFE": 0, "CRUISE": 1})
    assert cal.to_engineering(7) == "UNKNOWN_7"
    assert cal.to_raw("CRUISE") == 1


def test_table_calibration_is_a_table() -> None:
    f = MDB.parameter("SOLAR_ARRAY_CURRENT")
    assert isinstance(f.calibration, TableCalibration)
    assert f.to_engineering(2000) == pytest.approx(2.25)
