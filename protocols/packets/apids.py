"""Application process identifiers: every APID the probe uses, named in one place."""

from __future__ import annotations

from enum import IntEnum


class Apid(IntEnum):
    """11-bit APIDs (CCSDS 133.0-B-2 §4.1.3.3.4)."""

    TIME = 0x000  # reserved by CCSDS for time packets; not used by paleblue
    PLATFORM = 0x064  # housekeeping, events, verification, ping replies
    CAMERA = 0x0C8  # image header and image data segments
    CFDP = 0x0C9  # file delivery PDUs
    TELECOMMAND = 0x065  # telecommands addressed to the platform application
    IDLE = 0x7FF  # idle packets (CCSDS 133.0-B-2 §4.1.3.3.4.4)


APID_MAX = 0x7FF

# The APIDs paleblue's downlink carries (TIME is reserved by CCSDS and never sent): a raw packet
# stream decoder resynchronizes only on headers that name one of them.
MISSION_APIDS = frozenset({Apid.PLATFORM, Apid.CAMERA, Apid.CFDP, Apid.TELECOMMAND, Apid.IDLE})
# Telemetry packets of these APIDs with the secondary header flag set are PUS-C TM and end with a
# packet error control (CRC-16/CCITT-FALSE over the whole packet, see protocols/pus/packets.py).
PUS_TM_APIDS = frozenset({Apid.PLATFORM, Apid.CAMERA})


def apid_name(apid: int) -> str:
    """A readable name for logs and summaries; unknown APIDs print as hex."""
    try:
        return Apid(apid).name
    except ValueError:
        return f"0x{apid:03X}"
