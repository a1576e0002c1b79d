"""Colour captures on the ground: the bands of one capture regrouped, and their RGB composite.

A colour camera's capture comes down as one image per band (README, image transport): each band is
reassembled and written like any image, and its metadata's ``capture`` (capture id, band index,
band list) says which capture it belongs to. :class:`CaptureAssembler` collects the bands as they
are written, in whatever order they come, and once every band of a capture has arrived:

- every band complete with its CRC ok: it writes the composite ``<capture id>-rgb.png``, balanced
  as ``paleblue render`` balances it (:mod:`protocols.image.colour_composite`: solar white, each
  band in radiance factor from its own metadata);
- a band incomplete or failing its CRC: **no composite is written**; the capture is listed with
  the bands that were not whole.

A capture still missing a band when the pass ends (or pushed out, below) gets no composite either;
it is listed with its missing bands in ``summary.json`` (``captures``) and ``report.md``. A band
whose index is already held starts the capture anew (a restarted probe numbers its captures from 1
again): the held one is closed as it stands.

Memory is bounded: the pixels of at most ``MAX_PENDING_CAPTURES`` unfinished captures, of
``MAX_PENDING_OCTETS`` together, are held; beyond that the oldest unfinished capture is closed as
it stands (``evicted``). The capture being filled is never pushed out by itself, so one capture
alone may hold more: at most ``MAX_BANDS`` (16) bands of the mission's largest image (8 MiB,
``MISSION_IMAGE_LIMITS``). Pixels are held only when products are written, and only for bands
that arrived whole.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from groundstation.fault_log import FaultLog
from protocols.atomic_file import write_atomically
from protocols.image.colour_composite import BandFrame, balance_of, composite_quicklook
from protocols.image.image_metadata import ImageMetadata
from protocols.image.image_products import safe_name

log = logging.getLogger("paleblue.ground")

MAX_PENDING_CAPTURES = 4
MAX_PENDING_OCTETS = 64 * 1024 * 1024


@dataclass
class CaptureRecord:
    """One capture as the summary lists it."""

    capture_id: str
    bands: list[str]
    images: dict[str, int]  # band -> image id, for the bands that arrived
    missing_bands: list[str]  # bands that never arrived
    damaged_bands: list[str]  # bands that arrived incomplete or with a bad CRC
    composite: str | None  # the composite's path; None: not written (see ``why``)
    balance: str | None = None
    why: str = ""

    @property
    def complete(self) -> bool:
        return not self.missing_bands and not self.damaged_bands

    def as_dict(self) -> dict:
        return {**self.__dict__, "complete": self.complete}

    @classmethod
    def from_dict(cls, fields: dict) -> CaptureRecord:
        return cls(**{k: v for k, v in fields.items() if k != "complete"})


@dataclass
class _Band:
    image_id: int
    whole: bool  # complete and CRC ok
    frame: BandFrame | None  # held pixels (None when products are not written or the band is damaged)
    width: int
    height: int


@dataclass
class _Pending:
    capture_id: str
    bands: tuple[str, ...]
    scenario: str | None
    received: dict[int, _Band] = field(default_factory=dict)  # by band index

    @property
    def octets(self) -> int:
        return sum(b.frame.pixels.nbytes for b in self.received.values() if b.frame is not None)


def band_centre_nm(metadata: ImageMetadata, band_index: int) -> float:
    """The band's centre wavelength from its metadata's ``sensor.band_nm``; without it, the capture's
    listed order stands in (the first listed taken as the longest, as the probe lists red first)."""
    sensor = metadata.sensor
    if sensor is not None and sensor.band_nm is not None:
        return 0.5 * (float(sensor.band_nm[0]) + float(sensor.band_nm[1]))
    return -float(band_index)


class CaptureAssembler:
    """Regroups the bands of multi-band captures and writes their composites (module docstring)."""

    def __init__(self, out_dir: Path, faults: FaultLog, write_products: bool = True) -> None:
        self.out_dir = out_dir
        self.faults = faults
        self.write_products = write_products
        self.records: list[CaptureRecord] = []
        self.evicted = 0
        self._pending: OrderedDict[tuple[str, tuple[str, ...]], _Pending] = OrderedDict()
        self._stems: set[str] = set()

    def add(
        self, metadata: ImageMetadata, image_id: int, pixels: np.ndarray, bit_depth: int, whole: bool
    ) -> CaptureRecord | None:
        """One written image; returns the capture's record when this band finished it."""
        capture = metadata.capture
        if capture is None or capture.bands is None or len(capture.bands) < 2:
            return None  # a panchromatic image, or a one-band "capture": nothing to regroup
        index = capture.band_index
        if capture.capture_id is None or index is None or index >= len(capture.bands):
            self.faults.record("bad capture metadata", f"image {image_id}: capture {capture.to_map()}")
            return None
        key = (capture.capture_id, capture.bands)
        pending = self._pending.get(key)
        if pending is not None and index in pending.received:
            self._close(key, "a band arrived again: the capture was started anew")
            pending = None
        if pending is None:
            pending = _Pending(capture.capture_id, capture.bands, metadata.scenario)
            self._pending[key] = pending
        frame = None
        if whole and self.write_products:
            truth = metadata.to_map()
            frame = BandFrame(pixels, band_centre_nm(metadata, index), truth, bit_depth)
        height, width = pixels.shape
        pending.received[index] = _Band(image_id, whole, frame, width, height)
        if len(pending.received) == len(pending.bands):
            return self._close(key, "")
        self._bound(key)
        return None

    def finish(self) -> None:
        """End of pass: every capture still waiting for a band is closed as it stands."""
        for key in list(self._pending):
            self._close(key, "the pass ended before every band arrived")

    # -- internals ---------------------------------------------------------------------------
    def _bound(self, newest: tuple[str, tuple[str, ...]]) -> None:
        while len(self._pending) > 1 and (
            len(self._pending) > MAX_PENDING_CAPTURES
            or sum(p.octets for p in self._pending.values()) > MAX_PENDING_OCTETS
        ):
            oldest = next(iter(self._pending))
            if oldest == newest:
                break
            self.evicted += 1
            self._close(oldest, "evicted: too many captures waiting for bands")

    def _close(self, key: tuple[str, tuple[str, ...]], why: str) -> CaptureRecord:
        pending = self._pending.pop(key)
        names = list(pending.bands)
        received = pending.received
        record = CaptureRecord(
            capture_id=pending.capture_id,
            bands=names,
            images={names[i]: band.image_id for i, band in sorted(received.items())},
            missing_bands=[name for i, name in enumerate(names) if i not in received],
            damaged_bands=[names[i] for i, band in sorted(received.items()) if not band.whole],
            composite=None,
            why=why,
        )
        if record.complete:
            self._composite(pending, record)
        else:
            parts = []
            if record.missing_bands:
                parts.append(f"missing {', '.join(record.missing_bands)}")
            if record.damaged_bands:
                parts.append(f"incomplete or CRC failed: {', '.join(record.damaged_bands)}")
            record.why = "; ".join(parts) + (f" ({why})" if why else "") + "; no composite written"
            self.faults.record("colour capture incomplete", f"{pending.capture_id}: {record.why}")
        self.records.append(record)
        return record

    def _composite(self, pending: _Pending, record: CaptureRecord) -> None:
        if not self.write_products:
            record.why = "products not written"
            return
        sizes = {(b.width, b.height) for b in pending.received.values()}
        if len(sizes) != 1:
            record.why = f"bands of different sizes {sorted(sizes)}; no composite written"
            self.faults.record("bad capture metadata", f"{pending.capture_id}: {record.why}")
            return
        held = sorted(pending.received.items())
        frames = {pending.bands[i]: band.frame for i, band in held if band.frame is not None}
        record.balance = balance_of(frames)
        try:
            rgb = composite_quicklook(frames)
            path = self.out_dir / f"{self._unique_stem(safe_name(pending.capture_id, 'capture'))}-rgb.png"
            from PIL import Image

            picture = Image.fromarray(rgb)
            write_atomically(path, lambda file: picture.save(file, format="PNG"))
        except (OSError, ValueError, TypeError, KeyError, ArithmeticError) as exc:
            record.why = f"composite not written: {exc!r}"
            self.faults.record("image products not written", f"{pending.capture_id}: {exc!r}")
            return
        record.composite = str(path)
        log.info("colour capture %s: bands %s → %s", pending.capture_id, ", ".join(record.images), path)

    def _unique_stem(self, stem: str) -> str:
        unique, number = stem, 1
        while unique in self._stems:
            number += 1
            unique = f"{stem}-{number}"
        self._stems.add(unique)
        return unique
