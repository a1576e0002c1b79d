"""`--mdb DIR`: a mission's own database runs the whole pass, probe and ground alike."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from groundstation.recording_reader import RecordingReader
from protocols.mdb.mission_db import DEFAULT_DIRECTORY
from tests.integration.conftest import run_pass


@pytest.mark.slow
def test_a_pass_with_our_own_database(tmp_path: Path) -> None:
    """Another spacecraft id (the frames carry it) and a tighter limit (the ground raises its alarm)."""
    mine = tmp_path / "mission"
    shutil.copytree(DEFAULT_DIRECTORY, mine)
    mission = mine / "mission.toml"
    mission.write_text(mission.read_text().replace("spacecraft_id = 437", "spacecraft_id = 300", 1))
    housekeeping = mine / "housekeeping.toml"
    text = housekeeping.read_text()
    tightened = text.replace("yellow_high = 45.0, red_low = -20.0", "yellow_high = 15.0, red_low = -20.0", 1)
    assert tightened != text  # ELECTRONICS_TEMP, which reads 20 degC in cruise
    housekeeping.write_text(tightened)
    recording = tmp_path / "pass.pbrec"
    _, summary = run_pass(tmp_path / "out", "--mdb", str(mine), "--record", str(recording))
    assert summary["images"] and all(image["crc_ok"] for image in summary["images"])
    with RecordingReader(recording) as reader:
        assert reader.header.config["channel_config"]["spacecraft_id"] == 300
    assert summary["telemetry"]["limit_levels"]["ELECTRONICS_TEMP"] == 1  # yellow by our limits
    assert summary["telemetry"]["alarms"] >= 1
