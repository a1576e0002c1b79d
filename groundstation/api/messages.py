"""Every message of the ground API, declared once (the OpenAPI description is generated from these).

Times are ISO 8601 UTC strings for people and ``tai`` seconds since 1958 (the packets' epoch) for
programs; a request may give either.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

MAX_SAMPLES = 200_000  # one history answer without downsampling; more asks for buckets
MAX_SUBSCRIPTIONS = 10_000  # names or globs one WebSocket client may hold
MAX_BODY_OCTETS = 1 << 20  # a request body larger than this is refused (413) before it is read


class Problem(BaseModel):
    """Every error answer: what was wrong, for a person."""

    detail: str


class LimitsInfo(BaseModel):
    yellow_low: float | None = None
    yellow_high: float | None = None
    red_low: float | None = None
    red_high: float | None = None


class ParameterInfo(BaseModel):
    name: str
    packet: str
    type: Literal["uint", "int", "float", "enum", "bool"]
    unit: str = ""
    description: str = ""
    limits: LimitsInfo | None = None
    enumeration: dict[str, int] | None = None


class ArgumentInfo(BaseModel):
    name: str
    type: str
    unit: str = ""
    range: tuple[float, float] | None = None
    enumeration: dict[str, int] | None = None


class CommandInfo(BaseModel):
    name: str
    service: int
    subtype: int
    description: str = ""
    arguments: list[ArgumentInfo]


class EventInfo(BaseModel):
    name: str
    event_id: int
    severity: str
    arguments: list[ArgumentInfo]


class Dictionary(BaseModel):
    mission: str
    spacecraft_id: int
    parameters: list[ParameterInfo]
    station_parameters: list[str] = Field(description="the station's own counters, archived as parameters")
    events: list[EventInfo]
    commands: list[CommandInfo]


class Sample(BaseModel):
    time: str
    tai: float
    value: Any
    received: float


class History(BaseModel):
    name: str
    raw: bool
    samples: list[Sample]


class Bucket(BaseModel):
    time: str
    tai: float
    count: int
    min: float
    max: float
    mean: float


class DownsampledHistory(BaseModel):
    name: str
    raw: bool
    buckets: list[Bucket]


class AlarmState(BaseModel):
    """One parameter's alarm, with the ISA-18.2 states Yamcs and Open MCT use."""

    parameter: str
    state: Literal["normal", "unacknowledged", "acknowledged", "returned-unacknowledged", "shelved"]
    level: Literal["NOMINAL", "YELLOW", "RED"]
    value: float | None = None
    time: str | None = None
    shelved_until: str | None = None
    triggers: int = 0


class ShelveRequest(BaseModel):
    seconds: float = Field(gt=0, le=86_400 * 7)


class CommandRequest(BaseModel):
    name: str = Field(max_length=64)
    arguments: dict[str, Any] = Field(default_factory=dict, max_length=64)


class CommandAccepted(BaseModel):
    request: str
    name: str
    arguments: dict[str, Any]


class ImageInfo(BaseModel):
    name: str
    time: str
    complete: bool
    info: dict[str, Any]


class Subscription(BaseModel):
    """A WebSocket client's request: parameter names or globs to add or remove, and how a
    housekeeping packet's parameters come: one ``parameter`` update each (the default), or with
    ``packets`` true one ``packet`` update per packet holding the subscribed ones as columns
    (``names``, ``values``, ``raw``; a fifth of the server's CPU per parameter)."""

    subscribe: list[str] = Field(default_factory=list, max_length=MAX_SUBSCRIPTIONS)
    unsubscribe: list[str] = Field(default_factory=list, max_length=MAX_SUBSCRIPTIONS)
    packets: bool | None = None


class PacketUpdate(BaseModel):
    """A realtime ``packet`` update (clients that subscribed with ``packets`` true)."""

    type: Literal["packet"]
    tai: float = Field(description="the packet's generation time")
    names: list[str] = Field(description="the subscribed parameters of the packet, in its order")
    values: list[Any] = Field(description="their engineering values (NaN as null)")
    raw: list[Any] = Field(description="their raw values")


class ImageProgress(BaseModel):
    """A realtime ``image_progress`` update: how far one image has come (image packets or CFDP).

    One per image per station tick that added segments, in order; the last one has ``done`` true
    (``percent`` 100 and ``complete`` true for a whole image)."""

    type: Literal["image_progress"]
    tai: float
    delivery: Literal["packets", "cfdp"]
    image_id: int | None = Field(description="None for a CFDP file until its image is delivered")
    transaction: str | None = Field(description="CFDP: source entity:sequence number")
    segments_received: int = Field(description="image segments placed, or CFDP file-data PDUs taken")
    segments_total: int | None = Field(description="the image's segment count (image packets)")
    octets_received: int | None = None
    octets_total: int | None = None
    percent: float
    done: bool
    complete: bool


UPDATE_KINDS = ("parameter", "packet", "event", "alarm", "verification", "link", "image", "image_progress")
