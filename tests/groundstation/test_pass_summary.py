"""The pass summary as a typed value: summary.json read back is the same value, key for key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from groundstation.pass_summary import PassSummary
from groundstation.station import GroundStation

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden"


def _golden(name: str) -> dict:
    return {"elapsed_s": 12.5, **json.loads((GOLDEN / name).read_text())["summary"]}


@pytest.mark.parametrize("name", ["run-tianwen1-seed7.json", "decode-longjiang2.json"])
def test_summary_round_trips_through_the_typed_value(name: str) -> None:
    summary = _golden(name)
    typed = PassSummary.from_dict(summary)
    assert typed.as_dict() == summary


def test_a_station_summary_keeps_its_key_order_through_the_typed_value(tmp_path: Path) -> None:
    summary = GroundStation(tmp_path).summary()
    assert list(PassSummary.from_dict(summary).as_dict()) == list(summary)
