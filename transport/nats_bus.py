"""The station bus on NATS JetStream, from synchronous code: stations publish frame reports, the
merger consumes every station's.

nats-py is asyncio; each :class:`FramePublisher` and :class:`FrameConsumer` runs its own event
loop in a daemon thread, so the station's and the merger's loops stay as they are. The stream
(:data:`STREAM`, subjects ``paleblue.frames.>``) is created by whoever comes first, with a
de-duplication window and as many replicas as the bus URL names servers (up to three, so that a
cluster keeps the pass when one server dies; :func:`default_replicas`). A report published again
under the same message id (a station's retry) is stored once, and the publisher counts it
(``duplicates``). Nothing is dropped silently: a report the server did not acknowledge after its
retries is counted in ``failed``, one refused because the publisher's queue was full in
``queue_full``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import nats
from nats.js import api
from nats.js.errors import APIError

from protocols.bus.frame_report import MAX_FRAME_OCTETS, SUBJECT_PREFIX, FrameReport

log = logging.getLogger("paleblue.bus")

STREAM = "PALEBLUE_FRAMES"
SUBJECTS = f"{SUBJECT_PREFIX}.>"
DUPLICATE_WINDOW_S = 120.0
MAX_MESSAGE_OCTETS = MAX_FRAME_OCTETS + 1024  # a report: the frame and at most ~60 octets more
HEADER_MSG_ID = "Nats-Msg-Id"


def default_replicas(url: str) -> int:
    """How many copies of the stream the cluster keeps when the URL lists its servers: one per
    server named, up to three (JetStream's usual and a loss of one server survived); one for a
    single server."""
    return max(1, min(3, len([u for u in url.split(",") if u.strip()])))


class BusError(RuntimeError):
    """The bus cannot be reached or the stream cannot be made."""


class _LoopThread:
    """An asyncio event loop in a daemon thread; coroutines submitted from any thread."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, Any], timeout_s: float | None = None) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout_s)

    def call(self, fn: Callable[..., Any], *args: Any) -> None:
        self.loop.call_soon_threadsafe(fn, *args)

    def stop(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5.0)
        if not self._thread.is_alive():
            self.loop.close()


async def _quiet_error(exc: Exception) -> None:
    log.debug("bus: %s", str(exc) or type(exc).__name__)  # a reconnect in progress; the client retries


async def _connect(url: str, timeout_s: float) -> nats.NATS:
    """Connected to one of the comma-separated servers of ``url`` within ``timeout_s``, or BusError.
    Once connected the client reconnects (to any server of a cluster) for as long as it runs."""
    try:
        return await asyncio.wait_for(
            nats.connect(
                url.split(","),
                connect_timeout=timeout_s,
                allow_reconnect=True,
                max_reconnect_attempts=-1,
                reconnect_time_wait=0.2,
                error_cb=_quiet_error,
                name="paleblue",
            ),
            timeout_s,
        )
    except Exception as exc:  # nats raises several kinds; all mean "no bus there"
        raise BusError(f"cannot connect to the bus at {url}: {str(exc) or type(exc).__name__}") from exc


async def ensure_stream(js: Any, replicas: int = 1, timeout_s: float = 15.0, stream: str = STREAM) -> None:
    """Create the frame stream unless it exists; retried while a new cluster elects its leader."""
    config = api.StreamConfig(
        name=stream,
        subjects=[SUBJECTS],
        storage=api.StorageType.FILE,
        num_replicas=replicas,
        duplicate_window=DUPLICATE_WINDOW_S,
        max_msg_size=MAX_MESSAGE_OCTETS,
        discard=api.DiscardPolicy.OLD,
    )
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            await js.stream_info(stream)
            return
        except Exception:
            pass
        try:
            await js.add_stream(config)
            return
        except APIError as exc:
            if "already in use" in str(exc):
                return
            error: Exception = exc
        except Exception as exc:  # a cluster with no JetStream leader yet answers nothing
            error = exc
        if time.monotonic() > deadline:
            raise BusError(f"cannot create stream {stream}: {error or type(error).__name__}")
        await asyncio.sleep(0.2)


@dataclass
class PublisherCounters:
    published: int = 0  # handed to the server
    stored: int = 0  # acknowledged as new
    duplicates: int = 0  # acknowledged as already stored (same message id)
    retries: int = 0
    failed: int = 0  # not acknowledged after every retry: lost, and counted here
    queue_full: int = 0  # refused while the publisher's queue was full

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class FramePublisher:
    """A station's side of the bus: :meth:`publish` never blocks; :meth:`flush` waits for acks."""

    def __init__(
        self,
        url: str,
        *,
        replicas: int | None = None,
        max_queue: int = 100_000,
        max_in_flight: int = 2048,
        retries: int = 5,
        retry_for_s: float = 30.0,
        ack_timeout_s: float = 5.0,
        connect_timeout_s: float = 5.0,
        stream: str = STREAM,
    ) -> None:
        """A report is tried again (backing off up to 1 s) until it has had ``retries`` retries
        and ``retry_for_s`` seconds have passed: a cluster that lost a server elects new leaders
        within seconds, and retries that end before it does would lose reports."""
        self.url = url
        self.stream = stream
        self.counters = PublisherCounters()
        self._max_queue = max_queue
        self._retries = retries
        self._retry_for_s = retry_for_s
        self._ack_timeout_s = ack_timeout_s
        self._loop = _LoopThread("bus-publisher")
        self._queue: collections.deque[tuple[str, bytes, str]] = collections.deque()
        self._queued = 0  # reports waiting or in flight (read from the caller's thread)
        self._wake: asyncio.Event | None = None
        self._closing = False
        try:
            replicas = default_replicas(url) if replicas is None else replicas
            self._loop.run(self._start(replicas, connect_timeout_s, max_in_flight), connect_timeout_s + 20)
        except BaseException:
            self._loop.stop()
            raise

    async def _start(self, replicas: int, timeout_s: float, max_in_flight: int) -> None:
        self._nc = await _connect(self.url, timeout_s)
        self._js = self._nc.jetstream(timeout=self._ack_timeout_s, publish_async_max_pending=max_in_flight)
        await ensure_stream(self._js, replicas, stream=self.stream)
        self._wake = asyncio.Event()
        self._in_flight = asyncio.Semaphore(max_in_flight)
        self._idle = asyncio.Event()
        self._idle.set()
        self._pump = asyncio.get_running_loop().create_task(self._run())

    def publish(self, report: FrameReport) -> None:
        """Queue one report (thread-safe; never blocks). A full queue refuses it, counted."""
        self.publish_raw(report.subject, report.pack(), report.message_id)

    def publish_raw(self, subject: str, data: bytes, message_id: str) -> None:
        if self._queued >= self._max_queue:
            self.counters.queue_full += 1
            return
        self._queued += 1
        self._loop.call(self._enqueue, (subject, data, message_id))

    def _enqueue(self, item: tuple[str, bytes, str]) -> None:
        self._queue.append(item)
        self._idle.clear()
        self._wake.set()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                await self._in_flight.acquire()
                item = self._queue.popleft()
                asyncio.get_running_loop().create_task(self._send(item))

    async def _send(self, item: tuple[str, bytes, str]) -> None:
        subject, data, message_id = item
        give_up_at = time.monotonic() + self._retry_for_s
        attempt = 0
        try:
            while True:
                try:
                    ack = await self._js.publish(
                        subject, data, timeout=self._ack_timeout_s, headers={HEADER_MSG_ID: message_id}
                    )
                except Exception as exc:  # timeouts, no stream during a failover, a reconnect
                    if attempt >= self._retries and time.monotonic() >= give_up_at:
                        self.counters.failed += 1
                        why = str(exc) or type(exc).__name__
                        log.warning("frame report %s not stored: %s", message_id, why)
                        return
                    self.counters.retries += 1
                    await asyncio.sleep(min(1.0, 0.05 * 2 ** min(attempt, 5)))
                    attempt += 1
                    continue
                if attempt == 0:
                    self.counters.published += 1
                if ack.duplicate:
                    self.counters.duplicates += 1
                else:
                    self.counters.stored += 1
                return
        finally:
            self._in_flight.release()
            self._queued -= 1
            if self._queued == 0 and not self._queue:
                self._idle.set()

    def flush(self, timeout_s: float = 30.0) -> bool:
        """Wait until every queued report is acknowledged (or failed); False on timeout."""

        async def idle() -> None:
            await self._idle.wait()

        deadline = time.monotonic() + timeout_s
        while self._queued and time.monotonic() < deadline:  # reports still on their way to the loop
            try:
                self._loop.run(asyncio.wait_for(idle(), max(0.01, deadline - time.monotonic())))
            except TimeoutError:
                break
        return self._queued == 0

    def close(self, timeout_s: float = 30.0) -> None:
        if self._closing:
            return
        self._closing = True
        self.flush(timeout_s)

        async def shut() -> None:
            self._pump.cancel()
            with contextlib.suppress(Exception):
                await self._nc.drain()

        with contextlib.suppress(Exception):
            self._loop.run(shut(), 10.0)
        self._loop.stop()

    def __enter__(self) -> FramePublisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class BusMessage(NamedTuple):
    """One message from the stream, as received: the merger decodes (and may refuse) it. A tuple,
    and its stream sequence read from its reply subject only when asked: the merger's intake makes
    no object per message beyond this one."""

    subject: str
    data: bytes
    message: Any  # nats-py's message, for its metadata

    @property
    def stream_sequence(self) -> int:
        """The message's sequence in the stream (0 when the reply subject is not JetStream's)."""
        try:
            return self.message.metadata.sequence.stream
        except Exception:  # not a JetStream message (cannot happen on the merger's subscription)
            return 0


class FrameConsumer:
    """The merger's side: every message on ``paleblue.frames.>``, from the start of the stream, in
    stream order (an ordered consumer: it re-creates itself after a server or leader change)."""

    def __init__(
        self,
        url: str,
        *,
        replicas: int | None = None,
        max_buffered: int = 50_000,
        connect_timeout_s: float = 5.0,
        stream: str = STREAM,
    ) -> None:
        self.url = url
        self.stream = stream
        self._buffer: collections.deque[BusMessage] = collections.deque()
        self._ready = threading.Event()
        self._max_buffered = max_buffered
        self.slow = 0  # times the buffer was full when a message came (the client then waits)
        self._loop = _LoopThread("bus-consumer")
        try:
            replicas = default_replicas(url) if replicas is None else replicas
            self._loop.run(self._start(replicas, connect_timeout_s), connect_timeout_s + 60)
        except BaseException:
            self._loop.stop()
            raise

    async def _start(self, replicas: int, timeout_s: float) -> None:
        self._nc = await _connect(self.url, timeout_s)
        self._js = self._nc.jetstream(timeout=10.0)
        await ensure_stream(self._js, replicas, stream=self.stream)
        self._room = asyncio.Event()
        self._room.set()
        deadline = time.monotonic() + 30.0
        while True:  # a cluster electing a new leader (a server just died) answers nothing for a while
            try:
                self._sub = await self._js.subscribe(
                    SUBJECTS,
                    stream=self.stream,
                    cb=self._on_message,
                    ordered_consumer=True,
                    deliver_policy=api.DeliverPolicy.ALL,
                    idle_heartbeat=2.0,
                )
                return
            except Exception as exc:
                if time.monotonic() > deadline:
                    raise BusError(
                        f"cannot consume stream {self.stream}: {str(exc) or type(exc).__name__}"
                    ) from exc
                await asyncio.sleep(0.5)

    async def _on_message(self, msg: Any) -> None:
        if len(self._buffer) >= self._max_buffered:
            self.slow += 1
            self._room.clear()
            await self._room.wait()  # holds the subscription's delivery: flow control slows the server
        self._buffer.append(BusMessage(msg.subject, msg.data, msg))
        if not self._ready.is_set():  # after the append: fetch clears, then looks at the buffer
            self._ready.set()

    def fetch(self, max_messages: int = 1024, timeout_s: float = 0.05) -> list[BusMessage]:
        """Up to ``max_messages`` in stream order; waits up to ``timeout_s`` when none is there."""
        if not self._buffer:
            self._ready.clear()
            if not self._buffer:
                self._ready.wait(timeout_s)
        out = []
        buffer = self._buffer
        while buffer and len(out) < max_messages:
            out.append(buffer.popleft())
        if len(buffer) < self._max_buffered // 2:
            self._loop.call(self._room.set)
        return out

    def close(self) -> None:
        async def shut() -> None:
            self._room.set()
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            with contextlib.suppress(Exception):
                await self._nc.close()

        with contextlib.suppress(Exception):
            self._loop.run(shut(), 10.0)
        self._loop.stop()

    def __enter__(self) -> FrameConsumer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
