"""The ZeroMQ envelope and transport-loss counting."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from protocols.errors import DecodeError
from protocols.zmq_framing import ENVELOPE, Envelope, Layer, MessageGapCounter


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
