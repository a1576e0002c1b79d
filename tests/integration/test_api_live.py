"""The ground API over a live pass (`paleblue run --api 0 --archive FILE`): every parameter update
the station decoded after the client subscribed arrives over the WebSocket in order, none dropped,
and is what the archive holds; bad requests get a 4xx with a reason while the station keeps
receiving (its counters move on) and the pass ends as usual."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from groundstation.archive import Archive
from tests.integration.conftest import SCENARIO, Processes
from tests.integration.test_image_progress_live import _api_url

pytestmark = pytest.mark.slow

HISTORY = "/api/parameters/DETECTOR_TEMP/history"
BAD_REQUESTS = [
    (HISTORY, {"start": "not a time"}, 400),
    (HISTORY, {"buckets": "many"}, 422),
    ("/api/parameters/NO_SUCH_PARAMETER/history", {}, 404),
    (HISTORY, {"start": "2030-01-02T00:00Z", "end": "2030-01-01T00:00Z"}, 400),
    (HISTORY, {"start": "1958-01-01T00:00Z", "end": "9999-01-01T00:00Z",
                                                "buckets": 1_000_000}, 422),
    ("/api/events", {"end": "inf"}, 400),
]  # fmt: skip


def _octets(url: str) -> int:
    return httpx.get(f"{url}/api/status", timeout=10).json()["station"]["octets_received"]


def _bad_input(url: str) -> None:
    """Each bad request answered with its 4xx and a reason; a 100 MB body refused unread."""
    for path, params, status in BAD_REQUESTS:
        answer = httpx.get(f"{url}{path}", params=params, timeout=10)
        assert answer.status_code == status and answer.json()["detail"], (path, params, answer.text)
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        raw.sendall(f"POST /api/commands HTTP/1.1\r\nHost: x\r\nContent-Length: {100 << 20}\r\n\r\n".encode())
        assert raw.recv(4096).startswith(b"HTTP/1.1 413")
    unauthorised = httpx.post(f"{url}/api/commands", json={"name": "PING"}, timeout=10)
    assert unauthorised.status_code == 401
    with connect(url.replace("http", "ws") + "/api/realtime", open_timeout=10) as flood:
        for k in range(1_000):
            flood.send("{broken" if k % 2 else json.dumps({"subscribe": [f"FLOOD_{k}"]}))
        answers = 0
        while answers < 1_000:
            answers += sum(u["type"] in ("error", "subscribed") for u in json.loads(flood.recv(10)))


def test_a_live_pass_streams_every_update_in_order_and_shrugs_off_bad_input(
    tmp_path: Path, processes: Processes
) -> None:
    log, db = tmp_path / "run.log", tmp_path / "pass.db"
    with open(log, "w") as err:
        run = processes.start("run", SCENARIO, "-o", str(tmp_path / "out"), "--api", "0",
                              "--archive", str(db), stdout=subprocess.DEVNULL, stderr=err)  # fmt: skip
    url = _api_url(log, run)
    received: dict[str, list[tuple[float, object]]] = {}
    moved_on = False
    by_packet: dict[str, list[tuple[float, object]]] = {}
    realtime = url.replace("http", "ws") + "/api/realtime"
    with connect(realtime, open_timeout=10) as ws, connect(realtime, open_timeout=10) as packets:
        ws.send(json.dumps({"subscribe": ["*"]}))
        packets.send(json.dumps({"subscribe": ["*"], "packets": True}))  # one update per packet
        _bad_input(url)
        before = _octets(url)
        deadline = time.monotonic() + 150
        try:
            while time.monotonic() < deadline:
                updates = json.loads(ws.recv(30))
                for u in updates:
                    if u["type"] == "parameter":
                        received.setdefault(u["name"], []).append((u["tai"], u["value"]))
                if not moved_on and any(u["type"] == "image_progress" for u in updates):
                    moved_on = _octets(url) > before  # the station kept receiving after all that
                if any(u["type"] == "image_progress" and u["done"] for u in updates):
                    break
        except ConnectionClosed:
            pass
        try:
            while True:  # the packet client, read after: its updates wait for it in order
                for u in json.loads(packets.recv(30)):
                    if u["type"] == "packet":
                        for name, value in zip(u["names"], u["values"], strict=True):
                            by_packet.setdefault(name, []).append((u["tai"], value))
        except (ConnectionClosed, TimeoutError):
            pass
    assert run.wait(120) == 0, log.read_text()[-2000:]
    assert moved_on
    assert "DETECTOR_TEMP" in received and sum(map(len, received.values())) >= 20, received
    with Archive(db) as archive:
        for name, updates in received.items():
            kept = archive.query(name)
            archived = list(zip(kept.gen.tolist(), kept.value.tolist(), strict=True))
            first = archived.index(updates[0])  # the client subscribed after the first packets
            assert updates == archived[first : first + len(updates)], name  # in order, none dropped
        assert set(by_packet) == set(received)
        for name, updates in by_packet.items():  # the packet client: every one, in order
            kept = archive.query(name)
            archived = list(zip(kept.gen.tolist(), kept.value.tolist(), strict=True))
            first = archived.index(updates[0])
            assert updates == archived[first : first + len(updates)], name
            assert len(updates) >= len(received[name]) - 1, name  # read to the end (subscribed after)
