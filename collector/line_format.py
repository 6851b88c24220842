"""Compiled line formatters: for one sequence of field kinds (say int, float), a function that checks a point's
field values and formats its whole line as bytes in one step, e.g.::

    def check_and_format(template, fields, t):
        v0, v1 = fields.values()
        if type(v0) is int and -9223372036854775808 <= v0 <= 9223372036854775807 and type(v1) is float \\
                and v1 - v1 == 0.0:
            return template % (v0, v1, t)
        return None

with ``template`` = b"<measurement,tags> n=%di,value=%a %d" (``%a`` of a float is its repr). The source is made
only from the kinds and the schema's string length limits (numbers), never from an agent's data; one function
per kind sequence, reused by every shape with those kinds. None means "not plainly valid": a wrong type, outside
int64, a float not finite, a string too long (the caller then takes a slower path, which names the reason).
Values are written exactly as ``schema_check.format_fields`` writes them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

from collector.lineproto import STRING_ESCAPES
from collector.schema_check import BOOL_FIELD, FLOAT_FIELD, INT64_MAX, INT64_MIN, INT_FIELD, FieldPlan

Formatter = Callable[[bytes, Mapping[str, object], int], "bytes | None"]

MAX_FIELDS: Final = 16
"""Points with more fields take the generic path (keeps the number of compiled functions small)."""
MAX_FORMATTERS: Final = 256
"""Compiled functions kept (they are few: one per kind sequence the schema's measurements produce)."""

_cache: dict[tuple[tuple[int, int], ...], Formatter] = {}


def _compile(kinds: tuple[tuple[int, int], ...]) -> Formatter:
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
    source = (f"def check_and_format(template, fields, t):\n"
              f"    {unpack} = fields.values()\n"
              f"    if {' and '.join(checks)}:\n"
              f"        return template % ({', '.join(args)}, t)\n"
              f"    return None\n")
    namespace: dict[str, object] = {"ESC": STRING_ESCAPES}
    exec(compile(source, "<collector.line_format>", "exec"), namespace)
    return namespace["check_and_format"]  # type: ignore[return-value]


def formatter(plan: tuple[FieldPlan, ...]) -> Formatter | None:
    """The compiled check-and-format function for ``plan``'s kinds (None beyond ``MAX_FIELDS`` fields)."""
    if not plan or len(plan) > MAX_FIELDS:
        return None
    kinds = tuple((p.kind, p.limit) for p in plan)
    fn = _cache.get(kinds)
    if fn is None:
        if len(_cache) >= MAX_FORMATTERS:
            _cache.clear()
        fn = _cache[kinds] = _compile(kinds)
    return fn


def template(prefix: str, plan: tuple[FieldPlan, ...]) -> bytes:
    """The ``%`` template of a line: ``prefix`` (``measurement,tags ``), each field's ``key=`` and value slot, time."""
    slots = []
    for kind, eq, _ in plan:
        slot = {INT_FIELD: "%di", FLOAT_FIELD: "%a", BOOL_FIELD: "%s"}.get(kind, '"%s"')
        slots.append(eq.replace("%", "%%") + slot)
    return (prefix.replace("%", "%%") + ",".join(slots) + " %d").encode()
