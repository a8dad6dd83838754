"""The access line and the two formats (server/access_log.py), in process: whatever text a field holds,
a record is exactly one line (valid JSON in json), its fields stay apart, and nothing is logged
below the access logger's level."""

from __future__ import annotations

import io
import json
import logging
import sys
from typing import Iterator

import pytest
from hypothesis import given, settings, strategies as st

from opensts.identity.principal import Caller, PrincipalKind
from opensts.server.access_log import (
    ACCESS,
    ARN,
    FIELDS,
    LONG,
    SHORT,
    JsonFormatter,
    TextFormatter,
    _record,
    clean,
    log_request,
)

TEXT = st.text(st.characters(), max_size=3000) | st.sampled_from(["", "-", " ", "\n", "\r\n", "\u2028", "\x85", "\ud800"])


class Captured:
    """A handler on the access logger writing through one of the formatters into a string."""

    def __init__(self, formatter: logging.Formatter) -> None:
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(formatter)

    def text(self) -> str:
        return self.stream.getvalue()


@pytest.fixture
def capture() -> Iterator[list[Captured]]:
    made: list[Captured] = []
    level, propagate = ACCESS.level, ACCESS.propagate
    ACCESS.setLevel(logging.INFO)
    ACCESS.propagate = False
    yield made
    for captured in made:
        ACCESS.removeHandler(captured.handler)
    ACCESS.setLevel(level)
    ACCESS.propagate = propagate


def attach(made: list[Captured], formatter: logging.Formatter) -> Captured:
    captured = Captured(formatter)
    ACCESS.addHandler(captured.handler)
    made.append(captured)
    return captured


@settings(max_examples=200, deadline=None)
@given(path=TEXT, key_id=TEXT, arn=TEXT)
def test_any_field_text_gives_one_line_in_both_formats(path: str, key_id: str, arn: str) -> None:
    text, as_json = Captured(TextFormatter()), Captured(JsonFormatter())
    for captured in (text, as_json):
        ACCESS.addHandler(captured.handler)
    level, propagate = ACCESS.level, ACCESS.propagate
    ACCESS.setLevel(logging.INFO)
    ACCESS.propagate = False
    try:
        caller = Caller(PrincipalKind.USER, "123456789012", arn, "AIDA", "AKIA") if arn else None
        log_request("rid", "192.0.2.1", "-", path, caller, key_id, 404, None, 0.001, 9)
        log_request("rid", None, "opensts", path, caller, key_id, 200, None, 0.5, 90, "Allow", authorize=True)
    finally:
        for captured in (text, as_json):
            ACCESS.removeHandler(captured.handler)
        ACCESS.setLevel(level)
        ACCESS.propagate = propagate

    json_lines = as_json.text().split("\n")
    assert json_lines[-1] == "" and len(json_lines) == 3
    for line, extra in zip(json_lines[:2], ({}, {"decision": "Allow"})):
        assert line.isascii() and len(line.splitlines()) == 1
        record = json.loads(line)
        assert set(record) == {"time", "level", "logger", "message", *FIELDS, *extra}
        assert record["action"] == clean(path, LONG) and record["access_key_id"] == (
            "AKIA" if arn else clean(key_id))
        assert record["principal"] == (clean(arn, ARN) if arn else "-")
    text_lines = text.text().split("\n")
    assert text_lines[-1] == "" and len(text_lines) == 3
    for line, count in zip(text_lines[:2], (len(FIELDS), len(FIELDS) + 1)):
        assert line.isascii() and line.isprintable() and len(line.splitlines()) == 1
        message = line.split(" INFO opensts.access: ", 1)[1]
        pairs = message.split(" ")
        assert [pair.split("=", 1)[0] for pair in pairs] == [*FIELDS, "decision"][:count]
        assert all(pair.split("=", 1)[1] for pair in pairs)  # no field is empty


@given(value=TEXT, limit=st.sampled_from([SHORT, LONG, ARN]))
def test_clean_bounds_and_escapes(value: str, limit: int) -> None:
    cleaned = clean(value, limit)
    assert len(cleaned) <= limit + 3
    assert cleaned.isascii() and cleaned.isprintable() and " " not in cleaned and '"' not in cleaned
    if value and len(value) <= limit and value.isascii() and value.isprintable() and not set(value) & set(' "\\'):
        assert cleaned == value
    if not value:
        assert cleaned == "-"


def test_text_format_is_the_standard_shape_for_every_logger() -> None:
    formatter = TextFormatter()
    record = logging.LogRecord("opensts.server", logging.WARNING, __file__, 1, "a %s", ("b",), None)
    assert formatter.format(record) == logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s").format(record)
    try:
        raise ValueError("boom")
    except ValueError:
        failed = logging.LogRecord("opensts.server", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    assert "Traceback" in formatter.format(failed) and "ValueError: boom" in formatter.format(failed)


def test_json_records_an_exception_on_one_line() -> None:
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        record = logging.LogRecord("opensts.server", logging.ERROR, __file__, 1, "failed %s", ("x",), sys.exc_info())
    line = JsonFormatter().format(record)
    assert "\n" not in line
    data = json.loads(line)
    assert data["message"] == "failed x" and data["level"] == "ERROR" and data["logger"] == "opensts.server"
    assert "ValueError: boom\nsecond line" in data["exception"]
    assert data["time"].endswith("Z") and len(data["time"]) == len("2024-01-01T00:00:00.000Z")


def test_access_record_has_every_attribute_of_a_standard_record() -> None:
    made = _record("x %s", ("y",))
    standard = ACCESS.makeRecord(ACCESS.name, logging.INFO, __file__, 0, "x %s", ("y",), None)
    assert set(vars(made)) == set(vars(standard))
    for name in ("name", "levelno", "levelname", "process", "processName", "thread", "threadName"):
        assert getattr(made, name) == getattr(standard, name)
    assert abs(made.created - standard.created) < 5 and made.getMessage() == "x y"


def test_nothing_is_logged_below_info(capture: list[Captured]) -> None:
    captured = attach(capture, TextFormatter())
    ACCESS.setLevel(logging.WARNING)
    log_request("rid", "192.0.2.1", "sts", "GetCallerIdentity", None, None, 200, None, 0.001, 9)
    assert captured.text() == ""
    ACCESS.setLevel(logging.INFO)
    log_request("rid", "192.0.2.1", "sts", "GetCallerIdentity", None, None, 200, None, 0.001, 9)
    assert captured.text().count("\n") == 1
