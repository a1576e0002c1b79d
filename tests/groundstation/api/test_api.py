"""The ground API over a real uvicorn server on a free port: contract, realtime, bad requests."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from groundstation.api import app as api_app
from groundstation.api.app import ApiContext, CommandRefused
from groundstation.api.dictionary import build_dictionary
from groundstation.api.live import LiveFeed
from groundstation.api.server import ApiServer, parse_address
from groundstation.archive import ArchiveWriter
from protocols.mdb.mission_db import load_mission_db

TOKEN = "s3cret-token"
T0 = 2.0e9


@pytest.fixture(scope="module")
def mdb():
    return load_mission_db()


def _archive(path: Path, products: Path) -> Path:
    products.mkdir()
    (products / "tw1-001.png").write_bytes(b"\x89PNG\r\n\x1a\nfake")
    with ArchiveWriter(path) as writer:
        for k in range(50):
            writer.add_housekeeping(
                {"DETECTOR_TEMP": -20.0 + k / 10}, {"DETECTOR_TEMP": 100 + k}, T0 + k, T0 + k + 1
            )
        writer.add_event(T0 + 3, T0 + 4, "IMAGE_TAKEN", 3, "INFO", {"IMAGE_ID": 1})
        products_of = {"quicklook": str(products / "tw1-001.png"), "truth": "/etc/passwd"}
        writer.add_image(T0 + 10, T0 + 11, "tw1-001", True, {"products": products_of})
        (products / "tw1-002-partial.png").write_bytes(b"\x89PNG\r\n\x1a\npartial")
        truth = {"received": {"complete": False, "missing_ranges": [[720, 1800]]}}
        (products / "tw1-002-partial.json").write_text(json.dumps(truth))
        partial = {
            "quicklook": str(products / "tw1-002-partial.png"),
            "truth": str(products / "tw1-002-partial.json"),
        }
        writer.add_image(
            T0 + 20, T0 + 21, "tw1-002-partial", False, {"products": partial, "missing_octets": 1080}
        )
    return path


@pytest.fixture
def served(tmp_path: Path, mdb):
    sent: list[tuple[str, dict]] = []

    def send_command(name: str, arguments: dict) -> str:
        if name not in mdb.command_by_name:
            raise CommandRefused(f"{name}: unknown command")
        sent.append((name, arguments))
        return f"{name}#{len(sent)}"

    feed = LiveFeed(client_backlog=2_000)
    context = ApiContext(
        dictionary=build_dictionary(mdb, ["link.frames_good"]),
        archive_path=_archive(tmp_path / "pass.db", tmp_path / "products"),
        products_dir=tmp_path / "products",
        feed=feed,
        token=TOKEN,
        send_command=send_command,
        status=lambda: {"messages_received": feed.published},
    )
    server = ApiServer(context)
    url = server.start()
    try:
        yield url, context, sent
    finally:
        server.stop()


def test_dictionary_and_generated_openapi(served) -> None:
    url, _, _ = served
    dictionary = httpx.get(f"{url}/api/dictionary").json()
    temp = next(p for p in dictionary["parameters"] if p["name"] == "DETECTOR_TEMP")
    assert temp["unit"] and temp["limits"] is not None
    assert any(c["name"] == "TAKE_IMAGE" and c["arguments"] for c in dictionary["commands"])
    spec = httpx.get(f"{url}/openapi.json").json()
    assert {"/api/dictionary", "/api/parameters/{name}/history", "/api/commands", "/api/alarms"} <= set(
        spec["paths"]
    )


def test_history_raw_engineering_and_downsampled(served) -> None:
    url, _, _ = served
    got = httpx.get(
        f"{url}/api/parameters/DETECTOR_TEMP/history", params={"start": T0 + 10, "end": T0 + 12}
    ).json()
    assert [s["value"] for s in got["samples"]] == pytest.approx([-19.0, -18.9, -18.8])
    raw = httpx.get(
        f"{url}/api/parameters/DETECTOR_TEMP/history", params={"end": T0 + 1, "raw": "true"}
    ).json()
    assert [s["value"] for s in raw["samples"]] == [100, 101]
    buckets = httpx.get(f"{url}/api/parameters/DETECTOR_TEMP/history", params={"buckets": 5}).json()[
        "buckets"
    ]
    assert sum(b["count"] for b in buckets) == 50 and buckets[0]["min"] == -20.0
    events = httpx.get(f"{url}/api/events").json()
    assert events[0]["name"] == "IMAGE_TAKEN" and events[0]["time"].endswith("Z")


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/api/parameters/DETECTOR_TEMP/history", {"start": "yesterday"}, 400),
        ("/api/parameters/DETECTOR_TEMP/history", {"start": T0 + 5, "end": T0}, 400),
        ("/api/parameters/DETECTOR_TEMP/history", {"buckets": 0}, 422),
        ("/api/parameters/DETECTOR_TEMP/history", {"buckets": "lots"}, 422),
        ("/api/parameters/NO_SUCH/history", {}, 404),
        ("/api/parameters/NO_SUCH/latest", {}, 404),
        ("/api/events", {"start": "nan"}, 400),
        ("/api/images/nope.png", {}, 404),
        ("/api/images/tw1-001.json", {}, 404),  # a product path outside the products: never served
    ],
)
def test_bad_queries_get_a_4xx_with_a_reason(served, path: str, params: dict, status: int) -> None:
    url, _, _ = served
    answer = httpx.get(f"{url}{path}", params=params)
    assert answer.status_code == status and answer.json()["detail"]


def test_a_huge_range_asks_for_buckets(served, monkeypatch: pytest.MonkeyPatch) -> None:
    url, _, _ = served
    monkeypatch.setattr(api_app, "MAX_SAMPLES", 10)
    answer = httpx.get(f"{url}/api/parameters/DETECTOR_TEMP/history")
    assert answer.status_code == 413 and "buckets" in answer.json()["detail"]


def test_images_listed_and_served(served) -> None:
    url, _, _ = served
    images = httpx.get(f"{url}/api/images").json()
    assert images[0]["name"] == "tw1-001" and images[0]["complete"]
    png = httpx.get(f"{url}/api/images/tw1-001.png")
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")


def test_commands_need_the_token(served) -> None:
    url, _, sent = served
    body = {"name": "TAKE_IMAGE", "arguments": {"TARGET": "EARTH"}}
    assert httpx.post(f"{url}/api/commands", json=body).status_code == 401
    wrong = httpx.post(f"{url}/api/commands", json=body, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and sent == []
    ok = httpx.post(f"{url}/api/commands", json=body, headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200 and ok.json()["request"] == "TAKE_IMAGE#1" and len(sent) == 1
    bad = httpx.post(
        f"{url}/api/commands", json={"name": "SELF_DESTRUCT"}, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert bad.status_code == 422 and "unknown command" in bad.json()["detail"] and len(sent) == 1


def test_alarms_acknowledge_shelve_clear(served) -> None:
    url, context, _ = served
    auth = {"Authorization": f"Bearer {TOKEN}"}
    context.alarms.update("DETECTOR_TEMP", "RED", 45.0, T0)
    assert httpx.get(f"{url}/api/alarms").json()[0]["state"] == "unacknowledged"
    assert httpx.post(f"{url}/api/alarms/DETECTOR_TEMP/acknowledge").status_code == 401
    assert (
        httpx.post(f"{url}/api/alarms/DETECTOR_TEMP/acknowledge", headers=auth).json()["state"]
        == "acknowledged"
    )
    context.alarms.update("DETECTOR_TEMP", "NOMINAL", 20.0, T0 + 1)
    assert httpx.get(f"{url}/api/alarms").json()[0]["state"] == "normal"
    context.alarms.update("DETECTOR_TEMP", "YELLOW", 30.0, T0 + 2)
    shelved = httpx.post(f"{url}/api/alarms/DETECTOR_TEMP/shelve", json={"seconds": 60}, headers=auth)
    assert shelved.json()["state"] == "shelved"
    assert (
        httpx.post(f"{url}/api/alarms/DETECTOR_TEMP/shelve", json={"seconds": -1}, headers=auth).status_code
        == 422
    )
    assert httpx.post(f"{url}/api/alarms/NOPE/clear", headers=auth).status_code == 404
    assert httpx.post(f"{url}/api/alarms/DETECTOR_TEMP/clear", headers=auth).json()["state"] == "normal"


def test_a_huge_body_is_refused_and_the_server_goes_on(served) -> None:
    url, _, sent = served
    auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as raw:  # declares 100 MB, sends none
        raw.sendall(f"POST /api/commands HTTP/1.1\r\nHost: x\r\nContent-Length: {100 << 20}\r\n\r\n".encode())
        assert raw.recv(4096).startswith(b"HTTP/1.1 413")
    streamed = httpx.post(f"{url}/api/commands", content=iter([b" " * (1 << 19)] * 4), headers=auth)
    assert streamed.status_code == 413 and sent == []
    assert httpx.get(f"{url}/api/dictionary").status_code == 200


def _station(feed: LiveFeed, count: int, done: threading.Event, padding: str = "") -> None:
    for k in range(count):
        feed.publish(
            {"type": "parameter", "name": "DETECTOR_TEMP", "tai": T0 + k, "value": k, "pad": padding}
        )
        if k % 50 == 0:
            feed.flush()
            time.sleep(0.001)
    feed.flush()
    done.set()


def test_realtime_delivers_every_update_in_order(served) -> None:
    url, context, _ = served
    ws_url = url.replace("http", "ws") + "/api/realtime"
    with connect(ws_url, open_timeout=10) as ws:
        ws.send(json.dumps({"subscribe": ["DETECTOR_*"]}))
        assert json.loads(ws.recv(10))[0]["type"] == "subscribed"
        done = threading.Event()
        station = threading.Thread(target=_station, args=(context.feed, 5_000, done))
        station.start()
        values: list[int] = []
        while len(values) < 5_000:
            values += [u["value"] for u in json.loads(ws.recv(10)) if u["type"] == "parameter"]
        station.join(30)
    assert values == list(range(5_000))


def test_a_client_that_does_not_read_is_disconnected_and_never_slows_the_station(served) -> None:
    url, context, _ = served
    ws_url = url.replace("http", "ws") + "/api/realtime"
    with connect(ws_url, open_timeout=10, max_queue=1, compression=None) as stalled:
        stalled.send(json.dumps({"subscribe": ["*"]}))
        stalled.recv(10)
        done = threading.Event()
        # 40 MB of updates, far more than the sockets' buffers hold: published from this thread,
        # so the client, which reads nothing, could stall it if anything waited for the client
        _station(context.feed, 40_000, done, padding="x" * 1000)
        assert done.is_set()
        deadline = time.monotonic() + 20
        with pytest.raises(ConnectionClosed) as closed:
            while time.monotonic() < deadline:
                stalled.recv(10)
        assert closed.value.rcvd.code == 4008 and "too slow" in closed.value.rcvd.reason
    assert context.feed.slow_clients == 1 or context.feed.counters()["clients"] == 0


def test_a_flood_of_subscriptions_is_answered_and_the_station_goes_on(served) -> None:
    url, context, _ = served
    ws_url = url.replace("http", "ws") + "/api/realtime"
    before = context.feed.published
    with connect(ws_url, open_timeout=10) as ws:
        for k in range(2_000):
            ws.send(json.dumps({"subscribe": [f"P{k}"]}) if k % 3 else "{not json")
        _station(context.feed, 100, threading.Event())
        errors = subscribed = 0
        while subscribed + errors < 2_000:
            for update in json.loads(ws.recv(10)):
                errors += update["type"] == "error"
                subscribed += update["type"] == "subscribed"
        assert errors == 667
    assert context.feed.published >= before + 100
    assert httpx.get(f"{url}/api/status").json()["station"]["messages_received"] >= before + 100


def test_addresses() -> None:
    assert parse_address("127.0.0.1:8080") == ("127.0.0.1", 8080)
    assert parse_address("9000") == ("127.0.0.1", 9000)
    for bad in ("host:", "x:99999", "localhost:http"):
        with pytest.raises(ValueError):
            parse_address(bad)


def test_a_partial_image_is_listed_and_served_with_its_missing_ranges(served) -> None:
    url, _, _ = served
    (partial,) = [i for i in httpx.get(f"{url}/api/images").json() if not i["complete"]]
    assert partial["name"] == "tw1-002-partial" and partial["info"]["missing_octets"] == 1080
    png = httpx.get(f"{url}/api/images/tw1-002-partial.png")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    truth = httpx.get(f"{url}/api/images/tw1-002-partial.json").json()
    assert truth["received"]["missing_ranges"] == [[720, 1800]]
