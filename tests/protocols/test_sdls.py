"""SDLS (CCSDS 355.0-B-2) with AES-256-GCM: layout, services, every rejection reason, SA states."""

from __future__ import annotations

import contextlib
import os
import stat

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocols.coding.crc import crc16
from protocols.errors import DecodeError
from protocols.link.tc_frame import TcFrame
from protocols.sdls import (
    ArsnExhausted,
    Reason,
    SaKey,
    SaManagementError,
    SaState,
    SdlsRejected,
    SecurityAssociation,
    SecurityContext,
    ServiceType,
)
from protocols.sdls.frames import apply_fixed, apply_tc, process_fixed, process_tc
from protocols.sdls.header import unpack_header_declared, unpack_header_fast
from protocols.sdls.keystore import (
    KeyFileError,
    generate,
    load_context,
    load_keys,
    save_arsn,
)
from protocols.sdls.security import mask

KEY = SaKey(1, bytes(range(32)))
KEY2 = SaKey(2, bytes(range(32, 64)))
SCID = 437
SERVICES = list(ServiceType)


def tc_sa(service: ServiceType = ServiceType.AUTHENTICATED_ENCRYPTION, **kw) -> SecurityAssociation:
    if service is ServiceType.PLAINTEXT:
        kw = {"iv_length": 0, "mac_length": 0, "sn_length": 2, **kw}
    return SecurityAssociation(spi=kw.pop("spi", 1), link="tc", vcid=kw.pop("vcid", 0), key_id=1,
                               service=service, **kw)  # fmt: skip


def pair(sa: SecurityAssociation) -> tuple[SecurityContext, SecurityContext]:
    return SecurityContext([sa], [KEY, KEY2]), SecurityContext([sa], [KEY, KEY2])


def refit_fecf(frame: bytes) -> bytes:
    return frame[:-2] + crc16(frame[:-2]).to_bytes(2, "big")


def rejected(rx: SecurityContext, frame: bytes) -> Reason:
    with pytest.raises(SdlsRejected) as info:
        rx.verify_tc(frame)
    return info.value.code


@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("sn_length", [0, 4])
def test_tc_round_trip_each_service(service: ServiceType, sn_length: int) -> None:
    sa = tc_sa(service, sn_length=sn_length or (2 if service is ServiceType.PLAINTEXT else 0))
    tx, rx = pair(sa)
    for n in range(1, 4):
        data = bytes([n]) * (10 + n)
        frame = tx.protect_tc(SCID, 0, n, data)
        assert len(frame) == 5 + sa.header_length + len(data) + sa.mac_length + 2
        assert TcFrame.unpack(frame).virtual_channel_id == 0  # still a valid TC frame, FECF included
        plain, verified = rx.verify_tc(frame)
        assert plain.data == data and verified.arsn == n and plain.sequence_number == n
        encrypted = service is ServiceType.AUTHENTICATED_ENCRYPTION
        assert (data in frame) is not encrypted
    assert rx.arsn[1] == 3 and rx.accepted == 3 and not rx.rejections


def test_header_layout_spi_iv_sn_pad_then_data_then_mac() -> None:
    sa = tc_sa(ServiceType.AUTHENTICATION, sn_length=4, pl_length=1, mac_length=12)
    frame = apply_tc(sa, KEY, 7, SCID, 0, b"DATA")
    sec = frame[5 : 5 + sa.header_length]
    assert sec[:2] == b"\x00\x01"  # SPI
    assert sec[2:14] == (7).to_bytes(12, "big")  # IV counts with the ARSN
    assert sec[14:18] == (7).to_bytes(4, "big")  # sequence number field
    assert sec[18:] == b"\x00"  # pad length
    assert frame[5 + sa.header_length : 5 + sa.header_length + 4] == b"DATA"
    assert len(frame) == 5 + 19 + 4 + 12 + 2


@given(st.integers(12, 16), st.integers(0, 8), st.integers(0, 2), st.binary(min_size=40, max_size=40),
       st.integers(1, 0xFFFE))  # fmt: skip
def test_header_fast_path_matches_declaration(iv: int, sn: int, pl: int, raw: bytes, spi: int) -> None:
    sa = SecurityAssociation(spi, "tc", 0, 1, iv_length=iv, sn_length=sn, pl_length=pl)
    data = spi.to_bytes(2, "big") + raw
    assert unpack_header_fast(sa, data) == unpack_header_declared(sa, data)
    h = unpack_header_fast(sa, data)
    assert h.pack() == h.pack_declared(sa) == data[: sa.header_length]


def test_reasons_bad_spi_unknown_and_other_channel() -> None:
    tx, rx = pair(tc_sa())
    frame = bytearray(tx.protect_tc(SCID, 0, 0, b"cmd"))
    frame[5:7] = (99).to_bytes(2, "big")
    assert rejected(rx, refit_fecf(bytes(frame))) is Reason.BAD_SPI
    other = SecurityContext([tc_sa(spi=2, vcid=1)], [KEY])
    assert rejected(other, tx.protect_tc(SCID, 0, 1, b"cmd")) is Reason.BAD_SPI
    assert other.rejections[Reason.BAD_SPI] == 1 and rx.rejections[Reason.BAD_SPI] == 1


@pytest.mark.parametrize("service", [ServiceType.AUTHENTICATION, ServiceType.AUTHENTICATED_ENCRYPTION])
def test_every_single_bit_flip_under_the_mac_is_a_bad_mac(service: ServiceType) -> None:
    sa = tc_sa(service, mac_length=8)
    tx, _ = pair(sa)
    frame = tx.protect_tc(SCID, 0, 0, b"TAKE_IMAGE")
    # every authenticated bit after the SPI (header and SPI flips change routing, tested apart)
    for bit in range(7 * 8, (len(frame) - 2) * 8):
        rx = SecurityContext([sa], [KEY])
        damaged = bytearray(frame)
        damaged[bit // 8] ^= 0x80 >> (bit % 8)
        reason = rejected(rx, refit_fecf(bytes(damaged)))
        assert reason is Reason.BAD_MAC, (bit, reason)
    assert SecurityContext([sa], [KEY]).verify_tc(frame)[0].data == b"TAKE_IMAGE"


def test_header_bits_authenticated_unless_masked_out() -> None:
    strict = tc_sa(ServiceType.AUTHENTICATION)
    # mask out the frame sequence number (last header octet), as a mission with COP-1 renumbering might
    loose = tc_sa(ServiceType.AUTHENTICATION, auth_mask=bytes.fromhex("ffffffff00"))
    for sa, accepted in ((strict, False), (loose, True)):
        tx, rx = pair(sa)
        frame = bytearray(tx.protect_tc(SCID, 0, 5, b"cmd"))
        frame[4] ^= 0xFF
        if accepted:
            assert rx.verify_tc(refit_fecf(bytes(frame)))[1].data == b"cmd"
        else:
            assert rejected(rx, refit_fecf(bytes(frame))) is Reason.BAD_MAC
    assert mask(b"\x12\x34\x56\x78\x9a\xbc", b"\xff\x00\xff\xff\xff") == b"\x12\x00\x56\x78\x9a\xbc"


def test_replay_and_window() -> None:
    tx, rx = pair(tc_sa(window=4))
    first = tx.protect_tc(SCID, 0, 0, b"one")
    rx.verify_tc(first)
    assert rejected(rx, first) is Reason.REPLAYED
    tx.arsn[1] += 4  # frames lost: the next ARSN is 6, beyond 1 + 4
    assert rejected(rx, tx.protect_tc(SCID, 0, 0, b"far")) is Reason.OUT_OF_WINDOW
    tx.set_arsn(1, 4)
    assert rx.verify_tc(tx.protect_tc(SCID, 0, 0, b"near"))[1].arsn == 5  # a gap inside the window
    old = apply_tc(tc_sa(window=4), KEY, 3, SCID, 0, b"old")  # validly signed, but behind
    assert rejected(rx, old) is Reason.REPLAYED
    assert rx.rejections == {Reason.REPLAYED: 2, Reason.OUT_OF_WINDOW: 1}
    assert rx.arsn[1] == 5


def test_forged_frame_never_moves_the_window() -> None:
    tx, rx = pair(tc_sa(window=4))
    frame = bytearray(tx.protect_tc(SCID, 0, 0, b"x"))
    frame[7:19] = (3).to_bytes(12, "big")  # claim ARSN 3 without the key
    assert rejected(rx, refit_fecf(bytes(frame))) is Reason.BAD_MAC
    assert rx.arsn[1] == 0


def test_wrong_length_truncated_and_no_data() -> None:
    sa = tc_sa()
    tx, rx = pair(sa)
    frame = tx.protect_tc(SCID, 0, 0, b"cmd")
    for cut in (3, 6, 8, 5 + sa.overhead - 1):
        assert rejected(rx, frame[:cut]) in (Reason.WRONG_LENGTH, Reason.BAD_FRAME)
    header_only = TcFrame(SCID, 0, 0, frame[5 : 5 + sa.overhead]).pack()  # valid frame, no data
    assert rejected(rx, header_only) is Reason.WRONG_LENGTH
    assert rx.rejections[Reason.WRONG_LENGTH] >= 2


def test_bad_fecf_is_a_bad_frame() -> None:
    tx, rx = pair(tc_sa())
    frame = bytearray(tx.protect_tc(SCID, 0, 0, b"cmd"))
    frame[-1] ^= 1
    assert rejected(rx, bytes(frame)) is Reason.BAD_FRAME


def test_sa_states_stop_start_rekey() -> None:
    sa = tc_sa()
    tx, rx = pair(sa)
    rx.verify_tc(tx.protect_tc(SCID, 0, 0, b"a"))
    rx.stop(1)
    assert rejected(rx, tx.protect_tc(SCID, 0, 0, b"b")) is Reason.SA_NOT_OPERATIONAL
    with pytest.raises(SaManagementError):
        rx.stop(1)
    with pytest.raises(SaManagementError):
        rx.rekey(1, 9)  # no such key
    for ctx in (tx, rx):
        if ctx.state[1] is SaState.OPERATIONAL:
            ctx.stop(1)
        ctx.rekey(1, 2)
        ctx.start(1)
    assert rx.status(1).key_id == 2 and rx.status(1).arsn == 0
    assert rx.verify_tc(tx.protect_tc(SCID, 0, 0, b"c"))[1].data == b"c"
    old_key_frame = apply_tc(sa, KEY, 5, SCID, 0, b"old")  # signed with key 1
    assert rejected(rx, old_key_frame) is Reason.BAD_MAC
    with pytest.raises(SaManagementError):
        rx.start(1)


def test_sender_refuses_to_wrap_the_arsn() -> None:
    sa = tc_sa(sn_length=1, iv_length=12)
    tx, _ = pair(sa)
    tx.set_arsn(1, 255)
    with pytest.raises(ArsnExhausted):
        tx.protect_tc(SCID, 0, 0, b"x")


def test_tm_and_aos_frames_with_ocf_unauthenticated() -> None:
    for link, header in (("tm", bytes.fromhex("1b50 0102 1800")), ("aos", bytes.fromhex("4d40 000001 00"))):
        sa = SecurityAssociation(20, link, 0, 1, ServiceType.AUTHENTICATED_ENCRYPTION)
        data = os.urandom(1115 - 6 - sa.overhead - 4 - 2)
        frame = apply_fixed(sa, KEY, 1, header, data, tail=b"\x01\x02\x03\x04")
        assert len(frame) == 1115
        assert process_fixed(sa, KEY, 0, frame, 6, 4).data == data
        clcw_changed = refit_fecf(frame[:-6] + b"\xff\xff\xff\xff" + frame[-2:])
        assert process_fixed(sa, KEY, 0, clcw_changed, 6, 4).data == data
        with pytest.raises(SdlsRejected) as info:
            process_fixed(sa, KEY, 0, refit_fecf(frame[:20] + bytes([frame[20] ^ 1]) + frame[21:]), 6, 4)
        assert info.value.code is Reason.BAD_MAC
        rx = SecurityContext([sa], [KEY])
        assert rx.verify_fixed(link, 0, frame, 6, 4).arsn == 1


@given(st.binary(max_size=300), st.sampled_from(SERVICES))
def test_untrusted_bytes_give_a_result_or_a_typed_rejection(data: bytes, service: ServiceType) -> None:
    sa = tc_sa(service)
    rx = SecurityContext([sa], [KEY])
    try:
        rx.verify_tc(data)
    except SdlsRejected as exc:
        assert isinstance(exc, DecodeError) and exc.code in Reason
        assert sum(rx.rejections.values()) == 1
    with contextlib.suppress(SdlsRejected):
        process_tc(sa, KEY, 0, data)


@given(st.binary(min_size=1, max_size=200), st.integers(0, 400), st.integers(0, 7))
def test_mutated_valid_frames_are_rejected_by_reason(data: bytes, position: int, bit: int) -> None:
    tx, rx = pair(tc_sa(ServiceType.AUTHENTICATED_ENCRYPTION))
    frame = bytearray(tx.protect_tc(SCID, 0, 0, data))
    position %= len(frame) - 2
    frame[position] ^= 1 << bit
    with pytest.raises(SdlsRejected):
        rx.verify_tc(refit_fecf(bytes(frame)))
    assert rx.arsn[1] == 0 and rx.accepted == 0


def test_key_repr_hides_the_secret() -> None:
    assert bytes(range(32)).hex() not in repr(KEY) and "hidden" in repr(KEY)


def test_keys_generate_load_and_permissions(tmp_path) -> None:
    directory = tmp_path / "keys"
    path = generate(directory)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    keys = load_keys(path)
    assert sorted(keys) == [1, 2, 3, 4, 5] and len({k.secret for k in keys.values()}) == 5  # 5: CFDP replies
    with pytest.raises(KeyFileError, match="exists"):
        generate(directory)
    ground, probe = load_context(directory, "ground"), load_context(directory, "probe")
    frame = ground.protect_tc(SCID, 0, 0, b"ping")
    save_arsn(directory, "ground", ground)
    assert probe.verify_tc(frame)[1].data == b"ping"
    assert load_context(directory, "ground").arsn[1] == 1  # the next `paleblue cmd` continues
    path.chmod(0o640)
    with pytest.raises(KeyFileError, match="chmod 600"):
        load_keys(path)
    path.unlink()
    with pytest.raises(KeyFileError, match="no such key file"):
        load_context(directory, "probe")
    with pytest.raises(KeyFileError, match="no such key directory"):
        load_context(tmp_path / "none", "probe")


@given(st.binary(max_size=2000))
def test_fecf_fast_path_equals_protocols_crc(data: bytes) -> None:
    from protocols.sdls.frames import _crc16_fast

    assert _crc16_fast(data) == crc16(data) == _crc16_fast(memoryview(b"x" + data)[1:])


def test_cmd_without_an_operational_sa_is_a_one_line_error(tmp_path) -> None:
    import subprocess
    import sys

    directory = tmp_path / "keys"
    generate(directory)
    ground = load_context(directory, "ground")
    ground.stop(1)
    ground.stop(2)
    save_arsn(directory, "ground", ground)
    result = subprocess.run([sys.executable, "-m", "paleblue", "cmd", "PING", "--keys", str(directory)],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 2 and "no operational SA" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
