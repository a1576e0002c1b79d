"""`paleblue ground`'s own work before the station starts: the recording header."""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
from pathlib import Path

from groundstation.recording_reader import RecordingReader
from paleblue.commands import ground
from protocols.link.channel_file import PRESETS, channel_to_dict


def test_ground_records_the_resolved_channel(tmp_path: Path) -> None:
    """`paleblue ground --record` writes the channel (with overrides) into the recording header."""
    args = argparse.Namespace(
        command="ground",
        channel="aos-uncoded",
        scid=0x2A,
        no_fecf=True,
        no_ocf=False,
        rs=None,
        no_randomizer=False,
        frame_length=1000,
        downlink="tcp://127.0.0.1:1",
        scenario="t",
        record_idle=False,
    )
    path = tmp_path / "rec.pbrec"
    with contextlib.ExitStack() as stack:
        ground.recording_hook(stack, path, args)
    with RecordingReader(path) as reader:
        stored = reader.header.config
    assert stored["channel"] == "aos-uncoded"
    expected = PRESETS["aos-uncoded"].with_changes(spacecraft_id=0x2A, fecf=False, frame_length=1000)
    assert stored["channel_config"] == channel_to_dict(expected)
    assert stored["idle_frames"] == "noted"  # a message of idle frames only: a count, not the frames


def test_record_idle_without_record_is_a_usage_error(tmp_path: Path) -> None:
    for command in (["ground", "-o", str(tmp_path)], ["run", "-o", str(tmp_path)]):
        result = subprocess.run(
            [sys.executable, "-m", "paleblue", *command, "--record-idle"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert result.returncode == 2
        expected = f"paleblue: {command[0]}: --record-idle needs --record FILE"
        assert result.stderr.strip().splitlines() == [expected]
