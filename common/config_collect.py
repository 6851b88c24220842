"""Every error of a config file at once, not only msgspec's first one, with "did you mean" for unknown keys.

msgspec stops at the first problem. ``convert_collecting`` converts, records the error, removes the offending
key (or list item) from a copy of the document and converts again, until the rest converts or nothing more can
be removed. Errors about a field already reported (or about the section holding it) are not repeated.
"""

from __future__ import annotations

import copy
import re
import typing
from collections.abc import Callable
from typing import Any

import msgspec
import msgspec.inspect as mi

from common.config_errors import describe_validation_error

_AT_RE = re.compile(r" - at `\$(.*)`$")
_KEY_RE = re.compile(r"^Object (?:contains unknown|missing required) field `([^`]+)`")
_SEGMENT_RE = re.compile(r"\.([^.\[]+)|\[(\d+)\]")
MAX_ERRORS = 50

Segment = str | int
Problem = tuple[str, str]
"""(field path like ``probes.ping.targets[0].host``, what is wrong)."""


def split_path(text: str) -> list[Segment]:
    """``.probes.ping.targets[0].host`` (msgspec's spelling) -> ['probes', 'ping', 'targets', 0, 'host']."""
    return [int(i) if i else k for k, i in _SEGMENT_RE.findall(text)]


def join_path(prefix: str, segments: list[Segment]) -> str:
    out = prefix
    for s in segments:
        out = f"{out}[{s}]" if isinstance(s, int) else (f"{out}.{s}" if out else s)
    return out or "(top level)"


def suggest(word: str, known: list[str]) -> str:
    """`` (did you mean 'interval'?)`` for a near miss, else ''."""
    import difflib  # only when a config has a mistake

    close = difflib.get_close_matches(word, known, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _struct_fields(info: mi.Type) -> list[str] | None:
    while True:
        if isinstance(info, mi.StructType):
            return [f.encode_name for f in info.fields]
        if isinstance(info, mi.UnionType):
            inner = [t for t in info.types if not isinstance(t, mi.NoneType)]
            if len(inner) != 1:
                return None
            info = inner[0]
        elif isinstance(info, mi.Metadata):
            info = info.type
        else:
            return None


def known_keys(typ: Any, segments: list[Segment]) -> list[str]:
    """The keys the struct at ``segments`` (inside ``typ``) accepts; [] if it cannot be told."""
    info: mi.Type = mi.type_info(typ)
    for seg in segments:
        while isinstance(info, mi.Metadata | mi.UnionType):
            if isinstance(info, mi.Metadata):
                info = info.type
            else:
                inner = [t for t in info.types if not isinstance(t, mi.NoneType)]
                if len(inner) != 1:
                    return []
                info = inner[0]
        if isinstance(seg, int) and isinstance(info, mi.ListType | mi.SetType | mi.FrozenSetType | mi.VarTupleType):
            info = info.item_type
        elif isinstance(seg, str) and isinstance(info, mi.DictType):
            info = info.value_type
        elif isinstance(seg, str) and isinstance(info, mi.StructType):
            match = [f for f in info.fields if f.encode_name == seg]
            if not match:
                return []
            info = match[0].type
        else:
            return []
    return _struct_fields(info) or []


def _remove(doc: Any, segments: list[Segment], lists: dict[int, list[int]]) -> bool:
    """Delete the key or list item at ``segments``; list items are tracked so reported indices stay the file's."""
    if not segments:
        return False
    parent = doc
    for seg in segments[:-1]:
        try:
            parent = parent[seg]
        except (KeyError, IndexError, TypeError):
            return False
    last = segments[-1]
    if isinstance(parent, dict) and last in parent:
        del parent[last]
        return True
    if isinstance(parent, list) and isinstance(last, int) and 0 <= last < len(parent):
        lists.setdefault(id(parent), list(range(len(parent)))).pop(last)
        del parent[last]
        return True
    return False


def _original(doc: Any, segments: list[Segment], lists: dict[int, list[int]]) -> list[Segment]:
    """Indices in ``segments`` as they were in the file (before items were removed)."""
    out: list[Segment] = []
    node = doc
    for seg in segments:
        if isinstance(seg, int) and isinstance(node, list) and id(node) in lists:
            out.append(lists[id(node)][seg] if seg < len(lists[id(node)]) else seg)
        else:
            out.append(seg)
        try:
            node = node[seg]
        except (KeyError, IndexError, TypeError):
            node = None
    return out


def _covered(field: str, seen: list[str]) -> bool:
    return any(field == s or s.startswith((field + ".", field + "[")) for s in seen)


def convert_collecting(data: Any, typ: Any, prefix: str = "",
                       dec_hook: Callable[[type, Any], Any] | None = None) -> tuple[Any | None, list[Problem]]:
    """``msgspec.convert`` that reports every problem: (the converted value or None, problems). A struct is
    checked key by key (unknown keys with a suggestion, missing required keys, then each value on its own)."""
    if isinstance(typ, type) and issubclass(typ, msgspec.Struct) and isinstance(data, dict):
        problems: list[Problem] = []
        fields = {f.encode_name: f for f in msgspec.structs.fields(typ)}
        if typ.__struct_config__.forbid_unknown_fields:
            problems += [(join_path(prefix, [k]), "unknown key" + suggest(str(k), list(fields)))
                         for k in data if k not in fields]
        for name, f in fields.items():
            if name not in data:
                if f.required:
                    problems.append((join_path(prefix, [name]), "required key is missing"))
                continue
            _, found = convert_collecting(data[name], f.type, join_path(prefix, [name]), dec_hook)
            problems += found
        if problems:
            return None, problems
    elif typing.get_origin(typ) is dict and isinstance(data, dict):  # each value on its own, named by its key
        problems = []
        for k, v in data.items():
            problems += convert_collecting(v, typing.get_args(typ)[1], join_path(prefix, [str(k)]), dec_hook)[1]
        if problems:
            return None, problems
    return _convert_removing(data, typ, prefix, dec_hook)


def _convert_removing(data: Any, typ: Any, prefix: str,
                      dec_hook: Callable[[type, Any], Any] | None) -> tuple[Any | None, list[Problem]]:
    doc = copy.deepcopy(data)
    lists: dict[int, list[int]] = {}
    problems: list[Problem] = []
    for _ in range(MAX_ERRORS):
        try:
            value = msgspec.convert(doc, typ, dec_hook=dec_hook)
            return (None if problems else value), problems
        except msgspec.ValidationError as exc:
            text = str(exc)
            at = _AT_RE.search(text)
            where = split_path(at.group(1)) if at else []
            key = _KEY_RE.match(text)
            target = [*where, key.group(1)] if key else where
            field, what = describe_validation_error(exc, prefix)
            field = join_path(prefix, _original(doc, target, lists))
            if what == "unknown key" and key:
                what += suggest(key.group(1), known_keys(typ, where))
            if not _covered(field, [f for f, _ in problems]):
                problems.append((field, what))
            missing = what == "required key is missing"
            # a missing key cannot be removed: drop the section (or list item) that lacks it instead
            if not _remove(doc, where if missing else target, lists):
                return None, problems
    return None, problems


def format_problems(source: str, problems: list[Problem]) -> str:
    """One problem: ``source: field: what``; several: ``source: N errors:`` then one indented line each."""
    if len(problems) == 1:
        return f"{source}: {problems[0][0]}: {problems[0][1]}"
    return f"{source}: {len(problems)} errors:\n" + "\n".join(f"  {f}: {w}" for f, w in problems)
