"""Line writers of point templates (a measurement's field names in the order sent): for one sequence of field
kinds (say int, float), a compiled function that checks a point's field values and formats its whole line as bytes
in one step, given the series' ``measurement,tags `` prefix, e.g.::

    def write(prefix, fields, t):  # template and fallback: the point template's, bound when the writer is made
        v0, v1 = fields.values()
        if type(v0) is int and -9223372036854775808 <= v0 <= 9223372036854775807 and type(v1) is float \\
                and v1 - v1 == 0.0:
            return template % (prefix, v0, v1, t)
        return fallback(prefix, fields, t)

with ``template`` = b"%b n=%di,value=%a %d" (``%a`` of a float is its repr). The source is made only from the kinds
and the schema's string length limits (numbers), never from an agent's data; one function per kind sequence, and
one writer per point template, shared by every series (every agent) with that template. ``fallback`` (``schema_check.format_fields``) writes
an int sent for a float field, and raises NotPlain for a value that is not plainly valid (a wrong type, outside
int64, a float not finite, a string too long): the batch then takes the general path, which names the reason.
Values are written exactly as ``format_fields`` writes them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

from collector.lineproto import STRING_ESCAPES
from collector.schema_check import (
    BOOL_FIELD,
    FLOAT_FIELD,
    INT64_MAX,
    INT64_MIN,
    INT_FIELD,
    FieldPlan,
    format_fields,
)

Writer = Callable[[bytes, Mapping[str, object], int], bytes]
"""``write(prefix, fields, t)``: the point's whole line; raises NotPlain when a value is not plainly valid."""

MAX_FIELDS: Final = 16
"""Points with more fields get the generic writer (keeps the number of compiled functions small)."""
MAX_FACTORIES: Final = 256
"""Compiled functions kept (they are few: one per kind sequence the schema's measurements produce)."""


class NotPlain(Exception):
    """A value the plain path does not write (the batch then takes the general path, which names the reason)."""


_factories: dict[tuple[tuple[int, int], ...], Callable[[bytes, Writer], Writer]] = {}


def _compile(kinds: tuple[tuple[int, int], ...]) -> Callable[[bytes, Writer], Writer]:
    names = [f"v{i}" for i in range(len(kinds))]
    checks, args = [], []
    for name, (kind, limit) in zip(names, kinds, strict=True):
        if kind == INT_FIELD:
            checks.append(f"type({name}) is int and {INT64_MIN} <= {name} <= {INT64_MAX}")
            args.append(name)
        elif kind == FLOAT_FIELD:
            checks.append(f"type({name}) is float and {name} - {name} == 0.0")
            args.append(name)
        elif kind == BOOL_FIELD:
            checks.append(f"type({name}) is bool")
            args.append(f"(b'true' if {name} else b'false')")
        else:
            checks.append(f"type({name}) is str and len({name}) <= {int(limit)}")
            args.append(f"{name}.translate(ESC).encode()")
    unpack = ", ".join(names) + ("," if len(names) == 1 else "")
    source = (f"def make(template, fallback):\n"
              f"    def write(prefix, fields, t):\n"
              f"        {unpack} = fields.values()\n"
              f"        if {' and '.join(checks)}:\n"
              f"            return template % (prefix, {', '.join(args)}, t)\n"
              f"        return fallback(prefix, fields, t)\n"
              f"    return write\n")
    namespace: dict[str, object] = {"ESC": STRING_ESCAPES}
    exec(compile(source, "<collector.line_format>", "exec"), namespace)
    return namespace["make"]  # type: ignore[return-value]


def generic_writer(plan: tuple[FieldPlan, ...]) -> Writer:
    """The writer of any plan, with ``format_fields`` (it also converts an int sent for a float field)."""
    def write(prefix: bytes, fields: Mapping[str, object], t: int) -> bytes:
        text = format_fields(plan, fields.values())
        if text is None:
            raise NotPlain
        return prefix + f"{text} {t}".encode()

    return write


def writer(plan: tuple[FieldPlan, ...]) -> Writer:
    """The line writer of a point template: its fields' ``plan``; compiled for its kind sequence up to
    ``MAX_FIELDS`` fields (a value the compiled check refuses goes to ``generic_writer``). The series' prefix
    (``measurement,tags ``, bytes) is an argument of each call."""
    fallback = generic_writer(plan)
    if not plan or len(plan) > MAX_FIELDS:
        return fallback
    kinds = tuple((p.kind, p.limit) for p in plan)
    make = _factories.get(kinds)
    if make is None:
        if len(_factories) >= MAX_FACTORIES:
            _factories.clear()
        make = _factories[kinds] = _compile(kinds)
    return make(template(plan), fallback)


def template(plan: tuple[FieldPlan, ...]) -> bytes:
    """The ``%`` template of a line: the prefix slot (``measurement,tags ``), each field's ``key=`` and value slot,
    time."""
    slots = []
    for kind, eq, _ in plan:
        slot = {INT_FIELD: "%di", FLOAT_FIELD: "%a", BOOL_FIELD: "%s"}.get(kind, '"%s"')
        slots.append(eq.replace("%", "%%") + slot)
    return ("%b" + ",".join(slots) + " %d").encode()
