"""The merger process: every station's frame reports from the bus, the best copy of each frame
into the normal ground chain (a :class:`~groundstation.station.GroundStation` fed bare frames),
and ``merge.json`` with per-station and merged figures beside the pass's ``summary.json``.

Bad input on the bus never stops it: a message that is no frame report, one whose station id is
not the one its subject names, one from a station not in the list it was given, one whose frame
disagrees with the report (:mod:`groundstation.merge.bus_intake`), a frame from another
spacecraft: each is counted (``merge.json``: ``refused`` by reason, ``merged.foreign_spacecraft``)
and logged once per kind, and the merge goes on. A flood from one station is bounded by the
merger's window; the reports a station sent again for a frame it had already reported (a flood, a
station replaying its pass) are counted per station (``repeats``) and logged at the end.

Messages take the fast path: their fields are unpacked and merged without a report object per
message (:meth:`~groundstation.merge.best_frame.FrameMerger.add_fields`).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from groundstation.merge.best_frame import FrameMerger, MergedFrame
from groundstation.merge.bus_intake import BusIntake, Refused
from groundstation.merge.uplink_choice import UplinkChoice
from groundstation.station import GroundStation
from protocols.atomic_file import write_atomically
from protocols.capture.zmq_framing import Layer
from protocols.link.channel_config import PhysicalChannelConfig
from protocols.link.channel_file import preset
from protocols.mdb.mission_db import MissionDatabase

log = logging.getLogger("paleblue.merge")

# Once the expected images are done, the reports the stations are still sending (a station behind
# the others: its process was slower, its bus connection busier) are merged and counted until the
# bus is quiet, for at most this long.
DRAIN_AFTER_DONE_S = 10.0

DEFAULT_WINDOW = 1024  # frames: about 0.5 s of a 20 Mbit/s link, how far stations may lag each other


@dataclass
class BusFaults:
    """Messages on the bus the merger refused, by kind."""

    counts: Counter[str] = field(default_factory=Counter)

    def record(self, kind: str, detail: str) -> None:
        if not self.counts[kind]:
            log.warning("bus: %s (%s); further ones are counted in merge.json", kind, detail)
        self.counts[kind] += 1


class BusMerge:
    """Messages in, merged frames into the station; socket-free (the loop below brings messages)."""

    def __init__(
        self,
        station: GroundStation,
        window: int = DEFAULT_WINDOW,
        stations: Iterable[str] | None = None,
    ) -> None:
        channel = station.channel
        self.station = station
        self.merger = FrameMerger(channel.vc_count_modulo, window, channel.spacecraft_id)
        self.intake = BusIntake(channel, stations)
        self.faults = BusFaults()
        self.messages = 0
        self.now = 0.0  # the time of the batch being handled (run_merger sets it)
        self.heard: dict[str, float] = {}  # station -> when its newest report came: who is in contact

    def handle(self, subject: str, data: bytes) -> None:
        """One bus message; never raises."""
        self.messages += 1
        try:
            fields = self.intake.take(subject, data)
        except Refused as refused:
            self.faults.record(refused.reason, refused.detail)
            return
        self.heard[fields.station_id] = self.now
        frames = self.merger.add_fields(fields)
        if frames:
            self._feed(frames)

    def news(self) -> int:
        """Reports that were news: the stations' reports but their repeats (a flood is no news)."""
        return sum(t.reports - t.repeats for t in self.merger.counters.stations.values())

    def release_held(self) -> None:
        """Every frame held in the window leaves now (the bus went quiet: nothing earlier is coming)."""
        self._feed(self.merger.flush())

    def finish(self) -> tuple[dict, dict]:
        """Flush the window into the station, end its pass, write merge.json: (summary, figures)."""
        self._feed(self.merger.flush())
        for name, tally in sorted(self.merger.counters.stations.items()):
            if tally.repeats:
                log.warning("bus: station %s reported %d frame(s) again (a flood?)", name, tally.repeats)
        summary = self.station.finish()
        figures = self.figures()
        write_atomically(self.station.out_dir / "merge.json", json.dumps(figures, indent=2) + "\n")
        return summary, figures

    def figures(self) -> dict:
        counters = self.merger.counters
        return {
            "window": self.merger.window,
            "messages": self.messages,
            "refused": dict(sorted(self.faults.counts.items())),
            "merged": {k: v for k, v in counters.as_dict().items() if k != "stations"},
            "stations": counters.as_dict()["stations"],
            "missing_by_station": counters.missing_by_station(),
        }

    def _feed(self, frames: list[MergedFrame]) -> None:
        for merged in frames:
            self.station.feed_stream(Layer.FRAMES, merged.frame)


def merge_table(figures: dict) -> str:
    """Per-station and merged figures side by side, for people."""
    rows = [("station", "reports", "frames", "lacked", "best", "only it")]
    for name, tally in figures["stations"].items():
        lacked = figures["missing_by_station"][name]
        rows.append((name, tally["reports"], tally["frames"], lacked, tally["best"], tally["only_source"]))
    merged = figures["merged"]
    rows.append(("merged", merged["reports"], merged["frames_out"], merged["frames_missed"], "", ""))
    widths = [max(len(str(r[k])) for r in rows) for k in range(len(rows[0]))]
    lines = [
        "  ".join(
            str(v).rjust(w) if k else str(v).ljust(w) for k, (v, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    ]
    extra = (
        f"duplicates {merged['duplicates']}, late duplicates {merged['late_duplicates']}, "
        f"window exceeded {merged['window_exceeded']}, gaps {merged['gaps']}, "
        f"foreign spacecraft {merged['foreign_spacecraft']}, "
        f"repeats {sum(t['repeats'] for t in figures['stations'].values())}, "
        f"refused {sum(figures['refused'].values())}"
    )
    if figures["refused"]:
        extra += " (" + ", ".join(f"{reason} {n}" for reason, n in figures["refused"].items()) + ")"
    return "\n".join([*lines, extra]) + "\n"


def run_merger(
    fetch: Callable[[int, float], list],
    out_dir: Path,
    stop: threading.Event,
    *,
    channel: PhysicalChannelConfig | None = None,
    window: int = DEFAULT_WINDOW,
    stations: Iterable[str] | None = None,
    expect_images: int | None = None,
    timeout_s: float | None = None,
    idle_exit_s: float | None = None,
    hold_s: float = 0.5,
    mdb: MissionDatabase | None = None,
    attach: Callable[[GroundStation, Any], Any] | None = None,
    send_uplink: Callable[[Layer, bytes], None] | None = None,
    uplink_choice: UplinkChoice | None = None,
) -> tuple[dict, dict]:
    """Merge until stopped, done, out of time, or ``idle_exit_s`` without a message once some came.

    Done is the expected images complete and then the bus quiet for ``hold_s``: a station behind
    the others still has its reports merged and counted (for at most ``DRAIN_AFTER_DONE_S``).

    ``fetch(max, timeout_s)`` returns bus messages (``subject``, ``data``): a
    :class:`transport.nats_bus.FrameConsumer`'s. Frames held in the reordering window leave once
    the bus has brought no news for ``hold_s`` (the end of a pass, a pause; a station repeating
    itself or refused messages are no news, so a flood cannot hold the window). ``attach(station, None)``
    (the archive and the API, as for one station) returns services whose ``tick()`` runs between
    batches and ``close()`` at the end: the merged pass is archived and served like any other.
    ``send_uplink`` (a :class:`transport.nats_uplink.UplinkRelay`'s) takes the merged pass's CFDP
    replies and the operator's commands up through one station, the one ``uplink_choice`` names
    (it learns here which stations are heard).
    Returns (pass summary, merge figures); both are written to ``out_dir`` on every way out.
    """
    channel = channel if channel is not None else preset()
    station = GroundStation(out_dir, expect_images, channel, mdb=mdb, send_uplink=send_uplink)
    merge = BusMerge(station, window, stations)
    if uplink_choice is not None:
        uplink_choice.heard = merge.heard
    services = attach(station, send_uplink) if attach is not None else None
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    last_message = None
    last_news = 0.0  # when a report last brought news (not a station's repeat, not a refusal)
    held = False  # frames may be held in the window
    done_at = None  # when the expected images were done: the stations' reports still coming are drained
    try:
        while not stop.is_set():
            now = time.monotonic()
            if deadline is not None and now > deadline:
                log.warning("timeout after %.0f s with %d image(s) done", timeout_s, station.images_done)
                break
            if idle_exit_s is not None and last_message is not None and now - last_message > idle_exit_s:
                log.info("no frames for %.1f s: the pass is over", idle_exit_s)
                break
            if station.finished:
                done_at = now if done_at is None else done_at
                if last_message is None or now - last_message > hold_s:
                    log.info("the expected images are done and the bus has been quiet for %.1f s", hold_s)
                    break
                if now - done_at > DRAIN_AFTER_DONE_S:
                    log.warning(
                        "the expected images are done but the stations still report after %.0f s: "
                        "stopping; what they report from now on is not merged",
                        DRAIN_AFTER_DONE_S,
                    )
                    break
            station.tick()
            if services is not None:
                services.tick()
            messages = fetch(1024, 0.05)
            if messages:
                last_message = merge.now = time.monotonic()
                news = merge.news()
                for message in messages:  # every message fetched is handled (it is acknowledged)
                    merge.handle(message.subject, message.data)
                if merge.news() != news:
                    last_news = last_message
                    held = True
            if held and now - last_news > hold_s:  # quiet, or only repeats and refusals: all leave
                merge.release_held()
                held = False
    finally:
        try:
            done = merge.finish()
        finally:
            station.images.collect(wait=True)
            if services is not None:
                services.close()
    return done
