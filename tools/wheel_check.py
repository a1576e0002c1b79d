"""The wheel works on its own: ``python tools/wheel_check.py [--work DIR] [--keep]`` (``make wheel-check``).

1. copies the source tree (without virtual environments, build leftovers or caches: a stale
   ``build/lib`` would otherwise slip deleted modules into the wheel) and builds the wheel from it
   with ``pip wheel --no-deps``;
2. installs that wheel into a fresh virtual environment (no system site packages) outside the
   checkout, its dependencies from pip's configured index and cache;
3. from a directory outside the checkout, with no ``PYTHONPATH``: ``paleblue scenarios`` lists the
   11 seeds; ``paleblue mdb check`` passes on the installed database; ``paleblue run
   tianwen1-2020-07-27`` delivers the Tianwen-1 images, CRC ok; ``paleblue cmd PING --wait``
   completes against a running ``paleblue probe``.

Prints one line per step with its time; exit 0 when every check passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEEDS = 11
SCENARIO = "tianwen1-2020-07-27"
IGNORED = (".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", "out", ".pytest_cache",
           ".ruff_cache", ".hypothesis", "fuzz-out", "bench-out", "*.pbrec")  # fmt: skip


class CheckFailed(Exception):
    """One check did not hold: the line says which and why."""


def _run(argv: list[str], cwd: Path, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        said = (result.stderr.strip() or result.stdout.strip()).splitlines()[-5:]
        raise CheckFailed(f"{' '.join(argv[:3])}... exited {result.returncode}: " + " | ".join(said))
    return result


def _clean_env() -> dict[str, str]:
    """The environment of a user who never saw the checkout: no PYTHONPATH, no seed override."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PALEBLUE_SEEDS", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def build_wheel(work: Path, env: dict[str, str]) -> Path:
    source = work / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*IGNORED))
    dist = work / "dist"
    _run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-q", "-w", str(dist)],
        work,
        env,
        600,
    )
    (wheel,) = dist.glob("paleblue-*.whl")
    return wheel


def install(wheel: Path, work: Path, env: dict[str, str]) -> Path:
    venv = work / "venv"
    base = getattr(sys, "_base_executable", sys.executable)  # not this venv's site-packages
    _run([base, "-m", "venv", str(venv)], work, env, 300)
    python = venv / "bin" / "python"
    _run([str(python), "-m", "pip", "install", "-q", str(wheel)], work, env, 1200)
    return venv / "bin"


def check_installed_copy(bin_dir: Path, cwd: Path, env: dict[str, str]) -> str:
    code = "import emulator, groundstation, paleblue, protocols; print(protocols.__file__)"
    where = _run([str(bin_dir / "python"), "-c", code], cwd, env, 120).stdout.strip()
    if Path(where).resolve().is_relative_to(ROOT):
        raise CheckFailed(f"protocols imported from the checkout ({where}), not the wheel")
    return where


def check_scenarios(bin_dir: Path, cwd: Path, env: dict[str, str]) -> int:
    lines = _run([str(bin_dir / "paleblue"), "scenarios"], cwd, env, 120).stdout.splitlines()
    rows = [line for line in lines[1:] if line.strip()]
    if len(rows) != SEEDS:
        raise CheckFailed(f"paleblue scenarios listed {len(rows)} seeds, not {SEEDS}: {lines}")
    return len(rows)


def check_mission_db(bin_dir: Path, cwd: Path, env: dict[str, str]) -> str:
    code = "from protocols.mdb.mission_db import DEFAULT_DIRECTORY; print(DEFAULT_DIRECTORY)"
    directory = _run([str(bin_dir / "python"), "-c", code], cwd, env, 120).stdout.strip()
    return _run([str(bin_dir / "paleblue"), "mdb", "check", directory], cwd, env, 120).stdout.strip()


def check_run(bin_dir: Path, cwd: Path, env: dict[str, str]) -> str:
    out = cwd / "pass"
    _run([str(bin_dir / "paleblue"), "run", SCENARIO, "-o", str(out)], cwd, env, 600)
    summary = json.loads((out / "summary.json").read_text())
    images = summary["images"]
    if not images or not all(p["crc_ok"] and p["complete"] for p in images):
        raise CheckFailed(f"paleblue run {SCENARIO}: images {images}")
    missing = [
        p["image_id"] for p in images if not (out / Path(p["files"].get("quicklook", "-")).name).is_file()
    ]
    if missing:  # run exits 0 only with every image of the scenario complete and its CRC ok
        raise CheckFailed(f"paleblue run {SCENARIO}: no quick-look file {missing}")
    return f"{len(images)} image(s), CRC ok, in {out}"


def _free_endpoint() -> str:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


@contextlib.contextmanager
def _probe(bin_dir: Path, cwd: Path, env: dict[str, str], downlink: str, uplink: str) -> Iterator[None]:
    argv = [str(bin_dir / "paleblue"), "probe", SCENARIO, "--downlink", downlink, "--uplink", uplink]
    log = open(cwd / "probe.log", "w")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()


def check_command(bin_dir: Path, cwd: Path, env: dict[str, str]) -> str:
    downlink, uplink = _free_endpoint(), _free_endpoint()
    with _probe(bin_dir, cwd, env, downlink, uplink):
        argv = [str(bin_dir / "paleblue"), "cmd", "PING", "--downlink", downlink, "--uplink", uplink,
                "--wait", "--timeout", "120"]  # fmt: skip
        said = _run(argv, cwd, env, 180).stdout.strip()
    if "completed" not in said:
        raise CheckFailed(f"paleblue cmd PING --wait: {said}")
    return said


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--work", type=Path, default=None, help="work directory (default: a new temporary one)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="paleblue-wheel-", dir=args.work))
    if work.resolve().is_relative_to(ROOT):
        parser.error(f"{work} is inside the checkout; the check must run outside it")
    env = _clean_env()
    cwd = work / "user"
    cwd.mkdir()
    started = time.monotonic()
    try:
        wheel = _step("build", lambda: build_wheel(work, env))
        bin_dir = _step("install", lambda: install(wheel, work, env))
        _step("import", lambda: check_installed_copy(bin_dir, cwd, env))
        _step("scenarios", lambda: f"{check_scenarios(bin_dir, cwd, env)} seeds")
        _step("mdb check", lambda: check_mission_db(bin_dir, cwd, env))
        _step("run", lambda: check_run(bin_dir, cwd, env))
        _step("cmd", lambda: check_command(bin_dir, cwd, env))
    except (CheckFailed, subprocess.TimeoutExpired) as exc:
        print(f"wheel check FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"wheel check passed in {time.monotonic() - started:.0f} s")
    return 0


def _step(name: str, action):
    started = time.monotonic()
    result = action()
    print(f"{name:<10} {time.monotonic() - started:6.1f} s  {result}", flush=True)
    return result


if __name__ == "__main__":
    sys.exit(main())
