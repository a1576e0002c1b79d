"""The ground's CFDP entity: receives image files, writes partial images as they fill, reports progress.

PDUs arrive in space packets on APID CFDP; replies (ACK, NAK, Finished) go up
the uplink through ``send_pdu``. While a transaction is open the station
writes ``<name>-partial.png`` at most once a second, with the octets still
missing drawn as a grey hatch, and once more when the pass ends with it open (an
interrupt or a timeout): the summary then lists the open transfer, what arrived
and the octet ranges missing. When the file is complete and its CFDP checksum
verified, the image is handed over for the final products.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from protocols.atomic_file import write_atomically
from protocols.errors import DecodeError
from protocols.image.image_file import Compression, unpack_image_file, unpack_image_header
from protocols.image.image_metadata import ImageMetadata
from protocols.image.image_products import missing_pixels, product_stem, quicklook
from protocols.image.image_transport import ImageHeader
from protocols.link.tc_frame import MAX_DATA_LENGTH as TC_FRAME_MAX_DATA
from protocols.packets.space_packet import PRIMARY_HEADER_LENGTH

if TYPE_CHECKING:
    from protocols.cfdp import FileReceiver, ReceivingEntity

log = logging.getLogger("paleblue.ground.cfdp")

# Replies go up one per TC frame, inside a space packet: the frame's data field less the packet header.
MAX_PDU_LENGTH = TC_FRAME_MAX_DATA - PRIMARY_HEADER_LENGTH
PARTIAL_EVERY_S = 1.0
PROGRESS_EVERY_S = 1.0
SILENCE_IS_OUTAGE_S = 1.0  # no downlink for this long: the pass is over, freeze the CFDP timers
MISSING_RANGES_SHOWN = 32  # an open transfer's missing octet ranges listed in the summary


class ImageFileReception:
    def __init__(
        self,
        send_pdu: Callable[[bytes], None],
        out_dir: Path,
        on_image: Callable[[ImageHeader, bytes, dict], None],
        round_trip_s: float,
    ) -> None:
        self.out_dir = out_dir
        self._on_image = on_image
        self._send_pdu, self._round_trip_s = send_pdu, round_trip_s
        self._entity: ReceivingEntity | None = None  # made by the first PDU (see ``entity``)
        self.transactions: dict[tuple[int, int], dict] = {}
        self._dirty: set[tuple[int, int]] = set()
        self._last_partial = 0.0
        self._last_progress = 0.0
        self._last_heard = time.monotonic()
        self.suspended = False
        self.outages = 0
        self.partial_images_written = 0
        self._partial_names: dict[tuple[int, int], str] = {}  # open transactions' partial images
        self._no_partial: dict[tuple[int, int], str] = {}  # why an open transaction has none
        self.segments: dict[tuple[int, int], int] = {}  # file-data PDUs taken, per transaction

    @property
    def entity(self) -> ReceivingEntity:
        """The CFDP receiving entity, made when it is first needed: a pass without file delivery
        never loads the CFDP modules (15 ms of every station's and ``paleblue decode``'s start-up)."""
        if self._entity is None:
            from protocols.cfdp import ReceivingEntity
            from protocols.cfdp.config import GROUND_ENTITY_ID, image_delivery_config

            self._entity = ReceivingEntity(
                image_delivery_config(GROUND_ENTITY_ID, self._round_trip_s, MAX_PDU_LENGTH),
                send=self._send_pdu,
                now=time.monotonic,
                on_segment=self._on_segment,
                on_end=self._on_end,
            )
        return self._entity

    def handle(self, pdu: bytes) -> None:
        self.entity.handle(pdu)

    def heard_downlink(self) -> None:
        """Downlink frames arrived: the pass is on (resume if an outage froze the timers)."""
        self._last_heard = time.monotonic()
        if self.suspended:
            self.suspended = False
            self.entity.resume()
            log.info("downlink back: CFDP resumed")

    def poll(self) -> None:
        now = time.monotonic()
        if not self.suspended and now - self._last_heard > SILENCE_IS_OUTAGE_S and self._open():
            self.suspended = True
            self.outages += 1
            self.entity.suspend()
            log.warning("downlink silent for %.1f s: outage, CFDP suspended", now - self._last_heard)
        if self._entity is not None:
            self._entity.poll()
        if now - self._last_partial >= PARTIAL_EVERY_S and self._dirty:
            self._last_partial = now
            for tid in list(self._dirty):
                self._write_partial(tid)
            self._dirty.clear()
        if now - self._last_progress >= PROGRESS_EVERY_S and self._open():
            self._last_progress = now
            for receiver in self._open():
                log.info("%s", receiver.progress().line())

    def open_receivers(self) -> list[FileReceiver]:
        """Transactions still receiving (the live feed's image progress reads them)."""
        return self._open()

    def _open(self) -> list[FileReceiver]:
        if self._entity is None:
            return []
        return [r for r in self._entity.transactions.values() if not r.ended]

    def _on_segment(self, tid: tuple[int, int], offset: int, data: bytes) -> None:
        self._dirty.add(tid)
        self.segments[tid] = self.segments.get(tid, 0) + 1

    def _write_partial(self, tid: tuple[int, int]) -> str | None:
        """Write the open transaction's partial image; its file name, or why there is none."""
        receiver = self.entity.transactions.get(tid)
        if receiver is None or receiver.ended:
            return None
        partial = receiver.partial_bytes()
        try:
            header, compression, start = unpack_image_header(partial)
        except DecodeError:
            self._no_partial[tid] = "the image file's header has not arrived"
            return None
        if compression != Compression.NONE:
            self._no_partial[tid] = "a compressed image cannot be shown before it is whole"
            return None
        if len(partial) != start + header.image_octets:
            self._no_partial[tid] = "the image file's size does not match its header"
            return None
        pixels = np.frombuffer(partial, dtype=_dtype(header), offset=start).reshape(
            header.height, header.width
        )
        gaps = [(a - start, b - start) for a, b in receiver.received.gaps(start, len(partial))]
        missing = missing_pixels(gaps, header.width, header.height, header.bit_depth)
        image = quicklook(pixels.astype(np.uint16), header.bit_depth, missing)  # as image packets' partials
        from PIL import Image

        name = f"{_partial_stem(header)}.png"
        picture = Image.fromarray(image)
        write_atomically(self.out_dir / name, lambda file: picture.save(file, format="PNG"))
        self.partial_images_written += 1
        self._partial_names[tid] = name
        self._no_partial.pop(tid, None)
        return name

    def close(self) -> None:
        """End of the pass (its end, a timeout or an interrupt): every transaction still open gets
        its partial image written as it stands now, the missing ranges hatched."""
        for receiver in self._open():
            self._write_partial(receiver.transaction_id)
        self._dirty.clear()

    def open_transfers(self) -> list[dict]:
        """The transactions still open: how much of the file arrived, which octet ranges are
        missing (the first ``MISSING_RANGES_SHOWN``, and how many there are) and the partial image."""
        out = []
        for receiver in self._open():
            progress = receiver.progress()
            tid = receiver.transaction_id
            end = progress.file_size if progress.file_size is not None else receiver.received.highest_end
            missing = receiver.received.gaps(0, end)
            record = {
                "transaction": list(tid),
                "state": progress.state,
                "file_octets": progress.file_size,
                "octets_received": progress.bytes_done,
                "percent_received": round(progress.percent, 1) if progress.file_size is not None else None,
                "missing_octets": sum(b - a for a, b in missing) if progress.file_size is not None else None,
                "missing_ranges": [list(r) for r in missing[:MISSING_RANGES_SHOWN]],
                "missing_range_count": len(missing),
                "partial_image": self._partial_names.get(tid),
            }
            if record["partial_image"] is None:
                record["no_partial_image"] = self._no_partial.get(tid, "no file data has arrived")
            out.append(record)
        return out

    def _on_end(self, receiver: FileReceiver) -> None:
        progress = receiver.progress()
        record = {
            "transaction": list(receiver.transaction_id),
            "state": progress.state,
            "file_octets": progress.file_size,
            "octets_received": progress.bytes_done,
            "nak_rounds": progress.nak_rounds,
            "retransmitted_octets": progress.retransmitted_bytes,
            "duration_s": (progress.ended_at or time.monotonic()) - progress.started_at,
            "condition_code": None if progress.condition_code is None else int(progress.condition_code),
            "complete": bool(receiver.result is not None and receiver.result.complete),
        }
        self.transactions[receiver.transaction_id] = record
        log.info("CFDP transaction %s ended: %s", receiver.transaction_id, progress.line())
        data = receiver.file_bytes()
        if data is None:
            log.warning("CFDP transaction %s did not deliver a verified file", receiver.transaction_id)
            return
        try:
            header, pixels = unpack_image_file(data)
        except DecodeError as exc:
            log.warning("CFDP file %s is not an image file: %s", receiver.transaction_id, exc)
            return
        (self.out_dir / f"{_partial_stem(header)}.png").unlink(missing_ok=True)
        self._on_image(header, pixels, record)

    def summary(self) -> dict:
        return {
            "transactions": [self.transactions[t] for t in sorted(self.transactions)],
            "open": self.open_transfers(),
            "rejections": {} if self._entity is None else dict(self._entity.all_rejections()),
            "outages_detected": self.outages,
            "partial_images_written": self.partial_images_written,
        }


def _dtype(header: ImageHeader) -> np.dtype:
    return np.dtype(">u2") if header.bit_depth > 8 else np.dtype("u1")


def _partial_stem(header: ImageHeader) -> str:
    """The partial product's name, as the station names the image (scenario, id, band of a colour
    capture); a refused metadata map names it ``image-<id>`` (the station counts that fault when
    the image is written)."""
    try:
        metadata = ImageMetadata.from_map(header.metadata)
    except DecodeError:
        return product_stem(None, header.image_id, partial=True)
    return product_stem(metadata.scenario, header.image_id, partial=True, band=metadata.band_of_capture)
