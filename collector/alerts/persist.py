"""The engine's state on disk (JSON, atomic replace): what a collector restart must not lose."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from collector.alerts.model import Alert
from collector.alerts.series import Series, Subject

if TYPE_CHECKING:
    from collector.alerts.engine import Engine

VERSION = 1


def _alert_json(alert: Alert) -> dict[str, Any]:
    return {"labels": alert.labels, "annotations": alert.annotations, "starts_at": alert.starts_at.isoformat(),
            "ends_at": alert.ends_at.isoformat() if alert.ends_at else None}


def _alert(data: dict[str, Any]) -> Alert:
    ends = data.get("ends_at")
    return Alert(data["labels"], data["annotations"], datetime.fromisoformat(data["starts_at"]),
                 datetime.fromisoformat(ends) if ends else None)


def save(engine: Engine, path: Path) -> None:
    state = {
        "version": VERSION,
        "subjects": [asdict(s) for s in engine.subjects.values()],
        "first_seen": engine.first_seen,
        "last_seen": [[rule, agent, t] for (rule, agent), t in engine.last_seen.items()],
        "series": [s.to_json() for s in engine.series.values()],
        "escalated": engine.escalated,
        "incidents": engine.correlator.starts,
        "watch": {k: sorted(v) for k, v in engine.correlator.watch.items()},
        "emitted": [_alert_json(a) for a in engine.emitted.values()],
        "retired": [_alert_json(a) for a in engine.retired.values()],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(state, fh, ensure_ascii=False)
            fh.flush()
            os.fsync(fh.fileno())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(engine: Engine, path: Path) -> bool:
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return False
    if state.get("version") != VERSION:
        raise ValueError(f"{path}: alert state version {state.get('version')!r} is not {VERSION}")
    engine.subjects = {s["agent"]: Subject(**s) for s in state["subjects"]}
    engine.first_seen = {k: float(v) for k, v in state["first_seen"].items()}
    engine.last_seen = {(rule, agent): float(t) for rule, agent, t in state["last_seen"]}
    engine.series = {}
    for data in state["series"]:
        series = Series.from_json(data)
        engine.series[(series.rule_id, series.agent, series.target)] = series
    engine.escalated = {k: float(v) for k, v in state["escalated"].items()}
    engine.correlator.starts = {k: float(v) for k, v in state["incidents"].items()}
    engine.correlator.watch = {k: set(v) for k, v in state["watch"].items()}
    engine.emitted = {a.fingerprint: a for a in map(_alert, state["emitted"])}
    engine.retired = {a.fingerprint: a for a in map(_alert, state["retired"])}
    return True
