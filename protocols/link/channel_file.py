"""Channel definitions as data: a TOML file describing one physical channel and its virtual channels.

The nine classic presets and the USLP presets are such files, shipped in ``protocols/link/channels/``.
A file (every key but ``frame_type`` optional, defaults as in :class:`PhysicalChannelConfig`)::

    name = "my-mission"
    description = "AOS, no FECF/OCF, RS(255,239) I=8"

    [frame]
    type = "aos"                  # tm | aos | uslp
    length = 1912                 # octets; variable-length USLP: the longest frame
    variable_length = false       # USLP only: one whole packet per frame (TFDZ rule '111')
    spacecraft_id = 0xB5          # 10 bits TM, 8 bits AOS, 16 bits USLP
    fecf = true                   # CRC-16 frame error control field
    ocf = true                    # 4-octet operational control field (a CLCW)
    secondary_header_length = 0   # TM only, whole header incl. its id octet (0 = none)
    insert_zone_length = 0        # AOS / USLP only (0 = none)
    vc_count_length = 1           # USLP only: octets of the VC frame count (1..7)
    map_id = 0                    # USLP only

    [coding]
    reed_solomon = "none"         # or a table: { e = 16, interleave = 5, basis = "dual",
                                  #   virtual_fill = 0 }  (virtual_fill is checked, not chosen)
    randomizer = true             # CCSDS pseudo-randomizer over the codeblock
    asm = "1ACFFC1D"              # the attached sync marker, 4 to 24 octets in hex (CCSDS 131.0-B
                                  #   §9.3: 034776C7272895B0 for turbo 1/2 and LDPC, longer for
                                  #   low-rate turbo); any other marker a mission uses
    asm_tolerance = 4
    flywheel = 3

    [idle]
    vcid = 63                     # must be the convention: TM 7, AOS / USLP 63
    packet_apid = 0x7FF           # idle packets fill a zone that runs short (fixed)

    [[virtual_channel]]
    vcid = 0
    carries = "packets"           # space packets, the only service paleblue has
    name = "realtime"

Every problem is one line that names the file and the key: ``ValueError("FILE: coding.reed_solomon.e:
...")``. :func:`channel_to_dict` / :func:`channel_from_dict` carry a channel in a recording header.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

from protocols.link.channel_config import ASM, FrameType, PhysicalChannelConfig

IDLE_APID = 0x7FF
CARRIES = ("packets",)

# channel file key (section.key) -> PhysicalChannelConfig field
_KEYS = {
    ("frame", "type"): "frame_type",
    ("frame", "length"): "frame_length",
    ("frame", "variable_length"): "variable_length",
    ("frame", "spacecraft_id"): "spacecraft_id",
    ("frame", "fecf"): "fecf",
    ("frame", "ocf"): "ocf",
    ("frame", "secondary_header_length"): "secondary_header_length",
    ("frame", "insert_zone_length"): "insert_zone_length",
    ("frame", "vc_count_length"): "vc_count_length",
    ("frame", "map_id"): "map_id",
    ("coding", "randomizer"): "randomizer",
    ("coding", "asm_tolerance"): "asm_tolerance",
    ("coding", "flywheel"): "flywheel",
}
_FIELD_KEY = {v: f"{s}.{k}" for (s, k), v in _KEYS.items()}
_FIELD_KEY.update(
    rs_e="coding.reed_solomon.e",
    rs_interleave="coding.reed_solomon.interleave",
    dual_basis="coding.reed_solomon.basis",
)
_BOOLEANS = {"fecf", "ocf", "randomizer", "variable_length"}


@dataclass(frozen=True, slots=True)
class VirtualChannel:
    vcid: int
    carries: str = "packets"
    name: str = ""


@dataclass(frozen=True, slots=True)
class ChannelDefinition:
    """A physical channel configuration, its name and what its virtual channels carry."""

    name: str
    config: PhysicalChannelConfig
    description: str = ""
    virtual_channels: tuple[VirtualChannel, ...] = field(default_factory=tuple)


def _key_of(problem: str) -> str:
    """'rs_e: ...' -> 'coding.reed_solomon.e: ...' (the channel file's spelling)."""
    name, sep, rest = problem.partition(": ")
    return f"{_FIELD_KEY.get(name, name)}{sep}{rest}" if sep else problem


def _fail(source: str, message: str) -> ValueError:
    return ValueError(f"{source}: {message}")


def _marker(text: object, source: str) -> bytes:
    """``coding.asm``: hex digits (spaces, underscores and a 0x allowed), 4 to 24 octets."""
    digits = (
        text.upper().removeprefix("0X").replace(" ", "").replace("_", "") if isinstance(text, str) else ""
    )
    try:
        asm = bytes.fromhex(digits)
    except ValueError:
        asm = b""
    if not 4 <= len(asm) <= 24:
        raise _fail(
            source, f"coding.asm: {text!r} is not a marker of 4 to 24 octets in hex (such as '1ACFFC1D')"
        )
    return asm


def parse_channel(document: dict[str, Any], source: str, default_name: str = "") -> ChannelDefinition:
    """A channel definition from a parsed TOML document; ValueError naming ``source`` and the key."""
    known_sections = {"name", "description", "frame", "coding", "idle", "virtual_channel"}
    for key in document:
        if key not in known_sections:
            raise _fail(source, f"{key}: unknown key (known: {', '.join(sorted(known_sections))})")
    values: dict[str, Any] = {}
    for section in ("frame", "coding"):
        table = document.get(section, {})
        if not isinstance(table, dict):
            raise _fail(source, f"{section}: must be a table")
        for key, value in table.items():
            if section == "coding" and key in ("reed_solomon", "asm"):
                continue
            target = _KEYS.get((section, key))
            if target is None:
                known = sorted(k for s, k in _KEYS if s == section)
                raise _fail(source, f"{section}.{key}: unknown key (known: {', '.join(known)})")
            expected = bool if target in _BOOLEANS else (str if target == "frame_type" else int)
            if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
                raise _fail(source, f"{section}.{key}: {value!r} is not a {expected.__name__}")
            values[target] = value
    if "frame_type" not in values:
        raise _fail(source, "frame.type: missing (tm, aos or uslp)")
    try:
        values["frame_type"] = FrameType(values["frame_type"].lower())
    except ValueError:
        raise _fail(source, f"frame.type: {values['frame_type']!r} is not one of tm, aos, uslp") from None
    coding = document.get("coding", {})
    if "asm" in coding:
        values["asm"] = _marker(coding["asm"], source)
    rs = coding.get("reed_solomon", "none")
    virtual_fill = None
    if rs == "none":
        values["rs_e"] = 0
    elif isinstance(rs, dict):
        for key in rs:
            if key not in ("e", "interleave", "basis", "virtual_fill"):
                raise _fail(
                    source, f"coding.reed_solomon.{key}: unknown key (e, interleave, basis, virtual_fill)"
                )
        for key in ("e", "interleave"):
            if not isinstance(rs.get(key), int) or isinstance(rs.get(key), bool):
                raise _fail(source, f"coding.reed_solomon.{key}: missing or not a whole number")
        values["rs_e"], values["rs_interleave"] = rs["e"], rs["interleave"]
        basis = rs.get("basis", "dual")
        if basis not in ("dual", "conventional"):
            raise _fail(source, f"coding.reed_solomon.basis: {basis!r} is neither 'dual' nor 'conventional'")
        values["dual_basis"] = basis == "dual"
        virtual_fill = rs.get("virtual_fill")
    else:
        raise _fail(source, f"coding.reed_solomon: {rs!r} is neither 'none' nor a table")
    try:
        config = PhysicalChannelConfig(**values)
    except ValueError as exc:
        problems = str(exc).removeprefix("invalid physical channel configuration: ").split("; ")
        raise _fail(source, _key_of(problems[0])) from None
    if virtual_fill is not None and virtual_fill != config.virtual_fill:
        raise _fail(
            source,
            f"coding.reed_solomon.virtual_fill: {virtual_fill} disagrees with the frame length "
            f"(E={config.rs_e}, I={config.rs_interleave} and {config.frame_length} octets give "
            f"{config.virtual_fill})",
        )
    idle = document.get("idle", {})
    if idle.get("vcid", config.idle_vcid) != config.idle_vcid:
        raise _fail(
            source, f"idle.vcid: {idle['vcid']} is not the {config.frame_type} idle VC {config.idle_vcid}"
        )
    if idle.get("packet_apid", IDLE_APID) != IDLE_APID:
        raise _fail(source, f"idle.packet_apid: idle packets use APID 0x7FF, not {idle['packet_apid']}")
    vcs = []
    for entry in document.get("virtual_channel", []):
        vcid = entry.get("vcid")
        if not isinstance(vcid, int) or not 0 <= vcid <= config.max_vcid or vcid == config.idle_vcid:
            raise _fail(
                source,
                f"virtual_channel.vcid: {vcid!r} is not a data VC of {config.frame_type} frames "
                f"(0..{config.max_vcid} but the idle VC {config.idle_vcid})",
            )
        carries = entry.get("carries", "packets")
        if carries not in CARRIES:
            raise _fail(source, f"virtual_channel.carries: {carries!r} is not one of {', '.join(CARRIES)}")
        vcs.append(VirtualChannel(vcid, carries, str(entry.get("name", ""))))
    if len({vc.vcid for vc in vcs}) != len(vcs):
        raise _fail(source, "virtual_channel.vcid: a VCID is listed twice")
    name = document.get("name", default_name)
    return ChannelDefinition(str(name), config, str(document.get("description", "")), tuple(vcs))


def load_channel_file(path: Path) -> ChannelDefinition:
    """A channel file; ValueError (one line, naming the file and the key) when it is not a good one."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read the channel file ({exc.__class__.__name__})") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path}: not TOML: {exc}") from None
    return parse_channel(document, str(path), Path(path).stem)


def preset_names() -> list[str]:
    folder = resources.files("protocols.link") / "channels"
    return sorted(p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml"))


def load_preset(name: str) -> ChannelDefinition:
    """A channel shipped with paleblue (``protocols/link/channels/NAME.toml``)."""
    resource = resources.files("protocols.link") / "channels" / f"{name}.toml"
    if "/" in name or not resource.is_file():
        raise ValueError(f"unknown channel preset {name!r}; known: {', '.join(preset_names())}")
    return parse_channel(tomllib.loads(resource.read_text(encoding="utf-8")), f"preset {name}", name)


def load_channel(name_or_path: str) -> ChannelDefinition:
    """A preset name or the path of a channel file (anything ending in .toml or naming a file)."""
    if name_or_path.endswith(".toml") or Path(name_or_path).is_file():
        return load_channel_file(Path(name_or_path))
    return load_preset(name_or_path)


def with_overrides(
    config: PhysicalChannelConfig,
    *,
    spacecraft_id: int | None = None,
    fecf: bool | None = None,
    ocf: bool | None = None,
    rs: tuple[int, int, bool] | None = None,
    randomizer: bool | None = None,
    frame_length: int | None = None,
) -> PhysicalChannelConfig:
    """The configuration with the command line's overrides; ValueError naming the field."""
    changes: dict[str, Any] = {}
    if spacecraft_id is not None:
        changes["spacecraft_id"] = spacecraft_id
    if fecf is not None:
        changes["fecf"] = fecf
    if ocf is not None:
        changes["ocf"] = ocf
    if rs is not None:
        changes["rs_e"], changes["rs_interleave"], changes["dual_basis"] = rs
    if randomizer is not None:
        changes["randomizer"] = randomizer
    if frame_length is not None:
        changes["frame_length"] = frame_length
    try:
        return config.with_changes(**changes)
    except ValueError as exc:
        problems = str(exc).removeprefix("invalid physical channel configuration: ").split("; ")
        raise ValueError(problems[0]) from None


def channel_to_dict(config: PhysicalChannelConfig) -> dict[str, Any]:
    """Every field, plain types (for a recording header or summary.json)."""
    out = {f.name: getattr(config, f.name) for f in fields(config)}
    out["frame_type"] = str(config.frame_type)
    if config.asm == ASM:
        del out["asm"]  # the standard marker: headers written before the marker was a field match
    else:
        out["asm"] = config.asm.hex().upper()
    return out


def channel_from_dict(values: dict[str, Any]) -> PhysicalChannelConfig:
    """The inverse of :func:`channel_to_dict`; ValueError for anything that is not a channel."""
    known = {f.name for f in fields(PhysicalChannelConfig)}
    if not isinstance(values, dict) or "frame_type" not in values:
        raise ValueError("not a channel description")
    unknown = set(values) - known
    if unknown:
        raise ValueError(f"{sorted(unknown)[0]}: unknown channel field")
    try:
        if "asm" in values:
            values = {**values, "asm": bytes.fromhex(values["asm"])}
        return PhysicalChannelConfig(**{**values, "frame_type": FrameType(values["frame_type"])})
    except (TypeError, ValueError) as exc:
        raise ValueError(str(exc)) from None


def channel_to_toml(definition: ChannelDefinition) -> str:
    """A channel file for a definition (what the shipped presets were written with)."""
    c = definition.config
    lines = [f'name = "{definition.name}"']
    if definition.description:
        lines.append(f'description = "{definition.description}"')
    lines += ["", "[frame]", f'type = "{c.frame_type}"', f"length = {c.frame_length}"]
    if c.frame_type is FrameType.USLP:
        lines.append(f"variable_length = {str(c.variable_length).lower()}")
    width = {FrameType.TM: 3, FrameType.AOS: 2, FrameType.USLP: 4}[c.frame_type]
    lines += [f"spacecraft_id = 0x{c.spacecraft_id:0{width}X}", f"fecf = {str(c.fecf).lower()}"]
    lines.append(f"ocf = {str(c.ocf).lower()}")
    if c.frame_type is FrameType.TM:
        lines.append(f"secondary_header_length = {c.secondary_header_length}")
    else:
        lines.append(f"insert_zone_length = {c.insert_zone_length}")
    if c.frame_type is FrameType.USLP:
        lines += [f"vc_count_length = {c.vc_count_length}", f"map_id = {c.map_id}"]
    lines += ["", "[coding]"]
    if c.rs_e:
        basis = "dual" if c.dual_basis else "conventional"
        lines.append(
            f'reed_solomon = {{ e = {c.rs_e}, interleave = {c.rs_interleave}, basis = "{basis}", '
            f"virtual_fill = {c.virtual_fill} }}"
        )
    else:
        lines.append('reed_solomon = "none"')
    lines += [
        f"randomizer = {str(c.randomizer).lower()}",
        f'asm = "{c.asm.hex().upper()}"',
        f"asm_tolerance = {c.asm_tolerance}",
        f"flywheel = {c.flywheel}",
        "",
        "[idle]",
        f"vcid = {c.idle_vcid}",
        "packet_apid = 0x7FF",
    ]
    for vc in definition.virtual_channels:
        lines += ["", "[[virtual_channel]]", f"vcid = {vc.vcid}", f'carries = "{vc.carries}"']
        if vc.name:
            lines.append(f'name = "{vc.name}"')
    return "\n".join(lines) + "\n"


DEFAULT_PRESET = "tm-rs-i5"


class _Presets(Mapping[str, PhysicalChannelConfig]):
    """The channel files shipped in ``protocols/link/channels/`` (read on first use), by name."""

    def __init__(self) -> None:
        self._configs: dict[str, PhysicalChannelConfig] | None = None

    def _loaded(self) -> dict[str, PhysicalChannelConfig]:
        if self._configs is None:
            self._configs = {name: load_preset(name).config for name in preset_names()}
        return self._configs

    def __getitem__(self, name: str) -> PhysicalChannelConfig:
        return self._loaded()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._loaded())

    def __len__(self) -> int:
        return len(self._loaded())


# The default is tm-rs-i5: TM, RS(255,223) I=5 dual basis, randomized, FECF and OCF, 1115-octet
# frames. Each preset is a channel file (protocols/link/channels/NAME.toml, read by this module).
PRESETS: Mapping[str, PhysicalChannelConfig] = _Presets()


def preset(name: str = DEFAULT_PRESET) -> PhysicalChannelConfig:
    """A named configuration; unknown names list the known ones."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown channel preset {name!r}; known: {', '.join(sorted(PRESETS))}") from None
