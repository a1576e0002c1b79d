"""What ``paleblue watch`` shows, as plain state: fed the API's answers and realtime updates.

:class:`WatchModel` knows nothing of terminals or sockets. It keeps the newest value of every
parameter with its limit level (from the dictionary's limits), the latest events, the alarms and
their ISA-18.2 state, each image's progress and the station's link counters, in bounded memory
whatever the station sends (events and images keep the newest :data:`MAX_EVENTS` and
:data:`MAX_IMAGES`; what was pushed out is counted). Anything it does not understand is counted
as ``ignored``, never raised.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

MAX_EVENTS = 200
MAX_IMAGES = 32
LEVELS = ("NOMINAL", "YELLOW", "RED")
_TAI_EPOCH = datetime(1958, 1, 1, tzinfo=UTC)
_TAI_MINUS_UTC_S = 37.0  # since 2017; the display needs no better than a second
_PHYSICAL = re.compile(r"station\.link\.(\w+)\.physical\.(\w+)$")
_VIRTUAL = re.compile(r"station\.link\.(\w+)\.virtual\.(\d+)\.(\w+)$")
PHYSICAL_SHOWN = ("cadus", "frames_good", "frames_corrected", "uncorrectable", "crc_failures", "sync_losses")
VIRTUAL_SHOWN = ("frames", "frames_missing", "packets", "packets_lost")


def clock_time(tai: float | None) -> str:
    """``HH:MM:SS`` UTC of TAI seconds since 1958 (as the packets count), ``--:--:--`` for none."""
    if tai is None:
        return "--:--:--"
    try:
        return (_TAI_EPOCH + timedelta(seconds=tai - _TAI_MINUS_UTC_S)).strftime("%H:%M:%S")
    except (OverflowError, ValueError, TypeError):
        return "--:--:--"


def limit_level(limits: dict[str, Any] | None, value: Any) -> str:
    """NOMINAL, YELLOW or RED for a numeric value against the dictionary's limits."""
    if not limits or isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        return "NOMINAL"
    red_low, red_high = limits.get("red_low"), limits.get("red_high")
    if (red_low is not None and value < red_low) or (red_high is not None and value > red_high):
        return "RED"
    yellow_low, yellow_high = limits.get("yellow_low"), limits.get("yellow_high")
    if (yellow_low is not None and value < yellow_low) or (yellow_high is not None and value > yellow_high):
        return "YELLOW"
    return "NOMINAL"


@dataclass
class Parameter:
    name: str
    unit: str = ""
    limits: dict[str, Any] | None = None
    value: Any = None
    tai: float | None = None
    level: str = "NOMINAL"
    updates: int = 0


@dataclass
class ImageRow:
    key: str
    delivery: str
    percent: float = 0.0
    segments: str = ""
    done: bool = False
    complete: bool = False
    name: str | None = None


@dataclass
class Alarm:
    parameter: str
    state: str
    level: str
    value: Any = None
    time: str = "--:--:--"
    triggers: int = 0


@dataclass
class WatchModel:
    parameters: dict[str, Parameter] = field(default_factory=dict)
    events: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=MAX_EVENTS))
    alarms: dict[str, Alarm] = field(default_factory=dict)
    images: dict[str, ImageRow] = field(default_factory=dict)
    link: dict[str, float] = field(default_factory=dict)
    mission: str = ""
    updates: int = 0
    ignored: int = 0
    events_dropped: int = 0
    images_dropped: int = 0
    last_tai: float | None = None

    # ------------------------------------------------------------------ what the API says once

    def load_dictionary(self, dictionary: dict[str, Any]) -> None:
        """Every parameter of the mission database, with its unit and limits (shown before a value)."""
        self.mission = str(dictionary.get("mission", ""))
        for info in dictionary.get("parameters", []):
            name = info["name"]
            row = self.parameters.setdefault(name, Parameter(name))
            row.unit, row.limits = info.get("unit") or "", info.get("limits")
            row.level = limit_level(row.limits, row.value)

    def load_alarms(self, alarms: list[dict[str, Any]]) -> None:
        """``GET /api/alarms``: the station's alarm book as it stands."""
        self.alarms = {}
        for a in alarms:
            self.alarms[a["parameter"]] = Alarm(
                a["parameter"],
                a["state"],
                a["level"],
                a.get("value"),
                _hms(a.get("time")),
                a.get("triggers", 0),
            )

    def load_events(self, events: list[dict[str, Any]]) -> None:
        """``GET /api/events`` (archived events, oldest first)."""
        for e in events[-MAX_EVENTS:]:
            self._add_event(e.get("gen"), e.get("severity", ""), e.get("name", "?"), e.get("arguments"))

    def load_images(self, images: list[dict[str, Any]]) -> None:
        """``GET /api/images``: finished images (complete or partial)."""
        for image in images:
            info = image.get("info") or {}
            key = f"image {info.get('image_id', image['name'])}"
            delivery = info.get("delivery")
            cfdp = isinstance(delivery, dict) and delivery.get("transaction") is not None
            row = self._image(key, "cfdp" if cfdp else "packets")
            row.name, row.done, row.complete = image["name"], True, bool(image.get("complete"))
            row.percent = 100.0 if row.complete else row.percent

    def set_value(self, name: str, value: Any, tai: float | None) -> None:
        row = self.parameters.get(name)
        if row is None:
            row = self.parameters[name] = Parameter(name)
        row.value, row.tai, row.updates = value, tai, row.updates + 1
        row.level = limit_level(row.limits, value)
        if tai is not None and (self.last_tai is None or tai > self.last_tai):
            self.last_tai = tai

    # ------------------------------------------------------------------ realtime updates

    def apply(self, updates: list[dict[str, Any]]) -> None:
        """One WebSocket message: a list of updates (``parameter``, ``event``, ``alarm``, ...)."""
        for update in updates:
            self.updates += 1
            kind = update.get("type") if isinstance(update, dict) else None
            handler = getattr(self, f"_on_{kind}", None) if isinstance(kind, str) else None
            try:
                if handler is None:
                    raise KeyError(kind)
                handler(update)
            except (KeyError, TypeError, ValueError):
                self.ignored += 1

    def _on_parameter(self, u: dict[str, Any]) -> None:
        if not u["name"].startswith("station."):
            self.set_value(u["name"], u["value"], u.get("tai"))
        else:
            self.link[u["name"]] = u["value"]

    def _on_subscribed(self, u: dict[str, Any]) -> None:
        pass

    def _on_error(self, u: dict[str, Any]) -> None:
        self._add_event(None, "error", "API", {"detail": u.get("detail")})

    def _on_event(self, u: dict[str, Any]) -> None:
        self._add_event(u.get("tai"), u.get("severity", ""), u["name"], u.get("arguments"))

    def _on_alarm(self, u: dict[str, Any]) -> None:
        name = u["name"]
        previous = self.alarms.get(name)
        triggers = previous.triggers if previous else 0
        if u["level"] != "NOMINAL" and (previous is None or previous.level == "NOMINAL"):
            triggers += 1
        self.alarms[name] = Alarm(
            name, u["state"], u["level"], u.get("value"), clock_time(u.get("tai")), triggers
        )

    def _on_verification(self, u: dict[str, Any]) -> None:
        outcome = "ok" if u.get("success") else f"FAILED {u.get('failure') or u.get('code') or ''}".strip()
        self._add_event(u.get("tai"), "command", u["request"], {"stage": u["stage"], "result": outcome})

    def _on_link(self, u: dict[str, Any]) -> None:
        self.link.update(u["counters"])

    def _on_image(self, u: dict[str, Any]) -> None:
        row = self._image(f"image {u['image_id']}", "packets")
        row.name, row.done, row.complete = u["name"], True, bool(u["complete"])
        if row.complete:
            row.percent = 100.0

    def _on_image_progress(self, u: dict[str, Any]) -> None:
        image_id, transaction = u.get("image_id"), u.get("transaction")
        key = f"image {image_id}" if image_id is not None else f"file {transaction}"
        if u["delivery"] == "cfdp" and transaction is not None and image_id is not None:
            self.images.pop(f"file {transaction}", None)  # the file became this image
        row = self._image(key, u["delivery"])
        row.percent = float(u["percent"])
        row.done = row.done or bool(u.get("done"))
        row.complete = row.complete or bool(u.get("complete"))
        if u.get("segments_total"):
            row.segments = f"{u['segments_received']}/{u['segments_total']} seg"
        elif u.get("octets_total"):
            row.segments = f"{u.get('octets_received', 0):,}/{u['octets_total']:,} B"

    # ------------------------------------------------------------------ helpers

    def _add_event(self, tai: float | None, severity: str, name: str, arguments: Any) -> None:
        if len(self.events) == self.events.maxlen:
            self.events_dropped += 1
        text = ", ".join(f"{k}={v}" for k, v in arguments.items()) if isinstance(arguments, dict) else ""
        self.events.append(
            {"time": clock_time(tai), "severity": str(severity), "name": str(name), "text": text}
        )

    def _image(self, key: str, delivery: str) -> ImageRow:
        row = self.images.get(key)
        if row is None:
            if len(self.images) >= MAX_IMAGES:
                oldest = next(iter(self.images))
                del self.images[oldest]
                self.images_dropped += 1
            row = self.images[key] = ImageRow(key, delivery)
        return row

    def link_rows(self) -> list[tuple[str, float]]:
        """The link counters worth a glance: the physical layer's, each virtual channel's frames
        and packets (found and lost), and the transport's messages."""
        rows: list[tuple[str, float]] = []
        virtual: dict[int, dict[str, float]] = {}
        for name, value in sorted(self.link.items()):
            if (m := _PHYSICAL.match(name)) and m.group(2) in PHYSICAL_SHOWN:
                rows.append((m.group(2).replace("_", " "), value))
            elif (m := _VIRTUAL.match(name)) and m.group(3) in VIRTUAL_SHOWN:
                virtual.setdefault(int(m.group(2)), {})[m.group(3)] = value
        order = {key: k for k, key in enumerate(PHYSICAL_SHOWN)}
        rows.sort(key=lambda row: order.get(row[0].replace(" ", "_"), 99))
        for vc, counters in sorted(virtual.items()):
            for key in VIRTUAL_SHOWN:
                if key in counters:
                    rows.append((f"VC {vc} {key.replace('_', ' ')}", counters[key]))
        for key, label in (
            ("station.transport.messages_received", "messages received"),
            ("station.transport.messages_lost", "messages lost"),
            ("station.octets_received", "octets received"),
            ("station.faults", "faults"),
        ):
            if key in self.link:
                rows.append((label, self.link[key]))
        return rows

    def unacknowledged(self) -> list[str]:
        return [
            a.parameter
            for a in self.alarms.values()
            if a.state in ("unacknowledged", "returned-unacknowledged")
        ]


def _hms(iso: str | None) -> str:
    """``HH:MM:SS`` of an ISO 8601 time from the API."""
    if not iso:
        return "--:--:--"
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).strftime("%H:%M:%S")
    except ValueError:
        return "--:--:--"
