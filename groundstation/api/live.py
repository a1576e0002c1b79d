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

    def subscribe(self, names: list[str]) -> None:
        for name in names:
            (self.patterns if any(c in name for c in "*?[") else self.exact).add(name)

    def unsubscribe(self, names: list[str]) -> None:
        for name in names:
            self.patterns.discard(name)
            self.exact.discard(name)

    @property
    def subscriptions(self) -> int:
        return len(self.patterns) + len(self.exact)

    def wants(self, update: dict[str, Any]) -> bool:
        if update["type"] in ALWAYS_SENT:
            return True
        name = update.get("name", "")
        return name in self.exact or any(fnmatch.fnmatchcase(name, p) for p in self.patterns)

    def offer(self, updates: list[dict[str, Any]]) -> None:
        if self.too_slow:
            return
        wanted = [u for u in updates if self.wants(u)]
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
        self.latest: dict[str, dict[str, Any]] = {}
        self.published = 0
        self.unserved = 0  # dropped because the API's loop fell max_pending behind (counted, logged)
        self.slow_clients = 0  # clients disconnected for falling behind

    # ------------------------------------------------------------------ the station's side

    def publish(self, update: dict[str, Any]) -> None:
        """Queue one update (``{"type": ..., ...}``); cheap, never blocks."""
        if self._loop is None:
            if update["type"] == "parameter":
                self.latest[update["name"]] = update
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
            if update["type"] == "parameter":
                self.latest[update["name"]] = update
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
