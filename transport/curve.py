"""ZeroMQ CURVE on paleblue's sockets: encrypted transport, and only known clients connect.

``paleblue keys curve DIR`` writes a server certificate (the probe's) and client certificates
(default: ``ground``), ZeroMQ's Z85 text format, secrets 0600::

    DIR/server.key  server.key_secret  ground.key  ground.key_secret  authorized/ground.key

The probe (``--curve-keys DIR``) makes every socket of its ZeroMQ context a CURVE server and
runs a ZAP authenticator that admits only the public keys in ``DIR/authorized``; a ground
station, tap or ``paleblue cmd`` (``--curve-keys DIR``) makes its sockets CURVE clients of the
server's public key. The options are set on the context, so they apply to every socket the
process opens afterwards (downlink, uplink, bus) without touching the code that opens them.
A client without a known key never completes the handshake: it receives nothing, and nothing
it sends arrives. This protects the transport between processes; SDLS protects the frames.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

from protocols.sdls.keystore import KeyFileError, check_private

SERVER = "server"
AUTHORIZED = "authorized"


def generate_curve_keys(directory: Path, clients: tuple[str, ...] = ("ground",), force: bool = False) -> None:
    directory = Path(directory)
    if (directory / f"{SERVER}.key_secret").exists() and not force:
        raise KeyFileError(
            f"{directory / (SERVER + '.key_secret')} exists; refusing to overwrite (use --force)"
        )
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    (directory / AUTHORIZED).mkdir(mode=0o700, exist_ok=True)
    for name in (SERVER, *clients):
        _, secret = zmq.auth.create_certificates(str(directory), name)
        Path(secret).chmod(0o600)
    for name in clients:
        shutil.copyfile(directory / f"{name}.key", directory / AUTHORIZED / f"{name}.key")


def _load(path: Path, secret: bool) -> tuple[bytes, bytes | None]:
    if secret:
        check_private(path)
    elif not path.is_file():
        raise KeyFileError(f"{path}: no such CURVE key (make them with `paleblue keys curve DIR`)")
    try:
        return zmq.auth.load_certificate(str(path))
    except (OSError, ValueError) as exc:
        raise KeyFileError(f"{path}: not a CURVE certificate ({exc})") from None


def serve_curve(context: zmq.Context, directory: Path) -> ThreadAuthenticator:
    """Make ``context``'s future sockets CURVE servers that admit only ``DIR/authorized`` keys."""
    directory = Path(directory)
    public, secret = _load(directory / f"{SERVER}.key_secret", secret=True)
    if not (directory / AUTHORIZED).is_dir():
        raise KeyFileError(f"{directory / AUTHORIZED}: no authorized client keys")
    authenticator = ThreadAuthenticator(context)
    authenticator.start()
    authenticator.configure_curve(domain="*", location=str(directory / AUTHORIZED))
    context.setsockopt(zmq.CURVE_SERVER, 1)
    context.setsockopt(zmq.CURVE_SECRETKEY, secret)
    context.setsockopt(zmq.CURVE_PUBLICKEY, public)
    return authenticator


def connect_curve(context: zmq.Context, directory: Path, name: str = "ground") -> None:
    """Make ``context``'s future sockets CURVE clients of the server in ``directory``, as ``name``."""
    directory = Path(directory)
    server_public, _ = _load(directory / f"{SERVER}.key", secret=False)
    public, secret = _load(directory / f"{name}.key_secret", secret=True)
    context.setsockopt(zmq.CURVE_SERVERKEY, server_public)
    context.setsockopt(zmq.CURVE_PUBLICKEY, public)
    context.setsockopt(zmq.CURVE_SECRETKEY, secret)
