"""The station's updates carried to WebSocket clients; the station never waits for a client.

The station's thread calls :meth:`LiveFeed.publish_packet` once per housekeeping packet (one
list append: the packet's mappings are kept as they are), :meth:`LiveFeed.publish` for other
updates, and :meth:`LiveFeed.flush` once per tick, which hands the tick's batch to the API's
event loop, or, with no client connected, only notes each packet's newest values (for late
subscribers and ``/latest``). The loop is woken at most once per delivery, which it makes
``delivery_interval_s`` (20 ms) later with every batch handed meanwhile, so a station that ticks
a thousand times a second costs it fifty wake-ups, not a thousand. Everything else happens in
the API's thread: each batch is expanded into one ``parameter`` update per subscribed name and
encoded to JSON once for all clients with the same subscriptions (orjson: a tenth of the
standard library's time), in messages of at most :data:`MESSAGE_CHARS`.

A client that falls more than ``client_backlog`` updates behind is disconnected with a reason (it
can reconnect and read the history), so a stalled browser costs the station nothing. Nothing is
dropped silently: updates the API's loop could not take (more than ``max_pending`` were waiting
for it) and clients disconnected for being slow are counted.
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
import math
import threading
import time
from collections import deque
from collections.abc import Mapping
from typing import Any

import orjson

MESSAGE_CHARS = 1 << 18  # a WebSocket message holds batches up to this size (clients' limits: 1 MiB)
SIZE_SAMPLE = 64  # updates encoded first to guess a big batch's size
ALWAYS_SENT = ("event", "alarm", "verification", "link", "image", "image_progress")

# A housekeeping packet in a batch: (generation time, engineering values, raw values, the names of
# the values in order: the layout's, given by the station, so that nothing is made per packet).
Packet = tuple[float, Mapping[str, Any], Mapping[str, Any], tuple[str, ...]]


def _plain(value: Any) -> Any:
    """What orjson does not encode itself (numpy scalars and the like): a number or its text."""
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def encode(updates: list[dict[str, Any]]) -> str:
    """A JSON array of updates (NaN and infinities as null)."""
    try:
        return orjson.dumps(updates, default=_plain, option=orjson.OPT_SERIALIZE_NUMPY).decode()
    except orjson.JSONEncodeError:  # what orjson refuses (an integer past 64 bits): the slow way
        return json.dumps(updates, default=str, allow_nan=False, cls=_NanAsNull)


class _NanAsNull(json.JSONEncoder):
    def iterencode(self, o: Any, _one_shot: bool = False) -> Any:
        return super().iterencode(_nan_as_none(o), _one_shot)


def _nan_as_none(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):  # as orjson writes them: null
        return None
    if isinstance(value, dict):
        return {k: _nan_as_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_nan_as_none(v) for v in value]
    return value


def _messages(updates: list[dict[str, Any]], chars_each: float = 0.0) -> list[tuple[str, int]]:
    """Updates encoded as JSON arrays of at most :data:`MESSAGE_CHARS` (unless one update is more).

    A batch too big for one message is cut into pieces of about three quarters of it by the size
    of the updates encoded so far (``chars_each``, or of the first few), so most updates are
    encoded once; a piece that is still too big is cut again."""
    if not updates:
        return []
    if chars_each == 0.0 and len(updates) > SIZE_SAMPLE:
        chars_each = len(encode(updates[:SIZE_SAMPLE])) / SIZE_SAMPLE
    if len(updates) == 1 or chars_each * len(updates) <= MESSAGE_CHARS:
        text = encode(updates)
        if len(text) <= MESSAGE_CHARS or len(updates) == 1:
            return [(text, len(updates))]
        chars_each = len(text) / len(updates)
    size = max(1, min(len(updates) // 2, int(MESSAGE_CHARS * 3 / 4 / chars_each)))
    return [
        m
        for start in range(0, len(updates), size)
        for m in _messages(updates[start : start + size], chars_each)
    ]


def _in_order(mapping: Mapping[str, Any], names: tuple[str, ...]) -> tuple:
    if tuple(mapping) == names:  # the usual case: a packet's raw values in its layout's order
        return tuple(mapping.values())
    return tuple(map(mapping.get, names))


def _packet_update(packet: Packet, names: tuple[str, ...], wanted: list[int]) -> dict[str, Any]:
    """One housekeeping packet's subscribed parameters as one ``packet`` update (columns)."""
    tai, values, raw, _ = packet
    engineering, raws = tuple(values.values()), _in_order(raw, names)
    if len(wanted) < len(names):
        names = tuple(names[j] for j in wanted)
        engineering, raws = tuple(engineering[j] for j in wanted), tuple(raws[j] for j in wanted)
    return {"type": "packet", "tai": tai, "names": names, "values": engineering, "raw": raws}


def _parameter_updates(packet: Packet, names: tuple[str, ...], wanted: list[int]) -> list[dict[str, Any]]:
    tai, values, raw, _ = packet
    if len(wanted) == len(names):  # every parameter of the packet: no positions to look up
        return [
            {"type": "parameter", "name": n, "tai": tai, "value": v, "raw": r}
            for n, v, r in zip(names, values.values(), _in_order(raw, names), strict=True)
        ]
    engineering = tuple(values.values())
    return [
        {"type": "parameter", "name": names[j], "tai": tai, "value": engineering[j], "raw": raw.get(names[j])}
        for j in wanted
    ]


class Client:
    """One WebSocket client's subscriptions and its bounded backlog of encoded messages."""

    def __init__(self, backlog: int) -> None:
        self.backlog = backlog
        self.packets = False  # True: a packet's parameters as one ``packet`` update, not one each
        self.patterns: set[str] = set()
        self.exact: set[str] = set()
        self.queue: deque[tuple[str, int]] = deque()  # JSON arrays of updates, and their counts
        self.queued = 0  # updates in ``queue``
        self.ready = asyncio.Event()
        self.slow = asyncio.Event()  # set once: the client fell ``backlog`` updates behind
        self.too_slow = False
        self.sent = 0
        self._layouts: dict[tuple[str, ...], list[int]] = {}
        self.version = 0

    def subscribe(self, names: list[str]) -> None:
        self.version += 1
        self._layouts.clear()
        for name in names:
            (self.patterns if any(c in name for c in "*?[") else self.exact).add(name)

    def unsubscribe(self, names: list[str]) -> None:
        self.version += 1
        self._layouts.clear()
        for name in names:
            self.patterns.discard(name)
            self.exact.discard(name)

    @property
    def subscriptions(self) -> int:
        return len(self.patterns) + len(self.exact)

    @property
    def key(self) -> tuple[frozenset[str], frozenset[str], bool]:
        """Clients with equal keys get the same updates (encoded once for all of them)."""
        return frozenset(self.exact), frozenset(self.patterns), self.packets

    def wants(self, update: dict[str, Any]) -> bool:
        if update["type"] in ALWAYS_SENT:
            return True
        return self.wants_name(update.get("name", ""))

    def wants_name(self, name: str) -> bool:
        return name in self.exact or any(fnmatch.fnmatchcase(name, p) for p in self.patterns)

    def wanted_of(self, names: tuple[str, ...]) -> list[int]:
        """Positions of the subscribed names in a packet's names (cached per packet layout)."""
        wanted = self._layouts.get(names)
        if wanted is None:
            if len(self._layouts) > 256:
                self._layouts.clear()
            wanted = self._layouts[names] = [j for j, name in enumerate(names) if self.wants_name(name)]
        return wanted

    def updates_of(self, batch: list[Any]) -> list[dict[str, Any]]:
        """The updates of one batch this client subscribed to, in the station's order."""
        wanted: list[dict[str, Any]] = []
        for item in batch:
            if type(item) is tuple:  # a housekeeping packet: one update per subscribed name
                names = item[3]
                positions = self.wanted_of(names)
                if positions and self.packets:
                    wanted.append(_packet_update(item, names, positions))
                elif positions:
                    wanted += _parameter_updates(item, names, positions)
            elif self.wants(item):
                wanted.append(item)
        return wanted

    def offer(self, text: str, count: int) -> None:
        """One encoded batch of ``count`` updates for this client (or, past its backlog, the end)."""
        if self.too_slow or count == 0:
            return
        if self.queued + count > self.backlog:
            self.too_slow = True
            self.queue.clear()
            self.queued = 0
            self.slow.set()
            return
        self.queue.append((text, count))
        self.queued += count
        self.ready.set()

    def take(self, max_chars: int = MESSAGE_CHARS) -> tuple[str, int]:
        """What is queued, as one JSON array of at most about ``max_chars`` (a whole batch at
        least), and how many updates it holds."""
        texts, count, size = [], 0, 0
        while self.queue and (not texts or size + len(self.queue[0][0]) <= max_chars):
            text, n = self.queue.popleft()
            texts.append(text)
            count += n
            size += len(text)
        self.queued -= count
        if len(texts) == 1:
            return texts[0], count
        return "[" + ",".join(t[1:-1] for t in texts if t != "[]") + "]", count


class LiveFeed:
    """Station thread -> API event loop -> clients."""

    def __init__(
        self, max_pending: int = 200_000, client_backlog: int = 50_000, delivery_interval_s: float = 0.02
    ) -> None:
        self.max_pending = max_pending
        self.client_backlog = client_backlog
        self.delivery_interval_s = delivery_interval_s
        self._pending: list[Any] = []  # the station thread's, until flush hands it over
        self._lock = threading.Lock()
        self._handed: list[list[Any]] = []  # batches handed to the API's loop, not yet delivered
        self._scheduled = False  # a delivery of them is due on the API's loop
        self._in_flight = 0  # items in ``_handed``
        self._loop: asyncio.AbstractEventLoop | None = None
        self.clients: set[Client] = set()
        self._latest_packet: dict[tuple[str, ...], Packet] = {}  # per packet layout
        self._layout_of: dict[str, tuple[str, ...]] = {}
        self.published = 0
        self.unserved = 0  # dropped because the API's loop fell max_pending behind (counted, logged)
        self.slow_clients = 0  # clients disconnected for falling behind

    # ------------------------------------------------------------------ the station's side

    def publish_packet(
        self,
        tai: float,
        values: Mapping[str, Any],
        raw: Mapping[str, Any],
        names: tuple[str, ...] | None = None,
    ) -> None:
        """One housekeeping packet's parameters (kept as given: do not change them after);
        ``names``: the names of ``values`` in their order, if known (a packet layout's)."""
        self._pending.append((tai, values, raw, tuple(values) if names is None else names))

    def publish_parameters(
        self, tai: float, names: tuple[str, ...], values: tuple[Any, ...], raw: tuple[Any, ...]
    ) -> None:
        """One packet's parameters as equal-length tuples (:meth:`publish_packet` takes mappings)."""
        self.publish_packet(
            tai, dict(zip(names, values, strict=True)), dict(zip(names, raw, strict=True)), names
        )

    def publish(self, update: dict[str, Any]) -> None:
        """Queue one update (``{"type": ..., ...}``); cheap, never blocks."""
        self._pending.append(update)

    def flush(self) -> None:
        """Hand what was published since the last flush to the API's loop (once per station tick)."""
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        self.published += len(batch)
        loop = self._loop
        if loop is None or not self.clients:  # nobody listens: keep only the newest values
            self._remember(batch)
            return
        with self._lock:
            if self._in_flight + len(batch) > self.max_pending:
                self.unserved += len(batch)
                self._remember(batch)
                return
            self._in_flight += len(batch)
            self._handed.append(batch)
            wake, self._scheduled = not self._scheduled, True
        if wake:  # at most one wake-up of the API's loop per delivery, whatever the tick rate
            try:
                loop.call_soon_threadsafe(self._schedule)
            except RuntimeError:  # the loop has closed: the API stopped
                self._loop = None

    def drain(self, timeout_s: float = 2.0) -> None:
        """At the end (station thread): deliver what is handed now, not after the delivery
        interval, and wait until the clients' senders took it (or ``timeout_s``)."""
        self.flush()
        loop = self._loop
        if loop is None or not self.clients:
            return
        try:
            loop.call_soon_threadsafe(self._deliver_handed)
        except RuntimeError:
            return
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and (
            self._handed or any(c.queue for c in list(self.clients) if not c.too_slow)
        ):
            time.sleep(0.01)

    def _schedule(self) -> None:
        assert self._loop is not None
        self._loop.call_later(self.delivery_interval_s, self._deliver_handed)

    def _remember(self, batch: list[Any]) -> None:
        """Each layout's newest packet of ``batch``: from its end, each layout once (the station's
        packets of one layout share their names: they are told apart by identity first)."""
        latest = self._latest_packet
        seen: set[int] = set()  # identities of the names met, in this pass (they are alive)
        done: set[tuple[str, ...]] = set()
        for item in reversed(batch):
            if type(item) is not tuple or id(item[3]) in seen:
                continue
            names = item[3]
            seen.add(id(names))
            if names in done:  # equal names, another tuple: an older packet of a layout seen
                continue
            done.add(names)
            if names not in latest:
                for name in names:
                    self._layout_of[name] = names
            latest[names] = item

    def latest(self, name: str) -> dict[str, Any] | None:
        """The newest update of parameter ``name`` (None: none yet)."""
        names = self._layout_of.get(name)
        if names is None:
            return None
        return _parameter_updates(self._latest_packet[names], names, [names.index(name)])[0]

    # ------------------------------------------------------------------ the API's side

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def detach(self) -> None:
        self._loop = None

    def _deliver_handed(self) -> None:
        if not self._handed:
            return
        with self._lock:
            batches, self._handed, self._scheduled = self._handed, [], False
            self._in_flight -= sum(map(len, batches))
        self._deliver([item for batch in batches for item in batch])

    def _deliver(self, batch: list[Any]) -> None:
        self._remember(batch)
        encoded: dict[tuple, list[tuple[str, int]]] = {}  # per set of subscriptions: encoded once
        for client in list(self.clients):
            if client.too_slow:
                continue
            key = client.key
            messages = encoded.get(key)
            if messages is None:
                updates = client.updates_of(batch)
                messages = encoded[key] = _messages(updates)
            for text, count in messages:
                client.offer(text, count)

    def add_client(self) -> Client:
        client = Client(self.client_backlog)
        self.clients.add(client)
        return client

    def remove_client(self, client: Client) -> None:
        self.clients.discard(client)
        if client.too_slow:
            self.slow_clients += 1

    def counters(self) -> dict[str, int]:
        return {
            "clients": len(self.clients),
            "published": self.published,
            "unserved": self.unserved,
            "slow_clients_disconnected": self.slow_clients,
        }
