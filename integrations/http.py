"""Helpers shared by the helpdesk adapters: header lookup, id coercion, time parsing, Retry-After,
status → error mapping.

Everything here is pure (no I/O) and vendor-neutral: a caller passes its vendor's display name
("Zendesk", "Freshdesk", "local") where it ends up in an error message. What really differs between
vendors (signatures, payload shapes, which statuses a vendor documents) stays in the adapters.
"""
from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Iterator, Mapping

import requests

from integrations.base import (
    HelpdeskError,
    MalformedPayload,
    PermanentHelpdeskError,
    TicketNotFound,
    TransientHelpdeskError,
)

#: requests' failures that say nothing about the request itself: worth retrying.
NETWORK_ERRORS: tuple[type[Exception], ...] = (
    requests.Timeout,
    requests.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
)


def header(headers: Mapping[str, str], name: str) -> str | None:
    """The value of header `name` in `headers`, matched case-insensitively; None when absent.

    Works on a plain dict as well as on requests' `CaseInsensitiveDict` (the first match wins).
    """
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def load_json_object(body: bytes) -> dict[str, Any]:
    """Parse a webhook body that must be a JSON object.

    Raises `MalformedPayload("body is not valid JSON")` for bytes that are not JSON (or not UTF-8),
    `MalformedPayload("body is not a JSON object")` for any other JSON value (list, string, number…),
    and `MalformedPayload("duplicate key …")` when an object holds a key twice
    (`{"ticket_id": "1002", "ticket_id": "1003"}`): `json.loads` would keep the last silently, and
    which ticket is meant is anyone's guess.
    """
    try:
        payload = json.loads(body, object_pairs_hook=_unique_keys)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
        raise MalformedPayload("body is not valid JSON") from exc
    if not isinstance(payload, dict):
        raise MalformedPayload("body is not a JSON object")
    return payload


def _unique_keys(items: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: set[str] = set()
    for key, _value in items:
        if key in seen:
            raise MalformedPayload(f"duplicate key {key!r} in a JSON object: which value is meant is ambiguous; send each key once")
        seen.add(key)
    return dict(items)


def is_placeholder(text: str) -> bool:
    """True for an automation placeholder the helpdesk did not render (`"{{ticket.id}}"`).

    Zendesk triggers and Freshdesk automation rules both use `{{…}}` placeholders; neither ever
    issues an id or event name starting with `{{`.
    """
    return text.strip().startswith("{{")


MAX_TICKET_ID = 2**63 - 1


def parse_ticket_id(value: Any) -> int:
    """A ticket id from a payload as a positive int.

    Accepts an int or a string of ASCII digits with optional surrounding spaces (`42`, `"42"`,
    `" 42 "`): payload placeholders render ids as strings. Raises `MalformedPayload`:
    "no ticket id" for None or ""; "ticket id is not a number" for a bool, a float, a "+"-signed or
    decimal string, a prefixed display id or an unrendered placeholder; "ticket id must be
    positive" for an int ≤ 0, "0" and a negative string such as "-1"; "ticket id is too large" above 2**63 - 1 (both vendors use
    64-bit ids; a longer number is garbage and must not reach a file name or an API path).
    """
    if isinstance(value, bool):
        raise MalformedPayload("ticket id is not a number")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().isdigit() and value.strip().isascii():
        if len(value.strip()) > 19:
            raise MalformedPayload("ticket id is too large")
        number = int(value.strip())
    elif value in (None, ""):
        raise MalformedPayload("no ticket id")
    elif isinstance(value, str) and value.strip().startswith("-") and value.strip()[1:].isdigit() and value.strip().isascii():
        raise MalformedPayload("ticket id must be positive")  # "-1" is a number, just not an id: say so, as for 0
    else:
        raise MalformedPayload("ticket id is not a number")
    if number <= 0:
        raise MalformedPayload("ticket id must be positive")
    if number > MAX_TICKET_ID:
        raise MalformedPayload("ticket id is too large")
    return number


def parse_optional_id(value: Any) -> str | None:
    """An optional id (user, group, requester…) as a stripped string, or None.

    None, a bool, an empty or blank value and an unrendered `{{…}}` placeholder all give None;
    anything else is `str(value).strip()` (ids are compared as strings). Never raises.
    """
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    if not text or is_placeholder(text):
        return None
    return text


def parse_time(value: Any, *, source: str) -> datetime:
    """An aware UTC datetime from an ISO-8601 string (`"2026-11-20T10:00:00Z"`, with or without an
    offset) or a datetime; a naive value is read as UTC.

    Raises `PermanentHelpdeskError("unparseable <source> time <value!r>")` for anything else
    (None, numbers, garbage): a helpdesk answering with such a time is not going to change its mind.
    """
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(str(value))
        except ValueError as exc:
            raise PermanentHelpdeskError(f"unparseable {source} time {value!r}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header value, or None when absent or unparseable.

    The value is delta-seconds (`"30"`; a decimal such as `"1.5"` is tolerated) or an HTTP-date
    (`"Sun, 29 Nov 2026 10:00:45 GMT"`, measured from `now`, default the current UTC time), as in
    RFC 9110 §10.2.3: https://www.rfc-editor.org/rfc/rfc9110#field.retry-after . Negative seconds and
    dates in the past give 0.0. Never raises.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


def error_for_status(
    status: int, headers: Mapping[str, str], *, vendor: str, what: str = ""
) -> HelpdeskError | None:
    """The Deskhand error for an HTTP status, or None for 1xx/2xx/3xx.

    - 429, 409 and 5xx → `TransientHelpdeskError`, `retry_after_s` from the `Retry-After` header
      (see `parse_retry_after`; None when absent). Both vendors answer 409 for a transient conflict
      (concurrent updates of one ticket) that a retry resolves.
    - 404 → `TicketNotFound`.
    - any other 4xx (400, 401, 403, 422…) → `PermanentHelpdeskError`.

    The message is "<vendor> <what> answered <status>" (no double space when `what` is empty) and the
    status is kept on the error as `.status`.
    """
    if status < 400:
        return None
    label = f"{vendor} {what} answered {status}".replace("  ", " ")
    if status == 429 or status == 409 or status >= 500:
        retry_after_s = parse_retry_after(header(headers, "Retry-After"))
        return TransientHelpdeskError(label, retry_after_s=retry_after_s, status=status)
    if status == 404:
        return TicketNotFound(label, status=status)
    return PermanentHelpdeskError(label, status=status)


@contextmanager
def network_errors_as_transient(vendor: str, what: str) -> Iterator[None]:
    """Turn a `NETWORK_ERRORS` exception raised inside the block into
    `TransientHelpdeskError("<vendor> <what>: <exception class name>")`, chained; every other
    exception (a `HelpdeskError` included) passes through unchanged."""
    try:
        yield
    except NETWORK_ERRORS as exc:
        raise TransientHelpdeskError(f"{vendor} {what}: {type(exc).__name__}") from exc
