"""CFDP class 2 goodput on a loss-free in-process link beside raw ZeroMQ, and NAK rounds at 10 % loss.

Run: ``.venv/bin/python benchmarks/bench_cfdp.py [size_mib]``.

1. Goodput: an 8 MiB file (default) through FileSender -> ReceivingEntity in one process, PDUs
   handed over in Python lists, checksum verified at the end; beside it, the very same PDU bytes
   pushed through a ZeroMQ inproc PUSH/PULL pair (no CFDP work), in the same run.
2. Recovery: a 2 MiB file over the simulated Earth-Moon link (2 Mbit/s down, 64 kbit/s up,
   10 % loss each way, simulated clock), counting NAK rounds and light-time round trips.
"""

from __future__ import annotations

import os
import sys
import time

import zmq

from emulator.link_simulator import LinkConfig, LinkSimulator
from protocols.cfdp.config import EntityConfig, TimerPolicy
from protocols.cfdp.receiver import ReceivingEntity
from protocols.cfdp.sender import FileSender

SENDER_ID, RECEIVER_ID = 1, 2
MAX_PDU = 1024


class Clock:
    def __init__(self) -> None:
        self.time = 0.0

    def __call__(self) -> float:
        return self.time


def cfdp_goodput(data: bytes, max_pdu: int) -> tuple[float, list[bytes]]:
    clock, down, up = Clock(), [], []
    config = EntityConfig(SENDER_ID, max_pdu_length=max_pdu)
    ground = ReceivingEntity(
        EntityConfig(RECEIVER_ID, max_pdu_length=max_pdu, max_file_size=len(data)), send=up.append, now=clock
    )
    sender = FileSender(config, RECEIVER_ID, 1, data, send=down.append, now=clock)
    wire: list[bytes] = []
    start = time.perf_counter()
    while not sender.ended:
        sender.poll(256)
        for raw in down:
            ground.handle(raw)
        wire += down
        down.clear()
        for raw in up:
            sender.handle(raw)
        up.clear()
    sender.poll()
    elapsed = time.perf_counter() - start
    receiver = next(iter(ground.transactions.values()))
    assert receiver.file_bytes() == data and sender.result.complete
    return len(data) / elapsed / 1e6, wire


def zmq_goodput(pdus: list[bytes], file_size: int) -> float:
    context = zmq.Context.instance()
    push, pull = context.socket(zmq.PUSH), context.socket(zmq.PULL)
    pull.bind("inproc://bench-cfdp")
    push.connect("inproc://bench-cfdp")
    push.sndhwm = pull.rcvhwm = 0
    start = time.perf_counter()
    for raw in pdus:
        push.send(raw, copy=False)
    received = sum(len(pull.recv(copy=False)) for _ in pdus)
    elapsed = time.perf_counter() - start
    push.close()
    pull.close()
    assert received == sum(map(len, pdus))
    return file_size / elapsed / 1e6


def recovery_at_loss(size: int, loss: float, seed: int = 7) -> dict:
    data = os.urandom(size)
    down_config = LinkConfig(data_rate_bps=2_000_000.0, loss_probability=loss)
    up_config = LinkConfig(data_rate_bps=64_000.0, loss_probability=loss)
    downlink, uplink = LinkSimulator(down_config, seed), LinkSimulator(up_config, seed + 1)
    timers = TimerPolicy(round_trip_light_time=2 * down_config.one_way_light_time_s, processing_margin=1.0)
    clock = Clock()
    ground = ReceivingEntity(
        EntityConfig(RECEIVER_ID, max_pdu_length=MAX_PDU, timers=timers),
        send=lambda raw: uplink.send(raw, clock.time),
        now=clock,
    )
    sender = FileSender(
        EntityConfig(SENDER_ID, max_pdu_length=MAX_PDU, timers=timers),
        RECEIVER_ID,
        1,
        data,
        send=lambda raw: downlink.send(raw, clock.time),
        now=clock,
    )
    step = 0.01
    pdus_per_step = max(1, int(down_config.data_rate_bps * step / 8 / MAX_PDU))
    while not (sender.ended and clock.time > 0 and not uplink.in_flight) and clock.time < 3600:
        sender.poll(pdus_per_step)
        ground.poll()
        for delivery in downlink.due(clock.time):
            ground.handle(delivery.unit)
        for delivery in uplink.due(clock.time):
            sender.handle(delivery.unit)
        clock.time += step
    receiver = next(iter(ground.transactions.values()))
    progress = receiver.progress()
    return dict(
        intact=receiver.file_bytes() == data,
        nak_rounds=progress.nak_rounds,
        elapsed=progress.ended_at - progress.started_at,
        round_trip=timers.round_trip_light_time,
        retransmitted=sender.progress().retransmitted_bytes,
        lost=downlink.counters.lost_random,
        sent=downlink.counters.units_sent,
    )


def main(size_mib: float = 8.0) -> None:
    data = os.urandom(int(size_mib * (1 << 20)))
    cfdp_goodput(data[: 1 << 20], MAX_PDU)  # warm up
    cfdp, wire = cfdp_goodput(data, MAX_PDU)
    raw = zmq_goodput(wire, len(data))
    print(
        f"class 2 CFDP, {len(data) >> 20} MiB, {MAX_PDU}-octet PDUs ({len(wire)} PDUs), "
        f"loss-free in-process: {cfdp:.1f} MB/s"
    )
    print(
        f"raw ZeroMQ inproc PUSH/PULL of the same {len(wire)} PDUs: {raw:.1f} MB/s "
        f"(CFDP runs at {100 * cfdp / raw:.0f} % of it)"
    )
    big, _ = cfdp_goodput(data, 8192)
    print(f"class 2 CFDP with 8192-octet PDUs: {big:.1f} MB/s")
    r = recovery_at_loss(2 << 20, 0.10)
    print(
        f"2 MiB at 10 % PDU loss each way (Earth-Moon, 2 Mbit/s down): intact={r['intact']}, "
        f"{r['nak_rounds']} NAK rounds (round trips after the first pass), "
        f"delivered in {r['elapsed']:.1f} s simulated = "
        f"{r['elapsed'] / r['round_trip']:.1f} light round trips; {r['lost']}/{r['sent']} PDUs lost, "
        f"{r['retransmitted'] / 1024:.0f} KiB resent"
    )


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 8.0)
