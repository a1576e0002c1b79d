"""The station's updates carried to WebSocket clients; the station never waits for a client.

The station's thread calls :meth:`LiveFeed.publish` for each update and :meth:`LiveFeed.flush`
once per message it handled; the API's event loop hands each batch to every client whose
subscriptions match. A client that falls more than ``client_backlog`` updates behind is
disconnected with a reason (it can reconnect and read the history), so a stalled browser costs
the station nothing. Nothing is dropped silently: updates the API's loop could not take (it fell
``max_pending`` behind) and clients disconnected for being slow are counted.
"""

from __future__ import annotations

import asyncio
import fnmatch
import threading
from collections import deque
from typing import Any

ALWAYS_SENT = ("event", "alarm", "verification", "link", "image", "image_progress")
# The station publishes one record per housekeeping packet (names and values as tuples: no
# per-parameter work in its thread); clients get one "parameter" update per subscribed name.
PARAMETERS = "parameters"


def _parameter(record: dict[str, Any], names: tuple[str, ...], j: int) -> dict[str, Any]:
    return {
        "type": "parameter",
        "name": names[j],
        "tai": record["tai"],
        "value": record["values"][j],
        "raw": record["raw"][j],
    }


class Client:
    """One WebSocket client's subscriptions and its bounded backlog of updates to send."""

    def __init__(self, backlog: int) -> None:
        self.backlog = backlog
        self.patterns: set[str] = set()
        self.exact: set[str] = set()
        self.queue: deque[dict[str, Any]] = deque()
        self.ready = asyncio.Event()
        self.slow = asyncio.Event()  # set once: the client fell ``backlog`` updates behind
        self.too_slow = False
        self.sent = 0
        self._layouts: dict[tuple, list[int]] = {}
        self._version = 0

    def subscribe(self, names: list[str]) -> None:
        self._version += 1
        for name in names:
            (self.patterns if any(c in name for c in "*?[") else self.exact).add(name)

    def unsubscribe(self, names: list[str]) -> None:
        self._version += 1
        for name in names:
            self.patterns.discard(name)
            self.exact.discard(name)

    @property
    def subscriptions(self) -> int:
        return len(self.patterns) + len(self.exact)

    def wants(self, update: dict[str, Any]) -> bool:
        if update["type"] in ALWAYS_SENT:
            return True
        return self.wants_name(update.get("name", ""))

    def wants_name(self, name: str) -> bool:
        return name in self.exact or any(fnmatch.fnmatchcase(name, p) for p in self.patterns)

    def _wanted_of(self, names: tuple[str, ...]) -> list[int]:
        """Positions of the subscribed names in a packet's names (cached per packet layout)."""
        key = (names, self._version)
        wanted = self._layouts.get(key)
        if wanted is None:
            if len(self._layouts) > 256:
                self._layouts.clear()
            wanted = self._layouts[key] = [j for j, name in enumerate(names) if self.wants_name(name)]
        return wanted

    def offer(self, updates: list[dict[str, Any]]) -> None:
        if self.too_slow:
            return
        wanted: list[dict[str, Any]] = []
        for u in updates:
            if u["type"] == PARAMETERS:  # one packet's parameters, one update per subscribed name
                names = u["names"]
                wanted += [_parameter(u, names, j) for j in self._wanted_of(names)]
            elif self.wants(u):
                wanted.append(u)
        if not wanted:
            return
        if len(self.queue) + len(wanted) > self.backlog:
            self.too_slow = True
            self.queue.clear()
            self.slow.set()
            return
        self.queue.extend(wanted)
        self.ready.set()


class LiveFeed:
    """Station thread -> API event loop -> clients."""

    def __init__(self, max_pending: int = 200_000, client_backlog: int = 50_000) -> None:
        self.max_pending = max_pending
        self.client_backlog = client_backlog
        self._pending: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._scheduled = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self.clients: set[Client] = set()
        self._latest_record: dict[tuple[str, ...], dict[str, Any]] = {}  # per packet layout
        self._layout_of: dict[str, tuple[str, ...]] = {}
        self.published = 0
        self.unserved = 0  # dropped because the API's loop fell max_pending behind (counted, logged)
        self.slow_clients = 0  # clients disconnected for falling behind

    # ------------------------------------------------------------------ the station's side

    def publish_parameters(
        self, tai: float, names: tuple[str, ...], values: tuple[Any, ...], raw: tuple[Any, ...]
    ) -> None:
        """One packet's parameters (equal-length tuples): a single record, expanded per client."""
        self.publish({"type": PARAMETERS, "tai": tai, "names": names, "values": values, "raw": raw})

    def latest(self, name: str) -> dict[str, Any] | None:
        """The newest update of parameter ``name`` (None: none yet)."""
        names = self._layout_of.get(name)
        if names is None:
            return None
        record = self._latest_record[names]
        return _parameter(record, names, names.index(name))

    def _remember(self, update: dict[str, Any]) -> None:
        names = update["names"]
        if names not in self._latest_record:
            for name in names:
                self._layout_of[name] = names
        self._latest_record[names] = update

    def publish(self, update: dict[str, Any]) -> None:
        """Queue one update (``{"type": ..., ...}``); cheap, never blocks."""
        if self._loop is None:
            if update["type"] == PARAMETERS:
                self._remember(update)
            return
        with self._lock:
            if len(self._pending) >= self.max_pending:
                self.unserved += 1
                return
            self._pending.append(update)
            self.published += 1

    def flush(self) -> None:
        """Hand what was published to the API's loop (once per station message)."""
        loop = self._loop
        if loop is None or not self._pending:
            return
        with self._lock:
            if self._scheduled:
                return
            self._scheduled = True
        try:
            loop.call_soon_threadsafe(self._deliver)
        except RuntimeError:  # the loop has closed: the API stopped
            self._loop = None

    # ------------------------------------------------------------------ the API's side

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def detach(self) -> None:
        self._loop = None

    def _deliver(self) -> None:
        with self._lock:
            batch, self._pending = self._pending, []
            self._scheduled = False
        for update in batch:
            if update["type"] == PARAMETERS:
                self._remember(update)
        for client in list(self.clients):
            client.offer(batch)

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
