"""What the station decodes, kept and shown: the archive, the live feed, alarms and commands.

:class:`StationServices` attaches to a :class:`~groundstation.station.GroundStation` through its
telemetry callbacks and its list of products, so the decoding chain knows nothing of files or
clients. The station's loop calls :meth:`StationServices.tick` between messages: it samples the
station's own link and transport counters as parameters (once a second), records new image
products, sends the commands the API queued, commits the archive (once a second) and hands the
batch of updates to the API's clients.

Commands from the API are validated and encoded in the API's thread (so a bad one is answered
422 at once) and only sent from the station's thread, which owns the uplink socket.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from groundstation.api.alarms import AlarmBook
from groundstation.api.app import CommandRefused
from groundstation.api.live import LiveFeed
from groundstation.archive import ArchiveWriter
from groundstation.commanding import CommandEncoder, CommandError, CommandHistory, CommandRecord
from groundstation.image_progress import ImageProgressUpdates
from groundstation.station import GroundStation
from groundstation.telemetry import Alarm, EventRecord, HousekeepingData, HousekeepingReport
from protocols.capture.zmq_framing import Layer
from protocols.link.tc_frame import TcFrameEncoder, wrap_for_uplink
from protocols.packets.space_packet import SequenceCounter
from protocols.pus.pus_services import RequestId, VerificationReport

log = logging.getLogger("paleblue.ground")

SAMPLE_INTERVAL_S = 1.0
# With an archive on disk the station's in-memory history (TelemetryArchive, 100,000 samples per
# parameter by default) need only be a window of the newest samples: memory stays flat however
# long the pass or the recording decoded (BENCHMARKS.md, archive memory).
MEMORY_WINDOW = 10_000


def station_counters(summary: dict[str, Any]) -> dict[str, float]:
    """The station's own counters from its summary, named as archived parameters: every number
    under ``transport`` and ``link`` (per layer and virtual channel), as ``station.<path>``."""
    values: dict[str, float] = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(f"{prefix}.{key}", value)
        elif isinstance(node, int | float) and not isinstance(node, bool):
            values[prefix] = node

    walk("station.transport", summary.get("transport", {}))
    walk("station.link", {k: v for k, v in summary.get("link", {}).items() if k != "channel"})
    values["station.octets_received"] = summary.get("octets_received", 0)
    values["station.images"] = len(summary.get("images", []))
    values["station.faults"] = sum(
        v for v in summary.get("faults", {}).values() if isinstance(v, int | float)
    )
    return values


class StationServices:
    def __init__(
        self,
        station: GroundStation,
        *,
        archive: ArchiveWriter | None = None,
        feed: LiveFeed | None = None,
        alarms: AlarmBook | None = None,
        send_uplink: Callable[[Layer, bytes], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        tai_now: Callable[[], float] | None = None,
    ) -> None:
        self.station = station
        self.archive = archive
        self.feed = feed
        self.alarms = alarms if alarms is not None else AlarmBook()
        self._send_uplink = send_uplink
        self._clock = clock
        self._wall = wall_clock
        self._tai_now = tai_now or _tai_now
        self._last_sample = float("-inf")
        self._products_seen = 0
        self.commands = CommandHistory()
        self._encoder = CommandEncoder(station.mdb)
        self._tc_frames = TcFrameEncoder(station.mdb.spacecraft_id, station.mdb.tc_virtual_channel)
        self._sequence = SequenceCounter()
        self._sequence_lock = threading.Lock()
        if archive is not None:
            memory = station.telemetry.archive
            memory.max_samples = min(memory.max_samples, MEMORY_WINDOW)
        self._outbox: queue.SimpleQueue[CommandRecord] = queue.SimpleQueue()
        self._housekeeping_data: list[HousekeepingData] = []  # the telemetry's, until the next tick
        # each structure's parameter names, in the order of a report's values (its layout's)
        self._names = {d.structure_id: d.layout.names for d in station.mdb.packets}
        self.image_progress = (
            ImageProgressUpdates(station, feed.publish, self._tai_now) if feed is not None else None
        )
        self._attach()

    # ------------------------------------------------------------------ the station's callbacks

    def _attach(self) -> None:
        telemetry = self.station.telemetry
        chained: dict[str, Callable] = {
            "on_event": self._on_event,
            "on_alarm": self._on_alarm,
            "on_verification": self._on_verification,
        }
        if self.archive is not None:  # the reports' octets: the archive decommutates them column-wise
            chained["on_housekeeping_data"] = self._housekeeping_data.append  # read at each tick
        if self.feed is not None:
            chained["on_housekeeping"] = self._on_housekeeping
        for attribute, ours in chained.items():
            theirs = getattr(telemetry, attribute)
            setattr(telemetry, attribute, _both(theirs, ours))

    def _archive_housekeeping(self) -> None:
        """The reports decoded since the last tick, to the archive in one call (their reception
        times, taken by the station per packet, as TAI)."""
        pending = self._housekeeping_data
        if pending and self.archive is not None:
            items = pending.copy()
            pending.clear()
            now = self._tai_now()
            self.archive.add_housekeeping_data(items, now - self._wall(), now)

    def _on_housekeeping(self, report: HousekeepingReport) -> None:
        assert self.feed is not None
        self.feed.publish_packet(report.time, report.values, report.raw, self._names[report.structure_id])

    def _on_event(self, record: EventRecord) -> None:
        received = self._tai_now()
        if self.archive is not None:
            self.archive.add_event(
                record.time, received, record.name, record.event_id, record.severity, record.values
            )
        if self.feed is not None:
            self.feed.publish(
                {
                    "type": "event",
                    "name": record.name,
                    "tai": record.time,
                    "severity": record.severity,
                    "arguments": record.values,
                }
            )

    def _on_alarm(self, alarm: Alarm) -> None:
        self.alarms.update(alarm.parameter, alarm.current, alarm.value, alarm.time)
        if self.archive is not None:
            self.archive.add_alarm(alarm.time, alarm.parameter, alarm.previous, alarm.current, alarm.value)
        if self.feed is not None:
            self.feed.publish(
                {
                    "type": "alarm",
                    "name": alarm.parameter,
                    "tai": alarm.time,
                    "previous": alarm.previous,
                    "level": alarm.current,
                    "value": alarm.value,
                    "state": self.alarms.state(alarm.parameter),
                }
            )

    def _on_verification(self, report: VerificationReport, time_tai: float) -> None:
        record = self.commands.apply(report, time_tai)
        request = _request_name(record.name if record else "?", report.request_id)
        detail = {"failure": record.failure if record else None, "code": report.failure_code}
        if self.archive is not None:
            self.archive.add_command_stage(
                time_tai, self._tai_now(), request, report.stage, report.success, detail
            )
        if self.feed is not None:
            self.feed.publish(
                {
                    "type": "verification",
                    "request": request,
                    "tai": time_tai,
                    "stage": report.stage,
                    "success": report.success,
                    **detail,
                }
            )

    # ------------------------------------------------------------------ commands from the API

    def queue_command(self, name: str, arguments: dict[str, Any]) -> str:
        """Validate and encode now (API thread); the station's thread sends it at its next tick."""
        if self._send_uplink is None:
            raise CommandRefused("this station has no uplink (start it with --uplink ENDPOINT)")
        with self._sequence_lock:
            apid = self._encoder.apid
            count = self._sequence.next(apid)
            try:
                packet = self._encoder.encode(name, arguments, count)
            except CommandError as exc:
                raise CommandRefused(str(exc)) from None
        record = CommandRecord(name, dict(arguments), RequestId(apid, count), packet, self._tai_now())
        self._outbox.put(record)
        return _request_name(name, record.request_id)

    def _send_queued(self) -> None:
        while True:
            try:
                record = self._outbox.get_nowait()
            except queue.Empty:
                return
            assert self._send_uplink is not None
            self._send_uplink(Layer.CLTUS, wrap_for_uplink(record.packet, self._tc_frames))
            self.commands.add(record)
            rid = record.request_id
            self.station.events.on_sent(
                record.name, record.arguments, rid.apid, rid.sequence_count, record.sent_at
            )
            request = _request_name(record.name, record.request_id)
            if self.archive is not None:
                self.archive.add_command_stage(
                    record.sent_at, record.sent_at, request, "sent", True, {"arguments": record.arguments}
                )
            if self.feed is not None:
                self.feed.publish(
                    {
                        "type": "verification",
                        "request": request,
                        "tai": record.sent_at,
                        "stage": "sent",
                        "success": True,
                        "arguments": record.arguments,
                    }
                )

    # ------------------------------------------------------------------ the loop's side

    def tick(self) -> None:
        """Between messages: commands out, products and counters in, commit, publish."""
        self._send_queued()
        products = self.station.images.listed()  # not waiting for the product worker
        for product in products[self._products_seen :]:
            self._record_product(product)
            if self.image_progress is not None:
                self.image_progress.on_product(product)
        self._products_seen = len(products)
        if self.image_progress is not None:
            self.image_progress.tick()
        now = self._clock()
        if now - self._last_sample >= SAMPLE_INTERVAL_S:
            self._last_sample = now
            self._sample_counters()
        if self.archive is not None:
            self._archive_housekeeping()
            self.archive.maybe_flush()
        if self.feed is not None:
            self.feed.flush()

    def _sample_counters(self) -> None:
        tai = self._tai_now()
        counters = station_counters(self.station.summary())
        if self.archive is not None:
            for name, value in counters.items():
                self.archive.add_sample(name, tai, value)
        if self.feed is not None:
            self.feed.publish({"type": "link", "tai": tai, "counters": counters})

    def _record_product(self, product: Any) -> None:
        name = product.files.get("name") or next(iter(product.files.values()), f"image-{product.image_id}")
        name = str(name).rsplit("/", 1)[-1].split(".", 1)[0]
        info = {
            "image_id": product.image_id,
            "width": product.width,
            "height": product.height,
            "missing_octets": product.missing_octets,
            "crc_ok": product.crc_ok,
            "sha256": product.sha256,
            "products": dict(product.files),
            "measurement": product.measurement,
            "delivery": product.delivery,
        }
        tai = self._tai_now()
        if self.archive is not None:
            self.archive.add_image(tai, tai, name, product.complete, info)
        if self.feed is not None:
            self.feed.publish(
                {
                    "type": "image",
                    "name": name,
                    "tai": tai,
                    "complete": product.complete,
                    "image_id": product.image_id,
                }
            )

    def close(self) -> None:
        """Last samples and commit (every exit path of the station calls this)."""
        try:
            self.tick()
            self._sample_counters()
        finally:
            if self.archive is not None:
                self.archive.close()


def _both(first: Callable | None, second: Callable) -> Callable:
    if first is None:
        return second

    def call(*args: Any) -> None:
        first(*args)
        second(*args)

    return call


def _request_name(name: str, request_id: RequestId) -> str:
    return f"{name}#{request_id.apid}:{request_id.sequence_count}"


_TAI_OFFSET: list[float] = []  # [unix time it was computed at, TAI seconds since 1958 minus unix time]


def _tai_now() -> float:
    """Now in TAI seconds since 1958 (the offset from unix time recomputed once a minute: a leap
    second is announced months ahead and the archive's reception times need no better)."""
    now = time.time()
    if not _TAI_OFFSET or now - _TAI_OFFSET[0] > 60.0:
        from datetime import UTC, datetime

        from protocols.packets.time_code import utc_to_tai_seconds

        _TAI_OFFSET[:] = [now, utc_to_tai_seconds(datetime.fromtimestamp(now, UTC)) - now]
    return now + _TAI_OFFSET[1]


class RunningServices:
    """The station's services and, with ``--api``, the API server beside them."""

    def __init__(self, services: StationServices, server: Any | None) -> None:
        self.services = services
        self.server = server

    def tick(self) -> None:
        self.services.tick()

    def close(self) -> None:
        try:
            self.services.close()
            if self.services.feed is not None and self.server is not None:
                self.services.feed.drain()  # the last updates reach the clients before the server stops
        finally:
            if self.server is not None:
                self.server.stop()


def open_services(
    station: GroundStation,
    send_uplink: Callable[[Layer, bytes], None] | None,
    *,
    archive_path: Any | None = None,
    api_address: tuple[str, int] | None = None,
    token: str | None = None,
    web: Any | None = None,
    announce: Callable[[str], None] = lambda line: log.info("%s", line),
) -> RunningServices:
    """The archive (``--archive FILE``) and the API (``--api HOST:PORT``) around one station."""
    from groundstation.api.app import ApiContext
    from groundstation.api.dictionary import build_dictionary
    from groundstation.api.server import ApiServer, new_token

    units = {name: field.unit for name, (_, field) in station.mdb.parameters.items()}
    writer = ArchiveWriter(archive_path, units=units) if archive_path is not None else None
    feed = LiveFeed() if api_address is not None else None
    services = StationServices(station, archive=writer, feed=feed, send_uplink=send_uplink)
    server = None
    if api_address is not None:
        token = token or new_token()
        context = ApiContext(
            dictionary=build_dictionary(station.mdb, sorted(station_counters(station.summary()))),
            archive_path=writer.path if writer is not None else None,
            products_dir=station.out_dir,
            feed=feed,
            alarms=services.alarms,
            token=token,
            send_command=services.queue_command,
            web=web,
            status=lambda: {
                "octets_received": station.octets_received,
                "images": station.images_done,
                "commands_sent": len(services.commands),
            },
        )
        server = ApiServer(context, *api_address)
        try:
            url = server.start()
        except OSError:
            services.close()
            raise
        announce(f"API on {url} (operator token: {token})")
        if web is not None:
            announce(f"console on {url}/ (Open MCT; commands need the operator token)")
    return RunningServices(services, server)
