"""The probe's CFDP entity: images leave as files, retransmitted on NAK until the ground has them.

PDUs travel in space packets on APID CFDP (no secondary header) on the payload
virtual channel; the ground's ACK, NAK and Finished PDUs come back up the
uplink. The sender is polled only while the payload channel is nearly empty,
so a NAK's retransmissions do not wait behind a whole queued file.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable

from protocols.cfdp import FileSender, SendingEntity, TransmissionMode
from protocols.cfdp.config import GROUND_ENTITY_ID, PROBE_ENTITY_ID, image_delivery_config
from protocols.packets.apids import Apid
from protocols.packets.space_packet import SequenceCounter, SpacePacket

log = logging.getLogger("paleblue.probe.cfdp")


class ImageFileSender:
    def __init__(
        self,
        submit_packet: Callable[[bytes], None],
        sequence: SequenceCounter,
        round_trip_s: float,
        mode: TransmissionMode = TransmissionMode.ACKNOWLEDGED,
    ) -> None:
        self._submit = submit_packet
        self._sequence = sequence
        self.mode = mode
        self.entity = SendingEntity(
            image_delivery_config(PROBE_ENTITY_ID, round_trip_s), send=self._send, now=time.monotonic
        )
        self.files: dict[int, FileSender] = {}

    def _send(self, pdu: bytes) -> None:
        packet = SpacePacket(Apid.CFDP, self._sequence.next(Apid.CFDP), pdu, secondary_header_flag=False)
        self._submit(packet.pack())

    def put(self, image_id: int, file_bytes: bytes) -> FileSender:
        sender = self.entity.put(
            GROUND_ENTITY_ID, file_bytes, source_file_name=f"image-{image_id:03d}.pbim".encode(),
            destination_file_name=f"image-{image_id:03d}.pbim".encode(), mode=self.mode,
        )  # fmt: skip
        self.files[image_id] = sender
        log.info(
            "image %d: CFDP transaction %s of %d octets (sha256 %s…)",
            image_id, sender.transaction_id, len(file_bytes), hashlib.sha256(file_bytes).hexdigest()[:16],
        )  # fmt: skip
        return sender

    def handle(self, pdu: bytes) -> None:
        self.entity.handle(pdu)

    def poll(self, max_pdus: int) -> int:
        return self.entity.poll(max_pdus)

    def suspend(self) -> None:
        self.entity.suspend()

    def resume(self) -> None:
        self.entity.resume()
