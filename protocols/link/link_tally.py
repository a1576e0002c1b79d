"""What a simulated link did to the units it carried, and how that reconciles with the ground's count.

The probe owns the link simulator, the ground station owns the receiver, and the two are separate
processes that never import each other. This module is the contract between them: the probe writes
a :class:`LinkTally` (the simulator's per-impairment counters and, for each unit it handed out, in
arrival order, which unit it was), ``paleblue run`` reads it back beside the ground's
``summary.json`` and :func:`reconcile` says whether the two agree.

The ground stops reading when its pass is done while the probe is still sending, so the ground saw a
*prefix* of what the link delivered: the first ``cadus`` deliveries (its CADU count). Everything
the simulator expects the ground to have counted is worked out over that prefix (the *window*):

* received = deliveries in the window; duplicates among them are the simulator's echoes;
* reordered = deliveries that came after a later unit (a unit only held back but not overtaken is
  in order at the ground, so the simulator's ``reordered`` can be larger);
* missing = units between the first and the newest unit in the window that the ground never got:
  those the link dropped, those still held back when the ground stopped, and those the ground
  received but refused (uncorrectable, CRC, header);
* what the link carried after the ground stopped (or still held in flight) is reported, not blamed;
* a run of lost frames longer than the frame count's modulus (an outage) is counted by the ground
  modulo 256, as any frame-count receiver does: the whole turns are reported as ``uncountable``.

For TM the ground counts with the master channel frame count, which covers idle frames too; AOS and
USLP have no master channel count, so their reconciliation is given but not checked (``adds_up``
is None), as it is when ZeroMQ lost messages between the link and the ground.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from itertools import pairwise
from typing import Any

from protocols.errors import DecodeError

FORMAT = "paleblue link tally 1"
MC_COUNT_MODULUS = 256  # the TM master channel frame count is 8 bits
LATE_WINDOW = 64  # how far behind the newest frame the ground takes a count for a late frame
MAX_ARRIVALS = 2_000_000  # beyond this many deliveries the order is no longer kept (hours of link)


@dataclass(frozen=True, slots=True)
class LinkTally:
    """The simulator's counters over a whole pass, with the order units arrived in.

    ``arrivals`` holds, for each delivery in the order it was handed out, the unit's index among
    those sent, or ``-1 - index`` for a duplicate; ``dropped`` the indices of the units dropped.
    """

    sent: int
    dropped_random: int = 0
    dropped_in_burst: int = 0
    dropped_outside_pass: int = 0
    corrupted: int = 0
    flipped_bits: int = 0
    reordered: int = 0  # units held back (overtaken by later ones or not)
    duplicated: int = 0
    delivered: int = 0  # deliveries handed out, duplicates included
    in_flight: int = 0  # deliveries still on the link when the probe stopped
    arrivals: tuple[int, ...] = field(default=(), repr=False)
    dropped: tuple[int, ...] = field(default=(), repr=False)
    arrivals_complete: bool = True  # False: past MAX_ARRIVALS arrivals or drops, not all are kept

    @property
    def dropped_by_link(self) -> int:
        return self.dropped_random + self.dropped_in_burst + self.dropped_outside_pass

    def counters(self) -> dict[str, int]:
        """The per-impairment counters (what ``summary.json`` shows under ``link.simulator``)."""
        out = {k: v for k, v in asdict(self).items() if k not in ("arrivals", "dropped", "arrivals_complete")}
        out["dropped_by_link"] = self.dropped_by_link
        return out

    def pack(self) -> bytes:
        return (json.dumps({"format": FORMAT, **asdict(self)}, separators=(",", ":")) + "\n").encode()

    @classmethod
    def unpack(cls, data: bytes) -> LinkTally:
        """A tally as :meth:`pack` wrote it; anything else is a :class:`DecodeError`."""
        try:
            raw = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise DecodeError("link tally", 0, f"not JSON: {exc}") from None
        if not isinstance(raw, dict) or raw.pop("format", None) != FORMAT:
            raise DecodeError("link tally", 0, f"not a {FORMAT!r} file")
        unknown = set(raw) - set(cls.__dataclass_fields__)
        if unknown:
            raise DecodeError("link tally", 0, f"unknown field {sorted(unknown)[0]!r}")
        for name, value in raw.items():
            if name == "arrivals_complete":
                ok = isinstance(value, bool)
            elif name in ("arrivals", "dropped"):
                ok = isinstance(value, list) and all(type(v) is int for v in value)
            else:
                ok = type(value) is int and value >= 0
            if not ok:
                raise DecodeError("link tally", 0, f"field {name!r} is not a count")
        try:
            return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()})
        except TypeError as exc:
            raise DecodeError("link tally", 0, str(exc)) from None

    def window(self, deliveries: int, modulus: int = MC_COUNT_MODULUS) -> Window:
        """What the first ``deliveries`` deliveries (those the ground read) hold; ``modulus`` is that
        of the frame count the ground counts missing frames with."""
        prefix = self.arrivals[:deliveries]
        units = [a for a in prefix if a >= 0]
        late, newest = 0, -1
        for unit in units:
            if unit < newest:
                late += 1
            newest = max(newest, unit)
        if not units:
            return Window(len(prefix), 0, len(prefix), 0, 0, 0, 0, 0)
        first = units[0]
        spanned = newest - first + 1
        arrived = sum(1 for u in units if u >= first)
        dropped = sum(1 for d in self.dropped if first <= d <= newest)
        # a run of frames never read as long as the count's modulus is counted modulo it: the count
        # cannot tell 1176 frames lost in an outage from 152 (and one of ``modulus - FORWARD`` or
        # more looks like a frame from just behind the newest)
        arrived_units = sorted({u for u in units if u >= first})
        gaps = [b - a - 1 for a, b in pairwise(arrived_units) if b - a > 1]
        return Window(
            uncountable=sum(g - g % modulus for g in gaps),
            ambiguous=sum(1 for g in gaps if g % modulus >= modulus - LATE_WINDOW),
            deliveries=len(prefix),
            units=len(units),
            duplicates=len(prefix) - len(units),
            late=late,
            dropped=dropped,
            held_back=spanned - arrived - dropped,
        )


@dataclass(frozen=True, slots=True)
class Window:
    """The simulator's side of the deliveries the ground read."""

    deliveries: int
    units: int  # distinct units among them
    duplicates: int
    late: int  # came after a later unit
    dropped: int  # dropped by the link between the first and the newest unit delivered
    held_back: int  # between them too, but still on the link (or arriving later) when the ground stopped
    uncountable: int = 0  # missing frames a frame count cannot tell (whole turns of its modulus)
    ambiguous: int = 0  # runs of missing frames whose length modulo the count looks like a late frame


@dataclass(frozen=True, slots=True)
class GroundCount:
    """What the ground counted, read off ``summary.json``'s ``link.cadu.physical``."""

    cadus: int
    frames_good: int
    frames_corrected: int
    refused: int  # uncorrectable, CRC failures, header errors
    missing: int
    reordered: int
    duplicated: int
    master_channel: bool  # the counts come from a master channel frame count (TM)

    @classmethod
    def from_summary(cls, link: dict[str, Any]) -> GroundCount:
        physical = link["cadu"]["physical"]
        master = link["channel"]["frame_type"] == "tm"
        if master:
            missing, reordered, duplicated = (
                physical["mc_frames_missing"],
                physical["mc_frames_reordered"],
                physical["mc_frames_duplicated"],
            )
        else:
            virtual = link["cadu"]["virtual"].values()
            missing = sum(v["frames_missing"] for v in virtual)
            reordered = sum(v["frames_reordered"] for v in virtual)
            duplicated = sum(v["frames_duplicated"] for v in virtual)
        return cls(
            cadus=physical["cadus"],
            frames_good=physical["frames_good"],
            frames_corrected=physical["frames_corrected"],
            refused=physical["uncorrectable"] + physical["crc_failures"] + physical["header_errors"],
            missing=missing,
            reordered=reordered,
            duplicated=duplicated,
            master_channel=master,
        )


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """One pass's link, both sides: the line ``report.md`` prints and the checks behind it."""

    sent: int
    dropped_by_link: int
    dropped_while_read: int  # of those, dropped between the first and the newest unit the ground read
    received: int  # CADUs the ground read (duplicates included)
    corrected: int
    lost: int  # frames the ground counted missing
    reordered: int  # as the ground counted them
    duplicated: int  # as the ground counted them
    after_ground_stopped: int  # units not dropped that the ground never read (it had stopped)
    uncountable: int  # lost frames the 8-bit count cannot tell (whole turns of 256 in long outages)
    expected: dict[str, int]  # what the simulator says the ground should have counted
    adds_up: bool | None  # None: not checkable (no master channel count, transport loss)
    why_not: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        text = (
            f"sent {self.sent}, dropped by the link {self.dropped_by_link} ({self.dropped_while_read} "
            f"while the ground read), received {self.received} ({self.duplicated} duplicates), "
            f"corrected {self.corrected}, lost {self.lost} (reordered {self.reordered}); "
            f"{self.after_ground_stopped} not dropped but never read (the ground had stopped)"
        )
        if self.uncountable:
            text += f"; {self.uncountable} lost in runs too long for the 8-bit frame count to tell"
        if self.adds_up is None:
            return f"{text}: not checked ({self.why_not})"
        if self.adds_up:
            return f"{text}: adds up"
        return f"{text}: DOES NOT ADD UP ({self.why_not})"


def reconcile(tally: LinkTally, ground: GroundCount, messages_lost: int = 0) -> Reconciliation:
    """The simulator's tally against the ground's count over the deliveries the ground read."""
    window = tally.window(ground.cadus)
    units_read = window.units
    expected = {
        "received": window.deliveries,
        "missing": window.dropped + window.held_back + ground.refused - window.uncountable,
        "reordered": window.late,
        "duplicated": window.duplicates,
    }
    counted = {
        "received": ground.cadus,
        "missing": ground.missing,
        "reordered": ground.reordered,
        "duplicated": ground.duplicated,
    }
    why_not, adds_up = "", None
    if messages_lost:
        why_not = f"{messages_lost} messages lost between the link and the ground"
    elif not ground.master_channel:
        why_not = "no master channel frame count (TM only)"
    elif not tally.arrivals_complete:
        why_not = f"the link kept the order of its first {MAX_ARRIVALS:,} units only"
    elif window.ambiguous:
        why_not = f"{window.ambiguous} run(s) of lost frames the 8-bit frame count cannot tell from late ones"
    else:
        wrong = [f"{k} {counted[k]} (simulator {expected[k]})" for k in expected if counted[k] != expected[k]]
        adds_up = not wrong
        why_not = ", ".join(wrong)
    return Reconciliation(
        sent=tally.sent,
        dropped_by_link=tally.dropped_by_link,
        dropped_while_read=window.dropped,
        received=ground.cadus,
        corrected=ground.frames_corrected,
        lost=ground.missing,
        reordered=ground.reordered,
        duplicated=ground.duplicated,
        after_ground_stopped=tally.sent - tally.dropped_by_link - units_read,
        uncountable=window.uncountable,
        expected=expected,
        adds_up=adds_up,
        why_not=why_not,
    )
