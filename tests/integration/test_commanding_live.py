"""Telecommands to a live probe process, verification and images back through a live ground station."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from groundstation.command_link import open_command_client
from groundstation.commanding import CommandState
from protocols.link.channel_file import preset
from protocols.mdb.mission_db import load_mission_db
from protocols.pus.pus_services import FailureCode, pack_function, pack_tc
from tests.integration.conftest import PALEBLUE, Processes, free_endpoint

pytestmark = pytest.mark.slow

SCENARIO = "tianwen1-2020-07-27"


@pytest.fixture
def live(tmp_path: Path, processes: Processes):
    """A probe and a ground station expecting two images: the scenario's and one we command."""
    downlink, uplink = free_endpoint(), free_endpoint()
    out = tmp_path / "out"
    ground = processes.start(
        "ground", "--downlink", downlink, "-o", str(out), "--expect-images", "2", "--timeout", "120",
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    processes.start("probe", SCENARIO, "--downlink", downlink, "--uplink", uplink, "--seed", "9")
    return downlink, uplink, out, ground


def test_take_image_is_accepted_completed_announced_and_delivered(live) -> None:
    downlink, uplink, out, ground = live
    with open_command_client(uplink, downlink, preset(), connect_timeout_s=60) as client:
        record = client.send_and_assert_command(
            "TAKE_IMAGE", {"TARGET": "EARTH", "EXPOSURE_US": 0, "COUNT": 1}, timeout=60
        )
        states = [state for state, _ in record.transitions]
        assert states == [CommandState.SENT, CommandState.ACCEPTED, CommandState.COMPLETED]
        # the event is reported with the completion, so it is already in the client's event log
        (event,) = [e for e in client.telemetry.events("IMAGE_CAPTURED") if e.values["IMAGE_ID"] == 2]
        assert event.values["TARGET"] == "EARTH"
        assert client.await_telemetry("CMD_ACCEPTED", lambda n: n >= 1, timeout=30) >= 1
    assert ground.wait(90) == 0  # the ground station has both images
    summary = json.loads((out / "summary.json").read_text())
    assert sorted(p["image_id"] for p in summary["images"]) == [1, 2]
    assert all(p["crc_ok"] for p in summary["images"])
    log = (out / "events.log").read_text()
    assert "IMAGE_CAPTURED" in log and "VERIFY completion ok" in log


def test_bad_argument_is_refused_on_the_ground_and_on_board(live) -> None:
    downlink, uplink, _, _ = live
    result = subprocess.run(
        [*PALEBLUE, "cmd", "TAKE_IMAGE", "TARGET=EARTH", "EXPOSURE_US=0", "COUNT=200",
         "--uplink", uplink, "--downlink", downlink, "--wait"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert "COUNT" in result.stderr and "Traceback" not in result.stderr

    mdb = load_mission_db()
    take = mdb.command_by_name["TAKE_IMAGE"]
    bad = pack_tc(
        mdb.apids["telecommand"],
        500,
        8,
        1,
        pack_function(take.function_id, take.layout.pack_raw([0, 0, 200])),
    )
    with open_command_client(uplink, downlink, preset(), mdb, connect_timeout_s=60) as client:
        record = client.wait_for(client.send_raw(bad), timeout=60)
        assert record.state is CommandState.REJECTED
        assert record.failure_code == FailureCode.BAD_ARGUMENT
        if not client.telemetry.events("COMMAND_REJECTED"):  # usually already in with the rejection
            client.await_event("COMMAND_REJECTED", timeout=30)
        assert client.await_telemetry("CMD_REJECTED", lambda n: n >= 1, timeout=30) >= 1


def test_cmd_ping_waits_for_completion(live) -> None:
    downlink, uplink, _, _ = live
    result = subprocess.run(
        [*PALEBLUE, "cmd", "PING", "--uplink", uplink, "--downlink", downlink, "--wait", "--timeout", "60"],
        capture_output=True, text=True, timeout=90,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "accepted -> completed" in result.stdout
