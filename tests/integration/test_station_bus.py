"""`paleblue ground --station-id ID --bus URL`: a live station publishes its frames to JetStream."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from protocols.bus.frame_report import FrameReport
from tests.integration.conftest import PALEBLUE, SCENARIO, Processes, free_endpoint
from transport.nats_bus import FrameConsumer
from transport.nats_server import free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def test_a_station_publishes_every_frame_and_still_works_as_before(
    tmp_path: Path, processes: Processes, nats_server
) -> None:
    endpoint, out = free_endpoint(), tmp_path / "out"
    ground = processes.start(
        "ground", "--downlink", endpoint, "-o", str(out), "--expect-images", "1", "--timeout", "120",
        "--station-id", "gds", "--bus", nats_server.url, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(1.0)
    processes.start("probe", SCENARIO, "--downlink", endpoint, "--uplink", free_endpoint(), "--seed", "1")
    assert ground.wait(150) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["images"][0]["crc_ok"]
    bus = json.loads((out / "bus.json").read_text())
    assert bus["station_id"] == "gds" and bus["failed"] == 0 and bus["queue_full"] == 0
    assert bus["frames_reported"] == bus["stored"] > 0
    cadu = summary["link"]["cadu"]
    data_frames = sum(vc["frames"] + vc["frames_duplicated"] for vc in cadu["virtual"].values())
    assert (
        bus["frames_reported"]
        == data_frames
        == cadu["physical"]["frames_good"] - cadu["physical"]["idle_frames"]
    )
    reports = []
    with FrameConsumer(nats_server.url) as consumer:
        deadline = time.monotonic() + 30
        while len(reports) < bus["stored"] and time.monotonic() < deadline:
            reports += [FrameReport.unpack(m.data) for m in consumer.fetch(4096, 0.2)]
    assert len(reports) == bus["stored"]
    assert {r.station_id for r in reports} == {"gds"}
    assert len({r.message_id for r in reports}) == len(reports)


@pytest.mark.parametrize(
    ("options", "said"),
    [
        (["--bus", "nats://127.0.0.1:1"], "--bus needs --station-id"),
        (["--station-id", "a.b", "--bus", "nats://127.0.0.1:1"], "is not 1-32 of"),
        (["--station-id", "gds", "--bus", "nats://127.0.0.1:{port}"], "cannot connect to the bus"),
    ],
)
def test_bus_usage_mistakes_are_one_line(tmp_path: Path, options: list[str], said: str) -> None:
    options = [o.format(port=free_port()) for o in options]
    result = subprocess.run(
        [*PALEBLUE, "ground", "-o", str(tmp_path), "--timeout", "5", *options],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert said in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_merge_command_writes_the_merged_pass_and_its_table(
    tmp_path: Path, processes: Processes, nats_server
):
    """A live station on the bus, and `paleblue merge` making the pass again from the bus alone."""
    endpoint, station_out, merged_out = free_endpoint(), tmp_path / "gds", tmp_path / "merged"
    ground = processes.start(
        "ground", "--downlink", endpoint, "-o", str(station_out), "--expect-images", "1", "--timeout", "120",
        "--station-id", "gds", "--bus", nats_server.url, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(1.0)
    processes.start("probe", SCENARIO, "--downlink", endpoint, "--uplink", free_endpoint(), "--seed", "1")
    assert ground.wait(150) == 0
    result = subprocess.run(
        [*PALEBLUE, "merge", "--bus", nats_server.url, "-o", str(merged_out), "--expect-images", "1",
         "--timeout", "60", "--stations", "gds", "--archive", str(tmp_path / "merged.db")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads((merged_out / "merge.json").read_text())
    bus = json.loads((station_out / "bus.json").read_text())
    assert figures["stations"]["gds"]["reports"] == bus["stored"]
    summary = json.loads((merged_out / "summary.json").read_text())
    station = json.loads((station_out / "summary.json").read_text())
    assert summary["images"][0]["sha256"] == station["images"][0]["sha256"]  # the same image, from the bus
    assert "gds" in result.stdout and "merged" in result.stdout
    # the merged pass is archived like any other
    listing = subprocess.run(
        [*PALEBLUE, "archive", "ls", str(tmp_path / "merged.db")], capture_output=True, text=True, timeout=60
    )
    assert listing.returncode == 0, listing.stderr
    assert "1 images" in listing.stdout, listing.stdout
