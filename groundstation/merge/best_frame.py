"""The best copy of each frame from several stations: a pure core, no sockets and no clock.

Reports (:class:`~protocols.bus.frame_report.FrameReport` to :meth:`FrameMerger.add`, or their
:class:`~protocols.bus.frame_report.ReportFields` to :meth:`FrameMerger.add_fields`, the fast path
the bus intake takes: no report object per message) come in any order from any number of
stations. Per (spacecraft, virtual channel) the merger unwraps the frame count itself: each
station's own count (its wrap epoch and frame count) is continuous, so a station is aligned once,
when it joins or restarts, and followed from there however far it lags or however its reports are
reordered (a bus failover stores a backlog of retries out of order). It is aligned to the same
frame heard lately from another station (the same good octets: a station whose process stamps its
reports a wrap or more late is placed all the same), else (a bad copy, a frame nobody else had)
to the frame received nearest in time, else the newest; stations need not agree on wrap epochs.
Each count is held in a slot until ``window`` newer counts have been seen: the bounded
reordering window. A slot then leaves, in count order, as the best copy: a good one (Reed-Solomon
and FECF passed) first, then the fewest symbols corrected, then the earliest reception (then the
station id, so the choice is deterministic). Counts between released slots that no station
delivered are a gap, counted once however many stations missed it.

Not yet defended: a station that publishes fabricated frame counts moves the window ahead (a
plausibility check of each station's count against its reception times is still to do).

Everything is counted: extra copies (``duplicates``), copies that came after their slot had left
(``late_duplicates``) or after it had been declared missing (``window_exceeded``), frames from
another spacecraft, slots with only bad copies; and per station its reports, the frames it
contributed the best copy of, the frames only it had, the frames it lacked, and the reports it
sent again for a frame it had already reported (``repeats``: a flood, a replay).
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import asdict, dataclass, field

from protocols.bus.frame_report import FrameReport, ReportFields


@dataclass(frozen=True, slots=True)
class MergedFrame:
    """The copy chosen for one frame, and who had it."""

    fields: ReportFields
    unwrapped_count: int
    copies: int
    stations: tuple[str, ...]

    @property
    def frame(self) -> bytes:
        return self.fields.frame

    @property
    def report(self) -> FrameReport:
        """The chosen copy as a report (built on demand)."""
        return self.fields.report()


@dataclass
class StationTally:
    reports: int = 0
    frames: int = 0  # distinct frames it had, among those released or given up
    best: int = 0  # frames whose released copy was its own
    only_source: int = 0  # frames no other station had
    late: int = 0  # reports that came after their slot had left
    repeats: int = 0  # reports of a frame it had already reported within the window (a flood)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass
class MergeCounters:
    reports: int = 0
    frames_out: int = 0
    duplicates: int = 0  # copies beyond the first of a frame, within the window
    late_duplicates: int = 0  # copies of a frame already released
    window_exceeded: int = 0  # copies of a frame already given up as missing (came too late)
    gaps: int = 0  # runs of counts no station delivered
    frames_missed: int = 0  # counts in those runs: frames every station missed, each once
    bad_only: int = 0  # frames heard only as bad copies (not released)
    foreign_spacecraft: int = 0
    stations: dict[str, StationTally] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        out = {k: v for k, v in asdict(self).items() if k != "stations"}
        out["stations"] = {name: tally.as_dict() for name, tally in sorted(self.stations.items())}
        return out

    def missing_by_station(self) -> dict[str, int]:
        """Frames each station lacked among every frame the merge knows of (released, missed or bad)."""
        known = self.frames_out + self.frames_missed + self.bad_only
        return {name: known - tally.frames for name, tally in sorted(self.stations.items())}


def _rank(fields: ReportFields) -> tuple:
    """Lower is better: good (not uncorrectable, FECF not bad), fewest corrections, earliest, station id."""
    flags = fields.flags
    bad = flags & 0x80 != 0 or flags & 0x60 == 0
    return (bad, fields.rs_corrected, fields.received_ns, fields.station_id)


class _Slot:
    __slots__ = ("best", "copies", "rank", "stations")

    def __init__(self, fields: ReportFields) -> None:
        self.best = fields
        self.rank: tuple | None = None  # the best copy's rank, once a second copy came
        self.copies = 1
        self.stations = {fields.station_id}

    def add(self, fields: ReportFields) -> None:
        self.copies += 1
        self.stations.add(fields.station_id)
        if self.rank is None:
            self.rank = _rank(self.best)
        rank = _rank(fields)
        if rank < self.rank:
            self.best = fields
            self.rank = rank


class _Channel:
    """One (spacecraft, VC): slots by unwrapped count, the next count to release, what left lately."""

    def __init__(self, first: int) -> None:
        self.newest = first
        # counts below have been released or given up; None until the first release (then the
        # lowest count held: a station's earlier frames may still come within the window)
        self.next_out: int | None = None
        self.slots: dict[int, _Slot] = {}
        # the counts released lately, each with the stations that had it
        self.closed: OrderedDict[int, set[str]] = OrderedDict()
        # (reception time, unwrapped count) of recent newest frames: where a station joins
        self.times: deque[tuple[int, int]] = deque(maxlen=_TIMES_KEPT)
        # the good frames lately heard first, by their last octets: where a station joins,
        # whatever its lag (they tell a frame's wrap; the same octets at two counts tell nothing: -1)
        self.contents: OrderedDict[bytes, int] = OrderedDict()

    def heard(self, octets: bytes, unwrapped: int) -> None:
        contents = self.contents
        known = contents.get(octets)
        contents[octets] = unwrapped if known is None or known == unwrapped else -1
        if len(contents) > _TIMES_KEPT:
            contents.popitem(last=False)


_TIMES_KEPT = 4096
_KEY_OCTETS = 64


def _octets_key(fields: ReportFields) -> bytes:
    """A frame's last octets, its FECF among them (a CRC of the whole frame): what tells two good
    copies of one frame from frames of other wraps, without hashing every octet."""
    data = fields.data
    return data[max(fields.frame_at, len(data) - _KEY_OCTETS) :]


class _Alignment:
    """One station's view of one channel: the offset from its own unwrapped count (its wrap epoch
    and count) to the merger's, its newest own count and that report's reception time; since its
    last restart (``restart_ns``), and the offset it had before."""

    __slots__ = ("newest_ns", "newest_own", "offset", "previous_offset", "restart_ns")

    def __init__(self, offset: int, own: int, received_ns: int) -> None:
        self.offset = offset
        self.newest_own = own
        self.newest_ns = received_ns
        self.restart_ns = -1
        self.previous_offset = offset

    def restart(self, offset: int, own: int, received_ns: int) -> None:
        self.previous_offset = self.offset
        self.restart_ns = received_ns
        self.offset = offset
        self.newest_own = own
        self.newest_ns = received_ns


class FrameMerger:
    """Feed :meth:`add` every report (or :meth:`add_fields` its fields: the same merge without a
    report object); each returns frames as their slots leave the window."""

    def __init__(self, count_modulo: int, window: int = 64, spacecraft_id: int | None = None) -> None:
        if count_modulo < 4:
            raise ValueError(f"a frame count modulo of {count_modulo} is too small")
        self.modulo = count_modulo
        self.window = max(1, window)
        self.spacecraft_id = spacecraft_id
        self.counters = MergeCounters()
        self._channels: dict[tuple[int, int], _Channel] = {}
        # per (station, spacecraft, VC): how its own count maps onto the merger's
        self._stations: dict[tuple[str, int, int], _Alignment] = {}
        # counts remembered as released, to tell a late duplicate from a copy that came too late
        self._remember = max(4 * self.window, 4096)

    def _tally(self, station: str) -> StationTally:
        tally = self.counters.stations.get(station)
        if tally is None:
            tally = self.counters.stations[station] = StationTally()
        return tally

    def add(self, report: FrameReport) -> list[MergedFrame]:
        return self.add_fields(ReportFields.of(report))

    def add_fields(self, fields: ReportFields) -> list[MergedFrame]:
        """One report, as :func:`~protocols.bus.frame_report.unpack_fields` gives it."""
        counters = self.counters
        counters.reports += 1
        station, received_ns, spacecraft_id, vcid, frame_count, epoch = fields[:6]
        if self.spacecraft_id is not None and spacecraft_id != self.spacecraft_id:
            counters.foreign_spacecraft += 1
            return []
        tally = counters.stations.get(station)
        if tally is None:
            tally = self._tally(station)
        tally.reports += 1
        key = (spacecraft_id, vcid)
        count = frame_count % self.modulo
        channel = self._channels.get(key)
        if channel is None:
            channel = self._channels[key] = _Channel(count)
        align = self._stations.get((station, spacecraft_id, vcid))
        if align is None:
            return self._joining((station, spacecraft_id, vcid), channel, fields)
        unwrapped = self._unwrap(align, received_ns, epoch, channel, count, fields)
        return self._place(fields, tally, key, channel, unwrapped)

    def _place(
        self,
        fields: ReportFields,
        tally: StationTally,
        key: tuple[int, int],
        channel: _Channel,
        unwrapped: int,
    ) -> list[MergedFrame]:
        """One report at its unwrapped count: into its slot, or counted as late."""
        counters = self.counters
        station = fields.station_id
        if channel.next_out is not None and unwrapped < channel.next_out:
            tally.late += 1
            had = channel.closed.get(unwrapped)
            if had is not None:
                counters.late_duplicates += 1
                if station in had:
                    tally.repeats += 1
                else:  # a station behind the window had the frame all the same
                    had.add(station)
                    tally.frames += 1
            else:
                counters.window_exceeded += 1
            return []
        slot = channel.slots.get(unwrapped)
        if slot is None:
            channel.slots[unwrapped] = _Slot(fields)
            if fields.flags & 0x80 == 0 and fields.flags & 0x60 != 0:  # good: its octets are the frame's
                channel.heard(_octets_key(fields), unwrapped)
        else:
            counters.duplicates += 1
            if station in slot.stations:
                tally.repeats += 1
            slot.add(fields)
        if unwrapped > channel.newest:
            channel.newest = unwrapped
            channel.times.append((fields.received_ns, unwrapped))
            out: list[MergedFrame] = []
            self._release(key, channel, unwrapped - self.window, out)
            return out
        return []

    def _joining(
        self, skey: tuple[str, int, int], channel: _Channel, fields: ReportFields
    ) -> list[MergedFrame]:
        """A station's first report on a channel aligns it: to the count of the same frame heard
        lately from another station (its good octets), whatever its reception time says; else
        (a bad copy, a frame nobody else had yet) by reception time."""
        count = fields.frame_count % self.modulo
        unwrapped = self._by_octets(channel, count, fields)
        if unwrapped is None:
            unwrapped = self._by_time(fields.received_ns, channel, count)
        own = fields.count_epoch * self.modulo + count
        self._stations[skey] = _Alignment(unwrapped - own, own, fields.received_ns)
        return self._place(fields, self._tally(skey[0]), skey[1:], channel, unwrapped)

    def _by_octets(self, channel: _Channel, count: int, fields: ReportFields) -> int | None:
        if fields.flags & 0x80 == 0 and fields.flags & 0x60 != 0:
            known = channel.contents.get(_octets_key(fields), -1)
            if known >= 0 and known % self.modulo == count:
                return known
        return None

    def _unwrap(
        self,
        align: _Alignment,
        received_ns: int,
        epoch: int,
        channel: _Channel,
        count: int,
        fields: ReportFields,
    ) -> int:
        """The merger's unwrapped count of a report of an aligned station (:meth:`_joining`). A
        station's own count (its wrap epoch and frame count) runs on continuously, so it is followed
        from its alignment whatever its lag. Its own count may move far in either direction while
        it runs: a backlog of retries stored after a bus failover comes out of order, with its
        reception times. Only a count that goes back by half a wrap or more while the reception
        time goes on is a restart (its wrap epoch starts again at 0): then it is aligned anew, as a
        station joining, and a report received before that restart keeps the alignment it had."""
        own = epoch * self.modulo + count
        if received_ns < align.restart_ns:  # from before the restart
            return own + align.previous_offset
        if own <= align.newest_own - self.modulo // 2 and received_ns > align.newest_ns:
            unwrapped = self._by_octets(channel, count, fields)
            if unwrapped is None:
                unwrapped = self._by_time(received_ns, channel, count)
            align.restart(unwrapped - own, own, received_ns)
            return unwrapped
        if own > align.newest_own:
            align.newest_own = own
            if received_ns > align.newest_ns:
                align.newest_ns = received_ns
        return own + align.offset

    def _by_time(self, received_ns: int, channel: _Channel, count: int) -> int:
        """The unwrapped count nearest to the channel's count received closest in time."""
        predicted = channel.newest
        if channel.times:
            predicted = min(channel.times, key=lambda entry: abs(entry[0] - received_ns))[1]
        delta = (count - predicted) % self.modulo
        if delta > self.modulo // 2:
            delta -= self.modulo
        return predicted + delta

    def flush(self) -> list[MergedFrame]:
        """End of the pass: every slot leaves, in count order per channel."""
        out: list[MergedFrame] = []
        for key, channel in self._channels.items():
            self._release(key, channel, channel.newest, out)
        return out

    def _release(self, key: tuple[int, int], channel: _Channel, upto: int, out: list[MergedFrame]) -> None:
        """Release or give up every count from ``next_out`` to ``upto`` inclusive."""
        slots = channel.slots
        if channel.next_out is None:
            if not slots or upto < min(slots):
                return  # nothing leaves yet: earlier frames may still come
            channel.next_out = min(slots)
        if upto < channel.next_out:
            return
        if upto - channel.next_out > len(slots) + 1:  # a long jump: walk only the slots held
            counts = sorted(c for c in slots if c <= upto)
        else:
            counts = [c for c in range(channel.next_out, upto + 1) if c in slots]
        expected = channel.next_out
        for count in counts:
            if count > expected:
                self._missing(channel, expected, count)
            slot = slots.pop(count)
            self._close(channel, count, slot, out)
            expected = count + 1
        if upto + 1 > expected:
            self._missing(channel, expected, upto + 1)
        channel.next_out = upto + 1

    def _missing(self, channel: _Channel, start: int, end: int) -> None:
        self.counters.gaps += 1
        self.counters.frames_missed += end - start  # not remembered: a copy of one comes too late

    def _close(self, channel: _Channel, count: int, slot: _Slot, out: list[MergedFrame]) -> None:
        counters = self.counters
        stations = slot.stations
        for station in stations:
            tally = self._tally(station)
            tally.frames += 1
            if len(stations) == 1:
                tally.only_source += 1
        if not slot.best.good:
            counters.bad_only += 1
            return
        self._tally(slot.best.station_id).best += 1
        counters.frames_out += 1
        self._remember_released(channel, count, stations)
        out.append(MergedFrame(slot.best, count, slot.copies, tuple(sorted(stations))))

    def _remember_released(self, channel: _Channel, count: int, stations: set[str]) -> None:
        closed = channel.closed
        closed[count] = stations
        while len(closed) > self._remember:
            closed.popitem(last=False)
