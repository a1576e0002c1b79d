"""What the merger takes from the bus: one message in, a report's fields or the reason it is refused.

The fast path of the merger's intake: :func:`~protocols.bus.frame_report.unpack_fields` (no
report object per message), then the checks a message on ``paleblue.frames.<station>`` must pass
before it may compete for a frame's slot, each refusal with its reason (the keys of ``refused``
in ``merge.json``):

* ``not a frame report``: the octets do not decode (:class:`~protocols.errors.DecodeError`);
* ``station id not its subject's``: the report names another station than its subject does;
* ``unknown station``: a station not in the list the merger was given;
* ``inconsistent header``: the frame inside disagrees with the report about its version,
  spacecraft, virtual channel or frame count, or has not the channel's frame length. Such a copy
  could otherwise win a slot and push the true frame out.

Reports of another spacecraft pass (the merger counts them as ``foreign_spacecraft``, whatever
their frames hold).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable

from protocols.bus.frame_report import SUBJECT_PREFIX, ReportFields, unpack_fields
from protocols.errors import DecodeError
from protocols.link import aos_frame, tm_frame, uslp_frame
from protocols.link.channel_config import FrameType, PhysicalChannelConfig

NOT_A_REPORT = "not a frame report"
WRONG_SUBJECT = "station id not its subject's"
UNKNOWN_STATION = "unknown station"
INCONSISTENT = "inconsistent header"
REASONS = (NOT_A_REPORT, WRONG_SUBJECT, UNKNOWN_STATION, INCONSISTENT)

_SUBJECTS_KEPT = 1024


class Refused(Exception):
    """A bus message the merger does not take: ``reason`` (one of :data:`REASONS`) and a detail."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def _routing(config: PhysicalChannelConfig) -> Callable[[bytes], tuple]:
    if config.frame_type is FrameType.TM:
        return tm_frame.unpack_routing_fast
    if config.frame_type is FrameType.AOS:
        return aos_frame.routing_for(config)
    return uslp_frame.routing_for(config)


class BusIntake:
    """Checks bus messages for one channel (its spacecraft, frame type and length)."""

    def __init__(self, channel: PhysicalChannelConfig, stations: Iterable[str] | None = None) -> None:
        self.spacecraft_id = channel.spacecraft_id
        frames = {FrameType.TM: tm_frame, FrameType.AOS: aos_frame, FrameType.USLP: uslp_frame}
        self.version = frames[channel.frame_type].VERSION
        self.frame_length = None if channel.variable_length else channel.frame_length
        self.shortest = min(channel.header_length + 1, channel.frame_length)
        self.allowed = frozenset(stations) if stations else None
        self._routing = _routing(channel)
        self._subjects: dict[str, str] = {}  # station id -> its subject

    def take(self, subject: str, data: bytes) -> ReportFields:
        """The report's fields, or :class:`Refused` (never another exception)."""
        try:
            fields = unpack_fields(data)
        except DecodeError as exc:
            raise Refused(NOT_A_REPORT, str(exc)) from None
        station = fields.station_id
        expected = self._subjects.get(station)
        if expected is None:
            expected = f"{SUBJECT_PREFIX}.{station}"
            if len(self._subjects) < _SUBJECTS_KEPT:
                self._subjects[station] = expected
        if subject != expected:
            raise Refused(WRONG_SUBJECT, f"{station} on {subject}")
        if self.allowed is not None and station not in self.allowed:
            raise Refused(UNKNOWN_STATION, station)
        if fields.spacecraft_id == self.spacecraft_id:
            self._check_header(fields)
        return fields

    def _check_header(self, fields: ReportFields) -> None:
        length = len(fields.data) - fields.frame_at
        if length != self.frame_length and (self.frame_length is not None or length < self.shortest):
            raise Refused(INCONSISTENT, f"{fields.station_id}: a frame of {length} octets")
        try:
            version, scid, vcid, _, count, _ = self._routing(fields.frame)
        except (DecodeError, IndexError, ValueError, struct.error) as exc:  # the length was checked: defence
            raise Refused(INCONSISTENT, f"{fields.station_id}: {exc}") from None
        said = (self.version, fields.spacecraft_id, fields.vcid, fields.frame_count)
        if (version, scid, vcid, count) != said:
            raise Refused(
                INCONSISTENT,
                f"{fields.station_id}: the report says version/scid/vc/count {said}, "
                f"its frame {(version, scid, vcid, count)}",
            )
