"""The ``token`` probe as the agent runs it: each PKCS#11 module is checked in a short-lived child
(``agent.probes.token.child``, which runs ``agent.probes.token.scanner``), the signing middleware here. The
``token_module``, ``token``, ``token_cert``, ``token_endpoint`` and ``token_middleware`` points are described in
the package's docstring. The agent process never imports the scanner (certificates, PKCS#11, hashing)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from enum import StrEnum
from typing import Any, ClassVar

from agent.probes.base import (
    RESULT_OK,
    CheckLine,
    Probe,
    ProbeConfig,
    ProbeContext,
    result_fields,
)
from agent.probes.token.check import check_line
from agent.probes.token.child import ChildFailure, check_in_child
from agent.probes.token.config import Middleware, TokenConfig, TokenModule
from agent.probes.token.results import TokenResult
from agent.probes.token.schema import MEASUREMENTS
from agent.wire import FieldValue, Point
from agent.wire.spec import MeasurementSpec

MAX_TAG = 256


class TokenProbe(Probe[TokenConfig]):
    name: ClassVar[str] = "token"
    results: ClassVar[type[StrEnum] | None] = TokenResult
    Config: ClassVar[type[ProbeConfig]] = TokenConfig
    measurements: ClassVar[tuple[MeasurementSpec, ...]] = MEASUREMENTS

    def __init__(self, config: TokenConfig, ctx: ProbeContext) -> None:
        super().__init__(config, ctx)

    async def collect(self) -> list[Point]:
        cfg = self.config
        jobs: list[Any] = [self.check_module(m) for m in cfg.modules]
        jobs += [self.check_middleware(m) for m in cfg.middleware]
        if not cfg.modules and cfg.windows_store and sys.platform == "win32":  # pragma: no cover
            jobs.append(self.check_windows_store())
        points: list[Point] = []
        for result in await asyncio.gather(*jobs):
            points.extend(result if isinstance(result, list) else [result])
        return points

    # modules, tokens, certificates ------------------------------------------------------------------
    async def check_module(self, module: TokenModule) -> list[Point]:
        """One module's points, computed in a child process (agent.probes.token.child): the agent process never
        loads the PKCS#11 library, python-pkcs11 or cryptography."""
        ts = self.ctx.clock_ns()
        try:
            return await check_in_child(self.config, module, ts)
        except ChildFailure as exc:
            fields: dict[str, FieldValue | None] = {"loaded": 0, "slots": 0, "tokens": 0}
            return [self.point("token_module", {**fields, **result_fields(exc.code, exc.reason)},
                               {"module": module.name, "path": module.path[:MAX_TAG]}, ts)]

    async def check_windows_store(self) -> list[Point]:  # pragma: no cover - Windows only, untested here
        from agent.probes.token.scanner import TokenScanner

        return await TokenScanner(self.config, self.ctx).check_windows_store()

    # middleware -----------------------------------------------------------------------------------
    async def check_middleware(self, mw: Middleware) -> Point:
        ts = self.ctx.clock_ns()
        tags = {"name": mw.name}
        fields: dict[str, FieldValue | None] = {}
        problems: list[tuple[str, str]] = []
        if mw.process:
            running = await asyncio.to_thread(process_running, mw.process)
            fields["process_running"] = 1 if running else 0
            if not running:
                problems.append((TokenResult.PROCESS_NOT_RUNNING, f"process {mw.process} is not running"))
        if mw.port is not None:
            tags["port"] = str(mw.port)
            started = time.perf_counter()
            try:
                async with asyncio.timeout(min(5.0, float(self.config.timeout))):
                    _reader, writer = await asyncio.open_connection(mw.host, mw.port)
                fields["connect_ms"] = (time.perf_counter() - started) * 1000.0
                fields["port_open"] = 1
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()
            except TimeoutError:
                fields["port_open"] = 0
                problems.append((TokenResult.PORT_TIMEOUT, f"{mw.host}:{mw.port} did not answer"))
            except OSError as exc:
                fields["port_open"] = 0
                problems.append((TokenResult.PORT_CLOSED, f"nothing listens on {mw.host}:{mw.port} ({exc.strerror or exc})"))
        code, reason = problems[0] if problems else (RESULT_OK, "")
        if len(problems) > 1:
            reason = "; ".join(r for _c, r in problems)
        return self.point("token_middleware", {**fields, **result_fields(code, reason)}, tags, ts)

    # commune-agent check ----------------------------------------------------------------------------
    @classmethod
    def check_lines(cls, points: list[Point]) -> list[CheckLine]:
        return [line for p in points if (line := check_line(p)) is not None]


def process_running(name: str) -> bool:
    import psutil

    want = name.lower()
    stem = want.removesuffix(".exe")
    for proc in psutil.process_iter(["name"]):
        pname = (proc.info.get("name") or "").lower()
        if pname in (want, stem) or pname.removesuffix(".exe") == stem:
            return True
    return False
