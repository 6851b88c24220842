"""supervise, mqtt_error, config-error paths, secret files, sequence ranges."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import aiomqtt
import msgspec
import pytest

from common.backoff import Backoff
from common.config_errors import describe_validation_error
from common.mqtt import client_tls_context, mqtt_error
from common.ranges import seqs_to_ranges
from common.secret_files import read_secret
from common.supervise import supervise


async def test_supervise_restarts_a_failing_task_and_returns_when_it_returns(caplog: pytest.LogCaptureFixture) -> None:
    runs = []

    async def task() -> None:
        runs.append(1)
        if len(runs) < 3:
            raise RuntimeError(f"boom {len(runs)}")

    with caplog.at_level(logging.ERROR, logger="supervise"):
        await supervise("worker", task, backoff=Backoff(0.001, 0.002))
    assert len(runs) == 3
    failures = [r for r in caplog.records if "worker failed; restarting in" in r.getMessage()]
    assert len(failures) == 2 and failures[0].exc_info is not None


async def test_supervise_lets_cancellation_through() -> None:
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.Event().wait()

    t = asyncio.create_task(supervise("forever", forever))
    await started.wait()
    t.cancel()
    with pytest.raises(asyncio.CancelledError):
        await t


def test_mqtt_error_finds_the_connection_error_and_refuses_bugs() -> None:
    lost = aiomqtt.MqttError("lost")
    assert mqtt_error(lost) is lost
    assert mqtt_error(ExceptionGroup("g", [lost, aiomqtt.MqttError("x")])) is lost
    assert mqtt_error(ExceptionGroup("g", [lost, KeyError("bug")])) is None
    assert mqtt_error(KeyError("bug")) is None


def test_tls_context_verifies_unless_told_not_to() -> None:
    import ssl

    strict = client_tls_context()
    assert strict.verify_mode == ssl.CERT_REQUIRED and strict.check_hostname
    loose = client_tls_context(insecure_skip_verify=True)
    assert loose.verify_mode == ssl.CERT_NONE and not loose.check_hostname


class _Target(msgspec.Struct, forbid_unknown_fields=True):
    host: str


class _Probe(msgspec.Struct, forbid_unknown_fields=True):
    targets: list[_Target]


def _error(doc: object) -> msgspec.ValidationError:
    with pytest.raises(msgspec.ValidationError) as err:
        msgspec.convert(doc, _Probe)
    return err.value


def test_validation_errors_name_the_field() -> None:
    assert describe_validation_error(_error({"targets": [{"host": 1}]}), "probes.ping") == \
        ("probes.ping.targets[0].host", "Expected `str`, got `int`")
    assert describe_validation_error(_error({"targets": [{"host": "a", "port": 1}]})) == \
        ("targets[0].port", "unknown key")
    assert describe_validation_error(_error({"targets": [{}]})) == ("targets[0].host", "required key is missing")
    assert describe_validation_error(_error({})) == ("targets", "required key is missing")


def test_read_secret(tmp_path: Path) -> None:
    f = tmp_path / "pw"
    f.write_text("s3cret\n")
    assert read_secret("inline", str(f), "x.yaml: mqtt.password_file", ValueError) == "s3cret"
    assert read_secret("inline", "", "x", ValueError) == "inline"
    assert read_secret("", "", "x", ValueError) is None
    with pytest.raises(ValueError, match=r"^x.yaml: mqtt.password_file: cannot read .*/missing: No such file"):
        read_secret("", str(tmp_path / "missing"), "x.yaml: mqtt.password_file", ValueError)


def test_seq_ranges() -> None:
    assert seqs_to_ranges([3, 1, 2, 7, 8, 10, 3]) == [(1, 3), (7, 8), (10, 10)]
    assert seqs_to_ranges([]) == []
