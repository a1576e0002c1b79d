"""Link receiver: transmitter CADUs back to packets, under any chunking, errors and garbage."""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.transmitter import Transmitter
from groundstation.frame_receiver import SyncState
from groundstation.link_receiver import LinkReceiver
from protocols.coding.cadu import CaduCodec
from protocols.link.channel_config import ASM, ASM_LENGTH
from protocols.link.channel_file import PRESETS, preset
from protocols.packets.space_packet import SpacePacket
from tests.fuzz_budget import examples


def make_packet(index: int, length: int, apid: int = 0x0C8) -> bytes:
    data = bytes((index + i) % 256 for i in range(length))
    return SpacePacket(apid=apid, sequence_count=index % 16384, data=data).pack()


def feed_in_chunks(receiver: LinkReceiver, stream: bytes, sizes: list[int]) -> list[bytes]:
    got, pos, k = [], 0, 0
    while pos < len(stream):
        size = sizes[k % len(sizes)] if sizes else len(stream)
        got += [o.packet for o in receiver.feed(stream[pos : pos + size])]
        pos += size
        k += 1
    got += [o.packet for o in receiver.close().outputs]
    return got


def test_default_channel_round_trip_one_byte_at_a_time() -> None:
    config = preset()
    tx = Transmitter(config, {0: 1})
    packets = [make_packet(i, 1 + 97 * i % 2500) for i in range(12)]
    for p in packets:
        tx.submit(0, p)
    stream = tx.drain()
    rx = LinkReceiver(config)
    assert feed_in_chunks(rx, stream, [1]) == packets
    assert rx.state is SyncState.LOCK
    assert rx.counters.frames_good == len(stream) // config.cadu_length
    assert rx.counters.bytes_skipped == 0
    assert rx.vc_counters[0].packets == len(packets)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_round_trips(name: str) -> None:
    config = PRESETS[name]
    tx = Transmitter(config, {0: 1, 1: 2})
    packets = {0: [], 1: []}
    for i in range(40):
        vcid = i % 2
        packets[vcid].append(make_packet(i, 1 + (i * 131) % 3000))
        tx.submit(vcid, packets[vcid][-1])
    stream = tx.drain() + tx.next_cadu()
    rx = LinkReceiver(config)
    outputs = rx.feed(stream)
    for vcid in (0, 1):
        assert [o.packet for o in outputs if o.vcid == vcid] == packets[vcid]
    assert rx.counters.idle_frames == 1
    assert rx.counters.uncorrectable == rx.counters.crc_failures == 0


@given(st.lists(st.integers(1, 4000), min_size=1, max_size=20), st.randoms(use_true_random=False))
def test_any_chunking_gives_the_same_packets(sizes: list[int], rnd: random.Random) -> None:
    config = preset()
    tx = Transmitter(config, {0: 1})
    packets = [make_packet(i, rnd.randint(1, 2000)) for i in range(6)]
    for p in packets:
        tx.submit(0, p)
    stream = tx.drain()
    assert feed_in_chunks(LinkReceiver(config), stream, sizes) == packets


# ---------------------------------------------------------------------------- robustness
def default_stream(count: int = 20, length: int = 400, seed: int = 0) -> tuple[list[bytes], list[bytes]]:
    """(packets, CADUs) of the default channel, plus one idle CADU at the end."""
    config = preset()
    tx = Transmitter(config, {0: 1})
    rnd = random.Random(seed)
    packets = [make_packet(i, rnd.randint(1, length)) for i in range(count)]
    for p in packets:
        tx.submit(0, p)
    cadus = []
    while tx.has_pending():
        cadus.append(tx.next_cadu())
    cadus.append(tx.next_cadu())
    return packets, cadus


def run(stream: bytes, chunk: int = 1000) -> tuple[list[bytes], LinkReceiver]:
    rx = LinkReceiver(preset())
    return feed_in_chunks(rx, stream, [chunk]), rx


def test_garbage_before_between_and_after_is_skipped_and_counted() -> None:
    packets, cadus = default_stream()
    rnd = random.Random(9)
    garbage = [rnd.randbytes(rnd.randrange(0, 3000)) for _ in cadus]
    stream = rnd.randbytes(5000) + b"".join(c + g for c, g in zip(cadus, garbage, strict=True))
    got, rx = run(stream)
    assert got == packets
    assert rx.counters.frames_good == len(cadus)
    assert rx.counters.bytes_skipped >= 5000 + sum(map(len, garbage[:-1]))
    assert rx.counters.uncorrectable == 0


def test_truncated_cadu_loses_only_its_own_frame() -> None:
    packets, cadus = default_stream(count=40, length=400)
    assert len(cadus) > 6
    cut = 3
    stream = b"".join(c if i != cut else c[:700] for i, c in enumerate(cadus))
    got, rx = run(stream)
    assert rx.counters.frames_good == len(cadus) - 1
    assert rx.vc_counters[0].frames_missing == 1 and rx.vc_counters[0].frame_gaps == 1
    assert set(got) <= set(packets) and len(got) < len(packets)
    # every packet that ended in a surviving frame after the gap is back
    tail = [p for p in packets if p in got]
    assert got == tail and packets[-1] in got


def test_a_stream_of_bare_markers_yields_nothing_and_stays_bounded() -> None:
    rx = LinkReceiver(preset())
    for _ in range(50):
        assert rx.feed(bytes.fromhex("1ACFFC1D") * 1000) == []
        assert len(rx._buffer) < 2 * preset().cadu_length + 4
    report = rx.close()
    assert report.outputs == [] and rx.counters.frames_good == 0
    assert rx.counters.bytes_skipped + report.leftover_octets == 200_000


def test_markers_then_good_cadus_are_recovered() -> None:
    packets, cadus = default_stream()
    got, rx = run(bytes.fromhex("1ACFFC1D") * 3000 + b"".join(cadus))
    assert got == packets and rx.counters.frames_good == len(cadus)


def test_random_garbage_never_raises_and_memory_is_bounded() -> None:
    rx = LinkReceiver(preset())
    rnd = random.Random(4)
    for _ in range(20):
        assert rx.feed(rnd.randbytes(50_000)) == []
        assert len(rx._buffer) < 2 * preset().cadu_length + 4
    assert rx.state is SyncState.SEARCH


# each example decodes ~70 codewords carrying up to 16 errors each (~27 ms; 750 take 21 s under make fuzz)
@settings(max_examples=examples(8, fuzz=750))
@given(st.integers(0, 2**32))
def test_bit_errors_below_the_limit_are_all_corrected(seed: int) -> None:
    packets, cadus = default_stream(count=60, seed=seed)
    rnd = random.Random(seed)
    noisy = bytearray(b"".join(cadus))
    config = preset()
    for k in range(len(cadus)):
        for bit in rnd.sample(range(32), rnd.randint(0, config.asm_tolerance)):  # marker bits too
            noisy[k * config.cadu_length + bit // 8] ^= 0x80 >> (bit % 8)
        start = k * config.cadu_length + 4
        for lane in range(5):  # up to 16 wrong symbols in every codeword
            for s in rnd.sample(range(255), rnd.randint(0, 16)):
                noisy[start + s * 5 + lane] ^= rnd.randrange(1, 256)
    for chunk in (1000, 7):
        got, rx = run(bytes(noisy), chunk)
        assert got == packets
        assert rx.counters.uncorrectable == 0 and rx.counters.symbols_corrected > 0
        assert rx.counters.frames_good == len(cadus) and rx.counters.bytes_skipped == 0


def test_uncorrectable_frame_is_dropped_never_emitted_wrong() -> None:
    packets, cadus = default_stream(count=60, length=400)
    bad = bytearray(cadus[2])
    for s in range(20):  # 20 wrong symbols in codeword 0
        bad[4 + s * 5] ^= 0x5A
    stream = b"".join([*cadus[:2], bytes(bad), *cadus[3:]])
    got, rx = run(stream)
    assert rx.counters.uncorrectable == 1
    assert set(got) <= set(packets) and got == [p for p in packets if p in got]
    assert len(got) < len(packets) and rx.state is SyncState.LOCK


def test_crc_failure_is_counted_and_the_frame_dropped() -> None:
    config = preset("tm-uncoded")
    tx = Transmitter(config, {0: 1})
    for i in range(10):
        tx.submit(0, make_packet(i, 300))
    cadus = [tx.next_cadu() for _ in range(4)]
    broken = bytearray(cadus[1])
    broken[100] ^= 1
    rx = LinkReceiver(config)
    rx.feed(b"".join([cadus[0], bytes(broken), *cadus[2:]]))
    assert rx.counters.crc_failures == 1 and rx.counters.frames_good == 3


def test_lost_lock_goes_through_flywheel_to_search() -> None:
    config = preset()
    _, cadus = default_stream()
    rx = LinkReceiver(config)
    rx.feed(b"".join(cadus[:3]))
    assert rx.state is SyncState.LOCK
    rx.feed(bytes(config.cadu_length))
    assert rx.state is SyncState.FLYWHEEL
    rx.feed(bytes(config.cadu_length * config.flywheel))
    assert rx.state is SyncState.SEARCH and rx.counters.sync_losses == 1
    assert rx.counters.asm_misses == config.flywheel + 1


def test_frames_with_impossible_pointers_and_lengths_are_counted() -> None:
    config = preset()
    from protocols.coding.cadu import CaduCodec
    from protocols.link import tm_frame
    from protocols.link.frame_packets import idle_packet

    codec = CaduCodec(config)
    zone = make_packet(0, 50) + idle_packet(config.packet_zone_length - 56)
    tail = make_packet(2, 20) + idle_packet(config.packet_zone_length - 26)
    frames = [
        tm_frame.pack_frame(config, 0, 0, 0, 0, zone),
        # pointer beyond the packet zone
        tm_frame.pack_frame(config, 0, 1, 1, config.packet_zone_length + 5, zone),
        # a packet whose length runs past the frame into a frame that says a header starts at 0
        tm_frame.pack_frame(config, 0, 2, 2, 0, make_packet(1, 3000)[: config.packet_zone_length]),
        tm_frame.pack_frame(config, 0, 3, 3, 0, tail),
    ]
    rx = LinkReceiver(config)
    got = [o.packet for o in rx.feed(b"".join(codec.encode(f) for f in frames))]
    assert got == [make_packet(0, 50), make_packet(2, 20)]
    vc = rx.vc_counters[0]
    assert vc.fhp_errors == 1  # the frame whose pointer lies beyond its packet zone
    assert vc.impossible_packets == 1 and vc.packets_lost == 1  # the packet overrunning frame 3's header


def test_counters_as_dict_are_plain() -> None:
    packets, cadus = default_stream()
    _, rx = run(b"".join(cadus))
    summary = rx.counters_dict()
    assert summary["state"] == "lock"
    assert summary["physical"]["frames_good"] == len(cadus)
    assert summary["virtual"][0]["packets"] == len(packets)


@given(
    name=st.sampled_from(sorted(PRESETS)),
    lengths=st.lists(st.tuples(st.integers(0, 2), st.integers(1, 5000)), min_size=1, max_size=12),
    chunk=st.integers(1, 5000),
)
def test_any_packets_through_any_configuration_come_back(name: str, lengths: list, chunk: int) -> None:
    config = PRESETS[name]
    tx = Transmitter(config, {0: 2, 1: 1, 2: 1})
    sent: dict[int, list[bytes]] = {0: [], 1: [], 2: []}
    for i, (vcid, length) in enumerate(lengths):
        sent[vcid].append(make_packet(i, length, apid=0x064 + vcid))
        tx.submit(vcid, sent[vcid][-1])
    rx = LinkReceiver(config)
    outputs = []
    stream = tx.drain() + tx.next_cadu()
    for i in range(0, len(stream), chunk):
        outputs += rx.feed(stream[i : i + chunk])
    outputs += rx.close().outputs
    for vcid, packets in sent.items():
        assert [o.packet for o in outputs if o.vcid == vcid] == packets
    assert rx.counters.bytes_skipped == 0 and rx.counters.leftover_octets == 0


mutations = st.lists(
    st.tuples(st.sampled_from(["flip", "cut", "duplicate", "insert", "drop"]), st.integers(0, 2**32)),
    max_size=6,
)


# ~21 ms an example (30 CADUs, up to 6 edits, RS-decoded; 1,000 took 21 s): 5,000 under make fuzz (~2 min)
@settings(max_examples=examples(30, fuzz=5000))
@given(mutations, st.integers(1, 3000))
def test_mangled_streams_yield_only_packets_that_were_sent(edits: list, chunk: int) -> None:
    packets, cadus = default_stream(count=30, length=600)
    stream = mangle(bytearray(b"".join(cadus)), edits)
    rx = LinkReceiver(preset())
    got = feed_in_chunks(rx, bytes(stream), [chunk])
    assert set(got) <= set(packets)  # never a packet that was not sent
    assert len(rx._buffer) == 0


def mangle(stream: bytearray, edits: list) -> bytearray:
    """Applies the edits of ``mutations`` (each seeded, so an edit list is a reproducible stream)."""
    for kind, seed in edits:
        rnd = random.Random(seed)
        at = rnd.randrange(len(stream))
        if kind == "flip":
            for _ in range(rnd.randint(1, 400)):
                stream[rnd.randrange(len(stream))] ^= 1 << rnd.randrange(8)
        elif kind == "cut":
            del stream[at : at + rnd.randint(1, 3000)]
        elif kind == "duplicate":
            stream[at:at] = stream[at : at + rnd.randint(1, 3000)]
        elif kind == "insert":
            stream[at:at] = rnd.randbytes(rnd.randint(1, 3000))
        else:  # "drop" in a run of bare markers
            stream[at:at] = bytes.fromhex("1ACFFC1D") * rnd.randint(1, 50)
    return stream


@pytest.mark.timeout(60)
def test_regression_realigning_back_and_forth_never_ends() -> None:
    """CI's derandomized examples found it: a CADU found by a marker one CADU later was bad too,
    its search led forward to the first again, and the receiver went back and forth for ever."""
    packets, cadus = default_stream(count=30, length=600)
    edits = [("cut", 228734), ("drop", 3570606), ("cut", 38861875), ("drop", 3570606), ("cut", 371)]
    stream = mangle(bytearray(b"".join(cadus)), [*edits, ("drop", 7578653)])
    rx = LinkReceiver(preset())
    got = feed_in_chunks(rx, bytes(stream), [342])
    assert set(got) <= set(packets)
    assert rx.counters.sync_losses < 100  # one per re-alignment: each moves the stream on


# ---------------------------------------------------------------------------- linear decoding
def counting_decodes(rx: LinkReceiver) -> list[int]:
    """Wraps the receiver's CADU decoder: the returned list's one item counts CADUs RS-decoded."""
    count = [0]
    decode = rx._codec.decode_bodies

    def counted(bodies: np.ndarray) -> object:
        count[0] += bodies.shape[0]
        return decode(bodies)

    rx._codec.decode_bodies = counted
    return count


@pytest.mark.parametrize("chunk", [97, 10_232, 1 << 20])
def test_regression_a_run_of_uncorrectable_cadus_is_decoded_once_each(chunk: int) -> None:
    """Issue 12, finding 2: after each uncorrectable CADU the rest of its batch was decoded again,
    n(n+1)/2 RS decodes for n bad CADUs (1 MB of ASM + noise took 256 s)."""
    config = preset()
    rnd = random.Random(12)
    n = 60
    stream = b"".join(ASM + rnd.randbytes(config.cadu_length - ASM_LENGTH) for _ in range(n))
    rx = LinkReceiver(config)
    decodes = counting_decodes(rx)
    assert feed_in_chunks(rx, stream, [chunk]) == []
    assert rx.counters.uncorrectable == n
    assert decodes[0] <= 2 * n + 2  # was 1,830 with one chunk


def test_regression_a_pass_decoded_with_the_wrong_basis_costs_decodes_linear_in_its_cadus() -> None:
    _, cadus = default_stream(count=300, length=400)
    n = len(cadus)
    assert n > 50
    rx = LinkReceiver(replace(preset(), dual_basis=False))
    decodes = counting_decodes(rx)
    assert feed_in_chunks(rx, b"".join(cadus), [1 << 20]) == []
    assert rx.counters.uncorrectable + rx.counters.frames_good == n and rx.counters.frames_good == 0
    assert decodes[0] <= 2 * n + 2  # was n(n+1)/2


@pytest.mark.parametrize("chunk", [97, 10_232, 1 << 20])
def test_markers_with_plausible_headers_every_few_octets_are_each_decoded_a_bounded_number_of_times(
    chunk: int,
) -> None:
    """Every candidate (a marker and a header that passes the cheap test) costs one RS decode, and
    a re-alignment on it abandons at most a small batch: decodes stay linear in the candidates."""
    config = preset()
    codec = CaduCodec(config)
    header = (config.spacecraft_id << 4).to_bytes(2, "big")
    head = bytes(a ^ b for a, b in zip(header, codec.randomizer.sequence[:2], strict=True))
    rnd = random.Random(5)
    for gap in (0, 40, 600):
        units = [ASM + head + rnd.randbytes(rnd.randint(0, gap)) for _ in range(150)]
        rx = LinkReceiver(config)
        decodes = counting_decodes(rx)
        assert feed_in_chunks(rx, b"".join(units), [chunk]) == []
        assert decodes[0] <= 2 * len(units) + 2 * LinkReceiver.first_batch


# ---------------------------------------------------------------------------- bit slips
def slip_bits(stream: bytes, at_bit: int, bits: int) -> bytes:
    """``bits`` > 0 ones inserted at bit ``at_bit``, or -``bits`` bits deleted there (zero padded)."""
    stream_bits = np.unpackbits(np.frombuffer(stream, dtype=np.uint8))
    if bits > 0:
        stream_bits = np.insert(stream_bits, at_bit, np.ones(bits, dtype=np.uint8))
    else:
        stream_bits = np.delete(stream_bits, np.arange(at_bit, at_bit - bits))
    return np.packbits(stream_bits).tobytes()


def packets_of_frames(cadus: list[bytes], skip: set[int]) -> list[bytes]:
    """The packets a receiver gives for these CADUs when the frames ``skip`` are lost."""
    rx = LinkReceiver(preset())
    return feed_in_chunks(rx, b"".join(c for i, c in enumerate(cadus) if i not in skip), [1 << 20])


# where the slip is (octet and bit of CADU 5) and whether CADU 5 is lost: in its frame it is; in
# its last 20 check symbols RS corrects what the slip spoils; between two CADUs nothing is lost
SLIPS = {"frame": (300, 3, True), "check symbols": (1259, 3, False), "between CADUs": (0, 0, False)}


@pytest.mark.parametrize("chunk", [97, 10_232, 1 << 20])
@pytest.mark.parametrize("bits", [1, -1, 3, -3, 7, -7])
@pytest.mark.parametrize("where", sorted(SLIPS))
def test_regression_a_bit_slip_costs_only_the_cadu_it_hits(chunk: int, bits: int, where: str) -> None:
    """Issue 12, finding 2: the marker search was octet-aligned, so bits lost or inserted lost the
    rest of the pass. Now the receiver looks for the marker at every bit and re-aligns on it."""
    config = preset()
    _, cadus = default_stream(count=80, length=400)
    hit = 5
    octet, bit, hit_lost = SLIPS[where]
    stream = slip_bits(b"".join(cadus), (hit * config.cadu_length + octet) * 8 + bit, bits)
    rx = LinkReceiver(config)
    got = feed_in_chunks(rx, stream, [chunk])
    lost = {hit} if hit_lost else set()
    assert rx.counters.frames_good == len(cadus) - len(lost)
    assert got == packets_of_frames(cadus, lost)
    assert rx.counters.bit_slips == 1
    if where != "check symbols":  # the stream is re-cut exactly: nothing needs correcting but
        assert rx.counters.symbols_corrected == 0  # the marker bits a deletion there took away
        assert rx.counters.asm_bit_errors <= max(0, -bits)


def test_a_bit_slip_inside_a_marker_costs_at_most_that_cadu() -> None:
    config = preset()
    _, cadus = default_stream(count=80, length=400)
    for bits in (1, -1, 3, -3):
        stream = slip_bits(b"".join(cadus), (5 * config.cadu_length + 2) * 8 + 3, bits)
        rx = LinkReceiver(config)
        got = feed_in_chunks(rx, stream, [10_232])
        assert rx.counters.frames_good >= len(cadus) - 1 and rx.counters.bit_slips == 1
        assert got == packets_of_frames(cadus, set() if rx.counters.frames_good == len(cadus) else {5})


def test_two_bit_slips_in_opposite_directions_are_both_followed() -> None:
    config = preset()
    _, cadus = default_stream(count=80, length=400)
    stream = slip_bits(b"".join(cadus), (3 * config.cadu_length + 99) * 8, 2)
    stream = slip_bits(stream, (8 * config.cadu_length + 50) * 8 + 2, -5)  # CADU 8 (after the first)
    rx = LinkReceiver(config)
    got = feed_in_chunks(rx, stream, [10_232])
    assert rx.counters.bit_slips == 2
    assert rx.counters.frames_good == len(cadus) - 2
    assert got == packets_of_frames(cadus, {3, 8})


# ---------------------------------------------------------------------------- frame count arithmetic
def test_regression_a_reordered_frame_is_counted_reordered_not_255_missing() -> None:
    """Issue 14, item 5: a late frame made the 8-bit count go back one, and the gap arithmetic took
    it for a jump of 255 frames forward (17,959 "missing" frames in a pass that dropped 320)."""
    packets, cadus = default_stream(count=400, length=100)
    assert len(cadus) > 12
    order = [0, 1, 2, 4, 3, 5, 6, 6, *range(7, len(cadus))]  # 3 and 4 swapped, 6 twice
    rx = LinkReceiver(preset())
    got = feed_in_chunks(rx, b"".join(cadus[i] for i in order), [10_232])
    vc = rx.vc_counters[0]
    assert (vc.frames_missing, vc.frame_gaps, vc.frames_reordered, vc.frames_duplicated) == (0, 1, 1, 1)
    c = rx.counters
    assert (c.mc_frames_missing, c.mc_frames_reordered, c.mc_frames_duplicated) == (0, 1, 1)
    assert vc.duplicate_frames == 1  # the old name still reads
    assert len(got) == len(set(got)) and set(got) <= set(packets)
    # only the packets that span frames 2|3, 3|4 and 4|5 are lost: those inside frame 3 come late
    assert len(got) >= len(packets) - 3


@pytest.mark.parametrize("seed", range(5))
def test_missing_frames_equal_the_frames_withheld_with_reordering_and_duplication(seed: int) -> None:
    _, cadus = default_stream(count=600, length=100, seed=seed)
    rnd = random.Random(seed)
    sent = list(range(len(cadus) - 1))  # the idle CADU at the end is on another VC
    dropped = set(rnd.sample(sent[1:-1], 5))
    order = [i for i in sent if i not in dropped]
    swaps = 0
    for k in range(1, len(order) - 2, 7):  # swap neighbours now and then (never around a drop)
        if order[k] + 1 == order[k + 1] and rnd.random() < 0.5:
            order[k], order[k + 1] = order[k + 1], order[k]
            swaps += 1
    duplicated = rnd.sample(order, 3)
    for i in duplicated:
        order.insert(order.index(i) + 1, i)
    rx = LinkReceiver(preset())
    feed_in_chunks(rx, b"".join(cadus[i] for i in order), [10_232])
    vc = rx.vc_counters[0]
    assert vc.frames_missing == len(dropped)
    assert vc.frames_reordered == swaps and vc.frames_duplicated == len(duplicated)
    assert vc.frames == len(sent) - len(dropped)


def test_a_frame_after_a_long_gap_is_not_taken_for_a_duplicate() -> None:
    """With an 8-bit count, a frame after 195 lost ones carries the count of one 61 frames back;
    it is a new frame (not the one seen with that count), so it is counted after 195 missing."""
    from protocols.link import tm_frame
    from protocols.link.frame_packets import idle_packet

    config = preset()
    codec = CaduCodec(config)
    zone = idle_packet(config.packet_zone_length)
    later = idle_packet(100) + idle_packet(config.packet_zone_length - 100)  # other frames, same counts
    frames = [tm_frame.pack_frame(config, 0, c, c, 0, zone) for c in range(70)]
    frames += [tm_frame.pack_frame(config, 0, c % 256, c % 256, 0, later) for c in (69 + 196, 69 + 197)]
    stream = b"".join(codec.encode(f) for f in frames)
    rx = LinkReceiver(config)
    rx.feed(stream)
    vc = rx.vc_counters[0]
    assert (vc.frames, vc.frames_missing, vc.frame_gaps) == (72, 195, 1)
    assert vc.frames_duplicated == vc.frames_reordered == 0
    assert rx.counters.mc_frames_missing == 195


@pytest.mark.parametrize("chunk", [97, 1 << 20])
def test_two_interleaved_grids_of_markers_cost_decodes_linear_in_the_markers(chunk: int) -> None:
    """Markers at 0, d, L, L + d, 2L, ... over noise: every marker has another one CADU later, so
    each bad CADU's search re-aligns on the next marker. A re-alignment abandons its batch, so the
    batch after one starts at a single CADU: nothing decoded is thrown away in bulk."""
    config = preset()
    length = config.cadu_length
    rnd = random.Random(3)
    stream = bytearray(rnd.randbytes(60 * length))
    markers = 0
    for start in range(0, len(stream) - length, length):
        for at in (start, start + 500):
            stream[at : at + ASM_LENGTH] = ASM
            markers += 1
    rx = LinkReceiver(config)
    decodes = counting_decodes(rx)
    assert feed_in_chunks(rx, bytes(stream), [chunk]) == []
    assert decodes[0] <= 2 * markers + 2


def test_lock_lost_inside_a_batch_goes_to_search_there() -> None:
    """After ``flywheel`` + 1 misses the receiver searches, even when the misses come in the middle
    of one batch: the rest of the batch is not stepped through as if still locked."""
    config = preset()
    _, cadus = default_stream(count=80, length=400)
    garbage = random.Random(8).randbytes(5 * config.cadu_length)
    rx = LinkReceiver(config)
    feed_in_chunks(rx, b"".join(cadus[:2]) + garbage + b"".join(cadus[2:]), [1 << 20])
    assert rx.counters.frames_good == len(cadus)
    assert rx.counters.asm_misses == config.flywheel + 1 and rx.counters.sync_losses == 1
    assert rx.counters.bytes_skipped == len(garbage)


@pytest.mark.parametrize("marker", ["034776C7272895B0", "25D5C0CE8990F6C9461BF79C"])
def test_another_marker_is_searched_for_through_noise_and_a_bit_slip(marker: str) -> None:
    """Issue 14: the receiver looks for the channel's own marker (here CCSDS 131.0-B's turbo
    markers), not 1ACFFC1D: noise before it, a damaged marker and a bit slip are dealt with as ever."""
    config = replace(preset(), asm=bytes.fromhex(marker))
    tx = Transmitter(config, {0: 1})
    packets = [make_packet(i, 300 + 37 * i) for i in range(30)]
    for p in packets:
        tx.submit(0, p)
    cadus = bytearray(tx.drain())
    cadus[2 * config.cadu_length] ^= 0x81  # two bits of the third CADU's marker
    stream = slip_bits(bytes(cadus), (5 * config.cadu_length + 99) * 8, 3)
    rx = LinkReceiver(config)
    got = feed_in_chunks(rx, random.Random(1).randbytes(333) + stream, [4_099])
    assert rx.counters.bytes_skipped >= 333 and rx.counters.bit_slips == 1
    assert rx.counters.asm_bit_errors == 2
    assert set(got) <= set(packets) and len(got) >= len(packets) - 3
    standard = LinkReceiver(preset())
    assert feed_in_chunks(standard, bytes(cadus), [4_099]) == []  # 1ACFFC1D is not looked for
