"""A station's frames to the bus: each sound, non-idle transfer frame it received becomes a
:class:`~protocols.bus.frame_report.FrameReport` with its quality, handed to ``publish`` (the
bus client, :class:`transport.nats_bus.FramePublisher`, in ``paleblue ground --bus``).

The station numbers each virtual channel's wraps of the frame count itself (``count_epoch``), so
that the report's message id names one frame: a retry of it is stored once, the same count one
wrap later is another frame. A count more than half the modulus behind the newest is taken as
the next wrap; one up to half behind as a late frame of the current one.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from groundstation.frame_receiver import SyncState, tap_frames
from protocols.bus.frame_report import Fecf, FrameReport, Sync
from protocols.link.channel_config import PhysicalChannelConfig

_SYNC = {SyncState.SEARCH: Sync.SEARCH, SyncState.LOCK: Sync.LOCK, SyncState.FLYWHEEL: Sync.FLYWHEEL}


class WrapCounter:
    """The wrap epoch of each (spacecraft, VC) frame count, as one station sees it."""

    def __init__(self, modulo: int) -> None:
        self.modulo = modulo
        self._newest: dict[tuple[int, int], tuple[int, int]] = {}  # key -> (epoch, count)

    def epoch(self, key: tuple[int, int], count: int) -> int:
        newest = self._newest.get(key)
        if newest is None:
            self._newest[key] = (0, count)
            return 0
        epoch, last = newest
        ahead = (count - last) % self.modulo
        if ahead == 0:  # the newest again
            return epoch
        if ahead > self.modulo // 2:  # a late frame; before the last wrap if its count is higher
            return max(0, epoch - (count > last))
        epoch += count < last  # forward across the wrap
        self._newest[key] = (epoch, count)
        return epoch


class FrameReporter:
    """The frame tap of a :class:`~groundstation.station.GroundStation`: reports to ``publish``."""

    def __init__(
        self,
        station_id: str,
        publish: Callable[[FrameReport], None],
        channel: PhysicalChannelConfig,
        sync_state: Callable[[], str] = lambda: SyncState.LOCK,
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        FrameReport(station_id, 0, 0, 0, 0, b"\0")  # refuses a station id that is no subject token
        self.station_id = station_id
        self.publish = publish
        self.sync_state = sync_state
        self.clock_ns = clock_ns
        self.fecf = Fecf.GOOD if channel.fecf else Fecf.NONE
        self.wraps = WrapCounter(channel.vc_count_modulo)
        self.reported = 0

    def attach(self, *receivers: object) -> FrameReporter:
        for receiver in receivers:
            tap_frames(receiver, self)
        return self

    def __call__(self, frame: bytes, corrected: int, scid: int, vcid: int, count: int) -> None:
        report = FrameReport(
            self.station_id,
            self.clock_ns(),
            scid,
            vcid,
            count,
            frame,
            count_epoch=self.wraps.epoch((scid, vcid), count),
            rs_corrected=min(corrected, 0xFFFF),
            fecf=self.fecf,
            sync=_SYNC.get(SyncState(self.sync_state()), Sync.LOCK),
        )
        self.publish(report)
        self.reported += 1
