"""SDLS AES-256-GCM throughput: downlink TM frames and uplink TC frames, secured vs raw AES-GCM.

Run: ``.venv/bin/python benchmarks/bench_sdls.py [frames]``.

1. Downlink: 20,000 (default) 1115-octet TM frames with OCF and FECF, authenticated encryption:
   ``SecurityContext.verify_fixed`` (SPI look-up, FECF, MAC, decryption, anti-replay) beside
   ``cryptography``'s raw ``AESGCM.decrypt`` of the very same ciphertexts, AAD and tags, in the
   same run; also the sender side (``protect_fixed``) and authentication-only (GMAC) frames.
2. Uplink: 20,000 TC frames of a 64-octet command, protect + verify, beside the plain TC frame path.
"""

from __future__ import annotations

import os
import sys
import time

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from protocols.link.tc_frame import TcFrame, TcFrameEncoder
from protocols.sdls import SaKey, SecurityAssociation, SecurityContext, ServiceType

FRAME = 1115
HEADER, OCF, FECF = 6, 4, 2


def best_of(runs: int, fn) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


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
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    downlink(count, ServiceType.AUTHENTICATED_ENCRYPTION)
    downlink(count, ServiceType.AUTHENTICATION)
    uplink(count)


if __name__ == "__main__":
    main()
