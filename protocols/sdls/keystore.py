"""Key and SA files: ``paleblue keys generate DIR`` writes them, the probe and the ground load them.

DIR holds

- ``keys.json``          the AES-256 keys by key id, mode 0600 (refused on load if the group or
                         others may read or write it, or if another user owns it);
- ``associations.json``  the SAs (no secrets): SPI, channel, key id, service, field lengths, window, mask;
- ``arsn-<role>.json``   the last ARSN each SA sent (role ``ground``) or accepted (role ``probe``), so a
                         new ``paleblue cmd`` continues where the last one stopped, as a ground
                         station's and a spacecraft's non-volatile SA state would; for the downlink
                         ``probe-downlink`` (sent, saved every :data:`LEASE` frames, see :func:`lease`)
                         and ``station`` (accepted, saved when the station stops); for the
                         station's CFDP replies ``station-uplink`` (sent, saved after each frame).

Keys are read from here only: nothing writes them into a recording, a log or a report.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from pathlib import Path

from protocols.sdls.association import SaKey, SaState, SecurityAssociation, ServiceType
from protocols.sdls.context import SecurityContext

KEYS_FILE = "keys.json"
ASSOCIATIONS_FILE = "associations.json"
DEFAULT_KEY_COUNT = 4  # key 1 in use, 2..4 spare for rekeying


class KeyFileError(ValueError):
    """A key or SA file that is missing, unsafe or malformed; the message is one line for the user."""


CFDP_TC_VCID = 1  # the ground station's CFDP replies (ACK, NAK, Finished) ride TC virtual channel 1
CFDP_SPI, CFDP_KEY_ID = 3, 5


def default_associations(tc_vcid: int = 0) -> list[SecurityAssociation]:
    """The SAs `keys generate` writes: AES-256-GCM authenticated encryption on the TC channel, twice:
    SPI 1 (key 1) for commanding, SPI 2 (key 4) to manage SPI 1 (stop, rekey to key 2 or 3, start);
    and SPI 3 (key 5) on TC VC 1 for the ground station's CFDP replies, which the station sends on
    its own (its ARSNs are its own, so they never collide with those of `paleblue cmd`)."""
    return [
        SecurityAssociation(spi=1, link="tc", vcid=tc_vcid, key_id=1,
                            service=ServiceType.AUTHENTICATED_ENCRYPTION, window=16),
        # a second SA on the channel, with a key of its own, to manage the first (stop, rekey, start)
        SecurityAssociation(spi=2, link="tc", vcid=tc_vcid, key_id=4,
                            service=ServiceType.AUTHENTICATED_ENCRYPTION, window=16),
        # CFDP replies: a channel and a key of their own (a station that may reply to file delivery
        # holds no commanding key)
        SecurityAssociation(spi=CFDP_SPI, link="tc", vcid=CFDP_TC_VCID, key_id=CFDP_KEY_ID,
                            service=ServiceType.AUTHENTICATED_ENCRYPTION, window=16),
    ]  # fmt: skip


DOWNLINK_WINDOW = 1 << 24  # frames: a downlink loses frames (and passes end); replays stay refused
DOWNLINK_SPIS = {"tm": 10, "aos": 20, "uslp": 30}  # SPI of VC 0; VC 1 is the next one
DOWNLINK_LINKS = tuple(DOWNLINK_SPIS)  # the SA links of downlink frames (USLP: fixed-length frames)
DOWNLINK_SERVICES = {
    "authentication": ServiceType.AUTHENTICATION, "encryption": ServiceType.AUTHENTICATED_ENCRYPTION,
}  # fmt: skip
LEASE = 1 << 16  # a sender's ARSNs are saved at least every LEASE frames; a restart continues LEASE on


def downlink_associations(service: ServiceType, first_key: int = 6) -> list[SecurityAssociation]:
    """SAs for the downlink's two data channels (VC 0 real time, VC 1 payload), for TM, AOS and
    fixed-length USLP frames (whichever the channel uses applies), each with a key of its own: one key
    never protects two SAs, so no two frames ever share a GCM nonce under one key."""
    sas = []
    key_id = first_key
    for link, spi in DOWNLINK_SPIS.items():
        for vcid in (0, 1):
            sas.append(SecurityAssociation(spi=spi + vcid, link=link, vcid=vcid, key_id=key_id,
                                           service=service, window=DOWNLINK_WINDOW))  # fmt: skip
            key_id += 1
    return sas


def _write_private(path: Path, text: str) -> None:
    """Create ``path`` readable by its owner only, atomically (never briefly world-readable)."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def generate(directory: Path, associations: list[SecurityAssociation] | None = None,
             key_count: int = DEFAULT_KEY_COUNT, force: bool = False) -> Path:  # fmt: skip
    """Fresh random keys and the SA definitions in ``directory`` (created 0700); returns the key file."""
    directory = Path(directory)
    keys_path = directory / KEYS_FILE
    if keys_path.exists() and not force:
        raise KeyFileError(f"{keys_path} exists; refusing to overwrite keys (use --force)")
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    sas = associations if associations is not None else default_associations()
    key_count = max([key_count, *(sa.key_id for sa in sas)])
    keys = {str(i): secrets.token_bytes(32).hex() for i in range(1, key_count + 1)}
    _write_private(keys_path, json.dumps({"keys": keys}, indent=1) + "\n")
    (directory / ASSOCIATIONS_FILE).write_text(
        json.dumps({"associations": [sa.to_dict() for sa in sas]}, indent=1) + "\n"
    )
    for role in ("ground", "probe", "station", "probe-downlink", "station-uplink"):
        (directory / f"arsn-{role}.json").unlink(missing_ok=True)
    return keys_path


def check_private(path: Path) -> None:
    try:
        st = path.stat()
    except FileNotFoundError:
        raise KeyFileError(f"{path}: no such key file (make one with `paleblue keys generate DIR`)") from None
    except OSError as exc:
        raise KeyFileError(f"{path}: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise KeyFileError(f"{path} is not a regular file")
    if st.st_mode & 0o077:
        raise KeyFileError(
            f"{path} is open to group/others (mode {stat.S_IMODE(st.st_mode):04o}); run: chmod 600 {path}"
        )
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        raise KeyFileError(f"{path} belongs to uid {st.st_uid}, not to you")


def load_keys(path: Path) -> dict[int, SaKey]:
    path = Path(path)
    check_private(path)
    try:
        doc = json.loads(path.read_text())
        return {int(k): SaKey(int(k), bytes.fromhex(v)) for k, v in doc["keys"].items()}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise KeyFileError(f"{path}: not a key file ({exc})") from None


def load_associations(path: Path) -> list[SecurityAssociation]:
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
        return [SecurityAssociation.from_dict(d) for d in doc["associations"]]
    except FileNotFoundError:
        raise KeyFileError(f"{path}: no such SA file (make one with `paleblue keys generate DIR`)") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise KeyFileError(f"{path}: not an SA file ({exc})") from None


def load_context(directory: Path, role: str, links: tuple[str, ...] = ("tc",)) -> SecurityContext:
    """The SAs of ``links`` with their keys and the ARSNs ``role`` last saved."""
    directory = Path(directory)
    if not directory.is_dir():
        raise KeyFileError(f"{directory}: no such key directory (make one with `paleblue keys generate DIR`)")
    keys = load_keys(directory / KEYS_FILE)
    sas = [sa for sa in load_associations(directory / ASSOCIATIONS_FILE) if sa.link in links]
    for sa in sas:
        if sa.mac_length and sa.key_id not in keys:
            raise KeyFileError(f"SA {sa.spi} names key {sa.key_id}, which {directory / KEYS_FILE} lacks")
    context = SecurityContext(sas, keys)
    state = directory / f"arsn-{role}.json"
    if state.exists():
        try:
            saved = json.loads(state.read_text())
            for spi, arsn in saved.get("arsn", {}).items():
                if int(spi) in context.sas:
                    context.arsn[int(spi)] = int(arsn)
            for spi, (state_name, key_id) in saved.get("sa", {}).items():
                if int(spi) in context.sas and int(key_id) in keys:
                    context.state[int(spi)] = SaState[state_name]
                    context.key_ids[int(spi)] = int(key_id)
        except (ValueError, AttributeError, KeyError, TypeError) as exc:
            raise KeyFileError(f"{state}: not an SA state file ({exc})") from None
    return context


def lease(context: SecurityContext, links: tuple[str, ...] = DOWNLINK_LINKS) -> None:
    """A sender that starts: move the ARSNs of its sending SAs on by :data:`LEASE`. It saves them at
    least every LEASE frames, so the ARSN it last used is below the saved one + LEASE even after a
    crash, and no IV is used twice under one key."""
    for spi, sa in context.sas.items():
        if sa.link in links and sa.anti_replay:
            context.arsn[spi] = min(context.arsn[spi] + LEASE, sa.arsn_max)


def save_arsn(directory: Path, role: str, context: SecurityContext) -> None:
    """Persist the ARSNs, SA states and key ids (atomically), so the next process of ``role`` continues."""
    doc = {
        "arsn": {str(k): v for k, v in context.arsn.items()},
        "sa": {str(k): [context.state[k].name, context.key_ids[k]] for k in context.sas},
    }
    _write_private(Path(directory) / f"arsn-{role}.json", json.dumps(doc))
