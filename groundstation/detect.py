"""What is in a file? Format and channel detection that says what it found and why.

Looked at, in order, on the first :data:`SAMPLE_OCTETS` of the file:

1. a paleblue recording's marker at offset 0 (the channel then comes from its header);
2. attached sync markers at a regular spacing: the spacing is the CADU length; a channel whose
   CADUs are that long must decode most of them (RS, FECF, version, spacecraft id) to be chosen,
   and variable-length USLP channels are tried when markers are irregular;
3. bare transfer frames: the version number (TM 00, AOS 01, USLP 1100) and the spacecraft id
   repeat at the frame length over many units, and most frames pass the channel's checks;
4. space packets: version 0 headers whose lengths chain from the first octet to the end of the
   sample (at least :data:`MIN_PACKETS` of them, or the whole file), idle APID allowed.

Candidates are the channel the user gave, else every shipped preset. When nothing fits, the
verdict says what was seen (for instance "ASM every 1024 octets, AOS frames of spacecraft 0x2A,
but no preset decodes them: give --channel FILE") and the format is ``None``.
"""

from __future__ import annotations

import itertools
import struct
from collections import Counter
from dataclasses import dataclass

import numpy as np

from groundstation.frame_receiver import FrameReceiver
from groundstation.link_receiver import LinkReceiver
from protocols.capture.recording import SYNC_MARKER
from protocols.coding.cadu import asm_distances
from protocols.coding.randomizer import Randomizer
from protocols.link.channel_config import ASM, ASM_LENGTH, FrameType, PhysicalChannelConfig
from protocols.link.channel_file import DEFAULT_PRESET, PRESETS

SAMPLE_OCTETS = 256 * 1024
MIN_UNITS = 3  # markers or frames needed before a spacing counts as regular
MIN_PACKETS = 4
GOOD_FRACTION = 0.5  # of the units looked at, at least this many must decode

_PACKET_HEADER = struct.Struct(">HHH")


@dataclass(frozen=True, slots=True)
class Detection:
    """``format`` is None when nothing was recognised; ``reason`` is one line for the user."""

    format: str | None
    reason: str
    channel: PhysicalChannelConfig | None = None
    channel_name: str | None = None


def _version_name(first_octet: int) -> str | None:
    if first_octet >> 4 == 0b1100:
        return "USLP"
    return {0: "TM", 1: "AOS"}.get(first_octet >> 6)


def _scid(frame_head: bytes, kind: str) -> int:
    word = int.from_bytes(frame_head[:3].ljust(3, b"\0"), "big")
    if kind == "USLP":
        return (word >> 4) & 0xFFFF
    return (word >> 12) & 0x3FF if kind == "TM" else (word >> 14) & 0xFF


def _candidates(
    hint: PhysicalChannelConfig | None, hint_name: str | None
) -> list[tuple[str, PhysicalChannelConfig]]:
    if hint is not None:
        return [(hint_name or "the given channel", hint)]
    names = sorted(PRESETS, key=lambda name: name != DEFAULT_PRESET)  # the default wins a tie
    return [(name, PRESETS[name]) for name in names]


def _asm_positions(sample: bytes, tolerance: int = 0, asm: bytes = ASM) -> list[int]:
    data = np.frombuffer(sample, dtype=np.uint8)
    return np.flatnonzero(asm_distances(data, asm) <= tolerance).tolist()


def _regular_spacing(positions: list[int], asm_length: int = ASM_LENGTH) -> tuple[int, int] | None:
    """(spacing, how many consecutive markers show it) for the commonest spacing seen >= MIN_UNITS - 1."""
    steps = Counter(b - a for a, b in itertools.pairwise(positions) if b - a > asm_length)
    if not steps:
        return None
    spacing, count = steps.most_common(1)[0]
    return (spacing, count) if count >= MIN_UNITS - 1 else None


def _good_fraction(counters) -> tuple[int, int]:
    return counters.frames_good, counters.cadus


def _describe_cadu_frames(sample: bytes, positions: list[int], asm_length: int = ASM_LENGTH) -> str:
    """What the frames behind the markers look like, randomized or not (for the verdict)."""
    heads = [sample[p + asm_length : p + asm_length + 3] for p in positions[:16]]
    heads = [h for h in heads if len(h) == 3]
    sequence = Randomizer(3).sequence
    for label, transform in (("randomized", lambda h: bytes(a ^ b for a, b in zip(h, sequence, strict=True))),
                             ("not randomized", lambda h: h)):  # fmt: skip
        seen = [transform(h) for h in heads]
        kinds = {_version_name(h[0]) for h in seen}
        if len(kinds) == 1 and None not in kinds:
            kind = kinds.pop()
            scids = {_scid(h, kind) for h in seen}
            if len(scids) == 1:
                return f"{kind} frames ({label}) of spacecraft 0x{scids.pop():X}"
    return "frames whose headers do not agree with each other"


def _try_cadus(sample: bytes, candidates: list[tuple[str, PhysicalChannelConfig]]) -> Detection | None:
    """CADUs behind the candidates' markers (the standard one first, then any other a channel file
    gives): the first marker whose CADUs decode, else what the standard marker showed."""
    markers = sorted({config.asm for _, config in candidates}, key=lambda asm: asm != ASM)
    verdicts = [
        _try_cadus_with(sample, [(n, c) for n, c in candidates if c.asm == asm], asm) for asm in markers
    ]
    found = [v for v in verdicts if v is not None and v.format is not None]
    return found[0] if found else next((v for v in verdicts if v is not None), None)


def _try_cadus_with(
    sample: bytes, candidates: list[tuple[str, PhysicalChannelConfig]], asm: bytes
) -> Detection | None:
    positions = _asm_positions(sample, asm=asm)
    regular = _regular_spacing(positions, len(asm))
    if regular is not None:
        spacing, _ = regular
        best = None
        for name, config in candidates:
            if config.variable_length or config.cadu_length != spacing:
                continue
            receiver = LinkReceiver(config)
            receiver.feed(sample)
            good, total = _good_fraction(receiver.counters)
            if total and good >= GOOD_FRACTION * total and (best is None or good > best[2]):
                best = (name, config, good, total)
        if best is not None:
            name, config, good, total = best
            marker = "" if asm == ASM else f" {asm.hex().upper()}"
            return Detection(
                "cadu",
                f"CADUs: an ASM{marker} every {spacing} octets, {good} of {total} frames decode as {name} "
                f"({config.frame_type.upper()}, spacecraft 0x{config.spacecraft_id:X})",
                config,
                name,
            )
    if len(positions) >= MIN_UNITS:  # markers, irregular or of no fixed channel: variable frames?
        for name, config in candidates:
            if not config.variable_length:
                continue
            receiver = LinkReceiver(config)
            receiver.feed(sample)
            good, total = _good_fraction(receiver.counters)
            if good >= MIN_UNITS and good >= GOOD_FRACTION * total:
                return Detection(
                    "cadu",
                    f"variable-length USLP CADUs: {len(positions)} ASMs, {good} of {total} frames after "
                    f"them decode as {name} (spacecraft 0x{config.spacecraft_id:X})",
                    config,
                    name,
                )
    if regular is not None:
        spacing, _ = regular
        what = _describe_cadu_frames(sample, positions, len(asm))
        expected = ", ".join(
            sorted({f"{n} ({c.cadu_length})" for n, c in candidates if not c.variable_length})
        )
        return Detection(
            None,
            f"an ASM every {spacing} octets (CADUs of {spacing} octets) carrying {what}, but no channel "
            f"decodes them (tried {expected or 'variable-length USLP'}): give --channel NAME|FILE and the "
            "overrides that fit",
        )
    return None


def _try_frames(sample: bytes, candidates: list[tuple[str, PhysicalChannelConfig]]) -> Detection | None:
    if len(sample) < 8:
        return None
    kind = _version_name(sample[0])
    if kind is None:
        return None
    best = None
    for name, config in candidates:
        if config.frame_type is not FrameType(kind.lower()):
            continue
        n = config.frame_length
        if not config.variable_length and len(sample) < MIN_UNITS * n and len(sample) % n:
            continue
        receiver = FrameReceiver(config)
        receiver.feed(sample)
        good, total = _good_fraction(receiver.counters)
        enough = good >= min(MIN_UNITS, max(1, len(sample) // max(1, n)))
        if enough and good >= GOOD_FRACTION * total and (best is None or good > best[2]):
            best = (name, config, good, total)
    if best is not None:
        name, config, good, total = best
        length = "variable-length" if config.variable_length else f"{config.frame_length}-octet"
        return Detection(
            "frames",
            f"bare {kind} frames: version {sample[0] >> (4 if kind == 'USLP' else 6):b}, spacecraft "
            f"0x{config.spacecraft_id:X}, {good} of {total} {length} frames pass the checks of {name}",
            config,
            name,
        )
    return None


def _unknown_frames(sample: bytes) -> Detection | None:
    """The version and spacecraft id repeat at some period: frames, but of no channel we know."""
    kind = _version_name(sample[0]) if sample else None
    if kind is None:
        return None
    head = sample[:3]
    for period in range(16, min(len(sample) // MIN_UNITS, 65536) + 1):
        if all(sample[k * period : k * period + 3] == head for k in range(1, MIN_UNITS)):
            return Detection(
                None,
                f"{kind} frames of {period} octets, spacecraft 0x{_scid(head, kind):X}, but no channel "
                "decodes them: give --channel NAME|FILE and the overrides that fit",
            )
    return None


def _try_packets(sample: bytes, whole_file: bool) -> Detection | None:
    position, count, apids = 0, 0, Counter()
    n = len(sample)
    while n - position >= 6:
        word0, _, data_length = _PACKET_HEADER.unpack_from(sample, position)
        length = data_length + 7
        if word0 >> 13:
            return None
        if position + length > n:
            break
        apids[word0 & 0x7FF] += 1
        count += 1
        position += length
    complete = position == n
    if count >= MIN_PACKETS or (complete and count and whole_file):
        if not complete and not (count >= MIN_PACKETS and not whole_file):
            return None
        shown = ", ".join(f"0x{a:03X}" for a, _ in apids.most_common(4))
        return Detection(
            "packets",
            f"space packets: {count} version-0 headers whose lengths chain from octet 0"
            f"{' to the end' if complete else ''} (APIDs {shown})",
        )
    return None


def detect(
    sample: bytes,
    whole_file: bool,
    hint: PhysicalChannelConfig | None = None,
    hint_name: str | None = None,
) -> Detection:
    """The format (and channel) of a file from its first octets; ``whole_file`` when the sample is
    all of it."""
    if not sample:
        return Detection(None, "the file is empty")
    if sample.startswith(SYNC_MARKER):
        return Detection("recording", f"a paleblue recording (marker {SYNC_MARKER!r} at offset 0)")
    candidates = _candidates(hint, hint_name)
    for attempt in (_try_cadus, _try_frames):
        found = attempt(sample, candidates)
        if found is not None:
            return found
    for found in (_try_packets(sample, whole_file), _unknown_frames(sample)):
        if found is not None:
            return found
    markers = len(_asm_positions(sample))
    return Detection(
        None,
        f"no regular ASM spacing ({markers} markers in {len(sample)} octets), no frame version and "
        "spacecraft id that repeat, no chain of space packet headers",
    )


__all__ = ["ASM", "Detection", "detect"]
