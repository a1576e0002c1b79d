"""The one reporter of a pass: every human view of a :class:`~groundstation.pass_summary.PassSummary`.

``report.md`` (:meth:`PassReport.markdown`), the table ``paleblue decode`` prints
(:meth:`PassReport.decode_table`), the lines ``paleblue run`` ends with (:meth:`PassReport.run_lines`)
and the brief ``paleblue ground`` prints (:meth:`PassReport.ground_brief`) are all rendered here,
from the same typed summary.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from groundstation.captures import CaptureRecord
from groundstation.pass_summary import PassSummary
from groundstation.products import ImageProduct


def _summary(summary: PassSummary | dict) -> PassSummary:
    return summary if isinstance(summary, PassSummary) else PassSummary.from_dict(summary)


def _optical_navigation_line(p: ImageProduct, body: str, m: dict) -> str:
    line = (
        f"- image {p.image_id} {body}: centroid ({m['u']:.2f}, {m['v']:.2f}), "
        f"error {m['error_px']:.2f} px, lit pixels {m['lit_pixels']}"
    )
    if "limb" in m:
        limb, truth_radius = m["limb"], m["truth_radius_px"]
        line += (
            f"; lit-limb centre ({limb['u']:.2f}, {limb['v']:.2f}), "
            f"error {limb['error_px']:.2f} px, radius {limb['radius_px']:.2f} px "
            f"(truth {truth_radius:.2f}) from {limb['points']} limb points"
        )
    if "horizon" in m:
        horizon = m["horizon"]
        line += (
            f"; horizon-fix centre ({horizon['u']:.2f}, {horizon['v']:.2f}), "
            f"error {horizon['error_px']:.2f} px"
        )
        if "range_km" in horizon:
            line += f", range {horizon['range_km']:,.0f} km"
            if "range_error_percent" in horizon:
                line += f" ({horizon['range_error_percent']:+.2f} % from truth)"
    return line


def _image_state(p: ImageProduct) -> str:
    """How ``paleblue run`` describes one image."""
    state = "complete, CRC ok" if p.crc_ok else ("complete, CRC FAILED" if p.complete else "INCOMPLETE")
    if p.identical_to_onboard is not None:
        state += ", sha256 " + ("= on board" if p.identical_to_onboard else "DIFFERS from on board")
    delivery = p.delivery
    if delivery.get("goodput_bps"):
        fraction = delivery.get("goodput_fraction_of_link_rate") or 0
        state += (
            f", CFDP {delivery['duration_s']:.1f} s, {delivery['nak_rounds']} NAK rounds, goodput "
            f"{delivery['goodput_bps'] / 1e6:.2f} Mbit/s ({100 * fraction:.0f} % of the link rate)"
        )
    return state


def _capture_line(c: CaptureRecord) -> str:
    """One colour capture in a line: the bands received and its composite, or why there is none."""
    look = c.composite if c.composite else f"no composite ({c.why})"
    return f"colour capture {c.capture_id}: bands {', '.join(c.images) or 'none'}: {look}"


def _image_size(p: ImageProduct) -> str:
    """``80x60 px, 12-bit (7,200 octets)``: the image's shape and its packed size."""
    return f"{p.width}x{p.height} px, {p.bit_depth}-bit ({p.width * p.height * p.bit_depth // 8:,} octets)"


def _delivery(p: ImageProduct) -> str:
    """How the image came down, with its rate when it came by CFDP."""
    delivery = p.delivery
    method = delivery.get("method", "")
    if delivery.get("goodput_bps"):
        method += f", {delivery['duration_s']:.1f} s, goodput {delivery['goodput_bps'] / 1e3:,.1f} kbit/s"
    return method


def default_units() -> dict[str, str]:
    """Each housekeeping parameter's unit in paleblue's own mission database."""
    from protocols.mdb.mission_db import load_mission_db

    return parameter_units(load_mission_db())


def parameter_units(mdb) -> dict[str, str]:
    """Each housekeeping parameter's unit in ``mdb`` (``""`` for enumerations, flags and counts)."""
    return {name: field.unit for name, (_, field) in mdb.parameters.items()}


class PassReport:
    """Renders one pass's summary for people; housekeeping values with their mission-database
    units (``units``; paleblue's own database when not given)."""

    def __init__(
        self, summary: PassSummary | dict, units: Mapping[str, str] | None = None, events_log: bool = False
    ) -> None:
        self.summary = _summary(summary)
        self._units = units
        self._events_log = events_log  # an events.log was written: the report may point to it

    def channel_hint(self) -> str | None:
        """When most received bytes were skipped (no sync, no decodable CADU): check --channel."""
        s = self.summary
        source = s.input or {}
        received = source.get("octets") or s.octets_received
        skipped = s.link_physical["bytes_skipped"]
        if not received or skipped <= received / 2:
            return None
        hint = f"most bytes were skipped ({skipped:,} of {received:,} octets): check --channel"
        looked = source.get("looked_like")
        if looked:
            hint += f" (this file looked like {looked})"
        elif "looked_like" not in source:
            hint += " (the probe's and the ground's channels must match)"
        return hint

    def damage_lines(self) -> list[str]:
        """A damaged recording: how much was skipped, and where and why (the first stretches)."""
        damage = (self.summary.input or {}).get("recording_damage")
        if not damage:
            return []
        lines = [
            f"recording damaged: {damage['octets_skipped']:,} octets skipped "
            f"in {damage['stretches']} stretch(es)"
        ]
        lines += [
            f"  {d['length']:,} octets at offset {d['offset']:,}: {d['reason']}" for d in damage["first"]
        ]
        if damage["stretches"] > len(damage["first"]):
            lines.append(f"  ... and {damage['stretches'] - len(damage['first'])} more (see -v)")
        return lines

    # -- report.md ---------------------------------------------------------------------------
    def markdown(self) -> str:
        """``report.md``: a short human report of the pass."""
        s = self.summary
        t = s.transport
        lines = ["# paleblue ground station report", ""]
        lines.append(
            f"Received {t.messages_received} messages ({s.octets_received:,} octets), "
            f"{t.messages_lost} lost in transport, in {s.elapsed_s} s."
        )
        hint = self.channel_hint()
        if hint is not None:
            lines += ["", f"**{hint[0].upper()}{hint[1:]}.**"]
        lines += self._images_section() + self._captures_section() + self._open_transfers_section()
        lines += self._navigation_section()
        lines += self._link_section() + self._housekeeping_section()
        lines += ["", "## Packets by APID", ""]
        lines += [f"- {k}: {v} packets" for k, v in s.packets_by_apid.items()]
        lines += ["", "## Faults", ""]
        lines += [f"- {k}: {v}" for k, v in s.faults.items()] or ["- none"]
        damage = self.damage_lines()
        if damage:
            lines += ["", "## Recording damage", "", *(f"- {line.strip()}" for line in damage)]
        return "\n".join(lines) + "\n"

    def _images_section(self) -> list[str]:
        lines = [
            "",
            "## Images",
            "",
            "| id | size | complete | CRC | delivery | sha256 | quick-look |",
            "|---|---|---|---|---|---|---|",
        ]
        for p in self.summary.images:
            lines.append(
                f"| {p.image_id} | {_image_size(p)} | {p.complete} | "
                f"{'ok' if p.crc_ok else 'FAIL'} | {_delivery(p)} | `{p.sha256[:16]}` | "
                f"{Path(p.files.get('quicklook', '')).name} |"
            )
        return lines

    def open_transfer_lines(self) -> list[str]:
        """One line per CFDP file transfer still open when the pass ended: what arrived, what is
        missing, and its partial image."""
        return [_open_transfer_line(t) for t in self.summary.cfdp.get("open", []) if isinstance(t, dict)]

    def _open_transfers_section(self) -> list[str]:
        lines = self.open_transfer_lines()
        if not lines:
            return []
        return [
            "",
            "## File transfers still open at the end of the pass (CFDP)",
            "",
            *(f"- {x}" for x in lines),
        ]

    def _captures_section(self) -> list[str]:
        """Colour captures (present only when the pass had any): bands, composite or what is missing."""
        if not self.summary.captures:
            return []
        lines = [
            "",
            "## Colour captures",
            "",
            "Each band came as its own image; the composite is written only when every band arrived "
            "whole (complete, CRC ok).",
            "",
            "| capture | bands (image id) | composite | colour balance |",
            "|---|---|---|---|",
        ]
        for c in self.summary.captures:
            bands = ", ".join(
                f"{band} ({c.images[band]})" if band in c.images else f"{band} (MISSING)" for band in c.bands
            )
            look = Path(c.composite).name if c.composite else f"not written: {c.why}"
            lines.append(f"| {c.capture_id} | {bands} | {look} | {c.balance or '-'} |")
        return lines

    def _navigation_section(self) -> list[str]:
        lines = ["", "## Optical navigation (measured against truth, pixels)", ""]
        for p in self.summary.images:
            for body, m in sorted(p.measurement.items()):
                if "error_px" in m:
                    lines.append(_optical_navigation_line(p, body, m))
        return lines

    def _link_section(self) -> list[str]:
        physical = self.summary.link_physical
        if not physical["cadus"]:
            return []
        channel = self.summary.link["channel"]
        return [
            "",
            "## Space link",
            "",
            f"{channel['frame_type'].upper()} frames of {channel['frame_length']} octets, "
            f"RS E={channel['rs_e']} I={channel['rs_interleave']}: "
            f"{physical['cadus']} CADUs, {physical['frames_good']} frames good, "
            f"{physical['frames_corrected']} corrected ({physical['symbols_corrected']} symbols), "
            f"{physical['uncorrectable']} uncorrectable, {physical['crc_failures']} CRC failures, "
            f"{physical['sync_losses']} sync losses, {physical['idle_frames']} idle frames"
            + self._idle_recording_note()
            + ".",
            *self._reconciliation_lines(),
            *self._sdls_lines(),
        ]

    def _sdls_lines(self) -> list[str]:
        sdls = self.summary.link.get("sdls")
        if sdls is None:
            return []
        reasons = ", ".join(f"{k} {v}" for k, v in sdls["rejected_by_reason"].items()) or "none"
        return [
            "",
            f"Space data link security on {sdls['link'].upper()} VCs "
            f"{', '.join(str(v) for v in sdls['virtual_channels'])}: {sdls['frames_verified']} frames "
            f"verified, {sdls['frames_rejected']} refused ({reasons}).",
        ]

    def _reconciliation_lines(self) -> list[str]:
        """With a simulated link (``paleblue run --link``): its counters and the reconciliation."""
        simulator = self.summary.link.get("simulator")
        result = self.summary.link.get("reconciliation")
        if not simulator or not result:
            return []
        return [
            "",
            f"Simulated link: {simulator['sent']} frames sent, {simulator['dropped_by_link']} dropped "
            f"({simulator['dropped_random']} at random, {simulator['dropped_in_burst']} in bursts, "
            f"{simulator['dropped_outside_pass']} outside a pass), {simulator['corrupted']} corrupted "
            f"({simulator['flipped_bits']} bits), {simulator['reordered']} held back, "
            f"{simulator['duplicated']} duplicated, {simulator['in_flight']} still in flight at the end.",
            "",
            f"Reconciliation: {_reconciliation_text(result)}.",
        ]

    def _idle_recording_note(self) -> str:
        """What became of idle frames in a recording: left out by this station's recorder, or by
        the recorder of the recording read (its idle notes)."""
        recording = self.summary.recording or {}
        notes = []
        if "idle_frames_not_recorded" in recording:
            kept = recording.get("idle_frames_kept")
            notes.append("all recorded" if kept else f"{recording['idle_frames_not_recorded']} not recorded")
        if recording.get("idle_frames_noted_in_input"):
            notes.append(f"{recording['idle_frames_noted_in_input']} more left out of the recording read")
        return f" ({', '.join(notes)})" if notes else ""

    def _housekeeping_section(self) -> list[str]:
        telemetry = self.summary.telemetry
        if not telemetry["latest"]:
            return []
        levels = telemetry["limit_levels"]
        units = self._units if self._units is not None else default_units()
        return [
            "",
            "## Housekeeping (latest engineering values; limit level 0 nominal, 1 yellow, 2 red)",
            "",
            f"{telemetry['counters'].get('housekeeping', 0)} housekeeping reports, "
            f"{telemetry['events']} events, {telemetry['alarms']} alarm transitions"
            + (" (see events.log)." if self._events_log else "."),
            "",
        ] + [
            f"- {name}: {_with_unit(value, units.get(name, ''))}"
            + (f" (limit level {levels[name]})" if levels.get(name) else "")
            for name, value in telemetry["latest"].items()
        ]

    # -- paleblue decode ---------------------------------------------------------------------
    def decode_table(self) -> str:
        """The human view of a decode: input, link, per virtual channel and per APID, images, faults."""
        s = self.summary
        source = s.input or {}
        lines = [f"input: {source.get('path')} ({source.get('format')}, {source.get('octets')} octets)"]
        if "detection" in source:
            lines.append(f"auto: {source['detection']}")
        if "channel_source" in source:
            lines.append(f"channel: {source['channel_source']}")
        physical = s.link_physical
        if physical["cadus"]:
            lines.append(
                f"CADUs {physical['cadus']}: good {physical['frames_good']}, "
                f"corrected {physical['frames_corrected']} "
                f"({physical['symbols_corrected']} symbols), uncorrectable {physical['uncorrectable']}, "
                f"CRC failures {physical['crc_failures']}, sync losses {physical['sync_losses']}, "
                f"skipped {physical['bytes_skipped']} octets"
            )
        noted = (s.recording or {}).get("idle_frames_noted_in_input")
        if noted:
            lines.append(f"idle frames: {physical['idle_frames']} read, {noted} left out of the recording")
        lines += self._virtual_channel_rows() + self._apid_rows()
        for p in s.images:
            state = "complete" if p.complete else f"incomplete ({p.missing_octets} octets missing)"
            lines.append(
                f"image {p.image_id}: {p.width}x{p.height} {state}, CRC {'ok' if p.crc_ok else 'bad'}"
            )
        lines += [_capture_line(c) for c in s.captures]
        if s.faults:
            lines.append("faults: " + ", ".join(f"{k} {v}" for k, v in s.faults.items()))
        lines += self.damage_lines()
        hint = self.channel_hint()
        if hint is not None:
            lines.append(f"hint: {hint}")
        return "\n".join(lines) + "\n"

    def _virtual_channel_rows(self) -> list[str]:
        virtual = self.summary.link["cadu"]["virtual"] or self.summary.link["frames"]["virtual"]
        if not virtual:
            return []
        rows = [f"{'VC':>4} {'frames':>8} {'missing':>8} {'packets':>8} {'lost':>6}"]
        for vcid, c in virtual.items():
            rows.append(
                f"{vcid:>4} {c.get('frames', 0):>8} {c.get('frames_missing', 0):>8} "
                f"{c.get('packets', 0):>8} {c.get('packets_lost', 0):>6}"
            )
        return rows

    def _apid_rows(self) -> list[str]:
        s = self.summary
        gaps, spans = s.packet_sequence_gaps_by_apid, s.packet_time_span_by_apid
        rows = [f"{'APID':<12} {'packets':>8} {'gaps':>6}  first .. last on-board time"]
        for name, count in s.packets_by_apid.items():
            first, last = spans.get(name, ["", ""])
            rows.append(f"{name:<12} {count:>8} {gaps.get(name, 0):>6}  {first} .. {last}")
        return rows

    # -- paleblue run / paleblue ground --------------------------------------------------------
    def run_lines(self, out_dir: Path, elapsed_s: float, interrupted: bool = False) -> str:
        """What ``paleblue run`` prints once both processes are done (or were stopped)."""
        s = self.summary
        ended = "interrupted after" if interrupted else "finished in"
        lines = [f"run: {ended} {elapsed_s:.1f} s; products in {out_dir.resolve()}"]
        for p in s.images:
            lines.append(
                f"  image {p.image_id}: {p.width}x{p.height} {p.bit_depth}-bit, {_image_state(p)}, "
                f"sha256 {p.sha256[:16]}…  {p.files.get('quicklook')}"
            )
        lines += [f"  open transfer: {line}" for line in self.open_transfer_lines()]
        lines += [f"  {_capture_line(c)}" for c in s.captures]
        lines.append(f"  report: {out_dir / 'report.md'}   summary: {out_dir / 'summary.json'}")
        lines.append(f"  transport: {dict(s.transport.__dict__)}")
        physical = s.link_physical
        if physical["cadus"]:
            lines.append(
                f"  link: {physical['cadus']} CADUs, {physical['frames_good']} frames good, "
                f"{physical['frames_corrected']} corrected ({physical['symbols_corrected']} RS symbols), "
                f"{physical['uncorrectable']} uncorrectable, {physical['crc_failures']} CRC failures"
            )
        if s.link.get("reconciliation"):
            lines.append(f"  link reconciliation: {_reconciliation_text(s.link['reconciliation'])}")
        lines.append(f"  faults: {s.faults or 'none'}")
        hint = self.channel_hint()
        if hint is not None:
            lines.append(f"  hint: {hint}")
        return "\n".join(lines) + "\n"

    def ground_brief(self) -> str:
        """What ``paleblue ground`` prints at the end: transport, packets, faults and the link, as JSON."""
        s = self.summary
        brief = {
            "transport": dict(s.transport.__dict__),
            "packets_by_apid": s.packets_by_apid,
            "faults": s.faults,
            "link": s.link_physical,
        }
        return json.dumps(brief, indent=2) + "\n"


def _open_transfer_line(t: dict) -> str:
    """``transaction 1/0 receiving: 241,920 of 2,121,592 octets (11.4 %); missing octets ...``"""
    source, sequence = t["transaction"]
    if t["file_octets"] is None:
        line = f"transaction {source}/{sequence} {t['state']}: {t['octets_received']:,} octets (size unknown)"
    else:
        line = (
            f"transaction {source}/{sequence} {t['state']}: {t['octets_received']:,} of "
            f"{t['file_octets']:,} octets ({t['percent_received']:.1f} %)"
        )
    ranges = ", ".join(f"{a:,}-{b - 1:,}" for a, b in t["missing_ranges"])
    if ranges:
        more = t["missing_range_count"] - len(t["missing_ranges"])
        line += f"; missing octets {ranges}" + (f" and {more} more range(s)" if more > 0 else "")
    if t.get("partial_image"):
        line += f"; partial image {t['partial_image']} (missing data hatched)"
    else:
        line += f"; no partial image: {t.get('no_partial_image', 'none written')}"
    return line


def _reconciliation_text(result: dict) -> str:
    """The reconciliation line (:meth:`protocols.link.link_tally.Reconciliation.line`) from its dict."""
    from protocols.link.link_tally import Reconciliation

    return Reconciliation(**result).line()


def _with_unit(value: object, unit: str) -> str:
    """``28.25 V``: a float to 6 significant digits (large ones to 0.1 with thousands separated)."""
    if isinstance(value, float):
        text = f"{value:,.1f}" if abs(value) >= 1e5 else f"{value:.6g}"
    else:
        text = str(value)
    return f"{text} {unit}" if unit else text


def render_report(
    summary: PassSummary | dict, units: Mapping[str, str] | None = None, events_log: bool = False
) -> str:
    """``report.md`` of a pass (housekeeping ``units`` by parameter: paleblue's own by default);
    ``events_log``: an ``events.log`` was written beside it, so the report points to it."""
    return PassReport(summary, units, events_log).markdown()
