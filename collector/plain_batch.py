"""The hot path of ``Validator.metrics``: a batch whose every point is plainly valid, checked and encoded with a
cache per point shape. Anything else (a wire error, a point to reject) returns None and the batch takes the
general path (``wire.decode_batch`` + ``schema_check``), so every rejection, reason and counter is the general
path's own. This path accepts only what the general path accepts, and writes the same bytes.

Decoding: the wire types without their string patterns (msgspec checks a pattern with a regex per string:
~2.5 of ~2.9 us per point). The patterns are checked here once per new shape instead; numbers, lengths,
unknown fields and the rest keep msgspec's own checks.

A shape is a series as an agent sends it: (agent, measurement, tag items, field names). Its checks are split in two:

- the **template**, (measurement, tag keys, field names): wire name patterns, reserved tags, renames, schema tags
  and fields, and the compiled line writer of its field kinds (``collector.line_format``). Checked once and shared
  by every series of every agent with the same names (``bench/province_load.py``'s 2,706 agents send 10).
  At most ``max_templates`` (oldest out; a series already cached keeps its template).
- the **series entry**: tag value patterns once, then only what is per series: the line's prefix bytes
  (``measurement,tags ``), its series key (``limits.series_key``), its estimated size and a reference to the
  template's writer, under a key whose names and tag items are the template's and other series' objects. ~540 B
  per series measured (``bench/shape_cache.py``), so ``max_shapes`` = 160,000 covers a province at 10 office PCs
  per site (78,474 series in ``bench/province_load.py``) for ~40 MiB, and up to ~21 PCs per site.

A later point of a cached shape checks only its values (types, int64 range, finite floats, string lengths) and its
time. Bounded: at most ``max_shapes`` series and ``max_bytes`` of them (each entry's size estimated when it is made,
from the sizes ``bench/shape_cache.py`` measures; oldest out), and a series whose ``measurement,tags`` prefix is
longer than ``max_prefix`` characters is not cached (its batches take the general path), so a hostile agent's
varied or long tags cannot grow it. Once the cache is full, a batch that is mostly new shapes takes the general path
instead of evicting, so a flood of new series cannot push out the series of steady agents.
"""

from __future__ import annotations

import re
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from typing import Annotated, Final, NamedTuple

import msgspec

from agent import wire
from collector.limits import series_key
from collector.line_format import NotPlain, Writer, writer
from collector.lineproto import LineEncoder, series_prefix
from collector.schema_check import compile_fields

_NAME: Final = re.compile(wire.Name.__metadata__[0].pattern)  # type: ignore[attr-defined]
_TAG_VALUE: Final = re.compile(wire.TagValue.__metadata__[0].pattern)  # type: ignore[attr-defined]

MAX_SHAPES: Final = 160_000
"""Series cached (~540 B each, docs/benchmarks.md): ``bench/province_load.py``'s province has 78,474 at 10 office PCs
per site, 135,546 at 18."""
MAX_BYTES: Final = 96 * 2**20
"""Estimated bytes of the cached series in all: a province's series are ~540 B each (~70 MiB at 135,546); series
with long or unshared tags are larger, so this, not ``MAX_SHAPES``, bounds what a hostile agent's can hold."""
SERIES_BYTES: Final = 384
"""An entry's size without its prefix and unshared tag items (measured: bench/shape_cache.py)."""
ITEM_BYTES: Final = 144
"""A tag item (key, value) no other series shares, without the value's characters (at most 4 B each)."""
MAX_SHARED_ITEMS: Final = 16_384
"""Distinct tag items (key, value) shared between series keys (targets, services: a province has a few hundred)."""
MAX_TEMPLATES: Final = 4096
"""Point templates cached (a province's agents send a few dozen at most)."""

_LooseTagValue = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class LoosePoint(wire.Point, frozen=True, gc=False):
    """``wire.Point`` without the name and tag value patterns (checked per shape instead)."""

    m: str
    f: Annotated[dict[str, wire.FieldValue], msgspec.Meta(min_length=1, max_length=64)]
    tg: Annotated[dict[str, _LooseTagValue], msgspec.Meta(max_length=16)] = msgspec.field(default_factory=dict)


class LooseBatch(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """``wire.Batch`` without the agent id pattern (the agent must equal the topic's, which was checked)."""

    v: int
    agent: str
    seq: wire.Seq
    sent: wire.TimestampNs
    points: Annotated[list[LoosePoint], msgspec.Meta(max_length=wire.MAX_POINTS_PER_BATCH)]
    clock_offset_ms: wire.ClockOffsetMs | None = None


_decoder = msgspec.json.Decoder(LooseBatch)


class Template(NamedTuple):
    """What a point's names decide, checked once and shared by every series (of every agent) that sends them."""

    write: Writer
    """``write(prefix, fields, t)``: checks the values and returns the line (``collector.line_format``)."""
    renamed: bool
    """The names are older than the schema: the points are upgraded (``wire.renames``)."""
    m: str
    tags: tuple[str, ...]
    fields: tuple[str, ...]


class Shape(NamedTuple):
    """What is per series: the line's prefix and series key, with the template's (shared) writer."""

    write: Writer
    prefix: bytes
    """``measurement,tags `` as written (identity tags included)."""
    series: int
    renamed: bool
    size: int
    """Estimated bytes of the entry (``SERIES_BYTES`` + prefix + unshared tag items)."""


class Plain(NamedTuple):
    lines: list[bytes]
    series: list[int]
    points: list[wire.Point]
    seq: int
    clock_offset_ms: float | None


class PlainBatches:
    def __init__(self, schema: wire.Schema, encoder: LineEncoder, max_shapes: int = MAX_SHAPES,
                 max_prefix: int = 1024, max_templates: int = MAX_TEMPLATES,
                 max_bytes: int = MAX_BYTES) -> None:
        self.schema = schema
        self.encoder = encoder
        self.max_shapes = max_shapes
        self.max_bytes = max_bytes
        self.max_prefix = max_prefix
        self.max_templates = max_templates
        self._fields = compile_fields(schema)
        self._shapes: dict[tuple[str | tuple[str, str], ...], Shape] = {}
        """(agent, measurement, *tag items, *field names) -> shape: pairs and names cannot be confused."""
        self._order: deque[tuple[str | tuple[str, str], ...]] = deque()
        """The keys of ``_shapes``, oldest first (a dict and a deque: ~40 B per entry less than an OrderedDict)."""
        self._templates: OrderedDict[tuple[str, tuple[str, ...], tuple[str, ...]], Template] = OrderedDict()
        """(measurement, tag keys, field names) -> template."""
        self._items: dict[tuple[str, str], tuple[str, str]] = {}
        """Tag items of cached shapes, one object per distinct item (many agents send the same targets)."""
        self._renamed = 0  # cached shapes with ``renamed``
        self._bytes = 0  # estimated bytes of the cached shapes

    def __len__(self) -> int:
        return len(self._shapes)

    def templates(self) -> int:
        return len(self._templates)

    def size(self) -> int:
        """Estimated bytes of the cached series (not counted: at most ``max_templates`` templates, each a writer and its
        names)."""
        return self._bytes

    def full(self) -> bool:
        """No room for one more series without evicting (by count, or by bytes for the longest prefix)."""
        return len(self._shapes) >= self.max_shapes or \
            self._bytes + SERIES_BYTES + 8 * self.max_prefix > self.max_bytes  # the largest entry (UTF-8, tags)

    def _template(self, point: wire.Point) -> Template | None:
        """The template of a point's names, checked in full when new; None when they are not plainly valid."""
        m, tg, f = point.m, point.tg, point.f
        key = (m, tuple(tg), tuple(f))
        found = self._templates.get(key)
        if found is not None:
            return found
        if not _NAME.search(m) or not all(_NAME.search(k) for k in f) or not all(_NAME.search(k) for k in tg):
            return None
        if not wire.RESERVED_TAGS.isdisjoint(tg):
            return None
        q = wire.renames.upgrade(point)
        compiled = self._fields.get(q.m)
        if compiled is None or not compiled[0].issuperset(q.tg) or len(q.f) != len(f):  # two names for one field
            return None
        plan = tuple(compiled[1].get(k) for k in q.f)
        if None in plan:
            return None
        template = Template(writer(plan), q is not point, *key)  # type: ignore[arg-type]
        if len(self._templates) >= self.max_templates:  # series already made keep theirs
            self._templates.popitem(last=False)
        self._templates[key] = template
        return template

    def _shape(self, agent: str, tags: Mapping[str, str], point: wire.Point) -> Shape | None:
        """Check a new series' tag values (its template's names once per template); None when it is not plainly
        valid or its prefix is too long to cache."""
        if not all(_TAG_VALUE.search(v) for v in point.tg.values()):
            return None
        template = self._template(point)
        if template is None:
            return None
        q = wire.renames.upgrade(point) if template.renamed else point
        text = series_prefix(q.m, sorted({**q.tg, **tags}.items())) + " "
        if len(text) > self.max_prefix:
            return None
        prefix = text.encode()
        items = self._items
        if len(items) >= MAX_SHARED_ITEMS:  # only sharing is lost
            items.clear()
        size = SERIES_BYTES + len(prefix)
        pairs = []
        for pair in zip(template.tags, point.tg.values(), strict=True):
            shared = items.setdefault(pair, pair)
            if shared is pair:
                size += ITEM_BYTES + 4 * len(pair[1])
            pairs.append(shared)
        shape = Shape(template.write, prefix, series_key(prefix), template.renamed, size)
        while self._order and (len(self._shapes) >= self.max_shapes or self._bytes + size > self.max_bytes):
            old = self._shapes.pop(self._order.popleft())
            self._renamed -= old.renamed
            self._bytes -= old.size
        self._renamed += shape.renamed
        self._bytes += size
        key: tuple[str | tuple[str, str], ...] = (agent, template.m, *pairs, *template.fields)
        self._shapes[key] = shape
        self._order.append(key)
        return shape

    def _new_shapes(self, agent: str, tags: Mapping[str, str], points: list[LoosePoint]) -> list[Shape] | None:
        """The batch's shapes, new ones checked and cached; None when one is not plainly valid, or when the cache is
        full and most of the batch is new (it then takes the general path, so a flood of new shapes cannot evict
        the shapes of steady agents, and costs what it cost before this cache)."""
        table = self._shapes
        found = [table.get((agent, p.m, *p.tg.items(), *p.f)) for p in points]
        if 2 * found.count(None) > len(found) and self.full():
            return None
        out = []
        for shape, p in zip(found, points, strict=True):
            shape = shape or table.get((agent, p.m, *p.tg.items(), *p.f)) or self._shape(agent, tags, p)
            if shape is None:
                return None
            out.append(shape)
        return out

    def accept(self, agent: str, tags: Mapping[str, str], payload: bytes, now_ns: int,
               window: Callable[[float | None, int], tuple[int, int, int]]) -> Plain | None:
        """The batch's lines when every point is plainly valid, else None. ``window(clock_offset_ms, now)``:
        (shift, lowest, highest) stored time in ns."""
        if len(payload) > wire.MAX_BATCH_BYTES:
            return None
        try:
            batch = _decoder.decode(payload)
        except msgspec.DecodeError:
            return None
        if batch.v != wire.SCHEMA_VERSION or batch.agent != agent:
            return None
        shift, lo, hi = window(batch.clock_offset_ms, now_ns)
        points = batch.points
        if not points:
            return Plain([], [], [], batch.seq, batch.clock_offset_ms)
        # whole-batch passes (comprehensions) rather than one loop: the per-point work is a few C calls each
        table = self._shapes
        try:
            known = [table[(agent, p.m, *p.tg.items(), *p.f)] for p in points]
        except KeyError:  # a shape seen for the first time (or forgotten)
            found = self._new_shapes(agent, tags, points)
            if found is None:
                return None
            known = found
            renamed = any(s.renamed for s in known)  # new shapes may already be out of the cache again
        else:
            renamed = self._renamed > 0  # every shape of the batch is in the cache
        times = [p.t for p in points]
        if min(times) + shift < lo or max(times) + shift > hi:
            return None
        try:
            lines = [s.write(s.prefix, p.f, p.t + shift) for s, p in zip(known, points, strict=True)]
        except NotPlain:
            return None
        upgrade = wire.renames.upgrade
        kept: list[wire.Point] = [upgrade(p) if s.renamed else p for s, p in zip(known, points, strict=True)] \
            if renamed else points  # type: ignore[assignment]
        return Plain(lines, [s.series for s in known], kept, batch.seq, batch.clock_offset_ms)
