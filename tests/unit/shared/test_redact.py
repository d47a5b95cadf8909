"""What an error may say in a dead-letter reason or a log line while a record is in hand:
another library's message may quote the data it refused (`date.fromisoformat` repeats the
string, a `KeyError` its key), so only its kind is told; the system's, the broker's and our own
errors keep their text, which is about the system or names ids and rules."""

import datetime as dt
import io
import json
import logging

import pytest
from aiokafka.errors import KafkaConnectionError

from shared.contract.rules import RuleCode
from shared.infra import logs
from shared.infra.redact import describe, safe_traceback
from shared.seedwork.errors import DomainError

SECRET = "1979-11-3x Zơrâm Thị Bí Mật"


def _raised(error: BaseException) -> BaseException:
    try:
        raise error
    except BaseException as exc:  # noqa: BLE001 - the error as a handler would catch it
        return exc


def _parse_birth_date() -> BaseException:
    try:
        dt.date.fromisoformat(SECRET)
    except ValueError as exc:
        return exc
    raise AssertionError("parsed")


def test_another_librarys_error_is_told_by_its_kind_only() -> None:
    error = _parse_birth_date()
    assert SECRET in str(error)  # what Python says quotes the input
    told = describe(error)
    assert told.startswith("ValueError")
    assert SECRET not in told
    assert "1979" not in describe(_raised(KeyError(SECRET)))


def test_decoding_errors_say_where_not_what() -> None:
    try:
        json.loads('{"full_name": "' + SECRET + '"')
    except json.JSONDecodeError as exc:
        told = describe(exc)
    assert told.startswith("JSONDecodeError: ")
    assert "line 1" in told
    assert SECRET not in told
    try:
        (SECRET.encode() + b"\xff").decode()
    except UnicodeDecodeError as exc:
        told = describe(exc)
    assert "position" in told
    assert "Zơrâm" not in told


def test_the_systems_the_brokers_and_our_own_errors_keep_their_text() -> None:
    assert "Connection refused" in describe(ConnectionRefusedError(111, "Connection refused"))
    assert "no broker" in describe(KafkaConnectionError("no broker"))
    refused = DomainError(RuleCode.NEED_NOT_OPEN, "need n-1 is FILLED")
    assert "need n-1 is FILLED" in describe(refused)


def test_a_traceback_while_a_record_is_in_hand_keeps_its_frames_not_the_text() -> None:
    try:
        try:
            dt.date.fromisoformat(SECRET)
        except ValueError as exc:
            raise RuntimeError(f"the event could not be read: {exc}") from exc
    except RuntimeError as exc:
        error = exc
    told = safe_traceback(error)
    assert told is not None
    assert "fromisoformat" in told  # the frames
    assert told.count("Traceback") == 2  # the cause's too
    assert SECRET not in told
    assert safe_traceback(error, record_in_hand=False) is None  # start-up: told as it is


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_the_log_tells_a_handlers_error_without_the_data_and_a_start_up_error_whole(
    fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler = logs.configure("test", fmt)  # type: ignore[arg-type]
    stream = io.StringIO()
    monkeypatch.setattr(handler, "stream", stream)
    log = logging.getLogger("test.redact")
    with logs.bind(event_id="e-1"):
        try:
            dt.date.fromisoformat(SECRET)
        except ValueError:
            log.exception("handling e-1 failed")
    try:
        raise ValueError("SECONDMENT_LOG_FORMAT must be text or json, not 'xml'")
    except ValueError:
        log.exception("cannot start")
    written = stream.getvalue()
    assert "handling e-1 failed" in written
    assert "fromisoformat" in written
    for form in (SECRET, json.dumps(SECRET)[1:-1]):  # JSON lines escape the diacritics
        assert form not in written
    assert "must be text or json, not" in written
