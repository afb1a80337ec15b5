"""integrations.http: the pure helpers both helpdesk adapters share."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import requests

from integrations import freshdesk, zendesk
from integrations.base import (
    MalformedPayload,
    PermanentHelpdeskError,
    TicketNotFound,
    TransientHelpdeskError,
)
from integrations.http import (
    error_for_status,
    header,
    is_placeholder,
    load_json_object,
    network_errors_as_transient,
    parse_optional_id,
    parse_retry_after,
    parse_ticket_id,
    parse_time,
)

UTC = timezone.utc
NOW = datetime(2026, 11, 29, 10, 0, 0, tzinfo=UTC)


# --- header ----------------------------------------------------------------------------------------


def test_header_is_case_insensitive_and_none_when_absent():
    headers = {"retry-after": "7", "Content-Type": "application/json"}
    assert header(headers, "Retry-After") == "7"
    assert header(headers, "content-type") == "application/json"
    assert header(headers, "X-Missing") is None
    assert header({}, "Retry-After") is None


# --- Retry-After -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value,expected",
    [
        ("30", 30.0),
        (" 30 ", 30.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("-4", 0.0),  # a negative delay means "now"
        ("Sun, 29 Nov 2026 10:00:45 GMT", 45.0),  # HTTP-date, RFC 9110 §10.2.3
        ("Sun, 29 Nov 2026 09:59:00 GMT", 0.0),  # a date in the past means "now"
        (None, None),
        ("", None),
        ("   ", None),
        ("soon", None),
        ("30s", None),
        ("Sun, 32 Nov 2026 10:00:45 GMT", None),
    ],
)
def test_parse_retry_after(value, expected):
    assert parse_retry_after(value, now=NOW) == expected


def test_parse_retry_after_date_defaults_to_current_time():
    later = datetime.now(UTC) + timedelta(seconds=120)
    seconds = parse_retry_after(later.strftime("%a, %d %b %Y %H:%M:%S GMT"))
    assert seconds is not None and 100 < seconds <= 120


def test_adapters_re_export_parse_retry_after():
    assert zendesk.parse_retry_after is parse_retry_after
    assert freshdesk.parse_retry_after is parse_retry_after


# --- status → error --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status,cls",
    [
        (200, None),
        (201, None),
        (204, None),
        (302, None),
        (400, PermanentHelpdeskError),
        (401, PermanentHelpdeskError),
        (403, PermanentHelpdeskError),
        (404, TicketNotFound),
        (409, TransientHelpdeskError),
        (422, PermanentHelpdeskError),
        (429, TransientHelpdeskError),
        (500, TransientHelpdeskError),
        (502, TransientHelpdeskError),
        (503, TransientHelpdeskError),
    ],
)
def test_error_for_status(status, cls):
    error = error_for_status(status, {"retry-after": "12"}, vendor="Acme", what="GET /x")
    if cls is None:
        assert error is None
        return
    assert type(error) is cls
    assert error.status == status
    assert str(error) == f"Acme GET /x answered {status}"
    if cls is TransientHelpdeskError:
        assert error.retry_after_s == 12.0


def test_error_for_status_without_retry_after_or_what():
    error = error_for_status(429, {}, vendor="Acme")
    assert isinstance(error, TransientHelpdeskError)
    assert error.retry_after_s is None
    assert str(error) == "Acme answered 429"


def test_not_found_is_permanent_too():
    # Callers that catch PermanentHelpdeskError also see a 404.
    assert isinstance(error_for_status(404, {}, vendor="Acme"), PermanentHelpdeskError)


@pytest.mark.parametrize("module,vendor", [(zendesk, "Zendesk"), (freshdesk, "Freshdesk")])
def test_adapter_wrappers_name_their_vendor(module, vendor):
    error = module.decipher_response(429, {"Retry-After": "3"}, what="view ticket")
    assert isinstance(error, TransientHelpdeskError)
    assert str(error) == f"{vendor} view ticket answered 429"
    assert error.retry_after_s == 3.0
    assert str(module.decipher_response(429, {})) == f"{vendor} answered 429"
    assert module.decipher_response(200, {}) is None


# --- ids -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value,expected", [("42", 42), (42, 42), (" 42 ", 42), ("007", 7)])
def test_parse_ticket_id_accepts(value, expected):
    assert parse_ticket_id(value) == expected


@pytest.mark.parametrize(
    "value,reason",
    [
        (True, "not a number"),
        (False, "not a number"),
        ("-1", "must be positive"),
        ("4.2", "not a number"),
        (4.2, "not a number"),
        ("#42", "not a number"),
        ("４２", "not a number"),  # full-width digits: str.isdigit() says yes, ids say no
        ("{{ticket.id}}", "not a number"),
        ("", "no ticket id"),
        (None, "no ticket id"),
        (0, "positive"),
        ("0", "positive"),
        (-1, "positive"),
    ],
)
def test_parse_ticket_id_refuses(value, reason):
    with pytest.raises(MalformedPayload, match=reason):
        parse_ticket_id(value)


@pytest.mark.parametrize(
    "value,expected",
    [
        ("42", "42"),
        (42, "42"),
        (" 42 ", "42"),
        ("u-1", "u-1"),
        (-1, "-1"),  # Zendesk's system user is a real author id
        (None, None),
        (True, None),
        ("", None),
        ("   ", None),
        ("{{current_user.id}}", None),
        (" {{ticket.requester.id}}", None),
    ],
)
def test_parse_optional_id(value, expected):
    assert parse_optional_id(value) == expected


def test_is_placeholder():
    assert is_placeholder("{{triggered_event}}")
    assert is_placeholder("  {{ticket.id}} ")
    assert not is_placeholder("ticket_created")
    assert not is_placeholder("")


# --- time ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-20T10:00:00Z",
        "2026-11-20T10:00:00+00:00",
        "2026-11-20T11:00:00+01:00",
        "2026-11-20T10:00:00",  # naive → UTC
        datetime(2026, 11, 20, 10, 0, 0),
        datetime(2026, 11, 20, 5, 0, 0, tzinfo=timezone(timedelta(hours=-5))),
    ],
)
def test_parse_time_gives_aware_utc(value):
    parsed = parse_time(value, source="Acme")
    assert parsed == datetime(2026, 11, 20, 10, 0, 0, tzinfo=UTC)
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize("value", [None, "", "yesterday", "2026-13-01T00:00:00Z", 1764000000])
def test_parse_time_refuses_garbage_naming_the_source(value):
    with pytest.raises(PermanentHelpdeskError, match=r"unparseable Acme time"):
        parse_time(value, source="Acme")


# --- JSON bodies -----------------------------------------------------------------------------------


def test_load_json_object():
    assert load_json_object(b'{"ticket_id": "42"}') == {"ticket_id": "42"}
    for body, reason in [(b"ticket_id=42", "not valid JSON"), (b"\xff\xfe", "not valid JSON"),
                         (b"[]", "not a JSON object"), (b'"42"', "not a JSON object")]:
        with pytest.raises(MalformedPayload, match=reason):
            load_json_object(body)


# --- network errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "exc", [requests.ConnectTimeout("x"), requests.ReadTimeout("x"), requests.ConnectionError("x"),
            requests.exceptions.ChunkedEncodingError("x")],
)
def test_network_errors_become_transient(exc):
    with pytest.raises(TransientHelpdeskError, match=f"^Acme view ticket: {type(exc).__name__}$") as info:
        with network_errors_as_transient("Acme", "view ticket"):
            raise exc
    assert info.value.__cause__ is exc


@pytest.mark.parametrize("exc", [requests.TooManyRedirects("x"), ValueError("x"), PermanentHelpdeskError("x")])
def test_other_errors_pass_through(exc):
    with pytest.raises(type(exc)) as info:
        with network_errors_as_transient("Acme", "view ticket"):
            raise exc
    assert info.value is exc


def test_absurd_ids_and_nesting_are_malformed_not_crashes():
    import pytest as _pytest

    from integrations.base import MalformedPayload
    from integrations.http import MAX_TICKET_ID, load_json_object, parse_ticket_id

    assert parse_ticket_id(str(MAX_TICKET_ID)) == MAX_TICKET_ID
    for bad in ("9" * 400, 10**30, MAX_TICKET_ID + 1):
        with _pytest.raises(MalformedPayload, match="too large"):
            parse_ticket_id(bad)
    with _pytest.raises(MalformedPayload, match="not valid JSON"):
        load_json_object(b"[" * 100_000 + b"]" * 100_000)
