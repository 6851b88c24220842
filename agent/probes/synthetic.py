"""synthetic: a load generator for tests, soaks and benchmarks (not for production configs).

Measurement ``synthetic`` (tags ``run`` = random id of this agent process, ``series`` = s0..sN-1):
n (int, 1, 2, 3 ... per process: a gap in n is a lost point), value (float).
``rounds`` bounds how many rounds it produces (0 = forever), so a test knows exactly what to expect.
"""

from __future__ import annotations

import os
from typing import Annotated, ClassVar, Final

import msgspec

from agent.probes.base import Probe, ProbeConfig
from agent.units import Duration
from agent.wire import Point
from agent.wire.spec import MeasurementSpec, float_field, int_field, measurement


class SyntheticConfig(ProbeConfig, kw_only=True):
    interval: Duration = Duration(1)
    points_per_round: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 10
    series: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 10
    rounds: Annotated[int, msgspec.Meta(ge=0)] = 0


MEASUREMENTS: Final = (
    measurement("synthetic", "synthetic", {"run": "random id of this agent process", "series": "s0..sN-1"}, {
        "n": int_field("count", "running number of the point"),
        "value": float_field("", "n modulo 1000"),
    }),
)


class SyntheticProbe(Probe[SyntheticConfig]):
    name: ClassVar[str] = "synthetic"
    Config: ClassVar[type[ProbeConfig]] = SyntheticConfig
    measurements: ClassVar[tuple[MeasurementSpec, ...]] = MEASUREMENTS

    def __init__(self, config: SyntheticConfig, ctx: object) -> None:
        super().__init__(config, ctx)  # type: ignore[arg-type]
        self.run_id = os.urandom(4).hex()
        self.n = 0
        self.rounds_done = 0

    async def collect(self) -> list[Point]:
        cfg = self.config
        if cfg.rounds and self.rounds_done >= cfg.rounds:
            return []
        self.rounds_done += 1
        base = self.ctx.clock_ns()
        points = []
        for i in range(cfg.points_per_round):
            self.n += 1
            # distinct timestamps within a series, so InfluxDB keeps every point
            points.append(Point(m="synthetic", t=base + i, f={"n": self.n, "value": float(self.n % 1000)},
                                tg={"run": self.run_id, "series": f"s{i % cfg.series}"}))
        return points
