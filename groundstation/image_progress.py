"""Image progress as live updates: segments received and percent complete, for image packets and CFDP.

:class:`ImageProgressUpdates` reads the station's reassembler and CFDP entity between messages (at
each :meth:`~groundstation.archiving.StationServices.tick`) and publishes one ``image_progress``
update per image that gained segments since the last tick, then one last update (``done``) when the
image is handed over: complete (100 %), or incomplete (evicted, flushed at the end of the pass, or a
CFDP transaction that ended without a verified file). Updates of one image are in order: its
segments received never go down, and nothing follows its ``done`` update.

Updates are coalesced per tick, not per packet: a 2,000-segment image sent in a few hundred
messages costs at most one update per tick, so the feed never slows the station down.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from groundstation.products import ImageProduct
from groundstation.station import GroundStation
from protocols.image.image_transport import ReassembledImage, segments_received

Publish = Callable[[dict[str, Any]], None]


def _update(
    tai: float,
    delivery: str,
    *,
    image_id: int | None,
    transaction: str | None = None,
    received: int,
    total: int | None,
    octets: tuple[int, int | None] | None = None,
    percent: float,
    done: bool = False,
    complete: bool = False,
) -> dict[str, Any]:
    return {
        "type": "image_progress",
        "tai": tai,
        "delivery": delivery,  # "packets" (PUS 128 image segments) or "cfdp" (a file transaction)
        "image_id": image_id,
        "transaction": transaction,
        "segments_received": received,
        "segments_total": total,
        "octets_received": None if octets is None else octets[0],
        "octets_total": None if octets is None else octets[1],
        "percent": round(percent, 3),
        "done": done,
        "complete": complete,
    }


class ImageProgressUpdates:
    """The station's images in flight, as ``image_progress`` updates for the live feed."""

    def __init__(self, station: GroundStation, publish: Publish, tai_now: Callable[[], float]) -> None:
        self.station = station
        self._publish = publish
        self._tai_now = tai_now
        self._packets_seen: dict[int, int] = {}  # image id -> segments last published
        self._cfdp_seen: dict[tuple[int, int], int] = {}  # transaction -> octets last published
        self._cfdp_done: set[tuple[int, int]] = set()
        self._cfdp_images: dict[tuple[int, int], int] = {}  # transaction -> image id, once delivered
        station.on_image_reassembled = _chain(station.on_image_reassembled, self.on_reassembled)

    def on_reassembled(self, image: ReassembledImage) -> None:
        """An image over image packets handed over (the station's thread, as it happens)."""
        h = image.header
        self._packets_seen.pop(h.image_id, None)
        received = segments_received(image)
        self._publish(
            _update(
                self._tai_now(), "packets", image_id=h.image_id, received=received, total=h.segment_count,
                percent=100.0 if image.complete else 100.0 * received / h.segment_count,
                done=True, complete=image.complete,
            )
        )  # fmt: skip

    def on_product(self, product: ImageProduct) -> None:
        """A product written: a CFDP one names the image id of its transaction."""
        transaction = product.delivery.get("transaction")
        if transaction is not None:
            self._cfdp_images[(int(transaction[0]), int(transaction[1]))] = product.image_id

    def tick(self) -> None:
        tai = self._tai_now()
        for progress in self.station.reassembler.progress:
            if self._packets_seen.get(progress.image_id) == progress.segments_received:
                continue
            self._packets_seen[progress.image_id] = progress.segments_received
            self._publish(
                _update(
                    tai, "packets", image_id=progress.image_id, received=progress.segments_received,
                    total=progress.segment_count,
                    percent=100.0 * progress.segments_received / progress.segment_count,
                )
            )  # fmt: skip
        files = self.station.files
        for tid, record in files.transactions.items():
            if tid in self._cfdp_done:
                continue
            self._cfdp_done.add(tid)
            self._cfdp_seen.pop(tid, None)
            size, got = record["file_octets"], record["octets_received"]
            self._publish(
                _update(
                    tai, "cfdp", image_id=self._cfdp_images.pop(tid, None), transaction=_tid(tid),
                    received=files.segments.get(tid, 0), total=None, octets=(got, size),
                    percent=100.0 * got / size if size else (100.0 if record["complete"] else 0.0),
                    done=True, complete=record["complete"],
                )
            )  # fmt: skip
        for receiver in files.open_receivers():
            tid = receiver.transaction_id
            progress = receiver.progress()
            if tid in self._cfdp_done or self._cfdp_seen.get(tid) == progress.bytes_done:
                continue
            self._cfdp_seen[tid] = progress.bytes_done
            self._publish(
                _update(
                    tai, "cfdp", image_id=None, transaction=_tid(tid), received=files.segments.get(tid, 0),
                    total=None, octets=(progress.bytes_done, progress.file_size),
                    percent=min(progress.percent, 99.999) if progress.bytes_done else 0.0,
                )
            )  # fmt: skip


def _tid(tid: tuple[int, int]) -> str:
    return f"{tid[0]}:{tid[1]}"


def _chain(first: Callable | None, second: Callable) -> Callable:
    if first is None:
        return second

    def call(*args: Any) -> None:
        first(*args)
        second(*args)

    return call
