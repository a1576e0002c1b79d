"""The one reporter: every view of a pass rendered from the typed PassSummary."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

from groundstation.pass_report import PassReport, render_report

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden"


def _golden(name: str) -> tuple[dict, dict]:
    recorded = json.loads((GOLDEN / name).read_text())
    return {"elapsed_s": 12.5, **recorded["summary"]}, recorded


def test_report_md_has_a_row_for_each_image_and_a_line_for_each_apid() -> None:
    summary, _ = _golden("run-tianwen1-seed7.json")
    report = render_report(summary).splitlines()
    assert report[0] == "# paleblue ground station report"
    assert sum(re.match(r"\| \d+ \|", line) is not None for line in report) == len(summary["images"])
    assert all(f"- {k}: {v}" in report for k, v in summary["packets_by_apid"].items())


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
