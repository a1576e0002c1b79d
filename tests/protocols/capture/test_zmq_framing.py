"""The ZeroMQ envelope and transport-loss counting."""

from __future__ import annotations

import random

from hypothesis import example, given
from hypothesis import strategies as st

from protocols.capture.zmq_framing import ENVELOPE, Envelope, Layer, MessageGapCounter
from protocols.errors import DecodeError


@given(st.sampled_from(list(Layer)), st.integers(0, 2**32 - 1), st.integers(0, 2**64 - 1))
def test_envelope_round_trip_matches_declaration(layer: Layer, session: int, sequence: int) -> None:
    envelope = Envelope(layer, session, sequence)
    raw = envelope.pack()
    assert Envelope.unpack(raw) == envelope
    parsed = ENVELOPE.parse(raw)
    assert (parsed.layer, parsed.session, parsed.sequence) == (layer, session, sequence)


@given(st.binary(max_size=20))
def test_envelope_garbage_raises_only_decode_error(raw: bytes) -> None:
    try:
        Envelope.unpack(raw)
    except DecodeError as exc:
        assert exc.layer == "zmq-envelope"


def test_gap_counter_counts_lost_messages_and_new_sessions() -> None:
    counter = MessageGapCounter()
    for seq in [0, 1, 2, 5, 6]:
        counter.observe(Envelope(Layer.PACKETS, 1, seq))
    assert counter.lost == 2
    counter.observe(Envelope(Layer.PACKETS, 2, 0))  # a restarted probe is not a loss...
    counter.observe(Envelope(Layer.PACKETS, 2, 1))  # ...once the next message confirms the new count
    assert counter.lost == 2 and counter.sessions == 2
    counter.observe(Envelope(Layer.PACKETS, 3, 4))  # joined a session late: 4 missed
    counter.observe(Envelope(Layer.PACKETS, 3, 5))
    assert counter.lost == 6 and counter.sessions == 3


def test_consecutive_damaged_envelopes_claim_no_losses() -> None:
    counter = MessageGapCounter()
    for seq in range(30):
        counter.observe(Envelope(Layer.CADUS, 5, seq))
    counter.observe(Envelope(Layer.CADUS, 5, 30 | (1 << 23)))  # damaged
    counter.observe(Envelope(Layer.CADUS, 5 ^ 1, 31))  # damaged differently
    for seq in range(32, 40):
        counter.observe(Envelope(Layer.CADUS, 5, seq))
    assert counter.lost == 2 and counter.discontinuities == 2 and counter.sessions == 1


def test_a_restarted_seeded_probe_is_a_new_session_not_a_loss() -> None:
    counter = MessageGapCounter()
    for seq in range(50):
        counter.observe(Envelope(Layer.CADUS, 9, seq))
    for seq in range(10):  # same session number, counting from 0 again
        counter.observe(Envelope(Layer.CADUS, 9, seq))
    assert counter.sessions == 2 and counter.lost == 0 and counter.discontinuities == 0


def test_one_damaged_envelope_is_undone_by_the_next_good_one() -> None:
    counter = MessageGapCounter()
    for seq in range(20):
        counter.observe(Envelope(Layer.CADUS, 9, seq))
    counter.observe(Envelope(Layer.CADUS, 9 ^ 4, 20))  # damaged session field
    counter.observe(Envelope(Layer.CADUS, 9, 21))
    counter.observe(Envelope(Layer.CADUS, 9, 22))
    assert counter.sessions == 1 and counter.discontinuities == 1 and counter.lost == 1  # message 20


def test_a_damaged_forward_sequence_is_undone_by_the_next_good_one() -> None:
    counter = MessageGapCounter()
    for seq in range(10):
        counter.observe(Envelope(Layer.CADUS, 3, seq))
    counter.observe(Envelope(Layer.CADUS, 3, 10 | (1 << 20)))  # message 10, a high bit flipped
    counter.observe(Envelope(Layer.CADUS, 3, 11))
    counter.observe(Envelope(Layer.CADUS, 3, 12))
    assert counter.lost == 1 and counter.discontinuities == 1 and counter.sessions == 1


def test_a_real_loss_stays_counted() -> None:
    counter = MessageGapCounter()
    for seq in [0, 1, 2, 7, 8, 9]:
        counter.observe(Envelope(Layer.CADUS, 3, seq))
    assert counter.lost == 4 and counter.discontinuities == 0


def _count(messages: list[tuple[int, int]]) -> MessageGapCounter:
    counter = MessageGapCounter()
    for session, sequence in messages:
        counter.observe(Envelope(Layer.PACKETS, session, sequence))
    return counter


def _sequences(first: int, last: int, withheld: set[int] = frozenset()) -> list[int]:
    return [n for n in range(first, last) if n not in withheld]


def test_a_message_between_two_gaps_is_not_counted_lost() -> None:
    """Issue 12 finding 6: withholding 10 and 12 reported 3 lost, 10, 12, 14 and 16 reported 7."""
    assert _count([(1, n) for n in _sequences(0, 40, {10, 12})]).lost == 2
    assert _count([(1, n) for n in _sequences(0, 40, {10, 12, 14, 16})]).lost == 4


def test_a_long_run_of_every_other_message_lost_is_counted_exactly() -> None:
    """No two messages in a row for 200 messages: the unconfirmed chain fills and is believed."""
    counter = _count([(4, n) for n in [*range(0, 400, 2), 400, 401]])
    assert (counter.lost, counter.discontinuities) == (200, 0)


def test_interleaved_sessions_do_not_count_each_other_as_lost() -> None:
    """A replay (its own session) interleaved with a live probe: nothing is lost in either."""
    live, replay = [(7, n) for n in range(200)], [(8, n) for n in range(150)]
    messages = [
        *live[:100],
        *[m for pair in zip(live[100:], replay, strict=False) for m in pair],
        *replay[100:],
    ]
    counter = _count(messages)
    assert (counter.lost, counter.sessions, counter.discontinuities) == (0, 2, 0)


@st.composite
def withheld_sessions(draw: st.DrawFn) -> tuple[list[tuple[int, int]], int, int]:
    """Sessions, each one run or several (a replay or restart counts again from 0), with random
    messages withheld, interleaved at random; returns (messages, withheld, runs).

    What no counter can see is kept out: the last two messages of every run arrive (a loss at the
    end of a run shows only when a later pair confirms it), and a run counting again arrives with
    its first two messages and is no longer than the run before (else it could be the same count).
    """
    keys = draw(st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=4, unique=True))
    loss = draw(st.sampled_from([0.0, 0.05, 0.2, 0.5, 0.9]))  # alternating losses fill the chain too
    rng = random.Random(draw(st.integers(0, 2**32 - 1)))  # subsets and interleavings: cheap to draw
    streams: list[list[tuple[int, int]]] = []
    withheld_total = runs = 0
    for key in keys:
        lengths = sorted(draw(st.lists(st.integers(2, 80), min_size=1, max_size=3)), reverse=True)
        stream: list[tuple[int, int]] = []
        for index, length in enumerate(lengths):
            start = 0 if index == 0 else 2
            withheld = {n for n in range(start, length - 2) if rng.random() < loss}
            for n in _sequences(0, length, withheld):
                stream += [(key, n)] * (2 if rng.random() < 0.02 else 1)  # a repeat is no news
            withheld_total += len(withheld)
            runs += 1
        streams.append(stream)
    messages: list[tuple[int, int]] = []
    while any(streams):
        stream = rng.choice([s for s in streams if s])
        take = rng.randint(1, 8)
        messages += stream[:take]
        del stream[:take]
    return messages, withheld_total, runs


@given(withheld_sessions())
def test_exactly_the_withheld_messages_are_counted_lost(case: tuple[list[tuple[int, int]], int, int]) -> None:
    messages, withheld, runs = case
    counter = _count(messages)
    assert counter.lost == withheld
    assert counter.sessions == runs and counter.discontinuities == 0


@given(st.integers(2, 200), st.integers(0, 60), st.integers(0, 2**32 - 1))
def test_two_publishers_sharing_a_session_never_inflate_the_loss(
    live_start: int, replay_length: int, seed: int
) -> None:
    """A replay that reuses the live session's number, interleaved with it: no loss is invented.

    (Where the two counts overlap they are the same numbers: no counter can tell them apart.)"""
    rng = random.Random(seed)
    live_start += replay_length + 2
    live = [(5, n) for n in range(live_start, live_start + 60)]
    replay = [(5, n) for n in range(replay_length)]
    messages = []
    while live or replay:
        stream = live if not replay else replay if not live else rng.choice([live, replay])
        messages.append(stream.pop(0))
    counter = _count([(5, n) for n in range(live_start)] + messages)
    assert counter.lost == 0


@st.composite
def damaged_streams(draw: st.DrawFn) -> tuple[int, frozenset[int], dict[int, int]]:
    """(length, withheld sequence numbers, {index of an arriving message: its damaged number}).

    Damaged envelopes are isolated (odd indices): two damaged envelopes in a row that happen to be
    consecutive numbers are a pair, and a pair is believed (a counter cannot tell them from real
    messages)."""
    length = draw(st.integers(10, 150))
    withheld = draw(st.frozensets(st.integers(0, length - 3), max_size=length // 3))
    arriving = length - len(withheld)
    damage: dict[int, int] = {}
    for index in sorted(draw(st.sets(st.integers(0, arriving - 3), max_size=5))):
        if index % 2:
            n = _sequences(0, length, withheld)[index]
            damage[index] = draw(
                st.one_of(st.integers(0, 2**64 - 1), st.integers(0, 63).map(lambda bit, n=n: n ^ (1 << bit)))
            )
    return length, withheld, damage


@given(damaged_streams())
# found by make fuzz at 20,000 examples: the greedy run from the count took the damaged 5 (1 with bit 2
# set) and skipped the real 2 and 4 after it, claiming 4 lost where 3 envelopes were damaged
@example((10, frozenset(), {1: 5, 3: 0, 5: 0}))
# the same with 3, 5 and 7 damaged: 3 read as 7 hid the real 4 and 6 (4 lost claimed)
@example((20, frozenset(), {3: 7, 5: 5 ^ (1 << 40), 7: 7 ^ (1 << 41)}))
def test_damaged_envelopes_claim_at_most_their_own_messages(
    case: tuple[int, frozenset[int], dict[int, int]],
) -> None:
    length, withheld, damage = case
    sequences = _sequences(0, length, withheld)
    for index, value in damage.items():
        sequences[index] = value
    counter = _count([(3, n) for n in sequences])
    assert counter.lost <= len(withheld) + len(damage)
