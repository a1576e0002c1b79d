"""The summary of a pass as a typed value: what ``summary.json`` holds and every report renders.

:func:`summarize` reads it off a station; :meth:`PassSummary.as_dict` is ``summary.json``
(key for key as it has always been); :meth:`PassSummary.from_dict` reads one back, so that the
command line and ``paleblue decode`` render a written summary through the same reporter
(:mod:`groundstation.pass_report`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from groundstation.captures import CaptureRecord
from groundstation.cfdp_uplink import CfdpUplink
from groundstation.fault_log import FaultLog
from groundstation.file_reception import ImageFileReception
from groundstation.frame_receiver import FrameReceiver
from groundstation.link_receiver import LinkReceiver
from groundstation.packet_book import PacketBook
from groundstation.products import ImageProduct
from groundstation.telemetry import TelemetryProcessor
from protocols.capture.zmq_framing import MessageGapCounter
from protocols.image.image_transport import ImageReassembler
from protocols.link.channel_config import ASM, PhysicalChannelConfig

if TYPE_CHECKING:
    from protocols.sdls.downlink import DownlinkSecurity


class StationCounters(Protocol):
    """What a summary reads off a station (:class:`~groundstation.station.GroundStation`)."""

    started: float
    octets_received: int
    transport: MessageGapCounter
    messages_refused: int
    channel: PhysicalChannelConfig
    link: LinkReceiver
    frames: FrameReceiver
    book: PacketBook
    telemetry: TelemetryProcessor
    files: ImageFileReception
    cfdp_uplink: CfdpUplink  # its ``sent``: CFDP replies sent
    reassembler: ImageReassembler
    faults: FaultLog
    idle_frames_not_recorded: int
    recording: Callable[[], dict] | None
    downlink_security: DownlinkSecurity | None

    @property
    def products(self) -> list[ImageProduct]: ...

    @property
    def captures(self) -> list[CaptureRecord]: ...


@dataclass(frozen=True)
class TransportCounts:
    """The ZeroMQ messages of a pass (envelope sequence numbers)."""

    messages_received: int
    messages_lost: int
    sequence_discontinuities: int
    sessions: int
    messages_refused: int


@dataclass(frozen=True)
class PassSummary:
    elapsed_s: float
    octets_received: int
    transport: TransportCounts
    link: dict[str, Any]  # channel, CADU (physical and per virtual channel) and frame counters
    packets_by_apid: dict[str, int]
    packet_sequence_gaps_by_apid: dict[str, int]
    packet_time_span_by_apid: dict[str, list[str]]
    telemetry: dict[str, Any]
    cfdp: dict[str, Any]
    image_reassembly: dict[str, Any]
    faults: dict[str, int]
    images: tuple[ImageProduct, ...]
    input: dict[str, Any] | None = field(default=None)  # what ``paleblue decode`` read, and how
    # what this station recorded, or the idle frames a recording it read had left out
    recording: dict[str, Any] | None = field(default=None)
    # colour captures (one image a band) regrouped: in summary.json only when the pass had any
    captures: tuple[CaptureRecord, ...] = ()

    @property
    def link_physical(self) -> dict[str, int]:
        return self.link["cadu"]["physical"]

    def as_dict(self) -> dict:
        """``summary.json``."""
        out = {
            "elapsed_s": self.elapsed_s,
            "octets_received": self.octets_received,
            "transport": dict(self.transport.__dict__),
            "link": self.link,
            "packets_by_apid": self.packets_by_apid,
            "packet_sequence_gaps_by_apid": self.packet_sequence_gaps_by_apid,
            "packet_time_span_by_apid": self.packet_time_span_by_apid,
            "telemetry": self.telemetry,
            "cfdp": self.cfdp,
            "image_reassembly": self.image_reassembly,
            "faults": self.faults,
            "images": [p.as_dict() for p in self.images],
        }
        if self.input is not None:
            out["input"] = self.input
        if self.recording is not None:
            out["recording"] = self.recording
        if self.captures:
            out["captures"] = [c.as_dict() for c in self.captures]
        return out

    @classmethod
    def from_dict(cls, summary: dict) -> PassSummary:
        """A summary as :meth:`as_dict` (or ``summary.json``) gives it."""
        fields = {k: v for k, v in summary.items() if k in cls.__dataclass_fields__}
        fields["transport"] = TransportCounts(**summary["transport"])
        fields["images"] = tuple(ImageProduct.from_dict(p) for p in summary["images"])
        fields["captures"] = tuple(CaptureRecord.from_dict(c) for c in summary.get("captures", ()))
        return cls(**fields)


def plain(value: object) -> object:
    """Engineering values as JSON types (enumerations arrive as strings, numbers as numbers)."""
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    return str(value)


def channel_summary(config: PhysicalChannelConfig) -> dict:
    marker = {} if config.asm == ASM else {"asm": config.asm.hex().upper()}
    return {
        "frame_type": str(config.frame_type),
        "frame_length": config.frame_length,
        "rs_e": config.rs_e,
        "rs_interleave": config.rs_interleave,
        "dual_basis": config.dual_basis,
        "randomizer": config.randomizer,
        "cadu_length": config.cadu_length,
        **marker,
    }


def summarize(station: StationCounters) -> PassSummary:
    """Every counter of ``station`` now."""
    telemetry = station.telemetry
    link = {
        "channel": channel_summary(station.channel),
        "cadu": station.link.counters_dict(),
        "frames": {"virtual": {v: c.as_dict() for v, c in sorted(station.frames.vc_counters.items())}},
    }
    if station.downlink_security is not None:  # only with SDLS on the downlink: summaries stay as they were
        link["sdls"] = station.downlink_security.summary()
    return PassSummary(
        elapsed_s=round(time.time() - station.started, 3),
        octets_received=station.octets_received,
        transport=TransportCounts(
            messages_received=station.transport.received,
            messages_lost=station.transport.lost,
            sequence_discontinuities=station.transport.discontinuities,
            sessions=station.transport.sessions,
            messages_refused=station.messages_refused,
        ),
        link=link,
        packets_by_apid=station.book.packets_by_name(),
        packet_sequence_gaps_by_apid=station.book.gaps_by_name(),
        packet_time_span_by_apid=station.book.time_span_by_name(),
        telemetry={
            "counters": dict(telemetry.counters),
            "undecodable": dict(telemetry.undecodable),
            "alarms": len(telemetry.alarms),
            "events": len(telemetry.event_log),
            "latest": {k: plain(v) for k, v in sorted(telemetry.latest.items())},
            "limit_levels": dict(sorted(telemetry.limits.levels.items())),
        },
        cfdp={**station.files.summary(), "replies_sent": station.cfdp_uplink.sent},
        image_reassembly={
            **station.reassembler.counters.as_dict(),
            "rejections": station.reassembler.rejections,
        },
        faults=station.faults.as_dict(),
        images=tuple(station.products),
        recording=recording_summary(station),
        captures=tuple(station.captures),
    )


def recording_summary(station: StationCounters) -> dict[str, Any] | None:
    """The recorder's counts while the station records; idle frames a recording it read had left
    out (its idle notes, :mod:`groundstation.idle_frames`); None when neither."""
    recording = dict(station.recording()) if station.recording is not None else {}
    if station.idle_frames_not_recorded:
        recording["idle_frames_noted_in_input"] = station.idle_frames_not_recorded
    return recording or None
