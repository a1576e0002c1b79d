"""`paleblue run --stations 3`: one probe, three stations with 10 % independent frame loss and BER
1e-5, a local nats-server started by the run, the merger; checked against the probe's drop log."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.integration.conftest import PALEBLUE, SCENARIO

pytestmark = [pytest.mark.slow, pytest.mark.timeout(280)]

IDLE_VCID = 7  # idle frames are not published: they carry nothing


@pytest.mark.parametrize(
    ("seed", "lost_by_all"),
    [(17, []), (4, [[1, 250]])],  # the frames every station lost, from StationLinks' seeded draws
    ids=["no-frame-lost-by-all", "one-frame-lost-by-all"],
)
def test_three_stations_merge_to_what_any_of_them_received(tmp_path: Path, seed: int, lost_by_all) -> None:
    out = tmp_path / "out"
    result = subprocess.run(
        [*PALEBLUE, "run", SCENARIO, "--stations", "3", "--seed", str(seed), "-o", str(out),
         "--timeout", "120"],
        capture_output=True, text=True, timeout=260,
    )  # fmt: skip
    assert (out / "drops.json").exists() and (out / "merge.json").exists(), result.stderr[-3000:]
    drops = json.loads((out / "drops.json").read_text())
    assert [entry[1:] for entry in drops["lost_by_all"]] == lost_by_all, result.stderr[-3000:]
    figures = json.loads((out / "merge.json").read_text())
    names = ["s1", "s2", "s3"]
    for name, lost in zip(names, drops["stations"], strict=True):
        data_lost = [e for e in lost if e[1] != IDLE_VCID]
        assert figures["missing_by_station"][name] == len(data_lost)  # the drop log, exactly
        bus = json.loads((out / "stations" / name / "bus.json").read_text())
        assert bus["stored"] == figures["stations"][name]["reports"] and bus["failed"] == 0
        assert bus["uplink"] == {"forwarded": 0, "not_sent": 0, "refused": 0}  # each can uplink (none asked)
        station = json.loads((out / "stations" / name / "summary.json").read_text())
        assert not any(i["complete"] for i in station["images"])  # no station alone has the image
    assert figures["uplink"]["requested"] == figures["uplink"]["failed"] == 0  # wired: --uplink-via auto
    merged = figures["merged"]
    assert merged["frames_missed"] == len(lost_by_all)  # lacks only what every station lost
    assert merged["window_exceeded"] == merged["late_duplicates"] == 0
    (image,) = json.loads((out / "summary.json").read_text())["images"]
    assert image["complete"] == image["crc_ok"] == (not lost_by_all)
    assert result.returncode == (0 if not lost_by_all else 1), result.stderr[-2000:]
    for name in [*names, "merged"]:
        assert name in result.stdout  # the per-station and merged table


HANDOVER = """
[[station]]
id = "goldstone"
ber = 1e-5
passes = [[0.0, 0.5]]

[[station]]
id = "canberra"
ber = 1e-5
light_time_s = 0.002
passes = [[0.4, 1.0]]

[[station]]
id = "madrid"
ber = 1e-5
passes = [[0.9, 100000.0]]
"""


def test_stations_in_turn_hand_the_pass_over_and_the_merge_has_it_all(tmp_path: Path) -> None:
    """Three stations from a stations file, each in view for its own window of the pass, the
    windows overlapping (handover): each lacks what fell outside its window (the drop log says
    which), no frame is lost by all, and only the merged pass has the image."""
    plan = tmp_path / "stations.toml"
    plan.write_text(HANDOVER)
    out = tmp_path / "out"
    result = subprocess.run(
        [*PALEBLUE, "run", SCENARIO, "--stations-file", str(plan), "--seed", "3", "-o", str(out),
         "--timeout", "120"],
        capture_output=True, text=True, timeout=260,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    drops = json.loads((out / "drops.json").read_text())
    assert drops["lost_by_all"] == []
    names = ["goldstone", "canberra", "madrid"]
    figures = json.loads((out / "merge.json").read_text())
    for name, lost, counters in zip(names, drops["stations"], drops["counters"], strict=True):
        assert counters["lost_outside_pass"] > 0 and counters["lost_random"] == 0  # out of view, only
        assert figures["missing_by_station"][name] == len([e for e in lost if e[1] != IDLE_VCID])
        station = json.loads((out / "stations" / name / "summary.json").read_text())
        assert not any(i["complete"] for i in station["images"])
        assert name in result.stdout
    assert figures["merged"]["frames_missed"] == 0
    (image,) = json.loads((out / "summary.json").read_text())["images"]
    assert image["complete"] and image["crc_ok"]
