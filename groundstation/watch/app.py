"""``paleblue watch``: a terminal view of a ground station (or a finished pass) through its API.

A textual app over a :class:`~groundstation.watch.model.WatchModel`: the parameter table with
limit colours, the alarms (``a`` acknowledges the one under the cursor, ``A`` every
unacknowledged one), each image's progress bar, the link counters and the latest events. A live
station's realtime WebSocket drives it; an API over a finished archive (``paleblue serve``, whose
WebSocket says there is no live station) is read over REST instead, again every ``poll_s`` and on
``r``. ``q`` quits. The screen is redrawn at most :data:`REDRAW_S` apart, whatever the rate of
updates.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any, ClassVar

import websockets
from rich.markup import escape
from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, Static

from groundstation.watch.client import NO_LIVE_STATION, ApiClient, ApiRefused, WatchError
from groundstation.watch.model import WatchModel, clock_time

REDRAW_S = 0.25
RECONNECT_S = 2.0
EVENTS_SHOWN = 8
LEVEL_STYLE = {"NOMINAL": "green", "YELLOW": "bold black on yellow", "RED": "bold white on red"}
STATE_STYLE = {
    "unacknowledged": "bold white on red",
    "returned-unacknowledged": "bold black on yellow",
    "acknowledged": "yellow",
    "normal": "green",
    "shelved": "dim",
}
BAR_WIDTH = 16


def value_text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1e5 else f"{value:.6g}"
    return "—" if value is None else str(value)


def image_bar(percent: float, width: int = BAR_WIDTH) -> str:
    filled = round(max(0.0, min(percent, 100.0)) / 100 * width)
    return "█" * filled + "░" * (width - filled)


class WatchApp(App):
    TITLE = "paleblue watch"
    CSS = """
    Screen { layout: vertical; }
    #status { height: 1; background: $primary-background; }
    #main { height: 1fr; }
    #left { width: 1fr; }
    #parameters { height: 1fr; }
    #side { width: 58; padding-left: 1; }
    .title { height: 1; text-style: bold; background: $boost; }
    #alarms { height: 7; }
    #images { height: auto; max-height: 8; }
    #link { height: 1fr; }
    #events { height: auto; max-height: 10; }
    """
    BINDINGS: ClassVar[list[Binding]] = [
        Binding("q", "quit", "Quit", priority=True),
        Binding("a", "acknowledge", "Acknowledge alarm", priority=True),
        Binding("A", "acknowledge_all", "Acknowledge all", priority=True),
        Binding("r", "refresh", "Refresh", priority=True),
    ]

    def __init__(self, client: ApiClient, poll_s: float = 5.0) -> None:
        super().__init__()
        self.client = client
        self.poll_s = poll_s
        self.model = WatchModel()
        self.mode = "connecting"
        self._dirty = True
        self._alarm_rows: list[str] = []
        self._archive_refresh = asyncio.Event()
        self._archived: dict[str, str] = {}  # archive mode: each parameter's newest time shown

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield Static(id="status")
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield Static("Parameters", classes="title")
                yield DataTable(id="parameters", cursor_type="row", zebra_stripes=True)
            with Vertical(id="side"):
                yield Static("Alarms  (a: acknowledge, A: all)", classes="title")
                yield DataTable(id="alarms", cursor_type="row")
                yield Static("Images", classes="title")
                yield Static("no image yet", id="images")
                yield Static("Link", classes="title")
                yield Static("no counters yet", id="link")
        yield Static("Events", classes="title")
        yield Static("no event yet", id="events")
        yield Footer()

    def on_mount(self) -> None:
        parameters = self.query_one("#parameters", DataTable)
        for column in ("parameter", "value", "unit", "time"):
            parameters.add_column(column, key=column)
        self.query_one("#alarms", DataTable).add_columns("parameter", "level", "state", "value", "time")
        self.query_one("#alarms", DataTable).focus()
        self.set_interval(REDRAW_S, self.redraw)
        self.follow()

    # ------------------------------------------------------------------ the API

    async def _call(self, method: str, *args: Any) -> Any:
        return await asyncio.to_thread(getattr(self.client, method), *args)

    async def _load_snapshot(self) -> None:
        """The dictionary, the alarm book, and what the archive holds (events, images)."""
        self.model.load_dictionary(await self._call("dictionary"))
        self.model.load_alarms(await self._call("alarms"))
        for method, load in (("events", self.model.load_events), ("images", self.model.load_images)):
            with contextlib.suppress(ApiRefused):  # a station without --archive: only what comes now
                load(await self._call(method))
        self._dirty = True

    @work(exclusive=True, group="api")
    async def follow(self) -> None:
        """Follow the realtime stream; an archive-only API is polled; a lost one is retried."""
        while True:
            try:
                await self._load_snapshot()
                await self._realtime()
            except _ArchiveOnly:
                await self._follow_archive()
                return
            except WatchError as exc:
                self.mode = f"[red]no API, retrying[/] ({escape(str(exc))})"
            except (TimeoutError, OSError, websockets.WebSocketException) as exc:
                self.mode = f"[red]disconnected, retrying[/] ({escape(_close_reason(exc))})"
            self._dirty = True
            await asyncio.sleep(RECONNECT_S)

    async def _realtime(self) -> None:
        async with websockets.connect(self.client.realtime_url, open_timeout=10, max_size=1 << 24) as ws:
            names = [name for name in self.model.parameters if not name.startswith("station.")]
            try:
                await ws.send(json.dumps({"subscribe": [*names, "*"]}))  # names: their latest values now
                async for message in ws:
                    if self.mode != "[green]live[/]":
                        self.mode = "[green]live[/]"
                    self.model.apply(json.loads(message))
                    self._dirty = True
            except websockets.ConnectionClosed as exc:
                if _close_code(exc) == NO_LIVE_STATION:
                    raise _ArchiveOnly from None
                raise
            if getattr(ws, "close_code", None) == NO_LIVE_STATION:
                raise _ArchiveOnly
            raise ConnectionError("the station closed the stream")

    async def _follow_archive(self) -> None:
        while True:
            try:
                await self._load_archive()
                self.mode = "[cyan]archive[/] (a finished pass: no live station)"
            except WatchError as exc:
                self.mode = f"[red]no API, retrying[/] ({escape(str(exc))})"
            self._dirty = True
            self._archive_refresh.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._archive_refresh.wait(), self.poll_s)

    async def _load_archive(self) -> None:
        """Every archived parameter's newest value, the events, the images and the alarm book."""
        await self._load_snapshot()
        for info in await self._call("parameters", "*"):
            if info.get("last") is None or self._archived.get(info["name"]) == info["last"]:
                continue  # nothing newer than what is shown
            self._archived[info["name"]] = info["last"]
            sample = await self._call("value_at", info["name"], info["last"])
            if sample is None:
                continue
            if info["name"].startswith("station."):
                self.model.link[info["name"]] = sample["value"]
            else:
                self.model.set_value(info["name"], sample["value"], sample["tai"])
        self.model.events.clear()
        self.model.load_events(await self._call("events"))

    # ------------------------------------------------------------------ keys

    def action_refresh(self) -> None:
        self._archive_refresh.set()
        self._dirty = True

    def _selected_alarm(self) -> str | None:
        table = self.query_one("#alarms", DataTable)
        if not self._alarm_rows:
            return None
        return self._alarm_rows[min(max(table.cursor_row, 0), len(self._alarm_rows) - 1)]

    async def action_acknowledge(self) -> None:
        parameter = self._selected_alarm()
        if parameter is None:
            self.notify("no alarm to acknowledge", markup=False)
            return
        await self._acknowledge([parameter])

    async def action_acknowledge_all(self) -> None:
        pending = self.model.unacknowledged()
        if not pending:
            self.notify("no unacknowledged alarm", markup=False)
            return
        await self._acknowledge(pending)

    async def _acknowledge(self, parameters: list[str]) -> None:
        for parameter in parameters:
            try:
                answer = await self._call("acknowledge", parameter)
            except WatchError as exc:
                self.notify(f"{parameter}: {exc}", severity="error", timeout=8, markup=False)
                return
            alarm = self.model.alarms.get(parameter)
            if alarm is not None:
                alarm.state = answer.get("state", alarm.state)
            self.notify(f"{parameter}: {answer.get('state', 'acknowledged')}", markup=False)
        with contextlib.suppress(WatchError):
            self.model.load_alarms(await self._call("alarms"))
        self._dirty = True

    # ------------------------------------------------------------------ drawing

    def redraw(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        m = self.model
        self.query_one("#status", Static).update(
            f"[b]paleblue watch[/]  {escape(m.mission)}  {escape(self.client.base_url)}  {self.mode}  "
            f"{m.updates:,} updates  last {clock_time(m.last_tai)}"
            + (f"  [yellow]{m.ignored:,} not understood[/]" if m.ignored else "")
        )
        self._draw_parameters()
        self._draw_alarms()
        self._draw_images()
        self._draw_link()
        self._draw_events()

    def _draw_parameters(self) -> None:
        table = self.query_one("#parameters", DataTable)
        for name, p in self.model.parameters.items():
            style = LEVEL_STYLE[p.level] if p.limits else ""  # green: within limits it has
            value = Text(value_text(p.value), style=style if p.value is not None else "dim")
            time = clock_time(p.tai)
            if name in table.rows:
                table.update_cell(name, "value", value, update_width=True)
                table.update_cell(name, "time", time, update_width=True)
            else:
                table.add_row(name, value, p.unit, time, key=name)

    def _draw_alarms(self) -> None:
        table = self.query_one("#alarms", DataTable)
        cursor = table.cursor_row
        table.clear()
        self._alarm_rows = []
        for a in self.model.alarms.values():
            table.add_row(
                a.parameter,
                Text(a.level, style=LEVEL_STYLE.get(a.level, "")),
                Text(a.state, style=STATE_STYLE.get(a.state, "")),
                value_text(a.value),
                a.time,
                key=a.parameter,
            )
            self._alarm_rows.append(a.parameter)
        if self._alarm_rows:
            table.move_cursor(row=min(max(cursor, 0), len(self._alarm_rows) - 1))

    def _draw_images(self) -> None:
        lines = []
        for row in self.model.images.values():
            state = "complete" if row.complete else ("partial" if row.done else row.delivery)
            lines.append(
                f"{row.key:<9}{image_bar(row.percent)} {row.percent:5.1f}% {state:<8} {row.segments}"
            )
        if self.model.images_dropped:
            lines.append(f"({self.model.images_dropped} older image(s) not shown)")
        self.query_one("#images", Static).update(Text("\n".join(lines) or "no image yet"))

    def _draw_link(self) -> None:
        rows = self.model.link_rows()
        lines = [f"{label:<20} {value:>12,.0f}" for label, value in rows]
        self.query_one("#link", Static).update(Text("\n".join(lines) or "no counters yet"))

    def _draw_events(self) -> None:
        events = list(self.model.events)[-EVENTS_SHOWN:]
        text = Text()
        for e in events:
            style = {"high": "bold red", "medium": "yellow", "error": "bold red", "command": "cyan"}.get(
                e["severity"], ""
            )
            text.append(f"{e['time']}  {e['severity']:<8} {e['name']}  {e['text']}\n", style=style)
        if self.model.events_dropped:
            text.append(f"({self.model.events_dropped:,} older event(s) no longer kept)\n", style="dim")
        self.query_one("#events", Static).update(text if events else Text("no event yet"))


class _ArchiveOnly(Exception):
    """The API serves a finished archive: its WebSocket has no live station behind it."""


def _close_code(exc: BaseException) -> int | None:
    return getattr(getattr(exc, "rcvd", None), "code", None)


def _close_reason(exc: BaseException) -> str:
    received = getattr(exc, "rcvd", None)
    if received is not None and received.reason:
        return received.reason
    return str(exc) or type(exc).__name__
