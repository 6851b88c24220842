"""Types of the measurement schema: what a measurement may carry (tag keys, typed fields with units).

Every measurement the agent sends is declared once, next to the code that produces it (each probe module's
``MEASUREMENTS``, and ``agent.runner`` for the agent's own ``agent`` and ``agent_probe``). ``python -m
agent.schema_export`` assembles them into ``agent/wire/measurements.json``, which the collector loads through
``agent.wire.measurement_schema()`` (it may not import the probes) and validates every point against.

Field types: ``float`` (an int is accepted and stored as a float, so InfluxDB never sees the type change),
``int`` (within int64), ``bool`` and ``str`` (at most ``max_length`` characters).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Final

import msgspec

SCHEMA_FORMAT: Final = 1
"""Version of the schema file's own layout (not of its content; that is ``Schema.version``)."""

STR_MAX_DEFAULT: Final = 1024
"""The wire's limit on any string field (``agent.wire.FieldValue``)."""

INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1

RESERVED_MEASUREMENTS: Final = frozenset({"collector", "agent_status", "agent_clock", "alerts"})
"""Written by the collector itself; an agent's point using one of these names is rejected."""

_NAME = r"^[a-z][a-z0-9_]{0,63}\Z"


class FieldType(StrEnum):
    FLOAT = "float"
    INT = "int"
    BOOL = "bool"
    STR = "str"


class FieldSpec(msgspec.Struct, forbid_unknown_fields=True, frozen=True, omit_defaults=True):
    type: FieldType
    unit: str = ""
    """Unit or value set, as the docs show it ("ms", "bytes", "1/0", "%")."""
    doc: str = ""
    max_length: Annotated[int, msgspec.Meta(ge=1, le=STR_MAX_DEFAULT)] | None = None
    """``str`` only: longest value accepted (default ``STR_MAX_DEFAULT``)."""

    @property
    def str_limit(self) -> int:
        return self.max_length or STR_MAX_DEFAULT


class MeasurementSpec(msgspec.Struct, forbid_unknown_fields=True, frozen=True, omit_defaults=True):
    name: Annotated[str, msgspec.Meta(pattern=_NAME)]
    page: str
    """The docs page (docs/probes/<page>.md) whose table lists this measurement."""
    tags: dict[str, str]
    """Tag key -> what it holds (the collector adds province, commune, commune_name, site, agent itself)."""
    fields: dict[str, FieldSpec]
    doc: str = ""


class Schema(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    format: int
    version: int
    """Bumped whenever a measurement, tag or field is added, removed or changed."""
    measurements: dict[str, MeasurementSpec]


# Short constructors for the declarations in the probe modules ------------------------------------------
def float_field(unit: str = "", doc: str = "") -> FieldSpec:
    return FieldSpec(FieldType.FLOAT, unit, doc)


def int_field(unit: str = "", doc: str = "") -> FieldSpec:
    return FieldSpec(FieldType.INT, unit, doc)


def bool_field(unit: str = "", doc: str = "") -> FieldSpec:
    return FieldSpec(FieldType.BOOL, unit, doc)


def str_field(doc: str = "", max_length: int | None = None, unit: str = "") -> FieldSpec:
    return FieldSpec(FieldType.STR, unit, doc, max_length)


RESULT_FIELDS: Final = {
    "result": str_field("result code (see the table of codes)", max_length=64),
    "ok": int_field("1/0", "1 when result is ok"),
    "reason": str_field("short English detail when not ok"),
}
"""The three fields every per-target point carries (``agent.probes.base.result_fields``)."""


def measurement(name: str, page: str, tags: dict[str, str], fields: dict[str, FieldSpec], doc: str = "") -> MeasurementSpec:
    return MeasurementSpec(name=name, page=page, tags=tags, fields=fields, doc=doc)
