"""The live feed: one record per housekeeping packet from the station, one update per subscribed
parameter to each client, the newest value of each parameter kept for late subscribers."""

from __future__ import annotations

import asyncio
import json
import math

from groundstation.api.live import Client, LiveFeed


def _updates(client: Client) -> list[dict]:
    """What the client's sender would send, decoded (and taken off its queue)."""
    return json.loads(client.take()[0]) if client.queue else []


def test_a_packet_record_becomes_one_update_per_subscribed_name() -> None:
    loop = asyncio.new_event_loop()
    try:
        feed = LiveFeed(delivery_interval_s=0.0)
        feed.attach(loop)
        temps, everything, nothing = feed.add_client(), feed.add_client(), feed.add_client()
        temps.subscribe(["*_TEMP"])
        everything.subscribe(["*"])
        names = ("DETECTOR_TEMP", "MODE", "BUS_TEMP")
        for k in range(3):
            feed.publish_parameters(100.0 + k, names, (k, "SAFE", -k), (10 + k, 1, None))
            feed.flush()
            loop.run_until_complete(asyncio.sleep(0.001))
        temp_updates, all_updates = _updates(temps), _updates(everything)
        assert [(u["name"], u["value"]) for u in temp_updates] == [
            ("DETECTOR_TEMP", 0), ("BUS_TEMP", 0), ("DETECTOR_TEMP", 1), ("BUS_TEMP", -1),
            ("DETECTOR_TEMP", 2), ("BUS_TEMP", -2),
        ]  # fmt: skip
        assert len(all_updates) == 9 and not nothing.queue and everything.sent == 0
        assert all_updates[1] == {
            "type": "parameter",
            "name": "MODE",
            "tai": 100.0,
            "value": "SAFE",
            "raw": 1,
        }
        temps.unsubscribe(["*_TEMP"])
        temps.subscribe(["MODE"])
        feed.publish_parameters(200.0, names, (9, "CRUISE", 9), (0, 2, 0))
        feed.flush()
        loop.run_until_complete(asyncio.sleep(0.001))
        assert [u["name"] for u in _updates(temps)] == ["MODE"]
        assert feed.latest("BUS_TEMP") == {
            "type": "parameter",
            "name": "BUS_TEMP",
            "tai": 200.0,
            "value": 9,
            "raw": 0,
        }
        assert feed.latest("NO_SUCH") is None
    finally:
        loop.close()


def test_without_the_api_loop_the_newest_values_are_still_kept() -> None:
    feed = LiveFeed()
    feed.publish_parameters(5.0, ("A", "B"), (1, 2), (1, 2))
    assert feed.latest("B") is None  # not before the station's tick
    feed.flush()
    assert feed.latest("B")["value"] == 2 and feed.published == 1


def test_the_newest_packet_of_each_layout_is_kept_however_its_names_were_given() -> None:
    """The station gives each packet its layout's names (one tuple for all); others give none
    (equal tuples made per packet): either way each layout's newest packet is the one kept."""
    feed = LiveFeed()
    ab, c = ("A", "B"), ("C",)
    feed.publish_packet(1.0, {"A": 1, "B": 1}, {"A": 1, "B": 1}, ab)
    feed.publish_packet(2.0, {"C": 2}, {"C": 2})
    feed.publish_packet(3.0, {"A": 3, "B": 3}, {"A": 3, "B": 3})  # names made from the values
    feed.publish({"type": "event", "name": "E", "tai": 3.5})
    feed.publish_packet(4.0, {"C": 4}, {"C": 4}, c)
    feed.publish_packet(5.0, {"C": 5}, {"C": 5})
    feed.flush()
    assert [feed.latest(n)["tai"] for n in "ABC"] == [3.0, 3.0, 5.0]
    feed.publish_packet(6.0, {"A": 6, "B": 6}, {"A": 6, "B": 6}, ab)
    feed.publish_packet(7.0, {"C": 7}, {"C": 7}, c)
    feed.publish_packet(8.0, {"A": 8, "B": 8}, {"A": 8, "B": 8}, ab)
    feed.flush()
    assert [(feed.latest(n)["tai"], feed.latest(n)["value"]) for n in "ABC"] == [(8.0, 8), (8.0, 8), (7.0, 7)]


def test_with_no_client_a_tick_hands_nothing_to_the_api_loop() -> None:
    """No client: the station's batch never reaches the API's loop (nothing is scheduled on it),
    only the newest values are kept; with a client, one call per tick carries the whole batch."""
    loop = asyncio.new_event_loop()
    try:
        feed = LiveFeed()
        feed.attach(loop)
        scheduled: list = []
        feed._loop = type("Loop", (), {"call_soon_threadsafe": lambda self, *a: scheduled.append(a)})()
        for k in range(100):
            feed.publish_packet(float(k), {"A": k, "B": -k}, {"A": k, "B": k})
        feed.flush()
        assert scheduled == [] and feed.latest("B")["value"] == -99 and feed.published == 100
        feed.add_client().subscribe(["A"])
        for k in range(100, 200):
            feed.publish_packet(float(k), {"A": k, "B": -k}, {"A": k, "B": k})
        feed.flush()
        feed.publish_packet(200.0, {"A": 1, "B": 2}, {"A": 1, "B": 2})
        feed.flush()  # the loop is woken once for both
        assert len(scheduled) == 1 and [len(b) for b in feed._handed] == [100, 1]
    finally:
        loop.close()


def test_one_encoding_per_set_of_subscriptions_nan_as_null_and_the_backlog_bound() -> None:
    loop = asyncio.new_event_loop()
    try:
        feed = LiveFeed(client_backlog=10, delivery_interval_s=0.0)
        feed.attach(loop)
        a, b, slow = feed.add_client(), feed.add_client(), feed.add_client()
        a.subscribe(["T*"])
        b.subscribe(["T*"])
        slow.subscribe(["*"])
        feed.publish_packet(1.0, {"TEMP": math.nan, "MODE": "SAFE"}, {"TEMP": 7, "MODE": 1})
        feed.publish({"type": "event", "name": "BOOT", "tai": 1.0})
        feed.flush()
        loop.run_until_complete(asyncio.sleep(0.001))
        assert a.queue[0][0] is b.queue[0][0]  # the same text: encoded once for both
        assert json.loads(a.queue[0][0]) == [
            {"type": "parameter", "name": "TEMP", "tai": 1.0, "value": None, "raw": 7},
            {"type": "event", "name": "BOOT", "tai": 1.0},
        ]
        for k in range(5):
            feed.publish_packet(2.0 + k, {"TEMP": 1.0, "MODE": "SAFE"}, {"TEMP": 7, "MODE": 1})
        feed.flush()
        loop.run_until_complete(asyncio.sleep(0.001))
        assert a.queued == 7 and not a.too_slow
        assert slow.too_slow and slow.slow.is_set() and not slow.queue  # 13 > 10: disconnected
    finally:
        loop.close()


def test_a_client_may_take_a_packets_parameters_as_one_packet_update() -> None:
    loop = asyncio.new_event_loop()
    try:
        feed = LiveFeed(delivery_interval_s=0.0)
        feed.attach(loop)
        some, every, each = feed.add_client(), feed.add_client(), feed.add_client()
        some.subscribe(["*_TEMP"])
        every.subscribe(["*"])
        each.subscribe(["*"])
        some.packets = every.packets = True
        raw = {"MODE": 1, "DETECTOR_TEMP": 300, "BUS_TEMP": 200}  # another order than the values'
        feed.publish_packet(7.0, {"DETECTOR_TEMP": -20.5, "MODE": "SAFE", "BUS_TEMP": 3}, raw)
        feed.flush()
        loop.run_until_complete(asyncio.sleep(0.001))
        assert _updates(some) == [
            {"type": "packet", "tai": 7.0, "names": ["DETECTOR_TEMP", "BUS_TEMP"], "values": [-20.5, 3],
             "raw": [300, 200]}
        ]  # fmt: skip
        assert _updates(every)[0]["values"] == [-20.5, "SAFE", 3]
        assert _updates(every) == [] and [u["name"] for u in _updates(each)] == [
            "DETECTOR_TEMP", "MODE", "BUS_TEMP"
        ]  # fmt: skip
    finally:
        loop.close()


def test_big_batches_are_sent_as_several_bounded_messages() -> None:
    from groundstation.api.live import MESSAGE_CHARS, _messages

    updates = [{"type": "event", "name": "E", "tai": float(k), "pad": "x" * 1000} for k in range(2_000)]
    messages = _messages(updates)
    assert len(messages) > 1 and all(len(text) <= MESSAGE_CHARS for text, _ in messages)
    assert [u for text, _ in messages for u in json.loads(text)] == updates
    assert sum(count for _, count in messages) == 2_000


def test_batches_of_small_and_big_updates_are_cut_where_they_grow(monkeypatch) -> None:
    """The size guessed from the first updates may be wrong: every message still fits (but an
    update bigger than a message alone), in order, each update once; most are encoded once."""
    from groundstation.api import live

    encoded: list[int] = []
    encode = live.encode
    monkeypatch.setattr(live, "encode", lambda updates: encoded.append(len(updates)) or encode(updates))
    small = [{"type": "event", "name": "E", "tai": float(k)} for k in range(3_000)]
    big = [{"type": "event", "name": "B", "tai": float(k), "pad": "x" * 5_000} for k in range(300)]
    huge = [{"type": "event", "name": "H", "pad": "y" * (live.MESSAGE_CHARS + 10)}]
    for updates in (small + big, big + small, small + huge + small, huge, small * 40):
        encoded.clear()
        messages = live._messages(updates)
        assert [u for text, _ in messages for u in json.loads(text)] == updates
        assert [count for _, count in messages] == [len(json.loads(text)) for text, _ in messages]
        assert all(len(text) <= live.MESSAGE_CHARS or count == 1 for text, count in messages)
    assert sum(encoded) <= 40 * len(small) + live.SIZE_SAMPLE  # even sizes: each encoded once


def test_what_orjson_refuses_is_still_encoded() -> None:
    from groundstation.api.live import encode

    assert json.loads(encode([{"raw": 1 << 70, "value": math.nan, "x": (1.5, math.inf)}])) == [
        {"raw": 1 << 70, "value": None, "x": [1.5, None]}
    ]
