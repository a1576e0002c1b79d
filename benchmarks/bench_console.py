"""What the web console costs the station: throughput without a browser and with one subscribed to
every parameter, in the same run.

    .venv/bin/python benchmarks/bench_console.py [--seconds 6] [--rounds 3]

A pass is recorded once (``paleblue run --record``); then, rounds alternating, it is replayed in a
loop at full speed (``paleblue replay --loop --speed max``) into ``paleblue ground --web`` (API,
archive and console on in both setups) with no browser, and with Debian's chromium (headless,
selenium) showing the console and subscribed, through the console's own client, to every parameter
of the dictionary and every station counter. Figures: octets the station received per second of
wall time, and per second of the ground process's CPU time (its station thread and its API thread
together: /proc/PID/stat), over ``--seconds`` after a 2 s warm-up; best of ``--rounds``. Needs
``make web``, /usr/bin/chromium and /usr/bin/chromedriver.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration.conftest import PALEBLUE, SCENARIO, free_endpoint  # noqa: E402

MB = 1_000_000


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def announced(log: Path, what: str, timeout_s: float = 60) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for line in log.read_text(errors="replace").splitlines():
            if what in line:
                return line.split(what, 1)[1].split()[0]
        time.sleep(0.05)
    raise SystemExit(f"never announced {what!r}: {log.read_text()[-1000:]}")


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,860",
                 "--enable-unsafe-swiftshader"):  # fmt: skip
        options.add_argument(flag)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


SUBSCRIBE_ALL = """
const done = arguments[arguments.length - 1];
fetch('/api/dictionary').then((a) => a.json()).then((d) => {
  const names = [...d.parameters.map((p) => p.name), ...d.station_parameters];
  const seen = () => (window.pbSeen = (window.pbSeen || 0) + 1);
  names.forEach((name) => window.paleblueApi.subscribe(name, seen));
  done(names.length);
});
"""


def measure(recording: Path, work: Path, driver, seconds: float) -> tuple[float, float, int]:
    endpoint, log = free_endpoint(), work / "ground.log"
    with open(log, "w") as err:
        ground = subprocess.Popen([*PALEBLUE, "ground", "--downlink", endpoint, "-o", str(work / "out"),
                                   "--expect-images", "100000", "--timeout", "300", "--web", "--api", "0"],
                                  stdout=subprocess.DEVNULL, stderr=err)  # fmt: skip
    replay = None
    try:
        url = announced(log, "console on ").rstrip("/")
        subscribed = 0
        if driver is not None:
            driver.get(url + "/#/browse/paleblue:root/paleblue:overview")
            deadline = time.monotonic() + 30
            while not driver.execute_script("return window.paleblueReady === true && !!window.paleblueApi"):
                if time.monotonic() > deadline:
                    raise SystemExit("the console did not start")
                time.sleep(0.1)
            subscribed = driver.execute_async_script(SUBSCRIBE_ALL)
        loop = [*PALEBLUE, "replay", str(recording), "--to", endpoint, "--loop", "--speed", "max"]
        replay = subprocess.Popen(loop, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(2.0)

        def octets() -> int:
            return httpx.get(f"{url}/api/status", timeout=30).json()["station"]["octets_received"]

        o0, t0, c0 = octets(), time.monotonic(), cpu_seconds(ground.pid)
        time.sleep(seconds)
        o1, t1, c1 = octets(), time.monotonic(), cpu_seconds(ground.pid)
        if driver is not None:
            assert driver.execute_script("return window.pbSeen || 0") > 0, "the browser received no update"
        return (o1 - o0) / (t1 - t0) / MB, (o1 - o0) / (c1 - c0) / MB, subscribed
    finally:
        for process in (replay, ground):
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from groundstation.api.console import ConsoleMissing, openmct_dist

    try:
        openmct_dist()
    except ConsoleMissing as exc:
        print(f"bench_console: skipped: {exc}")
        return
    if not (Path("/usr/bin/chromium").exists() and Path("/usr/bin/chromedriver").exists()):
        print("bench_console: skipped: needs /usr/bin/chromium and /usr/bin/chromedriver")
        return
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the start")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        recording = work / "pass.pbrec"
        live = [
            *PALEBLUE,
            "run",
            SCENARIO,
            "-o",
            str(work / "live"),
            "--seed",
            "4",
            "--record",
            str(recording),
        ]
        subprocess.run(live, check=True, capture_output=True, timeout=300)
        best: dict[str, tuple[float, float]] = {}
        driver = browser()
        names = 0
        try:
            for k in range(args.rounds):
                for setup in ("no browser", "browser subscribed to every parameter"):
                    folder = work / f"{k}-{len(best)}-{setup[:2]}"
                    folder.mkdir()
                    wall, cpu, subscribed = measure(
                        recording, folder, driver if setup.startswith("browser") else None, args.seconds
                    )
                    names = max(names, subscribed)
                    old = best.get(setup, (0.0, 0.0))
                    best[setup] = (max(old[0], wall), max(old[1], cpu))
        finally:
            driver.quit()
    base_cpu = best["no browser"][1]
    print(f"station throughput, ground --web, best of {args.rounds} ({args.seconds:.0f} s each):")
    print(f"{'setup':<42} {'MB/s (wall)':>12} {'MB per CPU s':>13} {'CPU: slower':>12}")
    for setup, (wall, cpu) in best.items():
        slower = "" if setup == "no browser" else f"{100 * (1 - cpu / base_cpu):.1f} %"
        label = setup if setup == "no browser" else f"{setup} ({names})"
        print(f"{label:<42} {wall:>12.2f} {cpu:>13.2f} {slower:>12}")
    print(f"load average {os.getloadavg()[0]:.1f} at the end (target: the browser costs <= 20 %)")


if __name__ == "__main__":
    main()
