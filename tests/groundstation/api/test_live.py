"""The live feed: one record per housekeeping packet from the station, one update per subscribed
parameter to each client, the newest value of each parameter kept for late subscribers."""

from __future__ import annotations

import asyncio

from groundstation.api.live import LiveFeed


def test_a_packet_record_becomes_one_update_per_subscribed_name() -> None:
    loop = asyncio.new_event_loop()
    try:
        feed = LiveFeed()
        feed.attach(loop)
        temps, everything, nothing = feed.add_client(), feed.add_client(), feed.add_client()
        temps.subscribe(["*_TEMP"])
        everything.subscribe(["*"])
        names = ("DETECTOR_TEMP", "MODE", "BUS_TEMP")
        for k in range(3):
            feed.publish_parameters(100.0 + k, names, (k, "SAFE", -k), (10 + k, 1, None))
            feed.flush()
            loop.run_until_complete(asyncio.sleep(0))
        assert [(u["name"], u["value"]) for u in temps.queue] == [
            ("DETECTOR_TEMP", 0), ("BUS_TEMP", 0), ("DETECTOR_TEMP", 1), ("BUS_TEMP", -1),
            ("DETECTOR_TEMP", 2), ("BUS_TEMP", -2),
        ]  # fmt: skip
        assert len(everything.queue) == 9 and not nothing.queue
        assert everything.queue[1] == {
            "type": "parameter",
            "name": "MODE",
            "tai": 100.0,
            "value": "SAFE",
            "raw": 1,
        }
        temps.unsubscribe(["*_TEMP"])
        temps.subscribe(["MODE"])
        temps.queue.clear()
        feed.publish_parameters(200.0, names, (9, "CRUISE", 9), (0, 2, 0))
        feed.flush()
        loop.run_until_complete(asyncio.sleep(0))
        assert [u["name"] for u in temps.queue] == ["MODE"]
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
    assert feed.latest("B")["value"] == 2 and feed.published == 0
