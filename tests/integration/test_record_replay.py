"""Recordings of live passes: deterministic, replayable into a station, decodable offline."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from groundstation.decode import decode_file
from groundstation.recording_reader import read_recording
from tests.integration.conftest import PALEBLUE, SCENARIO, Processes, free_endpoint, run_pass

pytestmark = pytest.mark.slow


def _seeded_run(out: Path, recording: Path) -> dict:
    _, summary = run_pass(out, "--seed", "4", "--record", str(recording), "--timeout", "90")
    return summary


@pytest.fixture(scope="module")
def live_pass(tmp_path_factory) -> tuple[Path, dict]:
    base = tmp_path_factory.mktemp("live")
    recording = base / "pass.pbrec"
    return recording, _seeded_run(base / "out", recording)


def _comparable(summary: dict) -> tuple:
    return (
        [(p["image_id"], p["sha256"], p["complete"]) for p in summary["images"]],
        summary["packets_by_apid"],
    )


def test_seeded_runs_record_identical_bytes(live_pass, tmp_path: Path) -> None:
    recording, _ = live_pass
    again = tmp_path / "again.pbrec"
    _seeded_run(tmp_path / "out", again)
    header_a, units_a, skipped_a = read_recording(recording)
    header_b, units_b, skipped_b = read_recording(again)
    assert skipped_a == skipped_b == []
    assert header_a.scenario == header_b.scenario == SCENARIO
    strip = [(u.direction, u.layer, u.session, u.sequence, u.payload) for u in units_a]
    assert strip == [(u.direction, u.layer, u.session, u.sequence, u.payload) for u in units_b]


def test_replay_gives_the_products_of_the_live_pass(live_pass, tmp_path: Path, processes: Processes) -> None:
    recording, live_summary = live_pass
    endpoint = free_endpoint()
    out = tmp_path / "replayed"
    ground = processes.start(
        "ground", "--downlink", endpoint, "-o", str(out), "--expect-images", "1", "--timeout", "60",
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    replay = subprocess.run(
        [*PALEBLUE, "replay", str(recording), "--to", endpoint, "--speed", "max"],
        capture_output=True, text=True, timeout=90,
    )  # fmt: skip
    assert replay.returncode == 0, replay.stderr
    assert ground.wait(60) == 0
    replayed = json.loads((out / "summary.json").read_text())
    assert _comparable(replayed) == _comparable(live_summary)
    assert replayed["transport"]["messages_lost"] == 0  # a replay is not a lossy pass


def test_offline_decode_of_the_recording_matches_live(live_pass, tmp_path: Path) -> None:
    recording, live_summary = live_pass
    summary = decode_file(recording, tmp_path / "decoded", "auto")
    assert summary["input"]["format"] == "recording"
    assert _comparable(summary) == _comparable(live_summary)


def test_passive_tap_records_without_disturbing(tmp_path: Path, processes: Processes) -> None:
    downlink, uplink = free_endpoint(), free_endpoint()
    tap_file = tmp_path / "tap.pbrec"
    tap = processes.start(
        "record", "--downlink", downlink, "-o", str(tap_file), stdout=subprocess.PIPE, text=True
    )
    ground = processes.start(
        "ground", "--downlink", downlink, "-o", str(tmp_path / "out"), "--expect-images", "1",
        "--timeout", "90",
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    processes.start(
        "probe", SCENARIO, "--downlink", downlink, "--uplink", uplink, "--seed", "2", "--subscribers", "2"
    )  # the tap and the station both hear the pass from its first message
    assert ground.wait(120) == 0
    processes.stop_all()
    assert tap.returncode == 0
    live = json.loads((tmp_path / "out" / "summary.json").read_text())
    decoded = decode_file(tap_file, tmp_path / "decoded", "recording")
    assert [p["sha256"] for p in decoded["images"]] == [p["sha256"] for p in live["images"]]


@pytest.mark.parametrize("chunk_size", [1_000, 7_777, 1 << 20])
def test_any_chunking_of_the_recording_gives_the_same_products(live_pass, tmp_path: Path, chunk_size: int):
    recording, live_summary = live_pass
    summary = decode_file(recording, tmp_path / "decoded", "recording", chunk_size=chunk_size)
    assert _comparable(summary) == _comparable(live_summary)


def test_a_corrupted_record_in_the_middle_is_reported_and_the_rest_decoded(live_pass, tmp_path: Path) -> None:
    recording, live_summary = live_pass
    data = bytearray(recording.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)  # smash one record's bytes
    damaged = tmp_path / "damaged.pbrec"
    damaged.write_bytes(bytes(data))
    summary = decode_file(damaged, tmp_path / "decoded", "recording")
    assert summary["faults"]["recording bytes skipped"] == 1
    lost = live_summary["packets_by_apid"]["CAMERA"] - summary["packets_by_apid"]["CAMERA"]
    assert 0 < lost <= 8 * 5  # at most one message's CADUs' worth of packets
    (image,) = summary["images"]
    assert not image["complete"] and image["missing_octets"] <= 40 * 1000
