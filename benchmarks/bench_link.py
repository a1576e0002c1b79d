"""Space link receive rate in MB/s of CADUs, beside reedsolo, galois and raw ZeroMQ in the same run.

    .venv/bin/python benchmarks/bench_link.py [--cadus 4000] [--preset tm-rs-i5] [--ber 1e-4]
                                              [--chunk 1048576] [--no-galois] [--cpu-time]

Rows:
* link receiver, error-free and at the given bit error rate: frame sync + de-randomize + RS decode
  (syndromes for all, correction where needed) + FECF + packet extraction, fed in ``--chunk`` pieces,
  and fed in the probe's 10,232-octet messages (issue 16's targets: 50 MB/s error-free, 20 at BER 1e-4);
* transmitter: packets -> CADUs (for scale);
* reedsolo and galois decoding the same codewords (de-randomized, de-interleaved, conventional basis,
  both configured for the CCSDS code), error-free and noisy, extrapolated to MB/s of CADUs;
* raw ZeroMQ PUSH/PULL receive of the same bytes (inproc and ipc): the transport's own ceiling.
Best of three runs for our rows; libraries are timed on a sample of codewords.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import importlib.util
import itertools
import os
import tempfile
import threading
import time
from collections.abc import Callable

import numpy as np
import reedsolo
import zmq

from emulator.transmitter import Transmitter
from groundstation.link_receiver import LinkReceiver
from protocols.coding.randomizer import Randomizer
from protocols.coding.reed_solomon import EXP, PRIMITIVE_POWER, TO_CONVENTIONAL
from protocols.link.channel_config import PhysicalChannelConfig
from protocols.link.channel_file import PRESETS
from protocols.packets.space_packet import SpacePacket

CLOCK = time.perf_counter  # --cpu-time: time.process_time (this process only, for a busy machine)


def best_of(runs: int, work: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(runs):
        start = CLOCK()
        work()
        best = min(best, CLOCK() - start)
    return best


def add_bit_errors(stream: bytes, ber: float, seed: int = 1) -> bytes:
    bits = np.unpackbits(np.frombuffer(stream, dtype=np.uint8))
    flips = np.random.default_rng(seed).random(bits.size) < ber
    return np.packbits(bits ^ flips).tobytes()


def codewords_of(stream: bytes, config: PhysicalChannelConfig) -> np.ndarray:
    """(n, 255) conventional-basis codewords behind the CADUs (virtual fill restored as zeros)."""
    rows = np.frombuffer(stream, dtype=np.uint8).reshape(-1, config.cadu_length)[:, 4:].copy()
    Randomizer(config.codeblock_length).apply_rows(rows)
    if config.dual_basis:
        rows = np.frombuffer(rows.tobytes().translate(TO_CONVENTIONAL), dtype=np.uint8).reshape(rows.shape)
    i = config.rs_interleave
    words = rows.reshape(rows.shape[0], -1, i).transpose(0, 2, 1).reshape(-1, rows.shape[1] // i)
    fill = 255 - words.shape[1]
    return np.concatenate([np.zeros((words.shape[0], fill), dtype=np.uint8), words], axis=1)


_ENDPOINTS = itertools.count()
PROBE_MESSAGE_OCTETS = 10_232  # what the probe puts in one ZeroMQ message (8 default-channel CADUs)


def zmq_receive_rate(transport: str, stream: bytes, chunk: int) -> float:
    context = zmq.Context.instance()
    name = f"bench-link-{next(_ENDPOINTS)}"
    address = f"inproc://{name}" if transport == "inproc" else f"ipc://{tempfile.mkdtemp()}/{name}"
    pull = context.socket(zmq.PULL)
    pull.bind(address)
    push = context.socket(zmq.PUSH)
    push.connect(address)
    pieces = [stream[i : i + chunk] for i in range(0, len(stream), chunk)]

    def send() -> None:
        for piece in pieces:
            push.send(piece, copy=False)

    start = time.perf_counter()
    sender = threading.Thread(target=send)
    sender.start()
    received = 0
    for _ in pieces:
        received += len(pull.recv(copy=False))
    elapsed = time.perf_counter() - start
    sender.join()
    push.close(linger=0)
    pull.close(linger=0)
    if transport == "ipc":
        os.unlink(address[len("ipc://") :])
    return received / elapsed / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cadus", type=int, default=4000)
    parser.add_argument("--preset", default="tm-rs-i5", choices=sorted(PRESETS))
    parser.add_argument("--ber", type=float, default=1e-4)
    parser.add_argument("--chunk", type=int, default=1 << 20)
    parser.add_argument("--library-codewords", type=int, default=300)
    parser.add_argument("--no-galois", action="store_true")
    parser.add_argument(
        "--cpu-time", action="store_true", help="time our rows and the libraries in CPU time of this process"
    )
    args = parser.parse_args()
    if args.cpu_time:
        global CLOCK
        CLOCK = time.process_time
    config = PRESETS[args.preset]
    if not config.coded:
        parser.error("pick a Reed-Solomon coded preset")

    tx = Transmitter(config, {0: 1})
    packet = SpacePacket(apid=0x0C8, sequence_count=0, data=bytes(range(256)) * 4).pack()
    per_cadu = config.packet_zone_length / len(packet)

    def transmit() -> bytes:
        for _ in range(int(args.cadus * per_cadu)):
            tx.submit(0, packet)
        return tx.drain(max_cadus=args.cadus)

    start = CLOCK()
    clean = transmit()
    tx_seconds = CLOCK() - start
    noisy = add_bit_errors(clean, args.ber)
    megabytes = len(clean) / 1e6

    def receive(stream: bytes, chunk: int = args.chunk) -> LinkReceiver:
        rx = LinkReceiver(config)
        for i in range(0, len(stream), chunk):
            rx.feed(stream[i : i + chunk])
        rx.close()
        return rx

    rx_noisy = receive(noisy)
    ours_clean = megabytes / best_of(3, lambda: receive(clean))
    ours_noisy = megabytes / best_of(3, lambda: receive(noisy))
    # the messages the probe sends: 8 CADUs of the default channel, 40 codewords a call
    probe_clean = megabytes / best_of(3, lambda: receive(clean, PROBE_MESSAGE_OCTETS))
    probe_noisy = megabytes / best_of(3, lambda: receive(noisy, PROBE_MESSAGE_OCTETS))

    print(
        f"preset {args.preset}: {len(clean) // config.cadu_length} CADUs of {config.cadu_length} octets "
        f"({megabytes:.1f} MB), chunks of {args.chunk} octets, BER {args.ber:g}"
        + (" (CPU time)" if args.cpu_time else "")
    )
    counters = rx_noisy.counters
    print(
        f"  noisy run: {counters.symbols_corrected} symbols corrected in {counters.frames_corrected} "
        f"frames, {counters.uncorrectable} uncorrectable, {counters.crc_failures} CRC failures, "
        f"{rx_noisy.vc_counters[0].packets} packets"
    )
    module = reedsolo.__file__.rsplit("/", 1)[-1]  # reedsolo.py = pure Python, creedsolo = Cython
    print(f"reedsolo {importlib.metadata.version('reedsolo')} ({module}), numpy {np.__version__}")
    print(f"{'path':48s} {'MB/s of CADUs':>14s}")
    print(f"{'link receiver, error-free':48s} {ours_clean:14.1f}")
    print(f"{'link receiver, BER ' + format(args.ber, 'g'):48s} {ours_noisy:14.1f}")
    probe = f"link receiver, {PROBE_MESSAGE_OCTETS}-octet messages"
    print(f"{probe + ', error-free':48s} {probe_clean:14.1f}   target 50")
    print(f"{probe + ', BER ' + format(args.ber, 'g'):48s} {probe_noisy:14.1f}   target 20")
    print(f"{'transmitter (packets -> CADUs)':48s} {megabytes / tx_seconds:14.1f}")

    sample = slice(0, args.library_codewords)
    words_clean = codewords_of(clean, config)[sample]
    words_noisy = codewords_of(noisy, config)[sample]
    cadu_octets_per_word = config.cadu_length / config.rs_interleave
    e = config.rs_e
    # reedsolo's ``generator`` is the primitive element itself: beta = alpha^11, not 11
    codec = reedsolo.RSCodec(2 * e, nsize=255, fcr=128 - e, prim=0x187, generator=EXP[PRIMITIVE_POWER])

    def reedsolo_decode(words: np.ndarray) -> None:
        for word in words:
            with contextlib.suppress(reedsolo.ReedSolomonError):
                codec.decode(word.tobytes())

    for label, words in (("error-free", words_clean), (f"BER {args.ber:g}", words_noisy)):
        seconds = best_of(1, lambda words=words: reedsolo_decode(words))
        rate = len(words) * cadu_octets_per_word / seconds / 1e6
        ours = ours_clean if label == "error-free" else ours_noisy
        print(
            f"{'reedsolo ' + label + ' (' + str(len(words)) + ' codewords)':48s} {rate:14.2f}"
            f"   ours x{ours / rate:.0f}"
        )

    if not args.no_galois and importlib.util.find_spec("galois") is None:
        print("galois not installed (pip install -e '.[crosscheck]', as `make bench` does): skipped")
    elif not args.no_galois:
        import galois

        field = galois.GF(2**8, irreducible_poly=0x187, primitive_element=EXP[PRIMITIVE_POWER])
        code = galois.ReedSolomon(255, 255 - 2 * e, field=field, c=128 - e)
        code.decode(field(words_clean[:2]))  # compile first
        for label, words in (("error-free", words_clean), (f"BER {args.ber:g}", words_noisy)):
            batch = field(words)
            seconds = best_of(3, lambda batch=batch: code.decode(batch))
            rate = len(words) * cadu_octets_per_word / seconds / 1e6
            ours = ours_clean if label == "error-free" else ours_noisy
            print(
                f"{'galois ' + label + ' (' + str(len(words)) + ' codewords, batch)':48s} {rate:14.2f}"
                f"   ours x{ours / rate:.0f}"
            )

    for transport in ("inproc", "ipc"):
        rate = max(zmq_receive_rate(transport, clean, args.chunk) for _ in range(3))
        print(f"{'raw ZeroMQ PULL receive, ' + transport:48s} {rate:14.1f}")


if __name__ == "__main__":
    main()
