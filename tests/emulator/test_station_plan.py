"""Stations files: each station's link read and checked, every mistake one StationPlanError."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emulator.link_simulator import SPEED_OF_LIGHT_KM_S, GilbertElliott, Pass
from emulator.station_plan import (
    MAX_STATIONS,
    StationPlan,
    StationPlanError,
    load_station_plan,
    parse_station_plan,
)
from tests.integration.conftest import PALEBLUE, SCENARIO

GOOD = """
[[station]]
id = "goldstone"
loss = 0.1
ber = 1e-5
passes = [[4.0, 9.5], [0, 2]]

[[station]]
light_time_s = 0.25
[station.burst]
p_good_to_bad = 0.01
p_bad_to_good = 0.2
bad_ber = 1e-3
bad_loss = 0.05
"""


def test_a_stations_file_gives_each_station_its_own_link(tmp_path: Path) -> None:
    path = tmp_path / "stations.toml"
    path.write_text(GOOD)
    plan = load_station_plan(path)
    assert plan.ids == ("goldstone", "s2")  # the second has no id: its place
    first, second = plan.links
    assert (first.loss_probability, first.bit_error_rate, first.burst) == (0.1, 1e-5, None)
    assert first.passes == (Pass(0.0, 2.0), Pass(4.0, 9.5))  # in time order
    assert not first.in_view(3.0) and first.in_view(9.0) and not first.in_view(9.5)
    assert second.passes == () and second.in_view(1e9)  # no passes: always in view
    assert (
        second.one_way_light_time_s == pytest.approx(0.25) and second.range_km == 0.25 * SPEED_OF_LIGHT_KM_S
    )
    assert second.burst == GilbertElliott(0.01, 0.2, 1e-3, 0.05)


def test_uniform_stations_are_alike_and_numbered() -> None:
    plan = StationPlan.uniform(3, 0.1, 1e-5)
    assert plan.ids == ("s1", "s2", "s3")
    assert all(link == plan.links[0] and link.loss_probability == 0.1 for link in plan.links)


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("", "no [[station]] table"),
        ("[[stations]]\nid = 'a'", "unknown table 'stations'"),
        ("station = 3", "no [[station]] table"),
        ("[[station]]\nlos = 0.1", "unknown key 'los'"),
        ("[[station]]\nid = 'a.b'", "is not 1-32 of"),
        ("[[station]]\nid = 'a'\n[[station]]\nid = 'a'", "given twice"),
        ("[[station]]\nloss = 1.5", "loss 1.5 is not in [0, 1]"),
        ("[[station]]\nloss = 'high'", "loss must be a number"),
        ("[[station]]\nber = true", "ber must be a number"),
        ("[[station]]\nber = nan", "ber must be a number"),
        ("[[station]]\nlight_time_s = -1", "light_time_s -1 is not in"),
        ("[[station]]\npasses = [[5, 1]]", "must have 0 <= start < end"),
        ("[[station]]\npasses = [[1, 2, 3]]", "a pass is [start, end]"),
        ("[[station]]\npasses = []", "passes must be a list"),
        ("[[station]]\npasses = 'always'", "passes must be a list"),
        ("[[station]]\nburst = 1", "burst must be a table"),
        ("[[station]]\n[station.burst]\np_good_to_bad = 0.1", "burst needs p_bad_to_good"),
        ("[[station]]\n[station.burst]\np_good_to_bad = 0.1\np_bad_to_good = 0", "a burst that never ends"),
        (
            "[[station]]\n[station.burst]\np_good_to_bad = 0.1\np_bad_to_good = 1\nbad = 1",
            "unknown key 'bad'",
        ),
        ("[[station]]\n" * (MAX_STATIONS + 1), f"at most {MAX_STATIONS}"),
        ("[[station]\n", "not TOML"),
    ],
)
def test_every_mistake_in_a_stations_file_is_named(tmp_path: Path, text: str, said: str) -> None:
    path = tmp_path / "stations.toml"
    path.write_text(text)
    with pytest.raises(StationPlanError, match=said.replace("[", r"\[").replace("]", r"\]")):
        load_station_plan(path)


_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
_keys = st.sampled_from(
    ["id", "loss", "ber", "light_time_s", "passes", "burst", "p_good_to_bad", "p_bad_to_good"]
)


@given(
    st.dictionaries(
        st.just("station") | st.text(max_size=6), st.lists(st.dictionaries(_keys, _values)) | _values
    )
)
def test_any_document_is_a_plan_or_a_station_plan_error(document: dict) -> None:
    try:
        plan = parse_station_plan(document)
    except StationPlanError:
        return
    assert len(plan.ids) == len(plan.links) >= 1


def test_run_refuses_a_bad_stations_file_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "stations.toml"
    path.write_text("[[station]]\nloss = 2\n")
    result = subprocess.run(
        [*PALEBLUE, "run", SCENARIO, "--stations-file", str(path), "-o", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "loss 2 is not in [0, 1]" in result.stderr
    assert not (tmp_path / "out" / "drops.json").exists()  # nothing started


@pytest.mark.parametrize("number", [10**400, -(10**400), float("inf")])
def test_numbers_too_large_for_a_float_are_refused(number) -> None:
    for station in ({"loss": number}, {"passes": [[0, number]]}):
        with pytest.raises(StationPlanError):
            parse_station_plan({"station": [station]})
