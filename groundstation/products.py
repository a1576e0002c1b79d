"""Image products: a reassembled image becomes its files, its measurement and an :class:`ImageProduct`.

Whatever way an image came (image packets or a CFDP file), it is written here: the quick-look,
the raw 16-bit PNG and the truth JSON (:func:`protocols.image.image_products.write_image_products`),
measured against its truth (optical navigation) and listed in the pass summary. One band of a
colour capture is named ``<scenario>-<id>-<band>.*`` and handed to the
:class:`~groundstation.captures.CaptureAssembler`, which writes the capture's RGB composite once
every band is in. With a worker (:mod:`groundstation.product_worker`: a thread, or processes) the
measurement and the files are made there, off the receive path; the products are listed, in order, when
:meth:`ProductWriter.collect` takes their results (and a colour capture's bands reach the assembler then).
"""

from __future__ import annotations

import hashlib
import logging
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from groundstation.captures import CaptureAssembler
from groundstation.fault_log import FaultLog
from groundstation.optical_navigation import measure_bodies
from groundstation.product_worker import Worker
from protocols.errors import DecodeError
from protocols.image.image_metadata import ImageMetadata
from protocols.image.image_products import missing_pixels, product_stem, write_image_products
from protocols.image.image_transport import ImageHeader, ReassembledImage

log = logging.getLogger("paleblue.ground")

PACKET_DELIVERY = {"method": "image packets (PUS 128)"}


@dataclass
class ImageProduct:
    image_id: int
    complete: bool
    crc_ok: bool
    width: int
    height: int
    bit_depth: int
    missing_octets: int
    sha256: str
    files: dict[str, str]
    measurement: dict = field(default_factory=dict)
    onboard_sha256: str | None = None  # what the probe computed at capture, from the metadata
    delivery: dict = field(default_factory=dict)  # how it came: image packets or a CFDP transaction

    @property
    def identical_to_onboard(self) -> bool | None:
        return None if self.onboard_sha256 is None else self.onboard_sha256 == self.sha256

    def as_dict(self) -> dict:
        """The summary's form of the product (its fields and ``identical_to_onboard``)."""
        return {**self.__dict__, "identical_to_onboard": self.identical_to_onboard}

    @classmethod
    def from_dict(cls, fields: dict) -> ImageProduct:
        return cls(**{k: v for k, v in fields.items() if k != "identical_to_onboard"})


def _pixel_array(image: ReassembledImage) -> np.ndarray:
    h = image.header
    dtype = np.dtype(">u2") if h.bit_depth > 8 else np.dtype("u1")
    return np.frombuffer(image.pixels, dtype=dtype).reshape(h.height, h.width).astype(dtype.newbyteorder("="))


def _truth(image: ReassembledImage, metadata: ImageMetadata, measurement: dict) -> dict:
    """The truth JSON: the probe's metadata, what the ground received and what it measured."""
    h = image.header
    received = {
        "complete": image.complete,
        "crc32_ok": image.crc_ok,
        "missing_ranges": image.missing,
        "exposure_us": h.exposure_us,
        "capture_time_utc": h.capture_time.to_utc().isoformat(),
        "bit_depth": h.bit_depth,
    }
    return {**metadata.to_map(), "received": received, "measured": measurement}


@dataclass(frozen=True)
class _Job:
    image: ReassembledImage
    metadata: ImageMetadata
    stem: str
    delivery: dict | None


@dataclass
class _Made:
    """What the work of one image gave: its measurement, files and the faults met on the way."""

    measurement: dict
    files: dict
    faults: list[tuple[str, str]]
    sha256: str = ""


def make_products(job: _Job, out_dir: Path, write_products: bool) -> _Made:
    """The measurement and the files of one image (on a worker's thread or in a product process:
    touches nothing shared, and everything it needs comes in its arguments)."""
    image, h = job.image, job.image.header
    pixels = _pixel_array(image)
    faults: list[tuple[str, str]] = []
    measurement = _measure(pixels, h, job.metadata, faults) if write_products else {}
    truth = _truth(image, job.metadata, measurement)
    missing = missing_pixels(image.missing, h.width, h.height, h.bit_depth) if image.missing else None
    files = _files(pixels, h, truth, out_dir, job.stem, missing, faults) if write_products else {}
    return _Made(measurement, files, faults, hashlib.sha256(image.pixels).hexdigest())


def _measure(pixels: np.ndarray, header: ImageHeader, metadata: ImageMetadata, faults: list) -> dict:
    try:
        return measure_bodies(pixels, metadata)
    except (TypeError, ValueError, KeyError, AttributeError, IndexError, ArithmeticError) as exc:
        faults.append(("bad image metadata", f"image {header.image_id}: {exc!r}"))
        return {}


def _files(
    pixels: np.ndarray,
    h: ImageHeader,
    truth: dict,
    out_dir: Path,
    stem: str,
    missing: np.ndarray | None,
    faults: list[tuple[str, str]],
) -> dict:
    try:
        return write_image_products(pixels, h.bit_depth, truth, out_dir, stem, missing)
    except (OSError, ValueError, TypeError) as exc:
        faults.append(("image products not written", f"image {h.image_id}: {exc!r}"))
        return {}


class ProductWriter:
    """Writes each image of a pass (``write_products`` False: checksums and counts only), on the
    caller's thread or, given a ``worker``, on that worker's."""

    def __init__(
        self,
        out_dir: Path,
        faults: FaultLog,
        write_products: bool = True,
        worker: Worker | None = None,
    ) -> None:
        self.out_dir = out_dir
        self.faults = faults
        self.write_products = write_products
        self.worker = worker
        self.products: list[ImageProduct] = []
        self._waiting: deque[_Job] = deque()  # given to the worker, not yet listed
        self._stems: set[str] = set()  # product names used: a second image 1 gets its own
        self.captures = CaptureAssembler(out_dir, faults, write_products)

    def write(self, image: ReassembledImage, delivery: dict | None = None) -> ImageProduct | None:
        """The image's products: made now (returned), or queued for the worker (None; blocks while
        the worker's queue is full)."""
        h = image.header
        metadata = self._metadata(h)
        band = metadata.band_of_capture
        stem = self._unique_stem(product_stem(metadata.scenario, h.image_id, not image.complete, band))
        job = _Job(image, metadata, stem, delivery)
        if self.worker is None:
            return self._list(job, make_products(job, self.out_dir, self.write_products))
        self._waiting.append(job)
        self.worker.submit(make_products, job, self.out_dir, self.write_products)
        self.collect()
        return None

    def collect(self, wait: bool = False) -> None:
        """List the products the worker has finished (``wait``: every one given to it)."""
        if self.worker is None:
            return
        if wait:
            self.worker.wait()
        for result in self.worker.results():
            job = self._waiting.popleft()
            if isinstance(result, BaseException):  # not one of the failures make_products expects
                fault = ("image products not written", f"image {job.image.header.image_id}: {result!r}")
                result = _Made({}, {}, [fault], hashlib.sha256(job.image.pixels).hexdigest())
            assert isinstance(result, _Made)
            self._list(job, result)

    @property
    def pending(self) -> int:
        """Images given to the worker whose products are not listed yet."""
        return len(self._waiting)

    def listed(self, wait: bool = False) -> list[ImageProduct]:
        """The products listed (``wait``: after every image given to the worker)."""
        self.collect(wait)
        return self.products

    @property
    def done(self) -> int:
        """Images written or given to the worker: a pass ends on the same message either way (asked
        after every message, so it lists nothing: the count is the same before and after)."""
        return len(self.products) + self.pending

    def finish(self) -> None:
        """End of pass: every image given to the worker listed, then the colour captures still
        missing a band closed as such."""
        self.collect(wait=True)
        self.captures.finish()

    def _list(self, job: _Job, made: _Made) -> ImageProduct:
        image, h, metadata, files = job.image, job.image.header, job.metadata, made.files
        for kind, detail in made.faults:
            self.faults.record(kind, detail)
        product = ImageProduct(
            image_id=h.image_id,
            complete=image.complete,
            crc_ok=image.crc_ok,
            width=h.width,
            height=h.height,
            bit_depth=h.bit_depth,
            missing_octets=sum(end - start for start, end in image.missing),
            sha256=made.sha256,
            files={k: str(v) for k, v in files.items()},
            measurement=made.measurement,
            onboard_sha256=metadata.onboard_pixels_sha256,
            delivery=job.delivery or dict(PACKET_DELIVERY),
        )
        self.products.append(product)
        if image.complete and not image.crc_ok:
            self.faults.record("image CRC mismatch", f"image {h.image_id}")
        state = "complete" if image.complete else f"INCOMPLETE ({product.missing_octets} octets missing)"
        log.info(
            "image %d %s: %dx%d %d-bit, sha256 %s… → %s",
            h.image_id, state, h.width, h.height, h.bit_depth, product.sha256[:12], files.get("quicklook"),
        )  # fmt: skip
        if metadata.capture is not None:  # one band of a colour capture: the assembler regroups it
            self.captures.add(metadata, h.image_id, _pixel_array(image), h.bit_depth, image.crc_ok)
        return product

    def write_file_image(
        self, header: ImageHeader, pixels: bytes, transaction: dict, link_rate_bps: float | None
    ) -> ImageProduct | None:
        """An image that came as a CFDP file, with how the transaction went."""
        image = ReassembledImage(header, pixels, [])
        if not image.crc_ok:
            self.faults.record("image CRC mismatch", f"CFDP image {header.image_id}")
        octets, duration = transaction["file_octets"], transaction["duration_s"]
        goodput = 8 * octets / duration if duration > 0 and octets else None
        delivery = {
            "method": "CFDP class 2 file",
            **transaction,
            "goodput_bps": goodput,
            "compression_ratio": header.image_octets / octets if octets else None,
            "link_rate_bps": link_rate_bps,
            "goodput_fraction_of_link_rate": goodput / link_rate_bps if goodput and link_rate_bps else None,
        }
        return self.write(image, delivery)

    def _metadata(self, header: ImageHeader) -> ImageMetadata:
        """The declared metadata; a hostile map is a fault, and the pixels still make products."""
        try:
            return ImageMetadata.from_map(header.metadata)
        except DecodeError as exc:
            self.faults.record("bad image metadata", f"image {header.image_id}: {exc.reason}")
            return ImageMetadata()

    def _unique_stem(self, stem: str) -> str:
        """``stem``, or ``stem-2``, ``-3``… when an image of this pass was already written under it
        (a restarted probe numbers its images from 1 again)."""
        unique, number = stem, 1
        while unique in self._stems:
            number += 1
            unique = f"{stem}-{number}"
        self._stems.add(unique)
        return unique
