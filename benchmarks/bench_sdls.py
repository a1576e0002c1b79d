"""SDLS AES-256-GCM throughput: downlink TM frames and uplink TC frames, secured vs raw AES-GCM.

Run: ``.venv/bin/python benchmarks/bench_sdls.py [--frames N] [--cpu-time]`` (``--cpu-time``: every
figure by the CPU time (user + sys) of this process, for a shared machine; the load average is printed).

1. Downlink: 20,000 (default) 1115-octet TM frames with OCF and FECF, authenticated encryption:
   ``SecurityContext.verify_fixed`` (SPI look-up, FECF, MAC, decryption, anti-replay) beside
   ``cryptography``'s raw ``AESGCM.decrypt`` of the very same ciphertexts, AAD and tags, in the
   same run; also the sender side (``protect_fixed``) and authentication-only (GMAC) frames.
2. The live downlink path, on TM and on fixed-length USLP frames: ``DownlinkSecurity.verify``
   (what the ground's link receiver calls per frame: SDLS + the frame rebuilt in clear) beside the
   same raw AES-GCM; and the whole chain, Transmitter -> CADUs -> LinkReceiver -> packets, with
   SDLS on versus off.
3. Uplink: 20,000 TC frames of a 64-octet command, protect + verify, beside the plain TC frame path.
"""

from __future__ import annotations

import argparse
import os
import time

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from emulator.transmitter import Transmitter
from groundstation.link_receiver import LinkReceiver
from protocols.coding.cadu import CaduCodec
from protocols.link.channel_file import preset
from protocols.link.tc_frame import TcFrame, TcFrameEncoder
from protocols.packets.space_packet import SpacePacket
from protocols.sdls import SaKey, SecurityAssociation, SecurityContext, ServiceType
from protocols.sdls.downlink import DownlinkSecurity, link_of, security_offset

FRAME = 1115
HEADER, OCF, FECF = 6, 4, 2


CLOCK = time.perf_counter  # time.process_time with --cpu-time


def best_of(runs: int, fn) -> float:
    times = []
    for _ in range(runs):
        start = CLOCK()
        fn()
        times.append(CLOCK() - start)
    return min(times)


def live_downlink(count: int, channel: str = "tm-rs-i5") -> None:
    """The probe's and the ground's own objects: DownlinkSecurity per frame, and the whole chain."""
    config = preset(channel)
    key = SaKey(5, os.urandom(32))
    link, offset = link_of(config), security_offset(config)
    sa = SecurityAssociation(11, link, 1, 5, ServiceType.AUTHENTICATED_ENCRYPTION, window=1 << 24)
    packets = [SpacePacket(apid=0x40, sequence_count=i % 16384, data=os.urandom(1000)).pack()
               for i in range(count)]  # fmt: skip

    def frames_of(security: DownlinkSecurity | None) -> list[bytes]:
        tx = Transmitter(config, {1: 0}, security=security)
        for p in packets:
            tx.submit(1, p)
        out = []
        while tx.has_pending():
            out.append(tx.next_frame())
        return out

    secured = frames_of(DownlinkSecurity(SecurityContext([sa], [key]), config))
    plain = frames_of(None)

    def verify() -> None:
        security = DownlinkSecurity(SecurityContext([sa], [key]), config)
        for frame in secured:
            security.verify(1, frame)

    verify_s = best_of(3, verify)
    aead = AESGCM(key.secret)
    hl = offset + sa.header_length
    end = config.frame_length - config.trailer_length
    jobs = [(f[offset + 2 : offset + 14], f[hl:end], f[:hl]) for f in secured]

    def raw() -> None:
        for iv, sealed, aad in jobs:
            aead.decrypt(iv, sealed, aad)

    raw_s = best_of(3, raw)
    mb = len(secured) * config.frame_length / 1e6
    print(f"live downlink path ({channel}), {link.upper()} VC 1 authenticated encryption: {len(secured)} "
          f"frames ({mb:.1f} MB)")  # fmt: skip
    print(f"  DownlinkSecurity.verify (SPI, MAC, decrypt, anti-replay, frame in clear): "
          f"{mb / verify_s:8.1f} MB/s")  # fmt: skip
    print(f"  raw AESGCM.decrypt, same bytes (baseline): {mb / raw_s:8.1f} MB/s  (SDLS at "
          f"{100 * raw_s / verify_s:.0f} % of it)")  # fmt: skip
    codec = CaduCodec(config)
    for name, frames, security in (("off", plain, None), ("on", secured, sa)):
        cadus = codec.encode_many(frames)

        def chain(frames=frames, security=security, cadus=cadus) -> None:
            rx = LinkReceiver(config)
            if security is not None:
                rx.set_security(DownlinkSecurity(SecurityContext([security], [key]), config))
            rx.feed(cadus)
            rx.close()

        chain_s = best_of(3, chain)
        print(f"  whole receiver (sync, RS, FECF, SDLS {name}, packets): "
              f"{len(frames) * config.frame_length / 1e6 / chain_s:8.1f} MB/s of frames")  # fmt: skip


def downlink(count: int, service: ServiceType) -> None:
    key = SaKey(1, os.urandom(32))
    sa = SecurityAssociation(10, "tm", 0, 1, service)
    data_length = FRAME - HEADER - sa.overhead - OCF - FECF
    header = bytes.fromhex("1b51 0000 1800")
    payloads = [os.urandom(data_length) for _ in range(64)]
    sender = SecurityContext([sa], [key])
    frames: list[bytes] = []
    protect_s = best_of(
        1,
        lambda: frames.extend(
            sender.protect_fixed("tm", 0, header, payloads[i % 64], b"\0" * OCF) for i in range(count)
        ),
    )

    def verify() -> None:
        receiver = SecurityContext([sa], [key])
        for frame in frames:
            receiver.verify_fixed("tm", 0, frame, HEADER, OCF)

    verify_s = best_of(3, verify)
    # the baseline: the same GCM operations on the same bytes, nothing else
    aead = AESGCM(key.secret)
    hl, end = sa.header_length, FRAME - OCF - FECF
    if service is ServiceType.AUTHENTICATED_ENCRYPTION:
        jobs = [(f[HEADER + 2 : HEADER + 14], f[HEADER + hl : end], f[: HEADER + hl]) for f in frames]
    else:
        jobs = [(f[HEADER + 2 : HEADER + 14], f[end - 16 : end], f[: end - 16]) for f in frames]

    def raw() -> None:
        for iv, sealed, aad in jobs:
            aead.decrypt(iv, sealed, aad)

    raw_s = best_of(3, raw)
    mb = count * FRAME / 1e6
    print(f"downlink TM {service.value}: {count} frames of {FRAME} octets ({mb:.1f} MB)")
    print(f"  SDLS ProcessSecurity (verify{' + decrypt' if service.value != 'authentication' else ''}): "
          f"{mb / verify_s:8.1f} MB/s  {count / verify_s:9,.0f} frames/s")  # fmt: skip
    print(f"  raw AESGCM.decrypt, same bytes (baseline): {mb / raw_s:8.1f} MB/s  (SDLS at "
          f"{100 * raw_s / verify_s:.0f} % of it)")  # fmt: skip
    print(f"  SDLS ApplySecurity (sender): {mb / protect_s:8.1f} MB/s")


def uplink(count: int) -> None:
    key = SaKey(1, os.urandom(32))
    sa = SecurityAssociation(1, "tc", 0, 1, window=count + 1)
    command = os.urandom(64)
    ground, probe = SecurityContext([sa], [key]), SecurityContext([sa], [key])
    frames: list[bytes] = []

    def secured() -> None:
        frames.extend(ground.protect_tc(437, 0, i, command) for i in range(count))
        for frame in frames:
            probe.verify_tc(frame)

    secured_s = best_of(1, secured)
    encoder = TcFrameEncoder(437, 0)

    def plain() -> None:
        for _ in range(count):
            TcFrame.unpack(encoder.frame(command))

    plain_s = best_of(3, plain)
    print(f"uplink TC, {count} frames of a 64-octet command (frame + unframe):")
    print(f"  SDLS authenticated encryption: {count / secured_s:9,.0f} frames/s")
    print(f"  plain TC frames (baseline):     {count / plain_s:9,.0f} frames/s")


def main() -> None:
    global CLOCK
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=20_000)
    parser.add_argument("--cpu-time", action="store_true", help="CPU time (user + sys) of this process")
    args = parser.parse_args()
    if args.cpu_time:
        CLOCK = time.process_time
    print(f"clock: {'CPU time of this process' if args.cpu_time else 'wall clock'}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")  # fmt: skip
    downlink(args.frames, ServiceType.AUTHENTICATED_ENCRYPTION)
    downlink(args.frames, ServiceType.AUTHENTICATION)
    live_downlink(args.frames // 4)
    live_downlink(args.frames // 4, "uslp-rs-i5")  # fixed-length USLP frames (2-octet VC count)
    uplink(args.frames)


if __name__ == "__main__":
    main()
