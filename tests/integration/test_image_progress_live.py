"""API contract during a live pass: the realtime WebSocket's image progress, for image packets and
for CFDP, arrives in order and ends at 100 % for a complete image."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from groundstation.api.messages import ImageProgress
from tests.integration.conftest import SCENARIO, Processes

pytestmark = pytest.mark.slow


def _api_url(log: Path, run: subprocess.Popen, timeout_s: float = 60) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for line in log.read_text(errors="replace").splitlines():
            if "API on " in line:
                return line.split("API on ")[1].split(" ")[0]
        assert run.poll() is None, log.read_text()[-2000:]
        time.sleep(0.05)
    raise AssertionError("the station never announced its API")


def _progress_of_a_live_pass(tmp_path: Path, processes: Processes, *options: str) -> list[dict]:
    log = tmp_path / "run.log"
    with open(log, "w") as err:
        run = processes.start("run", SCENARIO, "-o", str(tmp_path / "out"), "--api", "0", *options,
                              stdout=subprocess.DEVNULL, stderr=err)  # fmt: skip
    url = _api_url(log, run).replace("http", "ws") + "/api/realtime"
    updates: list[dict] = []
    with connect(url, open_timeout=10) as ws:
        ws.send(json.dumps({"subscribe": []}))
        deadline = time.monotonic() + 150
        try:
            while time.monotonic() < deadline and not any(u.get("done") for u in updates):
                updates += [u for u in json.loads(ws.recv(30)) if u["type"] == "image_progress"]
        except ConnectionClosed:  # the pass ended and the server stopped
            pass
    assert run.wait(120) == 0, log.read_text()[-2000:]
    return updates


def _assert_in_order_to_100(updates: list[dict], delivery: str) -> None:
    assert updates, "no image progress arrived"
    for update in updates:
        ImageProgress.model_validate(update)  # the declared message, field by field
    assert {u["delivery"] for u in updates} == {delivery}
    received = [u["segments_received"] for u in updates]
    percent = [u["percent"] for u in updates]
    assert received == sorted(received) and len(set(received)) == len(received), received
    assert percent == sorted(percent) and all(0 <= p <= 100 for p in percent), percent
    *before, last = updates
    assert not any(u["done"] for u in before) and all(p < 100 for p in percent[:-1])
    assert last["done"] and last["complete"] and last["percent"] == 100.0
    assert last["image_id"] == 1


def test_image_packet_progress_in_order_to_100(tmp_path: Path, processes: Processes) -> None:
    updates = _progress_of_a_live_pass(tmp_path, processes)
    _assert_in_order_to_100(updates, "packets")
    assert updates[-1]["segments_received"] == updates[-1]["segments_total"] > 1
    assert len(updates) >= 2, "a 1024x1024 image over a live link shows progress before it is done"


def test_cfdp_progress_arrives_in_order_and_ends_at_100(tmp_path: Path, processes: Processes) -> None:
    updates = _progress_of_a_live_pass(tmp_path, processes, "--delivery", "cfdp", "--time-scale", "0.1")
    _assert_in_order_to_100(updates, "cfdp")
    last = updates[-1]
    assert last["octets_received"] == last["octets_total"] > 0 and last["transaction"]
    assert len({u["transaction"] for u in updates}) == 1
    octets = [u["octets_received"] for u in updates]
    assert octets == sorted(octets)
