"""The ``paleblue`` command line: one entry point, a sub-command per job.

Heavy modules are imported inside each command so that ``paleblue ground``
never loads the renderer and ``--help`` answers at once.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from paleblue import __version__, archive_cli

DEFAULT_DOWNLINK = "tcp://127.0.0.1:5550"
DEFAULT_UPLINK = "tcp://127.0.0.1:5551"
CURVE_HELP = "ZeroMQ CURVE certificates (`paleblue keys curve DIR`): encrypted sockets, known clients only"
KEYS_HELP = "SDLS key directory (`paleblue keys generate DIR`): TCs only in authenticated TC frames"


class CliError(Exception):
    """A user error: printed as one line, exit status 2."""


def _setup_logging(name: str, verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format=f"%(asctime)s {name}: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handler(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


class Interrupted(Exception):
    """SIGINT or SIGTERM arrived: the command stops at a safe point and exits 128 + the signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class _Interrupts:
    """SIGINT/SIGTERM raise :class:`Interrupted` at once, except inside :meth:`hold` (writing a
    file): there the first one waits for the block to end. Later signals are ignored: the command
    is already stopping."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.progress = "nothing written"  # what is complete, for the one line an interrupt prints
        self._held = 0
        signal.signal(signal.SIGINT, self._handler)
        signal.signal(signal.SIGTERM, self._handler)

    def _handler(self, signum: int, frame: object) -> None:
        if self.signum is not None:
            return
        self.signum = signum
        if not self._held:
            raise Interrupted(signum)

    @contextlib.contextmanager
    def hold(self):
        self._held += 1
        try:
            yield
        finally:
            self._held -= 1
        if not self._held and self.signum is not None:
            raise Interrupted(self.signum)


def _load_scenario(name: str):
    from emulator.scenario import ScenarioError, load_scenario

    try:
        return load_scenario(name)
    except ScenarioError as exc:
        raise CliError(str(exc)) from None


# -- commands -------------------------------------------------------------------------------------
def _list_scenarios():
    from emulator.scenario import ScenarioError, list_scenarios

    try:
        return list_scenarios()
    except ScenarioError as exc:
        raise CliError(str(exc)) from None


def cmd_scenarios(args: argparse.Namespace) -> int:
    rows = [
        (s.name, s.epoch_utc.date().isoformat(), s.spacecraft, s.camera_name, f"{s.range_km:,.0f} km")
        for s in _list_scenarios()
    ]
    header = ("name", "date", "spacecraft", "camera", "range to Earth")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    interrupts = _Interrupts()  # first: Ctrl-C even during the imports below is one line
    try:
        return _render(args, interrupts)
    except Interrupted as exc:
        print(f"paleblue: render: interrupted by {exc}; {interrupts.progress}", file=sys.stderr)
        return 128 + exc.signum


def _render(args: argparse.Namespace, interrupts: _Interrupts) -> int:
    """Render, write each scenario's products whole (a signal waits for the files), then the sheet."""
    from emulator.colour import write_capture_products
    from emulator.render import render_bands

    if args.all:
        scenarios = _list_scenarios()
    elif args.scenario:
        scenarios = [_load_scenario(args.scenario)]
    else:
        raise CliError("render: name a SCENARIO or give --all")
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    rendered = []
    for scenario in scenarios:
        frames = render_bands(scenario, seed=args.seed)
        with interrupts.hold():
            files = write_capture_products(frames, out, scenario.name, _json_ready)
            rendered.append((scenario.name, frames if len(frames) > 1 else next(iter(frames.values()))))
            interrupts.progress = f"{len(rendered)} of {len(scenarios)} scenario(s) written whole to {out}"
            print(f"{scenario.name}: " + ", ".join(str(p) for p in files.values()), flush=True)
    if args.all:
        from emulator.contact_sheet import write_contact_sheet

        with interrupts.hold():
            sheet = write_contact_sheet(rendered, out / "contact-sheet.png")
            print(f"contact sheet: {sheet}")
    return 0


def _json_ready(value: object) -> object:
    from emulator.probe import json_ready

    return json_ready(value)


def _channel(name: str):
    """A channel preset by name or a channel file; 'none' means bare space packets without frames."""
    from protocols.channel_file import load_channel

    if name == "none":
        return None
    try:
        return load_channel(name).config
    except ValueError as exc:
        raise CliError(str(exc)) from None


def _overrides(args: argparse.Namespace):
    """The channel override flags as a function of the base channel (None when none are given)."""
    from protocols.channel_file import with_overrides

    given = {
        "spacecraft_id": getattr(args, "scid", None),
        "fecf": False if getattr(args, "no_fecf", False) else None,
        "ocf": False if getattr(args, "no_ocf", False) else None,
        "rs": getattr(args, "rs", None),
        "randomizer": False if getattr(args, "no_randomizer", False) else None,
        "frame_length": getattr(args, "frame_length", None),
    }
    given = {k: v for k, v in given.items() if v is not None}
    if not given:
        return None

    def apply(config):
        try:
            return with_overrides(config, **given)
        except ValueError as exc:
            raise CliError(
                f"{args.command}: --channel {args.channel or 'tm-rs-i5'} with the overrides: {exc}"
            ) from None

    return apply


def _resolve_channel(args: argparse.Namespace):
    """--channel NAME|FILE (default tm-rs-i5) with the override flags applied; None = bare packets."""
    name = args.channel or "tm-rs-i5"
    config = _channel(name)
    apply = _overrides(args)
    if apply is None:
        return config
    if config is None:
        raise CliError(f"{args.command}: --channel none carries no frames, so it takes no channel overrides")
    return apply(config)


def _channel_argv(args: argparse.Namespace) -> list[str]:
    """The channel flags again, for a child process (paleblue run)."""
    argv = ["--channel", args.channel or "tm-rs-i5"]
    if args.scid is not None:
        argv += ["--scid", str(args.scid)]
    if args.rs is not None:
        e, i, dual = args.rs
        argv += ["--rs", f"{e}/{i}/{'dual' if dual else 'conventional'}" if e else "none"]
    if args.frame_length is not None:
        argv += ["--frame-length", str(args.frame_length)]
    for flag in ("no_fecf", "no_ocf", "no_randomizer"):
        if getattr(args, flag):
            argv.append("--" + flag.replace("_", "-"))
    return argv


def cmd_probe(args: argparse.Namespace) -> int:
    from emulator.probe import Probe, ProbeOptions

    _setup_logging("probe", args.verbose)
    scenario = _load_scenario(args.scenario)
    channel = _resolve_channel(args)
    stop = _stop_on_signals()
    options = ProbeOptions(
        downlink=args.downlink,
        seed=args.seed,
        exit_after_downlink=args.exit_after_downlink,
        channel=channel,
        rate_bps=args.rate,
        bit_error_rate=args.inject_ber,
        uplink=args.uplink,
        delivery=args.delivery or ("cfdp" if args.link else "packets"),
        cfdp_class=args.cfdp_class,
        compression=_compression(args.compress),
        link_profile=_link_profile(args.link, args.time_scale, scenario.range_km),
        time_scale=args.time_scale,
        subscribers=args.subscribers,
        security=_security(args.keys, "probe"),
        security_dir=Path(args.keys) if args.keys else None,
    )
    _curve(args.curve_keys, server=True)
    return Probe(scenario, options).run(stop)


_AUTHENTICATORS: list = []  # the probe's ZAP authenticator lives as long as the process


def _curve(directory: str | None, server: bool) -> None:
    """--curve-keys: every ZeroMQ socket this process opens is a CURVE server (probe) or client."""
    if directory is None:
        return
    import zmq

    from protocols.sdls.keystore import KeyFileError
    from transport.curve import connect_curve, serve_curve

    try:
        if server:
            _AUTHENTICATORS.append(serve_curve(zmq.Context.instance(), Path(directory)))
        else:
            connect_curve(zmq.Context.instance(), Path(directory))
    except KeyFileError as exc:
        raise CliError(f"curve: {exc}") from None


def _security(directory: str | None, role: str):
    """The SDLS context from a key directory (None without one); a bad key file is a usage error."""
    if directory is None:
        return None
    from protocols.sdls.keystore import KeyFileError, load_context

    try:
        return load_context(Path(directory), role)
    except KeyFileError as exc:
        raise CliError(f"keys: {exc}") from None


def cmd_keys(args: argparse.Namespace) -> int:
    """`keys generate DIR`: fresh AES-256 keys (0600) and the SA definitions; `keys show DIR`: the SAs."""
    from protocols.sdls.keystore import KeyFileError, generate, load_context

    directory = Path(args.directory)
    try:
        if args.action == "curve":
            from transport.curve import generate_curve_keys

            generate_curve_keys(directory, force=args.force)
            print(
                f"curve: server and ground certificates in {directory} (secrets 0600; clients in authorized/)"
            )
            return 0
        if args.action == "generate":
            path = generate(directory, key_count=args.count, force=args.force)
            sas = directory / "associations.json"
            print(f"keys: {args.count} AES-256 keys in {path} (mode 0600); SAs in {sas}")
            return 0
        context = load_context(directory, "ground", links=("tc", "tm", "aos"))
    except (KeyFileError, OSError) as exc:
        raise CliError(f"keys: {exc}") from None
    for spi, sa in sorted(context.sas.items()):
        st = context.status(spi)
        print(f"SPI {spi}: {sa.link} VC {sa.vcid}, {sa.service.value}, key {st.key_id}, IV {sa.iv_length}, "
              f"SN {sa.sn_length}, MAC {sa.mac_length}, window {sa.window}, mask {sa.auth_mask.hex()}, "
              f"ground ARSN {st.arsn}")  # fmt: skip
    return 0


def _compression(name: str):
    from protocols.image_file import Compression

    return Compression.CCSDS121 if name == "ccsds121" else Compression.NONE


def _link_profile(name: str | None, time_scale: float, range_km: float):
    if name is None:
        return None
    from emulator.link_simulator import profile

    return profile(name, time_scale=time_scale, range_km=range_km)


def cmd_ground(args: argparse.Namespace) -> int:
    from groundstation.receiver import run_ground_station

    _setup_logging("ground", args.verbose)
    _curve(args.curve_keys, server=False)
    stop = _stop_on_signals()
    with contextlib.ExitStack() as stack:
        on_message = None
        if args.record:
            on_message = _recording_hook(stack, Path(args.record), args)
        summary = _run_ground(run_ground_station, args, stop, on_message)
    brief = {k: summary[k] for k in ("transport", "packets_by_apid", "faults")}
    brief["link"] = summary["link"]["cadu"]["physical"]
    print(json.dumps(brief, indent=2))
    if args.expect_images is not None and len(summary["images"]) < args.expect_images:
        return 1
    return 0


def _recording_hook(stack: contextlib.ExitStack, path: Path, args: argparse.Namespace):
    """Record every received message, exactly as received, before the station processes it."""
    from groundstation.recorder import RecordingWriter
    from protocols.channel_file import channel_to_dict
    from protocols.errors import DecodeError

    if path.exists():
        raise CliError(f"ground: {path} exists; a recording is never overwritten")
    channel = _resolve_channel(args)
    config = {"channel": args.channel or "tm-rs-i5", "downlink": args.downlink}
    if channel is not None:  # decode uses it unless told otherwise
        config["channel_config"] = channel_to_dict(channel)
    writer = stack.enter_context(RecordingWriter(path, scenario=args.scenario or "", config=config))
    log = logging.getLogger("paleblue.ground")

    def hook(parts: list[bytes], receive_ns: int) -> None:
        if len(parts) != 3:
            return  # counted by the station as malformed; the format records whole messages only
        try:
            writer.write("downlink", parts[0], parts[1], parts[2], receive_ns)
        except (DecodeError, ValueError) as exc:
            log.warning("not recorded (malformed): %s", exc)

    return hook


def _archive_api_options(p: argparse.ArgumentParser, api: bool = True) -> None:
    p.add_argument(
        "--archive",
        default=None,
        metavar="FILE",
        help="keep every parameter, event, alarm, command stage and image in this archive (created or "
        "continued; see `paleblue archive`)",
    )
    if api:
        p.add_argument(
            "--api",
            default=None,
            metavar="[HOST:]PORT",
            help="serve the HTTP + WebSocket API here (127.0.0.1 unless a host is given; port 0: any free)",
        )
        p.add_argument(
            "--api-token",
            default=None,
            metavar="TOKEN",
            help="the operator token commands need (default: a new one, printed at start)",
        )


def _services(args: argparse.Namespace):
    """``attach(station, send_uplink)`` for --archive and --api, checked before anything starts."""
    archive = getattr(args, "archive", None)
    api = getattr(args, "api", None)
    if archive is None and api is None:
        return None
    from groundstation.api.server import parse_address
    from groundstation.archive import ArchiveError, ArchiveWriter
    from groundstation.archiving import open_services

    address = None
    if api is not None:
        try:
            address = parse_address(api)
        except ValueError as exc:
            raise CliError(f"--api: {exc}") from None
    if archive is not None:
        try:
            ArchiveWriter(archive).close()  # a file that is not an archive: one line, before any socket
        except ArchiveError as exc:
            raise CliError(f"--archive: {exc}") from None

    def attach(station, send_uplink=None):
        return open_services(
            station,
            send_uplink,
            archive_path=archive,
            api_address=address,
            token=getattr(args, "api_token", None),
            announce=lambda line: print(line, file=sys.stderr, flush=True),
        )

    return attach


def _decode_services(args: argparse.Namespace):
    attach = _services(args)
    return None if attach is None else (lambda station: attach(station, None))


def cmd_serve(args: argparse.Namespace) -> int:
    """``paleblue serve ARCHIVE``: the API over a finished (or replayed) pass, until Ctrl-C."""
    from groundstation.api.app import ApiContext
    from groundstation.api.dictionary import build_dictionary
    from groundstation.api.server import ApiServer, parse_address
    from groundstation.archive import Archive, ArchiveError
    from protocols.mission_db import load_mission_db

    try:
        host, port = parse_address(args.api)
    except ValueError as exc:
        raise CliError(f"serve: --api: {exc}") from None
    try:
        with Archive(args.archive) as archive:
            station_parameters = [p.name for p in archive.parameters("station.*")]
    except ArchiveError as exc:
        raise CliError(f"serve: {exc}") from None
    products = Path(args.products) if args.products else Path(args.archive).resolve().parent
    context = ApiContext(
        dictionary=build_dictionary(load_mission_db(), station_parameters),
        archive_path=Path(args.archive),
        products_dir=products,
    )
    stop = _stop_on_signals()
    server = ApiServer(context, host, port)
    url = server.start()
    print(f"serving {args.archive} on {url} (Ctrl-C to stop)", file=sys.stderr, flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


def _run_ground(run_ground_station, args: argparse.Namespace, stop: threading.Event, on_message) -> dict:
    return run_ground_station(
        args.downlink,
        Path(args.output),
        stop,
        expect_images=args.expect_images,
        timeout_s=args.timeout,
        channel=_resolve_channel(args),
        uplink=args.uplink,
        round_trip_s=args.rtt,
        link_rate_bps=args.link_rate,
        on_message=on_message,
        receive_queue=args.receive_queue,
        attach=_services(args),
    )


def cmd_cmd(args: argparse.Namespace) -> int:
    """Send one telecommand to a running probe; with --wait, exit 0 only on completion."""
    from groundstation.command_link import open_command_client
    from groundstation.commanding import (
        CommandEncoder,
        CommandError,
        CommandFailed,
        CommandState,
        CommandTimeout,
        parse_arguments,
    )
    from protocols.mission_db import load_mission_db
    from protocols.sdls import ArsnExhausted, SaManagementError

    mdb = load_mission_db()
    try:
        arguments = parse_arguments(mdb, args.name, args.arguments)
        CommandEncoder(mdb).encode(args.name, arguments, 0)  # every check, before any socket opens
    except CommandError as exc:
        raise CliError(f"cmd: {exc}") from None
    channel = _channel(args.channel)
    security = _security(args.keys, "ground")
    if security is not None and security.sending_sa("tc", mdb.tc_virtual_channel) is None:
        raise CliError(
            f"cmd: SDLS: no operational SA on TC virtual channel {mdb.tc_virtual_channel} in {args.keys}"
        )
    _curve(args.curve_keys, server=False)
    on_sent = None
    if security is not None:
        from protocols.sdls.keystore import save_arsn

        def on_sent(context) -> None:
            save_arsn(Path(args.keys), "ground", context)

    try:
        with open_command_client(
            args.uplink, args.downlink, channel, mdb, args.timeout, security, on_sent
        ) as client:
            if not args.wait:
                record = client.send_command(args.name, arguments)
                print(f"{args.name}: sent (request {record.request_id})")
                return 0
            try:
                record = client.send_and_assert_command(args.name, arguments, args.timeout)
            except CommandFailed as exc:
                record = exc.record
                stage = "acceptance" if record.state is CommandState.REJECTED else "completion"
                print(f"{args.name}: {record.state.value} at {stage}: {record.failure}", file=sys.stderr)
                return 1
            except CommandTimeout as exc:
                print(f"{args.name}: {exc}", file=sys.stderr)
                return 3
    except TimeoutError as exc:
        raise CliError(f"cmd: {exc}") from None
    except (SaManagementError, ArsnExhausted) as exc:  # no operational SA, or its ARSN used up
        raise CliError(f"cmd: SDLS: {exc}") from None
    steps = " -> ".join(state.value for state, _ in record.transitions) or record.state.value
    print(f"{args.name}: {steps}")
    if security is not None and args.name.startswith("SDLS_") and args.name in mdb.command_by_name:
        status = security.manage(args.name, arguments)  # the ground's copy of the SA follows the probe's
        on_sent(security)
        print(f"SA {status.spi}: {status.state.name}, key {status.key_id}, ARSN {status.arsn} (ground)")
    return 0


def cmd_record(args: argparse.Namespace) -> int:
    """A passive tap beside a running ground station: every message, exactly as received."""
    from groundstation.recorder import record

    _setup_logging("record", args.verbose)
    path = Path(args.output)
    if path.exists():
        raise CliError(f"record: {path} exists; a recording is never overwritten")
    config = {"downlink": args.downlink, "uplink": args.uplink}
    if args.channel is not None or _overrides(args) is not None:  # the tap does not decode: only noted
        from protocols.channel_file import channel_to_dict

        channel = _resolve_channel(args)
        config["channel"] = args.channel or "tm-rs-i5"
        if channel is not None:
            config["channel_config"] = channel_to_dict(channel)
    stop = _stop_on_signals()
    header = {"scenario": args.scenario or "", "config": config}
    stats = record(args.downlink, args.uplink, path, stop, header)
    print(json.dumps(stats.__dict__, indent=2))
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    """Publish a recording as if it were live."""
    from groundstation.recording_reader import RecordingReader
    from groundstation.replay import parse_start_time, replay
    from protocols.errors import DecodeError

    _setup_logging("replay", args.verbose)
    path = Path(args.file)
    if not path.is_file():
        raise CliError(f"replay: {path}: no such file")
    speed = None if args.speed == "max" else float(args.speed)
    if speed is not None and not speed > 0:
        raise CliError(f"replay: --speed must be a positive number or 'max', not {args.speed}")
    stop = _stop_on_signals()
    try:
        start = None
        if args.from_time:
            with RecordingReader(path) as reader:
                start = parse_start_time(args.from_time, reader.header)
        stats = replay(path, args.to, speed=speed, start_time_ns=start, loop=args.loop, stop=stop)
    except DecodeError as exc:
        raise CliError(f"replay: {path}: {exc}") from None
    except ValueError as exc:
        raise CliError(f"replay: {exc}") from None
    for skipped in stats.skipped:
        print(
            f"replay: skipped {skipped.length} octets at {skipped.offset}: {skipped.reason}", file=sys.stderr
        )
    print(f"replay: sent {stats.sent} messages ({stats.payload_bytes} octets) in {stats.passes} pass(es)")
    return 0


def cmd_fuzz(args: argparse.Namespace) -> int:
    """``paleblue fuzz ...``: the fuzzers' own command line (fuzzing)."""
    from fuzzing.__main__ import main as fuzz_main

    return fuzz_main(args.fuzz_arguments, prog="paleblue fuzz")


def cmd_decode(args: argparse.Namespace) -> int:
    """Exit 0 decoded, 1 decoded with faults, 2 usage error, 3 nothing recognised."""
    from groundstation.decode import decode_file, exit_code, print_table
    from protocols.atomic_file import write_atomically
    from protocols.errors import DecodeError

    path = Path(args.file)
    if path.is_dir():
        raise CliError(f"decode: {path} is a directory, not a file")
    if not path.is_file():
        raise CliError(f"decode: {path}: no such file")
    channel = None if args.channel in (None, "none") else _channel(args.channel)
    overrides = _overrides(args)
    if overrides is not None:
        overrides(channel or _channel("tm-rs-i5"))  # an impossible combination is a usage error now
    _setup_logging("decode", args.verbose)
    if not args.verbose:
        logging.getLogger("paleblue").setLevel(logging.ERROR)
    progress = _progress_bar("decode") if sys.stderr.isatty() else None
    try:
        summary = decode_file(
            path,
            Path(args.output),
            args.format,
            channel,
            Path(args.export_packets) if args.export_packets else None,
            progress,
            write_products=not args.no_products,
            channel_name=args.channel,
            overrides=overrides,
            attach=_decode_services(args),
        )
    except DecodeError as exc:
        raise CliError(f"decode: {path}: {exc}") from None
    if progress is not None:
        print(file=sys.stderr)
    write_atomically(Path(args.output) / "summary.json", json.dumps(summary, indent=2) + "\n")
    if summary["input"]["format"] is None:
        print(
            f"paleblue: decode: {path}: nothing recognised: {summary['input']['detection']}", file=sys.stderr
        )
        return exit_code(summary)
    print_table(summary)
    return exit_code(summary)


def _progress_bar(label: str):
    """A one-line progress bar on the terminal, redrawn at most ten times a second."""
    last = [0.0]

    def show(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] < 0.1 and done < total:
            return
        last[0] = now
        fraction = done / total if total else 1.0
        bar = "#" * int(fraction * 30)
        print(f"\r{label} [{bar:<30}] {fraction:6.1%} {done / 1e6:,.1f} MB", end="", file=sys.stderr)

    return show


def _free_tcp_endpoint() -> str:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


def _stop_process(process: subprocess.Popen, name: str, grace_s: float = 10.0) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(grace_s)
    except subprocess.TimeoutExpired:
        print(f"run: {name} did not stop in {grace_s:.0f} s; killing it", file=sys.stderr)
        process.kill()
        process.wait()


class _StderrRelay(threading.Thread):
    """Copies a child's stderr to ours, line by line, and keeps its last line (its own error)."""

    def __init__(self, stream) -> None:
        super().__init__(daemon=True)
        self._stream = stream
        self.last_line = ""

    def run(self) -> None:
        for line in self._stream:
            sys.stderr.write(line)
            sys.stderr.flush()
            if line.strip():
                self.last_line = line.strip()


def _relay_stderr(process: subprocess.Popen) -> _StderrRelay:
    relay = _StderrRelay(process.stderr)
    relay.start()
    return relay


def _supervise(ground: subprocess.Popen, probe: subprocess.Popen, deadline: float, poll_s: float = 0.1):
    """Wait for the ground station to finish; a probe that exits first ends the wait at once.

    Returns ``("probe", process)`` for a probe that ended first, else None (the ground station
    finished, or the deadline passed: then it is said, and the caller stops both).
    """
    while ground.poll() is None:
        if probe.poll() is not None:
            return ("probe", probe)
        if time.monotonic() > deadline:
            print("run: ground station did not finish; stopping it", file=sys.stderr)
            return None
        time.sleep(poll_s)
    return None


def cmd_run(args: argparse.Namespace) -> int:
    scenario = _load_scenario(args.scenario)
    _resolve_channel(args)  # an impossible channel is one line here, before any process starts
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    downlink = args.downlink or _free_tcp_endpoint()
    uplink = args.uplink or _free_tcp_endpoint()
    python = [sys.executable, "-m", "paleblue"]
    seed = [] if args.seed is None else ["--seed", str(args.seed)]
    ground_cmd = [
        *python,
        "ground",
        "--downlink",
        downlink,
        "-o",
        str(out),
        "--expect-images",
        str(scenario.image_count),
        "--timeout",
        str(args.timeout),
        *_channel_argv(args),
    ]
    probe_cmd = [
        *python,
        "probe",
        args.scenario,
        "--downlink",
        downlink,
        *seed,
        *_channel_argv(args),
        "--rate",
        str(args.rate),
        "--inject-ber",
        str(args.inject_ber),
        "--uplink",
        uplink,
        "--time-scale",
        str(args.time_scale),
        "--cfdp-class",
        str(args.cfdp_class),
        *(["--link", args.link] if args.link else []),
        *(["--delivery", args.delivery] if args.delivery else []),
        "--compress",
        args.compress,
    ]
    link_profile = _link_profile(args.link, args.time_scale, scenario.range_km)
    if link_profile is not None:
        down = link_profile.downlink
        round_trip = 2 * down.one_way_light_time_s * down.time_scale
        link_rate = down.data_rate_bps
    else:
        round_trip, link_rate = 0.2, args.rate
    ground_cmd += ["--uplink", uplink, "--rtt", f"{round_trip:.6f}", "--link-rate", str(link_rate)]
    if args.record:
        ground_cmd += ["--record", args.record, "--scenario", scenario.name]
    for flag in ("archive", "api", "api_token"):
        if getattr(args, flag) is not None:
            ground_cmd += [f"--{flag.replace('_', '-')}", getattr(args, flag)]
    if args.curve_keys:
        ground_cmd += ["--curve-keys", args.curve_keys]
        probe_cmd += ["--curve-keys", args.curve_keys]
    print(f"run: {scenario.name}: downlink {downlink}, uplink {uplink}", file=sys.stderr)
    started = time.monotonic()
    # its closing brief duplicates summary.json; a pipe nobody read would stall it past 64 KiB
    ground = subprocess.Popen(ground_cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    probe = subprocess.Popen(probe_cmd, stderr=subprocess.PIPE, text=True)
    relays = {"ground station": _relay_stderr(ground), "probe": _relay_stderr(probe)}
    early = None  # a child that ended before the ground station had its images
    try:
        early = _supervise(ground, probe, started + args.timeout + 30)
    except KeyboardInterrupt:
        pass
    finally:
        _stop_process(probe, "probe")
        _stop_process(ground, "ground station")
    for relay in relays.values():
        relay.join(5.0)
    if early is not None:
        name, process = early
        said = relays[name].last_line or "(it printed nothing)"
        print(f"run: the {name} exited early with status {process.returncode}: {said}", file=sys.stderr)
        return 1
    summary_path = out / "summary.json"
    if not summary_path.exists():
        said = relays["ground station"].last_line
        raise CliError(
            f"run: the ground station (status {ground.returncode}) wrote no summary in {out}"
            + (f": {said}" if said else "")
        )
    summary = json.loads(summary_path.read_text())
    images = summary["images"]
    print(f"run: finished in {time.monotonic() - started:.1f} s; products in {out.resolve()}")
    for p in images:
        state = (
            "complete, CRC ok" if p["crc_ok"] else ("complete, CRC FAILED" if p["complete"] else "INCOMPLETE")
        )
        if p.get("identical_to_onboard") is not None:
            state += ", sha256 " + ("= on board" if p["identical_to_onboard"] else "DIFFERS from on board")
        delivery = p.get("delivery", {})
        if delivery.get("goodput_bps"):
            fraction = delivery.get("goodput_fraction_of_link_rate") or 0
            state += (
                f", CFDP {delivery['duration_s']:.1f} s, {delivery['nak_rounds']} NAK rounds, goodput "
                f"{delivery['goodput_bps'] / 1e6:.2f} Mbit/s ({100 * fraction:.0f} % of the link rate)"
            )
        print(
            f"  image {p['image_id']}: {p['width']}x{p['height']} {p['bit_depth']}-bit, {state}, "
            f"sha256 {p['sha256'][:16]}…  {p['files'].get('quicklook')}"
        )
    print(f"  report: {out / 'report.md'}   summary: {summary_path}")
    print(f"  transport: {summary['transport']}")
    physical = summary["link"]["cadu"]["physical"]
    if physical["cadus"]:
        print(
            f"  link: {physical['cadus']} CADUs, {physical['frames_good']} frames good, "
            f"{physical['frames_corrected']} corrected ({physical['symbols_corrected']} RS symbols), "
            f"{physical['uncorrectable']} uncorrectable, {physical['crc_failures']} CRC failures"
        )
    print(f"  faults: {summary['faults'] or 'none'}")
    ok = len(images) >= scenario.image_count and all(p["crc_ok"] for p in images)
    return 0 if ok and ground.returncode == 0 else 1


# -- parser ---------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="paleblue",
        description="A deep-space probe photographs the Earth and Moon; a ground station receives them.",
    )
    parser.add_argument("--version", action="version", version=f"paleblue {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("scenarios", help="list the seed scenarios")
    p.set_defaults(func=cmd_scenarios)

    p = sub.add_parser("render", help="render a scenario's frame without any link")
    p.add_argument("scenario", nargs="?", metavar="SCENARIO", help="seed name or path to a scenario file")
    p.add_argument("--all", action="store_true", help="render every seed and write a contact sheet")
    p.add_argument("-o", "--output", required=True, metavar="DIR")
    p.add_argument("--seed", type=int, default=None, help="noise seed (default: the scenario's)")
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("probe", help="run the probe: render and downlink a scenario's images")
    p.add_argument("scenario", metavar="SCENARIO")
    p.add_argument("--downlink", default=DEFAULT_DOWNLINK, metavar="ENDPOINT", help="ZeroMQ endpoint to bind")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--exit-after-downlink", action="store_true", help="exit once every image is sent")
    _delivery_options(p)
    p.add_argument(
        "--uplink", default=DEFAULT_UPLINK, metavar="ENDPOINT", help="ZeroMQ endpoint to bind for TCs"
    )
    _link_options(p)
    p.add_argument(
        "--subscribers",
        type=_positive_int,
        default=1,
        metavar="N",
        help="wait for N downlink subscribers (a ground station and taps) before sending (default 1)",
    )
    p.add_argument("--keys", default=None, metavar="DIR", help=KEYS_HELP)
    p.add_argument("--curve-keys", default=None, metavar="DIR", help=CURVE_HELP)
    p.add_argument("-v", "--verbose", action="store_true")
    p.set_defaults(func=cmd_probe)

    p = sub.add_parser("ground", help="run the ground station: receive, decode, reassemble, write products")
    _archive_api_options(p)
    p.add_argument(
        "--downlink", default=DEFAULT_DOWNLINK, metavar="ENDPOINT", help="ZeroMQ endpoint to connect"
    )
    p.add_argument("-o", "--output", required=True, metavar="DIR")
    p.add_argument("--curve-keys", default=None, metavar="DIR", help=CURVE_HELP)
    p.add_argument(
        "--expect-images",
        type=_positive_int,
        default=None,
        metavar="N",
        help="exit after N images (default: run until stopped)",
    )
    p.add_argument(
        "--timeout", type=_positive_float, default=None, metavar="S", help="give up after S seconds"
    )
    _channel_options(p)
    p.add_argument(
        "--uplink",
        default=None,
        metavar="ENDPOINT",
        help="the probe's uplink, for CFDP replies (ACK, NAK, Finished); default: none",
    )
    p.add_argument(
        "--rtt",
        type=_positive_float,
        default=0.2,
        metavar="S",
        help="round-trip light time the CFDP timers allow for (default 0.2)",
    )
    p.add_argument(
        "--link-rate",
        type=_positive_float,
        default=None,
        metavar="BPS",
        help="configured downlink rate, to report goodput against",
    )
    p.add_argument("--record", default=None, metavar="FILE", help="record every received message to FILE")
    p.add_argument(
        "--receive-queue",
        type=_octets,
        default=None,
        metavar="SIZE",
        help="octets ZeroMQ may queue for the station before the probe is held back, with an optional "
        "k, M or G (KiB, MiB, GiB) (default 64M: 63 messages of the 1 MiB a message may hold at most; "
        "at least one message; smaller bounds memory, the probe then waits: nothing is dropped). "
        "A message over 1 MiB is refused, counted (transport.messages_refused) and the link "
        "reconnected",
    )
    p.add_argument("--scenario", default=None, help=argparse.SUPPRESS)  # written into the recording header
    p.add_argument("-v", "--verbose", action="store_true")
    p.set_defaults(func=cmd_ground)

    p = sub.add_parser("cmd", help="send a telecommand to a running probe and follow its verification")
    p.add_argument(
        "name", metavar="NAME", help="command name from the mission database (mdb/telecommands.toml)"
    )
    p.add_argument("arguments", nargs="*", metavar="ARG=VALUE")
    p.add_argument("--uplink", default=DEFAULT_UPLINK, metavar="ENDPOINT", help="the probe's uplink endpoint")
    p.add_argument("--downlink", default=DEFAULT_DOWNLINK, metavar="ENDPOINT", help="the probe's downlink")
    p.add_argument("--channel", default="tm-rs-i5", metavar="PRESET", help=CHANNEL_HELP)
    p.add_argument(
        "--wait", action="store_true", help="wait for acceptance and completion; exit 1 on failure"
    )
    p.add_argument("--timeout", type=_positive_float, default=30.0, metavar="S")
    p.add_argument("--keys", default=None, metavar="DIR", help=KEYS_HELP)
    p.add_argument("--curve-keys", default=None, metavar="DIR", help=CURVE_HELP)
    p.set_defaults(func=cmd_cmd)

    p = sub.add_parser(
        "keys", help="SDLS keys and SAs (generate DIR, show DIR); ZeroMQ CURVE keys (curve DIR)"
    )
    p.add_argument("action", choices=("generate", "show", "curve"), help="curve: ZeroMQ CURVE certificates")
    p.add_argument("directory", metavar="DIR")
    p.add_argument("--count", type=_positive_int, default=4, metavar="N", help="keys to generate (default 4)")
    p.add_argument("--force", action="store_true", help="overwrite existing keys")
    p.set_defaults(func=cmd_keys)

    p = sub.add_parser("record", help="record a downlink (and uplink) as a passive tap")
    p.add_argument("--downlink", default=DEFAULT_DOWNLINK, metavar="ENDPOINT")
    p.add_argument(
        "--uplink", default=None, metavar="ENDPOINT", help="also record this uplink (a PUB to tap)"
    )
    p.add_argument("-o", "--output", required=True, metavar="FILE")
    p.add_argument("--scenario", default=None, help="scenario name for the recording's header")
    _channel_options(p, default=None)  # written into the header, for decode; the tap itself decodes nothing
    p.add_argument("-v", "--verbose", action="store_true")
    p.set_defaults(func=cmd_record)

    p = sub.add_parser("replay", help="publish a recording as if it were live")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--to", required=True, metavar="ENDPOINT", help="endpoint to bind, as a probe would")
    p.add_argument("--speed", default="1", metavar="N|max", help="replay speed factor, or 'max'")
    p.add_argument(
        "--from",
        dest="from_time",
        default=None,
        metavar="TIME",
        help="start at +SECONDS from the start, an ISO 8601 UTC time, or nanoseconds",
    )
    p.add_argument("--loop", action="store_true", help="start again at the end, until stopped")
    p.add_argument("-v", "--verbose", action="store_true")
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser(
        "fuzz",
        help="fuzz the decoders (decoders), or a running ground station over ZeroMQ (stream)",
        add_help=False,
    )
    p.add_argument("fuzz_arguments", nargs=argparse.REMAINDER, metavar="decoders|stream|reproduce|list ...")
    p.set_defaults(func=cmd_fuzz)

    p = sub.add_parser("decode", help="decode a CADU, frame, packet or recording file offline")
    p.add_argument("file", metavar="FILE")
    _archive_api_options(p, api=False)
    p.add_argument("--format", choices=("auto", "cadu", "frames", "packets", "recording"), default="auto")
    _channel_options(p, default=None)
    p.add_argument("-o", "--output", required=True, metavar="DIR")
    p.add_argument(
        "--export-packets", metavar="FILE", help="write the extracted packets as a raw packet file"
    )
    p.add_argument(
        "--no-products", action="store_true", help="summary only: checksums and counts, no image files"
    )
    p.add_argument("-v", "--verbose", action="store_true")
    p.set_defaults(func=cmd_decode)

    p = sub.add_parser("run", help="run probe and ground station side by side as two processes")
    p.add_argument("scenario", nargs="?", default="tianwen1-2020-07-27", metavar="SCENARIO")
    _archive_api_options(p)
    p.add_argument("-o", "--output", required=True, metavar="DIR")
    p.add_argument("--downlink", default=None, metavar="ENDPOINT", help="default: a free port on 127.0.0.1")
    p.add_argument("--uplink", default=None, metavar="ENDPOINT", help="default: a free port on 127.0.0.1")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--timeout", type=_positive_float, default=120.0, metavar="S")
    p.add_argument("--curve-keys", default=None, metavar="DIR", help=CURVE_HELP)
    p.add_argument(
        "--record", default=None, metavar="FILE", help="the ground station records what it receives"
    )
    _link_options(p)
    _delivery_options(p)
    p.set_defaults(func=cmd_run)
    archive_cli.add_parser(sub, _positive_int)

    p = sub.add_parser("serve", help="serve a finished pass's archive over the API (history, images, alarms)")
    p.add_argument("archive", metavar="ARCHIVE")
    p.add_argument("--api", default="127.0.0.1:8080", metavar="[HOST:]PORT", help="where to listen")
    p.add_argument(
        "--products",
        default=None,
        metavar="DIR",
        help="where the pass's products are (default: beside ARCHIVE)",
    )
    p.set_defaults(func=cmd_serve)
    return parser


CHANNEL_HELP = (
    "channel preset name or channel file (TOML) (default tm-rs-i5: TM, RS(255,223) I=5, randomized); "
    "'none' = bare packets"
)


def _channel_options(p: argparse.ArgumentParser, default: str | None = "tm-rs-i5") -> None:
    """--channel NAME|FILE and the overrides of its parameters."""
    help_text = CHANNEL_HELP
    if default is None:
        help_text += " (decode: by default a recording's own channel, else what --format auto finds)"
    p.add_argument("--channel", default=default, metavar="NAME|FILE", help=help_text)
    p.add_argument("--scid", type=lambda t: int(t, 0), default=None, metavar="ID", help="spacecraft id")
    p.add_argument("--no-fecf", action="store_true", help="frames without a frame error control field")
    p.add_argument("--no-ocf", action="store_true", help="frames without an operational control field")
    p.add_argument(
        "--rs", type=_reed_solomon, default=None, metavar="E/I[/BASIS]|none",
        help="Reed-Solomon E (8 or 16), interleave I, basis dual (default) or conventional; or none",
    )  # fmt: skip
    p.add_argument("--no-randomizer", action="store_true", help="the codeblocks are not randomized")
    p.add_argument("--frame-length", type=_positive_int, default=None, metavar="OCTETS")


def _reed_solomon(text: str) -> tuple[int, int, bool]:
    if text == "none":
        return 0, 5, True
    parts = text.split("/")
    try:
        e, i = int(parts[0]), int(parts[1])
        basis = parts[2] if len(parts) > 2 else "dual"
    except (ValueError, IndexError):
        raise argparse.ArgumentTypeError(f"{text!r} is not E/I[/dual|conventional] or none") from None
    if basis not in ("dual", "conventional") or len(parts) > 3:
        raise argparse.ArgumentTypeError(f"{text!r}: the basis is 'dual' or 'conventional'")
    return e, i, basis == "dual"


def _link_options(p: argparse.ArgumentParser) -> None:
    _channel_options(p)
    p.add_argument("--rate", type=_positive_float, default=20e6, metavar="BPS", help="downlink bit rate")
    p.add_argument(
        "--inject-ber",
        type=_probability,
        default=0.0,
        metavar="P",
        help="flip each downlink bit with probability P (seeded by --seed)",
    )


def _delivery_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--link",
        default=None,
        metavar="PROFILE",
        choices=("nominal", "lossy", "outage"),
        help="simulate a deep-space link: nominal, lossy (10%% frame loss, BER 1e-5, reordering) "
        "or outage (a pass ends halfway through an image); implies --delivery cfdp",
    )
    p.add_argument(
        "--time-scale",
        type=_positive_float,
        default=1.0,
        metavar="F",
        help="multiply light time by F (tests use 0.1 so they need not wait)",
    )
    p.add_argument(
        "--delivery",
        choices=("packets", "cfdp"),
        default=None,
        help="images as PUS 128 packets (default without --link) or CFDP files",
    )
    p.add_argument("--cfdp-class", type=int, choices=(1, 2), default=2)
    p.add_argument(
        "--compress",
        choices=("none", "ccsds121"),
        default="none",
        help="CFDP image files: CCSDS 121.0-B lossless compression (needs the 'compression' extra)",
    )


def _probability(text: str) -> float:
    value = float(text)
    if not 0.0 <= value < 0.5:
        raise argparse.ArgumentTypeError(f"{text} is not a bit error rate in [0, 0.5)")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive whole number")
    return value


_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def _octets(text: str) -> int:
    """A size in octets: a positive whole number with an optional k, M or G (KiB, MiB, GiB)."""
    body = text.strip().lower().removesuffix("ib").removesuffix("b")
    unit = body[-1:] if body[-1:] in _UNITS else ""
    try:
        value = int(body[: len(body) - len(unit)]) * _UNITS[unit]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text} is not a size in octets (e.g. 65536, 64k, 64M)") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive size")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def main(argv: list[str] | None = None) -> int:
    import zmq

    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["fuzz"]:  # the fuzzers own their command line, --help included
        return cmd_fuzz(argparse.Namespace(fuzz_arguments=argv[1:]))
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (CliError, archive_cli.ArchiveUsageError) as exc:
        print(f"paleblue: {exc}", file=sys.stderr)
        return 2
    except (OSError, zmq.ZMQError) as exc:  # an endpoint taken or malformed, a file not writable
        print(f"paleblue: {args.command}: {exc}", file=sys.stderr)
        return 2
