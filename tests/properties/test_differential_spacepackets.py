"""Our space packet and PUS-C TM decoders against spacepackets, on valid and damaged inputs.

Where the two agree by the standard they must agree exactly; where they differ it is because
paleblue checks more than spacepackets does, each difference named here:

* packet version: CCSDS 133.0-B-2 fixes it at 000; spacepackets' header parser reads any value;
* a TM packet must fill its input exactly (spacepackets ignores trailing octets), be of type TM
  with the secondary header flag set, and carry the mission's CUC P-field 0x1E (spacepackets
  takes the 7 time octets as opaque).
"""

from __future__ import annotations

import binascii
import warnings

from hypothesis import given
from hypothesis import strategies as st
from spacepackets.ccsds.spacepacket import SpacePacketHeader
from spacepackets.ecss.tm import PusTm

from protocols.errors import DecodeError
from protocols.packets.space_packet import SpacePacket, unpack_header_fast
from protocols.pus import pus_services as ps
from tests.properties.strategies import mutations, pus_tm_packets, space_packets


@given(st.binary(min_size=6, max_size=40))
def test_header_fields_agree_on_any_six_octets(data: bytes) -> None:
    ours, theirs = unpack_header_fast(data), SpacePacketHeader.unpack(data)
    assert (ours.version, ours.packet_type, ours.secondary_header_flag, ours.apid) == (
        theirs.ccsds_version,
        int(theirs.packet_type),
        theirs.sec_header_flag,
        theirs.apid,
    )
    assert (ours.sequence_flags, ours.sequence_count, ours.data_length) == (
        int(theirs.seq_flags),
        theirs.seq_count,
        theirs.data_len,
    )
    assert ours.packet_length == theirs.packet_len


@given(st.one_of(st.binary(max_size=40), space_packets.map(lambda p: p.pack())), st.binary(max_size=8))
def test_packet_accepted_exactly_when_version_is_zero_and_it_fits(data: bytes, tail: bytes) -> None:
    data += tail
    try:
        packet, length = SpacePacket.unpack(data)
    except DecodeError:
        packet = None
    if len(data) < 6:
        assert packet is None
        return
    theirs = SpacePacketHeader.unpack(data)
    assert (packet is not None) == (theirs.ccsds_version == 0 and theirs.packet_len <= len(data))
    if packet is not None:
        assert length == theirs.packet_len and packet.apid == theirs.apid


def fix_length_and_pec(raw: bytes) -> bytes:
    if len(raw) < 8:
        return raw
    raw = raw[:4] + (len(raw) - 7).to_bytes(2, "big") + raw[6:]
    return raw[:-2] + binascii.crc_hqx(raw[:-2], 0xFFFF).to_bytes(2, "big")


def standard_says_ours_must_accept(raw: bytes) -> bool:
    header = SpacePacketHeader.unpack(raw)
    return (
        header.packet_len == len(raw)
        and header.ccsds_version == 0
        and int(header.packet_type) == 0
        and header.sec_header_flag
        and len(raw) >= 6 + 14 + 2
        and raw[6] >> 4 == 2
        and raw[13] == 0x1E
    )


@given(st.data(), pus_tm_packets(), st.booleans())
def test_pus_tm_accept_and_reject_alike(data: st.DataObject, raw: bytes, fix: bool) -> None:
    mutated, _ = data.draw(mutations(raw))
    if fix:  # get past the checksum so the checks behind it are compared too
        mutated = fix_length_and_pec(mutated)
    try:
        ours = ps.unpack_tm(mutated)
    except DecodeError:
        ours = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            theirs = PusTm.unpack(mutated, timestamp_len=7)
        except Exception:  # spacepackets raises several types; which one does not matter here
            theirs = None
        if ours is not None:
            assert theirs is not None, "we accepted what spacepackets rejects"
            assert (ours.apid, ours.sequence_count, ours.service, ours.subtype) == (
                theirs.apid,
                theirs.seq_count,
                theirs.service,
                theirs.message_subtype,
            )
            assert ours.header.message_counter == theirs.pus_tm_sec_header.message_counter
            assert ours.header.destination_id == theirs.pus_tm_sec_header.dest_id
            assert ours.header.time.pack() == theirs.timestamp and ours.app_data == theirs.source_data
        elif theirs is not None:
            assert not standard_says_ours_must_accept(mutated), (
                "spacepackets accepted a standard packet we reject"
            )
