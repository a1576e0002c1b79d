"""The archive and the API around live passes: what the station decommutated is what the archive
gives back after the pass, a kill -9 leaves an archive that opens and continues, and a recorded
pass decoded offline fills an archive too."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from groundstation.archive import Archive, ArchiveError
from groundstation.telemetry import TelemetryProcessor
from protocols.mdb.mission_db import load_mission_db
from tests.integration.conftest import PALEBLUE, Processes, free_endpoint, run_pass

pytestmark = pytest.mark.slow


def _decommutated(packets: bytes) -> dict[str, list[tuple[float, object]]]:
    """Housekeeping decoded independently of the station: the exported packets, one by one."""
    processor = TelemetryProcessor(load_mission_db())
    processor.process_stream(packets)
    return {name: processor.archive.query(name) for name in processor.archive.parameters}


@pytest.fixture(scope="module")
def archived_pass(tmp_path_factory) -> tuple[Path, Path, dict]:
    base = tmp_path_factory.mktemp("archived")
    _, summary = run_pass(
        base / "out", "--api", "0", "--archive", str(base / "pass.db"), "--record", str(base / "rec.pbrec")
    )  # the API on too: the archive of a pass served live holds what the station decommutated
    return base, base / "pass.db", summary


def test_the_archive_gives_back_every_sample_the_station_decommutated(archived_pass, tmp_path: Path) -> None:
    base, db, summary = archived_pass
    exported = tmp_path / "packets.bin"
    decoded = subprocess.run(
        [*PALEBLUE, "decode", str(base / "rec.pbrec"), "-o", str(tmp_path / "d"), "--no-products",
         "--export-packets", str(exported)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert decoded.returncode == 0, decoded.stderr
    expected = _decommutated(exported.read_bytes())
    assert expected and summary["telemetry"]["counters"]["housekeeping"] >= 1
    with Archive(db) as archive:
        for name, samples in expected.items():
            kept = archive.query(name)
            assert list(zip(kept.gen.tolist(), kept.value.tolist(), strict=True)) == samples, name
        images = archive.images()
    assert [i["info"]["sha256"] for i in images] == [p["sha256"] for p in summary["images"]]
    query = subprocess.run(
        [*PALEBLUE, "archive", "query", str(db), "DETECTOR_TEMP", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    values = [json.loads(line)["value"] for line in query.stdout.splitlines()]
    assert values == [v for _, v in expected["DETECTOR_TEMP"]]


def test_a_recording_decoded_offline_fills_an_archive(archived_pass, tmp_path: Path) -> None:
    base, db, _ = archived_pass
    offline = tmp_path / "offline.db"
    decoded = subprocess.run(
        [*PALEBLUE, "decode", str(base / "rec.pbrec"), "-o", str(tmp_path / "d"), "--archive", str(offline)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert decoded.returncode == 0, decoded.stderr
    with Archive(db) as live, Archive(offline) as after:
        assert after.query("DETECTOR_TEMP").value.tolist() == live.query("DETECTOR_TEMP").value.tolist()
        assert len(after.images()) == len(live.images()) == 1


def test_kill_9_of_the_ground_leaves_an_archive_that_opens_and_continues(
    archived_pass, tmp_path: Path, processes: Processes
) -> None:
    base, _, _ = archived_pass
    db = tmp_path / "killed.db"
    first = free_endpoint()
    ground = processes.start("ground", "--downlink", first, "-o", str(tmp_path / "a"), "--archive", str(db),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    replay = processes.start("replay", str(base / "rec.pbrec"), "--to", first, "--speed", "1", "--loop",
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 90
    samples = 0
    while samples < 300 and time.monotonic() < deadline:  # the station has flushed some seconds
        time.sleep(0.5)
        try:
            with Archive(db) as archive:
                samples = sum(p.samples for p in archive.parameters())
        except ArchiveError:  # not there yet, or still empty: the station is starting
            continue
    assert samples >= 300
    os.kill(ground.pid, signal.SIGKILL)
    ground.wait(10)
    replay.terminate()
    assert sqlite3.connect(db).execute("PRAGMA integrity_check").fetchone() == ("ok",)
    with Archive(db) as archive:
        before = sum(p.samples for p in archive.parameters())
    assert before >= samples
    second = free_endpoint()
    again = processes.start("ground", "--downlink", second, "-o", str(tmp_path / "b"), "--archive", str(db),
                            "--expect-images", "1", "--timeout", "60", stdout=subprocess.DEVNULL)  # fmt: skip
    subprocess.run([*PALEBLUE, "replay", str(base / "rec.pbrec"), "--to", second, "--speed", "max"],
                   capture_output=True, timeout=90, check=True)  # fmt: skip
    assert again.wait(60) == 0
    with Archive(db) as archive:
        assert sum(p.samples for p in archive.parameters()) > before
        assert len(archive.images()) >= 1


def test_the_api_serves_a_live_pass_and_then_its_archive(tmp_path: Path, processes: Processes) -> None:
    db = tmp_path / "pass.db"
    options = ["-o", str(tmp_path / "out"), "--archive", str(db), "--api", "0", "--api-token", "tok"]
    run = processes.start("run", *options, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, err = run.communicate(timeout=200)
    assert run.returncode == 0, err[-2000:]
    assert "API on http://127.0.0.1:" in err and "operator token: tok" in err
    serve = processes.start("serve", str(db), "--api", "127.0.0.1:0", stderr=subprocess.PIPE, text=True)
    line = serve.stderr.readline()
    url = line.split(" on ")[1].split(" ")[0]
    dictionary = httpx.get(f"{url}/api/dictionary", timeout=10).json()
    assert any(p.startswith("station.") for p in dictionary["station_parameters"])
    history = httpx.get(f"{url}/api/parameters/DETECTOR_TEMP/history", timeout=10).json()
    assert history["samples"]
    images = httpx.get(f"{url}/api/images", timeout=10).json()
    assert images and httpx.get(f"{url}/api/images/{images[0]['name']}.png", timeout=10).status_code == 200
    refused = httpx.post(f"{url}/api/commands", json={"name": "PING"}, timeout=10)
    assert refused.status_code == 401
    serve.send_signal(signal.SIGINT)
    assert serve.wait(20) == 0
