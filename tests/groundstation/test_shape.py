"""The ground chain keeps its shape: a router of at most 350 lines, no function over 80 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

GROUNDSTATION = Path(__file__).resolve().parents[2] / "groundstation"
# message → layer → packet → APID → handler, and what the handlers hand on to
CHAIN = (
    "receiver", "station", "message_batch", "link_receiver", "image_packets", "bulk_segments",
    "file_reception", "telemetry", "packet_book", "products", "event_log", "pass_summary",
    "pass_report", "decode",
)  # fmt: skip
MAX_STATION_LINES = 350
MAX_FUNCTION_LINES = 80


def test_station_is_a_router_of_at_most_350_lines() -> None:
    lines = len((GROUNDSTATION / "station.py").read_text().splitlines())
    assert lines <= MAX_STATION_LINES, f"station.py has {lines} lines"


@pytest.mark.parametrize("module", CHAIN)
def test_no_function_of_the_ground_chain_is_over_80_lines(module: str) -> None:
    tree = ast.parse((GROUNDSTATION / f"{module}.py").read_text())
    long = [
        f"{module}.py:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long, long
