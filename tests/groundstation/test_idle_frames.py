"""Idle frames told from data in a downlink message, the idle note, and a recording that keeps only
the count of idle frames (issue 14, item 6)."""

from __future__ import annotations

import json
from pathlib import Path

import msgpack
import pytest

from emulator.transmitter import Transmitter
from groundstation.decode import decode_file
from groundstation.idle_frames import IdleFrames, IdleNote, read_idle_note
from groundstation.pass_report import PassReport
from groundstation.recorder import RecordingWriter, StationRecorder
from groundstation.recording_reader import RecordingReader
from protocols.capture.zmq_framing import TOPIC_DOWNLINK, Envelope, Layer
from protocols.link.channel_file import PRESETS, preset
from protocols.packets.space_packet import SpacePacket

FIXED = [name for name, config in PRESETS.items() if not config.variable_length]


def _packet(sequence: int = 0) -> bytes:
    return SpacePacket(0x64, sequence, bytes(range(40))).pack()


@pytest.mark.parametrize("name", FIXED)
def test_a_message_of_idle_cadus_is_told_and_one_with_data_is_not(name: str) -> None:
    config = PRESETS[name]
    tx = Transmitter(config)
    idle = IdleFrames(config)
    assert idle.count(Layer.CADUS, tx.next_cadus(8)) == 8
    assert idle.count(Layer.CADUS, tx.next_cadus(1)) == 1
    tx.submit(0, _packet())
    mixed = tx.next_cadus(8)  # one frame of data, then idle frames
    assert idle.count(Layer.CADUS, mixed) == 0
    assert idle.count(Layer.CADUS, mixed[config.cadu_length :]) == 7
    # bare frames, as the FRAMES layer carries them
    assert idle.count(Layer.FRAMES, b"".join(tx.next_frame() for _ in range(3))) == 3
    tx.submit(0, _packet(1))
    assert idle.count(Layer.FRAMES, tx.next_frame() + tx.next_frame()) == 0


def test_only_whole_sound_idle_cadus_count() -> None:
    config = preset()
    tx = Transmitter(config)
    cadus = tx.next_cadus(4)
    idle = IdleFrames(config)
    assert idle.count(Layer.CADUS, cadus[:-1]) == 0  # not whole CADUs
    assert idle.count(Layer.CADUS, cadus[1:] + cadus[:1]) == 0  # not at the markers
    assert idle.count(Layer.PACKETS, cadus) == 0 and idle.count(Layer.CADUS, b"") == 0
    marker = bytearray(cadus)
    marker[0] ^= 0x01  # a damaged marker: recorded as received
    assert idle.count(Layer.CADUS, bytes(marker)) == 0
    corrected = bytearray(cadus)
    corrected[100] ^= 0xFF  # one symbol, which Reed-Solomon corrects: still an idle frame
    assert idle.count(Layer.CADUS, bytes(corrected)) == 4
    ruined = bytearray(cadus)
    ruined[40:240] = bytes(200)  # beyond correction: recorded as received
    assert idle.count(Layer.CADUS, bytes(ruined)) == 0
    # a data frame whose header was made to say "idle VC": the cheap look passes, the decoding not
    tx.submit(0, _packet())
    data = bytearray(tx.next_cadus(1))
    data[4 + 1] ^= 0x0E  # TM VCID 0 -> 7 on the wire (the randomizer is an XOR): RS puts it back
    assert idle.count(Layer.CADUS, bytes(data)) == 0


def test_variable_length_uslp_is_always_recorded() -> None:
    config = PRESETS["uslp-variable"]
    assert IdleFrames(config).count(Layer.CADUS, Transmitter(config).next_cadus(2)) == 0


def test_idle_note_round_trip_and_refusals() -> None:
    for note in (IdleNote(8, Layer.CADUS, bytes(range(8))), IdleNote(1, Layer.FRAMES), IdleNote(3)):
        assert read_idle_note(note.pack()) == note
    key = "idle_frames_not_recorded"
    refused = [
        b"", b"\x80", b"\xc1", msgpack.packb({"other": 1}), msgpack.packb({key: 1}),
        msgpack.packb({key: 0, "layer": 3}), msgpack.packb({key: True, "layer": 3}),
        msgpack.packb({key: 1, "layer": 1}), msgpack.packb({key: 1, "layer": 3, "x": 2}),
        msgpack.packb({key: 2, "layer": 3, "mc_frame_counts": b"\x01"}),
        msgpack.packb({key: 1, "layer": 3, "mc_frame_counts": [1]}), b"\x81" + b"\xa0" * 600,
    ]  # fmt: skip
    for payload in refused:
        assert read_idle_note(payload) is None


def test_the_note_carries_tm_master_channel_counts_only() -> None:
    tm = Transmitter(preset())
    tm.next_cadus(5)
    assert IdleFrames(preset()).note(Layer.CADUS, tm.next_cadus(3)) == IdleNote(
        3, Layer.CADUS, b"\x05\x06\x07"
    )
    aos = PRESETS["aos-rs-i4"]
    assert IdleFrames(aos).note(Layer.CADUS, Transmitter(aos).next_cadus(2)) == IdleNote(2, Layer.CADUS, b"")


def _record(path: Path, keep_idle: bool) -> StationRecorder:
    """A pass as an idle probe sends it: data, then 20 messages of one idle CADU, then data."""
    config = preset()
    tx = Transmitter(config)
    sequence = 0
    with RecordingWriter(path, scenario="t") as writer:
        recorder = StationRecorder(writer, config, keep_idle=keep_idle)

        def send(payload: bytes) -> None:
            nonlocal sequence
            recorder(TOPIC_DOWNLINK, Envelope(Layer.CADUS, 7, sequence).pack(), payload, 1_000 + sequence)
            sequence += 1

        tx.submit(0, _packet(0))
        send(tx.next_cadus(8))  # data and seven idle frames: recorded as received
        for _ in range(20):
            send(tx.next_cadus(1))
        tx.submit(0, _packet(1))
        send(tx.next_cadus(1))
    return recorder


def test_the_recorder_notes_idle_messages_and_decode_counts_them(tmp_path: Path) -> None:
    path = tmp_path / "idle.rec"
    recorder = _record(path, keep_idle=False)
    assert recorder.summary() == {
        "path": str(path),
        "idle_frames_kept": False,
        "messages_recorded": 2,
        "idle_messages_noted": 20,
        "idle_frames_not_recorded": 20,
    }
    with RecordingReader(path) as reader:
        units = list(reader)
    assert [u.sequence for u in units] == list(range(22))  # unbroken: no transport loss on decode
    assert [u.layer for u in units].count(Layer.CONTROL) == 20
    assert all(len(u.payload) < 80 for u in units if u.layer == Layer.CONTROL)  # not 1,279

    summary = decode_file(path, tmp_path / "out", write_products=False)
    assert summary["transport"]["messages_lost"] == 0
    assert not [kind for kind in summary["faults"] if "transport" in kind or "layer" in kind]
    assert summary["link"]["cadu"]["physical"]["idle_frames"] == 7
    assert summary["link"]["cadu"]["physical"]["mc_frames_missing"] == 0
    assert summary["packets_by_apid"] == {"PLATFORM": 2}
    assert summary["recording"] == {"idle_frames_noted_in_input": 20}
    report = PassReport(summary)
    assert "idle frames: 7 read, 20 left out of the recording" in report.decode_table()
    report_md = (tmp_path / "out" / "report.md").read_text()
    assert "7 idle frames (20 more left out of the recording read)" in report_md
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["recording"] == summary["recording"]


def test_record_idle_keeps_every_message(tmp_path: Path) -> None:
    path = tmp_path / "all.rec"
    recorder = _record(path, keep_idle=True)
    assert recorder.idle_frames_not_recorded == 0 and recorder.messages_recorded == 22
    summary = decode_file(path, tmp_path / "out", write_products=False)
    assert summary["link"]["cadu"]["physical"]["idle_frames"] == 27
    assert "recording" not in summary
