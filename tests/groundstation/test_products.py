"""Image products: files named once per pass, counts only without products, CFDP delivery figures."""

from __future__ import annotations

import logging
import zlib
from pathlib import Path

from groundstation.fault_log import FaultLog
from groundstation.products import ImageProduct, ProductWriter
from protocols.image.image_transport import ReassembledImage, make_image_header
from protocols.packets.time_code import CucTime

PIXELS = bytes(range(256)) * 16


def _image(missing: list[tuple[int, int]] | None = None) -> ReassembledImage:
    header = make_image_header(1, PIXELS, 64, 64, 8, 1000, CucTime(5), {"scenario": "t"})
    return ReassembledImage(header, PIXELS, missing or [])


def test_a_second_image_under_the_same_name_gets_its_own(tmp_path: Path) -> None:
    writer = ProductWriter(tmp_path, FaultLog(logging.getLogger("test")))
    first, second = writer.write(_image()), writer.write(_image())
    assert Path(first.files["quicklook"]).name == "t-001.png"
    assert Path(second.files["quicklook"]).name == "t-001-2.png"
    assert first.crc_ok and first.delivery == {"method": "image packets (PUS 128)"}


def test_without_products_only_the_counts_and_checksums(tmp_path: Path) -> None:
    writer = ProductWriter(tmp_path, FaultLog(logging.getLogger("test")), write_products=False)
    product = writer.write(_image([(0, 100)]))
    assert product.files == {} and product.missing_octets == 100 and not product.complete
    assert list(tmp_path.iterdir()) == []


def test_a_cfdp_image_carries_its_transaction(tmp_path: Path) -> None:
    writer = ProductWriter(tmp_path, FaultLog(logging.getLogger("test")), write_products=False)
    header = _image().header
    product = writer.write_file_image(header, PIXELS, {"file_octets": 2048, "duration_s": 2.0}, 16_384.0)
    assert product.delivery["method"] == "CFDP class 2 file"
    assert product.delivery["goodput_bps"] == 8192.0 and product.delivery["compression_ratio"] == 2.0
    assert product.delivery["goodput_fraction_of_link_rate"] == 0.5
    assert zlib.crc32(PIXELS) == header.crc32


def test_a_product_round_trips_through_its_summary_form() -> None:
    product = ImageProduct(1, True, True, 64, 64, 8, 0, "ab", {"quicklook": "q.png"}, onboard_sha256="ab")
    fields = product.as_dict()
    assert fields["identical_to_onboard"] is True
    assert ImageProduct.from_dict(fields) == product
