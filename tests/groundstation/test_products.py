"""Image products: files named once per pass, counts only without products, CFDP delivery figures."""

from __future__ import annotations

import logging
import os
import time
import zlib
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest

from groundstation.fault_log import FaultLog
from groundstation.product_worker import DEFAULT_DEPTH, ProductProcesses, ProductWorker, Worker
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


def _worker(kind: str, depth: int = DEFAULT_DEPTH) -> Worker:
    return ProductWorker(depth) if kind == "thread" else ProductProcesses(2, depth)


@pytest.mark.parametrize("kind", ["thread", "processes"])
def test_a_worker_lists_the_same_products_in_order(tmp_path: Path, kind: str) -> None:
    """Products made on a worker (a thread, or two processes) are those made on the caller's
    thread, listed in the order given."""
    here = ProductWriter(tmp_path / "here", FaultLog(logging.getLogger("test")))
    worker = _worker(kind, depth=1)
    there = ProductWriter(tmp_path / "there", FaultLog(logging.getLogger("test")), worker=worker)
    images = [_image(), _image([(0, 100)]), _image(), _image()]
    for image in images:
        here.write(image)
        assert there.write(image) is None  # queued; a full queue made the caller wait
    there.collect(wait=True)
    worker.close()
    assert there.pending == 0 and len(there.products) == len(here.products) == 4
    for a, b in zip(here.products, there.products, strict=True):
        assert {**a.as_dict(), "files": None} == {**b.as_dict(), "files": None}
        for kind_of_file, path in a.files.items():
            assert Path(path).read_bytes() == Path(b.files[kind_of_file]).read_bytes(), kind_of_file


def test_a_full_worker_makes_the_caller_wait_and_counts_it() -> None:
    import threading

    worker, release = ProductWorker(depth=1), threading.Event()
    worker.submit(release.wait, 10)  # taken by the thread, which blocks on it
    while worker._jobs.unfinished_tasks and not worker._jobs.empty():
        pass  # until the thread has taken it
    worker.submit(int, "1")  # waits in the queue
    threading.Timer(0.2, release.set).start()
    worker.submit(int, "2")  # the queue is full: blocks until the first job ends
    worker.close()
    assert worker.waits == 1 and worker.results() == [True, 1, 2]


@pytest.mark.parametrize("kind", ["thread", "processes"])
def test_a_failure_on_the_worker_is_counted_not_lost(tmp_path: Path, kind: str) -> None:
    """An image whose pixels are not its header's size fails on the worker, not one of the
    failures make_products expects: a fault, and the image still listed, then the next one made."""
    faults = FaultLog(logging.getLogger("test"))
    worker = _worker(kind)
    writer = ProductWriter(tmp_path, faults, worker=worker)
    good = _image()
    writer.write(ReassembledImage(good.header, PIXELS[:-1], []))
    writer.write(good)
    writer.collect(wait=True)
    worker.close()
    assert faults.counts["image products not written"] == 1
    assert [bool(p.files) for p in writer.products] == [False, True]


def test_processes_results_come_in_the_order_given_and_a_full_queue_waits() -> None:
    """The second job ends first; its result still comes second. With two unfinished jobs at
    depth 2, a third submit waits (counted)."""
    worker = ProductProcesses(2, depth=2)
    worker.submit(time.sleep, 0.5)
    worker.submit(int, "7")
    worker.submit(int, "8")  # two unfinished (the sleep, and int if not yet run): may wait
    worker.wait()
    assert worker.results() == [None, 7, 8]
    worker.submit(time.sleep, 0.3)
    worker.submit(time.sleep, 0.3)
    worker.submit(int, "9")  # both processes busy: this one waits
    worker.close()
    assert worker.waits >= 1 and worker.results() == [None, None, 9]


def test_a_product_process_that_dies_costs_its_job_and_the_next_job_gets_new_processes() -> None:
    worker = ProductProcesses(1)
    worker.submit(os._exit, 3)  # the process ends without a result
    worker.wait()
    worker.submit(int, "1")
    worker.close()
    first, second = worker.results()
    assert isinstance(first, BrokenProcessPool) and second == 1


ORPHAN_SCRIPT = """
import sys, time
from groundstation.product_worker import ProductProcesses
worker = ProductProcesses(1)
worker.submit(__import__("os").getpid)
worker.wait()
print(worker.results()[0], flush=True)
worker.submit(time.sleep, 120)
time.sleep(120)
"""


def test_product_processes_end_when_the_station_is_killed() -> None:
    import signal
    import subprocess
    import sys

    station = subprocess.Popen([sys.executable, "-c", ORPHAN_SCRIPT], stdout=subprocess.PIPE, text=True)
    try:
        assert station.stdout is not None
        child = int(station.stdout.readline())
        os.kill(station.pid, signal.SIGKILL)
        station.wait(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _running(child):
            time.sleep(0.1)
        assert not _running(child), "the product process outlived its station"
    finally:
        station.kill()
        station.wait(10)


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's zombie waits for whoever reaps it here)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"
