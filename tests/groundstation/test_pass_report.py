"""The one reporter: every view of a pass rendered from the typed PassSummary."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

from emulator.flight_software import FlightSoftware
from groundstation.pass_report import PassReport, render_report
from groundstation.station import GroundStation

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden"


def _golden(name: str) -> tuple[dict, dict]:
    recorded = json.loads((GOLDEN / name).read_text())
    return {"elapsed_s": 12.5, **recorded["summary"]}, recorded


def test_report_md_has_a_row_for_each_image_and_a_line_for_each_apid() -> None:
    summary, _ = _golden("run-tianwen1-seed7.json")
    report = render_report(summary).splitlines()
    assert report[0] == "# paleblue ground station report"
    assert sum(re.match(r"\| \d+ \|", line) is not None for line in report) == len(summary["images"])
    assert all(f"- {k}: {v} packets" in report for k, v in summary["packets_by_apid"].items())


def test_report_md_gives_values_their_units() -> None:
    summary, _ = _golden("run-tianwen1-seed7.json")
    report = render_report(summary).splitlines()
    assert "- BUS_VOLTAGE: 28.25 V" in report
    assert "- SOLAR_ARRAY_CURRENT: 3.2 A" in report
    assert "- EARTH_DISTANCE: 1,200,000.0 km" in report
    assert "- ELECTRONICS_TEMP: 20 degC" in report
    assert "- RATE_X: 0 deg/s" in report
    assert "- MODE: CRUISE" in report  # an enumeration has no unit
    assert any(line.startswith("| 1 | 1024x1024 px, 10-bit (1,310,720 octets) |") for line in report)
    assert any(line.startswith("Received ") and "(2,547,768 octets)" in line for line in report)


def test_report_md_takes_the_units_of_the_pass_mission_database() -> None:
    summary, _ = _golden("run-tianwen1-seed7.json")
    report = render_report(summary, {"BUS_VOLTAGE": "mV"}).splitlines()
    assert "- BUS_VOLTAGE: 28.25 mV" in report and "- SOLAR_ARRAY_CURRENT: 3.2" in report


def test_a_cfdp_image_shows_its_delivery_rate() -> None:
    summary, _ = _golden("run-tianwen1-seed7.json")
    image = summary["images"][0]
    image["delivery"] = {"method": "CFDP", "duration_s": 2.0, "goodput_bps": 655_360.0, "nak_rounds": 0}
    report = render_report(summary)
    assert "| CFDP, 2.0 s, goodput 655.4 kbit/s |" in report


def test_ground_brief_is_transport_packets_faults_and_the_physical_link() -> None:
    summary, _ = _golden("run-tianwen1-seed7.json")
    brief = json.loads(PassReport(summary).ground_brief())
    assert list(brief) == ["transport", "packets_by_apid", "faults", "link"]
    assert brief["link"] == summary["link"]["cadu"]["physical"]
    assert brief["transport"] == summary["transport"] and brief["faults"] == summary["faults"]


def test_run_lines_name_every_image_and_where_the_products_are(tmp_path: Path) -> None:
    summary, _ = _golden("run-tianwen1-seed7.json")
    lines = PassReport(summary).run_lines(tmp_path, 3.25).splitlines()
    assert lines[0] == f"run: finished in 3.2 s; products in {tmp_path.resolve()}"
    images = [line for line in lines if line.startswith("  image ")]
    assert len(images) == len(summary["images"]) and all("complete, CRC ok" in line for line in images)
    (transport,) = [line.removeprefix("  transport: ") for line in lines if line.startswith("  transport: ")]
    assert ast.literal_eval(transport) == summary["transport"]
    assert lines[-1] == f"  faults: {summary['faults'] or 'none'}"


def test_decode_table_lists_each_apid_and_image() -> None:
    summary, _ = _golden("decode-longjiang2.json")
    table = PassReport(summary).decode_table().splitlines()
    assert table[0].startswith("input: ") and summary["input"]["format"] in table[0]
    for name, count in summary["packets_by_apid"].items():
        assert any(line.split()[:2] == [name, str(count)] for line in table)
    assert sum(line.startswith("image ") for line in table) == len(summary["images"])


def test_a_live_pass_with_most_bytes_skipped_says_check_the_channel(tmp_path: Path) -> None:
    summary, _ = _golden("run-tianwen1-seed7.json")
    summary["link"]["cadu"]["physical"]["bytes_skipped"] = summary["octets_received"] - 10
    hint = "check --channel (the probe's and the ground's channels must match)"
    assert hint in PassReport(summary).channel_hint()
    assert f"{hint}.**" in render_report(summary)
    assert PassReport(summary).run_lines(tmp_path, 1.0).splitlines()[-1].startswith("  hint: most bytes")


def test_report_md_points_to_events_log_only_when_there_is_one() -> None:
    summary, _ = _golden("run-tianwen1-seed7.json")
    assert "events.log" not in render_report(summary)
    assert "alarm transitions (see events.log)." in render_report(summary, events_log=True)


def test_a_pass_without_events_writes_no_events_log_and_its_report_does_not_mention_one(
    tmp_path: Path,
) -> None:
    station = GroundStation(tmp_path, write_products=False)
    station.handle_packet_stream(b"".join(FlightSoftware(station.mdb).tick(2.1e9)))
    station.finish()
    report = (tmp_path / "report.md").read_text()
    assert "housekeeping reports" in report  # the section that used to say "see events.log"
    assert not (tmp_path / "events.log").exists() and "events.log" not in report
    station.events.write_line("2026-01-01T00:00:00.000+00:00 EVENT INFO TEST")
    station.finish()
    assert "(see events.log)." in (tmp_path / "report.md").read_text()


def test_an_open_file_transfer_is_listed_with_what_is_missing_or_why_there_is_no_image() -> None:
    summary, _ = _golden("run-tianwen1-seed7.json")
    assert "still open" not in render_report(summary)  # a pass that ended whole lists none
    summary["cfdp"]["open"] = [
        {"transaction": [1, 4], "state": "receiving", "file_octets": 1000, "octets_received": 430,
         "percent_received": 43.0, "missing_octets": 570, "missing_ranges": [[100, 200], [530, 1000]],
         "missing_range_count": 40, "partial_image": "x-004-partial.png"},
        {"transaction": [1, 5], "state": "receiving", "file_octets": None, "octets_received": 64,
         "percent_received": None, "missing_octets": None, "missing_ranges": [],
         "missing_range_count": 0, "partial_image": None,
         "no_partial_image": "the image file's header has not arrived"},
    ]  # fmt: skip
    report = render_report(summary).splitlines()
    at = report.index("## File transfers still open at the end of the pass (CFDP)")
    assert report[at + 2] == (
        "- transaction 1/4 receiving: 430 of 1,000 octets (43.0 %); missing octets 100-199, 530-999 "
        "and 38 more range(s); partial image x-004-partial.png (missing data hatched)"
    )
    assert report[at + 3] == (
        "- transaction 1/5 receiving: 64 octets (size unknown); "
        "no partial image: the image file's header has not arrived"
    )
    assert (
        PassReport(summary).run_lines(Path("out"), 1.0, interrupted=True).startswith("run: interrupted after")
    )
