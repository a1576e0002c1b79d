"""The uplink through one station at a time, over the bus.

The merger's side, :class:`UplinkRelay`: each unit to send up (a CFDP NAK, an operator's command)
goes as a NATS request to the one station chosen at that moment (``choose()``: the operator's,
the pass schedule's or the station in contact), on ``paleblue.uplink.<station>``, in order. The
station's side, :class:`UplinkForwarder`: it takes the requests on its own subject, hands each unit
to ``forward`` (its uplink to the probe) and answers whether it went. Nothing is lost silently: a
unit with no station chosen or none answering (``no_station``), refused or not answered in time
(``failed``) is counted, and logged once per kind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nats.errors import NoRespondersError

from protocols.bus.uplink_request import UplinkRequest, uplink_subject
from protocols.errors import DecodeError
from transport.nats_bus import _connect, _LoopThread

log = logging.getLogger("paleblue.bus.uplink")

OK = b"ok"


@dataclass
class UplinkCounters:
    requested: int = 0  # units handed to send()
    delivered: int = 0  # a station took the unit and sent it up
    no_station: int = 0  # no station chosen, or none listening on the chosen one's subject
    failed: int = 0  # the station refused it or did not answer in time
    by_station: Counter[str] = field(default_factory=Counter)  # units delivered through each station

    def as_dict(self) -> dict[str, object]:
        return {
            "requested": self.requested, "delivered": self.delivered, "no_station": self.no_station,
            "failed": self.failed, "by_station": dict(sorted(self.by_station.items())),
        }  # fmt: skip


class UplinkRelay:
    """``send(layer, unit)`` (the GroundStation's ``send_uplink``): never blocks, keeps the order."""

    def __init__(
        self,
        url: str,
        choose: Callable[[], str | None],
        *,
        timeout_s: float = 2.0,
        connect_timeout_s: float = 5.0,
    ) -> None:
        self.choose = choose
        self.counters = UplinkCounters()
        self._timeout_s = timeout_s
        self._said: set[str] = set()
        self._loop = _LoopThread("bus-uplink")
        try:
            self._loop.run(self._start(url, connect_timeout_s), connect_timeout_s + 5)
        except BaseException:
            self._loop.stop()
            raise

    async def _start(self, url: str, timeout_s: float) -> None:
        self._nc = await _connect(url, timeout_s)
        self._queue: asyncio.Queue[tuple[str | None, bytes]] = asyncio.Queue()
        self._worker = asyncio.get_running_loop().create_task(self._run())

    def send(self, layer: Any, unit: bytes) -> None:
        """Queue one unit for the station chosen now (thread-safe)."""
        self.counters.requested += 1
        station = self.choose()
        data = UplinkRequest(int(layer), bytes(unit)).pack()
        self._loop.call(self._queue.put_nowait, (station, data))

    def _say(self, kind: str, detail: str) -> None:
        if kind not in self._said:
            self._said.add(kind)
            log.warning("uplink: %s (%s); further ones are counted", kind, detail)

    async def _run(self) -> None:
        while True:
            station, data = await self._queue.get()
            try:
                await self._deliver(station, data)
            finally:
                self._queue.task_done()

    async def _deliver(self, station: str | None, data: bytes) -> None:
        counters = self.counters
        if station is None:
            counters.no_station += 1
            self._say("no station chosen", "no station in contact")
            return
        try:
            reply = await self._nc.request(uplink_subject(station), data, timeout=self._timeout_s)
        except NoRespondersError:
            counters.no_station += 1
            self._say("no station listening", station)
            return
        except Exception as exc:  # a timeout, a reconnect
            counters.failed += 1
            self._say("not answered", f"{station}: {str(exc) or type(exc).__name__}")
            return
        if reply.data == OK:
            counters.delivered += 1
            counters.by_station[station] += 1
        else:
            counters.failed += 1
            self._say("refused by the station", f"{station}: {reply.data[:80]!r}")

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until every queued unit is delivered or counted; False on timeout."""
        try:
            self._loop.run(asyncio.wait_for(self._queue.join(), timeout_s), timeout_s + 1)
        except TimeoutError:
            return False
        return True

    def close(self) -> None:
        self.flush()

        async def shut() -> None:
            self._worker.cancel()
            with contextlib.suppress(Exception):
                await self._nc.close()

        with contextlib.suppress(Exception):
            self._loop.run(shut(), 10.0)
        self._loop.stop()


@dataclass
class ForwarderCounters:
    forwarded: int = 0
    not_sent: int = 0  # forward() said no (the probe's uplink not taking it)
    refused: int = 0  # not an uplink request

    def as_dict(self) -> dict[str, int]:
        return {"forwarded": self.forwarded, "not_sent": self.not_sent, "refused": self.refused}


class UplinkForwarder:
    """A station's side: requests on its subject to ``forward(layer, unit) -> bool`` (called in
    this forwarder's own thread), each answered. ``on_close`` runs once the forwarder has stopped
    (no ``forward`` call after it): where the forwarding socket is closed."""

    def __init__(
        self,
        url: str,
        station_id: str,
        forward: Callable[[int, bytes], bool],
        *,
        connect_timeout_s: float = 5.0,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.subject = uplink_subject(station_id)
        self.forward = forward
        self.on_close = on_close
        self.counters = ForwarderCounters()
        self._loop = _LoopThread("bus-uplink-forwarder")
        try:
            self._loop.run(self._start(url, connect_timeout_s), connect_timeout_s + 5)
        except BaseException:
            self._loop.stop()
            raise

    async def _start(self, url: str, timeout_s: float) -> None:
        self._nc = await _connect(url, timeout_s)
        self._sub = await self._nc.subscribe(self.subject, cb=self._on_request)
        await self._nc.flush()

    async def _on_request(self, msg: Any) -> None:
        try:
            request = UplinkRequest.unpack(msg.data)
        except DecodeError as exc:
            self.counters.refused += 1
            answer = f"refused: {exc}".encode()
        else:
            try:
                sent = self.forward(request.layer, request.unit)
            except Exception as exc:  # the forwarding socket failed: said, counted, not raised
                log.warning("uplink: forwarding failed: %s", exc)
                sent = False
            if sent:
                self.counters.forwarded += 1
                answer = OK
            else:
                self.counters.not_sent += 1
                answer = b"not sent"
        if msg.reply:
            with contextlib.suppress(Exception):
                await msg.respond(answer)

    def close(self) -> None:
        async def shut() -> None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            with contextlib.suppress(Exception):
                await self._nc.drain()

        with contextlib.suppress(Exception):
            self._loop.run(shut(), 10.0)
        self._loop.stop()
        if self.on_close is not None:
            self.on_close()
