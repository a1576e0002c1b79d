"""``paleblue watch``: usage errors are one line and exit 2; the view (driven by textual's pilot)
follows a real API server's realtime feed, colours limits, acknowledges alarms and quits on q.

The API here is the real one (``groundstation.api``) in this process, fed by hand through its
:class:`LiveFeed` and :class:`AlarmBook`, so what arrives is known exactly;
tests/integration/test_watch_live.py drives the command in a pseudo-terminal against real passes.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shlex
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from groundstation.api.alarms import AlarmBook
from groundstation.api.app import ApiContext
from groundstation.api.dictionary import build_dictionary
from groundstation.api.live import LiveFeed
from groundstation.api.server import ApiServer
from groundstation.watch.app import LEVEL_STYLE, WatchApp, image_bar
from groundstation.watch.client import ApiClient, WatchError, parse_url
from groundstation.watch.model import MAX_EVENTS, MAX_IMAGES, WatchModel, clock_time, limit_level
from paleblue import cli
from protocols.mdb.mission_db import load_mission_db

TOKEN = "operator-token"
TAI = 2_000_000_000.0


# ---------------------------------------------------------------------- the command line


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:abc", "ftp://127.0.0.1:80", "http://127.0.0.1:80/api/x", "http://:80", "", "x y"],
)
def test_a_malformed_url_is_one_line_and_exit_2(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["watch", "--api", url]) == 2
    err = capsys.readouterr().err
    assert err.startswith("paleblue: watch: --api ") and err.count("\n") == 1, err


def test_an_api_nobody_serves_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with contextlib.closing(socket.socket()) as probe:  # a port free now, closed when asked
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert cli.main(["watch", "--api", f"http://127.0.0.1:{port}"]) == 2
    err = capsys.readouterr().err
    assert err == f"paleblue: watch: cannot reach the API at http://127.0.0.1:{port}: Connection refused\n"


def test_urls_are_read_as_an_operator_types_them() -> None:
    assert parse_url("8080") == "http://127.0.0.1:8080"
    assert parse_url("localhost:9000/") == "http://localhost:9000"
    assert parse_url("https://[::1]:443") == "https://[::1]:443"
    assert ApiClient("http://h:1").realtime_url == "ws://h:1/api/realtime"
    assert ApiClient("https://h:1").realtime_url == "wss://h:1/api/realtime"
    with pytest.raises(WatchError, match="token"):
        ApiClient("http://h:1").acknowledge("X")


def test_without_a_terminal_it_is_one_line_and_exit_2(api, capsys: pytest.CaptureFixture[str]) -> None:
    url, _ = api  # the API answers; pytest's stdin is no terminal
    assert cli.main(["watch", "--api", url]) == 2
    assert capsys.readouterr().err == (
        "paleblue: watch: needs a terminal (stdin and stdout); for scripts use the API itself\n"
    )


# ---------------------------------------------------------------------- the model


def test_limit_levels_follow_the_dictionary() -> None:
    limits = {"yellow_low": 26.0, "yellow_high": 30.0, "red_low": 25.0, "red_high": 31.0}
    assert [limit_level(limits, v) for v in (28.0, 30.5, 31.5, 25.5, 24.0)] == [
        "NOMINAL", "YELLOW", "RED", "YELLOW", "RED"
    ]  # fmt: skip
    assert limit_level(limits, "SAFE") == limit_level(None, 99.0) == limit_level(limits, True) == "NOMINAL"
    assert limit_level({"red_high": 1.0}, float("nan")) == "NOMINAL"


def test_the_model_stays_bounded_and_counts_what_it_cannot_read() -> None:
    model = WatchModel()
    model.apply([{"type": "event", "name": f"E{k}", "tai": TAI, "severity": "info"} for k in range(500)])
    assert len(model.events) == MAX_EVENTS and model.events_dropped == 500 - MAX_EVENTS
    assert model.events[-1]["name"] == "E499"
    model.apply([{"type": "image_progress", "delivery": "packets", "image_id": k, "percent": 5.0,
                  "segments_received": 1, "segments_total": 20} for k in range(100)])  # fmt: skip
    assert len(model.images) == MAX_IMAGES and model.images_dropped == 100 - MAX_IMAGES
    model.apply([{"type": "nonsense"}, {"type": "alarm"}, "not a dict", {"no": "type"}])  # type: ignore[list-item]
    assert model.ignored == 4 and model.updates == 604


def test_a_cfdp_file_becomes_its_image_and_link_counters_are_picked() -> None:
    model = WatchModel()
    progress = {"type": "image_progress", "delivery": "cfdp", "transaction": "1:7", "image_id": None,
                "segments_received": 3, "segments_total": None, "octets_received": 3000,
                "octets_total": 10000, "percent": 30.0, "done": False, "complete": False}  # fmt: skip
    model.apply([progress])
    assert model.images["file 1:7"].segments == "3,000/10,000 B"
    model.apply([{**progress, "image_id": 4, "percent": 100.0, "done": True, "complete": True}])
    assert list(model.images) == ["image 4"] and model.images["image 4"].complete
    model.apply([{"type": "link", "tai": TAI, "counters": {
        "station.link.cadu.physical.cadus": 10, "station.link.cadu.physical.asm_misses": 0,
        "station.link.cadu.virtual.1.packets_lost": 2, "station.transport.messages_lost": 1}}])  # fmt: skip
    assert model.link_rows() == [("cadus", 10), ("VC 1 packets lost", 2), ("messages lost", 1)]
    assert clock_time(None) == "--:--:--" and image_bar(50.0, 4) == "██░░"


# ---------------------------------------------------------------------- the view, over a real API


@pytest.fixture
def api() -> Iterator[tuple[str, ApiContext]]:
    mdb = load_mission_db()
    feed = LiveFeed()
    context = ApiContext(dictionary=build_dictionary(mdb, []), feed=feed, alarms=AlarmBook(), token=TOKEN)
    server = ApiServer(context)
    url = server.start()
    try:
        yield url, context
    finally:
        server.stop()


def _publish(context: ApiContext, *updates: dict) -> None:
    assert context.feed is not None
    for update in updates:
        if update["type"] == "parameters":  # one housekeeping packet, as the station hands it over
            context.feed.publish_parameters(update["tai"], update["names"], update["values"], update["raw"])
        else:
            context.feed.publish(update)
    context.feed.flush()


async def _until(pilot, condition, timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "the view never got there"
        await pilot.pause(0.05)


def _alarm(context: ApiContext, value: float) -> dict:
    context.alarms.update("BUS_VOLTAGE", "RED", value, TAI)
    return {"type": "alarm", "name": "BUS_VOLTAGE", "tai": TAI, "previous": "NOMINAL", "level": "RED",
            "value": value, "state": context.alarms.state("BUS_VOLTAGE")}  # fmt: skip


def test_the_view_follows_the_feed_colours_limits_and_acknowledges(api) -> None:
    url, context = api

    async def scenario() -> None:
        app = WatchApp(ApiClient(url, TOKEN))
        async with app.run_test(size=(140, 45)) as pilot:
            await _until(pilot, lambda: "live" in app.mode and context.feed.counters()["clients"] == 1)
            names = ("BUS_VOLTAGE", "DETECTOR_TEMP", "MODE")
            _publish(
                context,
                {"type": "parameters", "tai": TAI, "names": names, "values": (31.5, -10.0, "CRUISE"),
                 "raw": (0, 0, 1)},
                _alarm(context, 31.5),
                {"type": "event", "name": "LIMIT_VIOLATION", "tai": TAI, "severity": "medium",
                 "arguments": {"PARAMETER": "BUS_VOLTAGE"}},
                {"type": "image_progress", "tai": TAI, "delivery": "packets", "image_id": 1,
                 "transaction": None, "segments_received": 500, "segments_total": 2000, "percent": 25.0,
                 "done": False, "complete": False},
                {"type": "link", "tai": TAI, "counters": {"station.link.cadu.physical.cadus": 1234}},
            )  # fmt: skip
            await _until(pilot, lambda: app.model.alarms and app.model.images and app.model.link)
            await pilot.pause(0.4)  # one redraw
            table = app.query_one("#parameters")
            voltage = table.get_cell("BUS_VOLTAGE", "value")
            assert str(voltage) == "31.5" and voltage.style == LEVEL_STYLE["RED"]
            assert table.get_cell("DETECTOR_TEMP", "value").style == LEVEL_STYLE["NOMINAL"]
            mode = table.get_cell("MODE", "value")
            assert str(mode) == "CRUISE" and mode.style == ""  # no limits: no colour
            assert "image 1" in str(app.query_one("#images").render()) and " 25.0%" in str(
                app.query_one("#images").render()
            )
            assert "1,234" in str(app.query_one("#link").render())
            assert "LIMIT_VIOLATION" in str(app.query_one("#events").render())
            assert context.alarms.state("BUS_VOLTAGE") == "unacknowledged"
            await pilot.press("a")
            await _until(pilot, lambda: context.alarms.state("BUS_VOLTAGE") == "acknowledged")
            await _until(pilot, lambda: app.model.alarms["BUS_VOLTAGE"].state == "acknowledged")
            _publish(context, {"type": "parameters", "tai": TAI + 1, "names": names,
                               "values": (28.0, -9.0, "SAFE"), "raw": (0, 0, 2)})  # fmt: skip
            await _until(pilot, lambda: app.model.parameters["MODE"].value == "SAFE")
            await pilot.pause(0.4)
            assert table.get_cell("BUS_VOLTAGE", "value").style == LEVEL_STYLE["NOMINAL"]
            await pilot.press("q")
        assert app.return_code == 0

    asyncio.run(scenario())


def test_acknowledging_without_the_token_says_so_and_changes_nothing(api) -> None:
    url, context = api

    async def scenario() -> None:
        app = WatchApp(ApiClient(url, None))
        async with app.run_test(size=(140, 45)) as pilot:
            await _until(pilot, lambda: "live" in app.mode and context.feed.counters()["clients"] == 1)
            _publish(context, _alarm(context, 32.0))
            await _until(pilot, lambda: "BUS_VOLTAGE" in app.model.alarms)
            await pilot.pause(0.4)
            await pilot.press("a")
            await pilot.pause(0.3)
            assert context.alarms.state("BUS_VOLTAGE") == "unacknowledged"
            assert any("operator token" in n.message for n in app._notifications)
            await pilot.press("q")

    asyncio.run(scenario())


def test_the_readme_example_parses_and_agrees_on_address_and_token() -> None:
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    section = readme[readme.index("## Terminal view and progress bars") :]
    (block,) = re.findall(r"```sh\n(.*?)```", section[: section.index("\n## ")], flags=re.S)
    run_line, watch_line = [shlex.split(line)[1:] for line in block.strip().splitlines()]
    run, watch = (
        cli.build_parser().parse_args([a for a in argv if a != "&"]) for argv in (run_line, watch_line)
    )
    assert parse_url(watch.api) == parse_url(run.api) and watch.token == run.api_token
