"""The telemetry dictionary from the mission database: every parameter, event and command."""

from __future__ import annotations

from groundstation.api.messages import (
    ArgumentInfo,
    CommandInfo,
    Dictionary,
    EventInfo,
    LimitsInfo,
    ParameterInfo,
)
from protocols.mdb.calibration import EnumerationCalibration
from protocols.mdb.mission_db import FieldDef, MissionDatabase


def _enumeration(f: FieldDef) -> dict[str, int] | None:
    calibration = f.calibration
    return dict(calibration.values) if isinstance(calibration, EnumerationCalibration) else None


def _argument(f: FieldDef) -> ArgumentInfo:
    return ArgumentInfo(
        name=f.name,
        type=f.kind,
        unit=f.unit,
        range=f.valid_range,
        enumeration=_enumeration(f),
    )


def build_dictionary(mdb: MissionDatabase, station_parameters: list[str]) -> Dictionary:
    parameters = []
    for packet, f in mdb.parameters.values():
        limits = None
        if f.limits is not None:
            limits = LimitsInfo(
                yellow_low=f.limits.yellow_low,
                yellow_high=f.limits.yellow_high,
                red_low=f.limits.red_low,
                red_high=f.limits.red_high,
            )
        parameters.append(
            ParameterInfo(
                name=f.name,
                packet=packet.name,
                type=f.kind,
                unit=f.unit,
                description=f.description,
                limits=limits,
                enumeration=_enumeration(f),
            )
        )
    return Dictionary(
        mission=mdb.name,
        spacecraft_id=mdb.spacecraft_id,
        parameters=parameters,
        station_parameters=station_parameters,
        events=[
            EventInfo(
                name=e.name,
                event_id=e.event_id,
                severity=e.severity,
                arguments=[_argument(f) for f in e.layout.values],
            )
            for e in mdb.events
        ],
        commands=[
            CommandInfo(
                name=c.name,
                service=c.service,
                subtype=c.subtype,
                description=c.description,
                arguments=[_argument(f) for f in c.layout.values],
            )
            for c in mdb.commands
        ],
    )
