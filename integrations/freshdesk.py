"""Freshdesk: webhook authentication and parsing (pure) and a `Helpdesk` client on `requests`.

Freshdesk webhooks are an automation-rule action ("Trigger Webhook") and are not signed; Deskhand
authenticates them with a shared secret the admin puts in a custom header or in the rule's basic-auth
password. Pure functions hold the vendor knowledge: `verify_shared_secret`, `parse_event`,
`decipher_response`, `ticket_from_api`, `merge_tags`, `note_request`. `FreshdeskHelpdesk` is the shell.

Vendor docs followed: https://developers.freshdesk.com/api/ (tickets, conversations, notes, rate
limits, pagination) and https://support.freshdesk.com/support/solutions/articles/132589 (webhooks in
automation rules).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from contextlib import contextmanager
from typing import Any, Iterable, Iterator, Mapping, Sequence
from urllib.parse import urlsplit

import requests
import structlog

from integrations.base import (
    AuthorRole,
    HelpdeskError,
    InvalidSignature,
    MalformedPayload,
    Message,
    PermanentHelpdeskError,
    Ticket,
    TicketEvent,
    TransientHelpdeskError,
)
from integrations.http import (
    error_for_status,
    header,
    is_placeholder,
    load_json_object,
    network_errors_as_transient,
    parse_optional_id,
    parse_retry_after as parse_retry_after,  # re-exported: part of this adapter's API
    parse_ticket_id,
    parse_time,
)

log = structlog.get_logger()

NAME = "freshdesk"

SECRET_HEADER = "X-Deskhand-Secret"

#: The custom JSON body of the automation rule's "Trigger Webhook" action. The id is quoted so the
#: body stays valid JSON whatever the placeholder renders to.
WEBHOOK_BODY_TEMPLATE = '{"freshdesk_webhook": {"ticket_id": "{{ticket.id}}", "triggered_event": "{{triggered_event}}"}}'

DEFAULT_KIND = "ticket_updated"
CONVERSATIONS_PER_PAGE = 100  # Freshdesk's maximum `per_page`

# Ticket `status` codes (https://developers.freshdesk.com/api/#tickets).
STATUS_NAMES: Mapping[int, str] = {2: "open", 3: "pending", 4: "resolved", 5: "closed"}
_SOURCE_OUTBOUND_EMAIL = 10  # the ticket was opened by an agent's outbound e-mail: the agent wrote it


# ---------------------------------------------------------------------------------------------------
# Webhook: authentication and parsing (pure)
# ---------------------------------------------------------------------------------------------------


def verify_shared_secret(*, secret: str, headers: Mapping[str, str]) -> None:
    """Accept a delivery carrying the configured shared secret; return None when it does.

    The secret may come as `X-Deskhand-Secret: <secret>` or as the password of HTTP basic auth
    (`Authorization: Basic base64(<any user>:<secret>)`, what the rule's "requires authentication"
    sends). Comparisons are constant-time. Raises `InvalidSignature` when the configured secret is
    empty (fail closed), when neither form is present, or when it does not match.
    """
    if not secret:
        raise InvalidSignature("no shared secret configured")
    expected = secret.encode("utf-8")
    candidates = []
    header_value = header(headers, SECRET_HEADER)
    if header_value is not None:
        candidates.append(header_value.strip().encode("utf-8", "replace"))
    password = _basic_auth_password(header(headers, "Authorization"))
    if password is not None:
        candidates.append(password)
    if not candidates:
        raise InvalidSignature("no shared secret in the request")
    # Compare every candidate (no early exit) so timing does not tell which form was tried.
    matched = False
    for candidate in candidates:
        matched = hmac.compare_digest(expected, candidate) or matched
    if not matched:
        raise InvalidSignature("shared secret mismatch")


def parse_event(headers: Mapping[str, str], body: bytes) -> TicketEvent | None:
    """Turn a Freshdesk automation-rule webhook body into a `TicketEvent`.

    Accepts `WEBHOOK_BODY_TEMPLATE` (`{"freshdesk_webhook": {"ticket_id": "42", "triggered_event":
    "…"}}`) and the flat `{"ticket_id": 42}`. The id may be a number or a string of digits; anything
    else (a prefixed display id, an unrendered placeholder) is refused. kind = the rendered
    `triggered_event` when there is one, else "ticket_updated". Freshdesk sends no delivery id, so
    delivery_id = sha256 hex of "<ticket id>:" + raw body: identical bodies for one ticket share an id,
    which is why the job, not the intake, decides whether there is a new customer message.

    Never returns None today (the rule only fires for events Deskhand wants); the type matches
    `zendesk.parse_event`. Raises `MalformedPayload` for invalid JSON, no ticket id or a non-numeric one.
    """
    payload = load_json_object(body)
    inner = payload.get("freshdesk_webhook", payload)
    if not isinstance(inner, dict):
        raise MalformedPayload("freshdesk_webhook is not an object")
    ticket_id = parse_ticket_id(inner.get("ticket_id"))
    triggered = inner.get("triggered_event")
    kind = triggered.strip() if isinstance(triggered, str) else ""
    if not kind or is_placeholder(kind):
        kind = DEFAULT_KIND
    digest = hashlib.sha256(f"{ticket_id}:".encode() + body).hexdigest()
    return TicketEvent(helpdesk=NAME, ticket_id=ticket_id, kind=kind, delivery_id=digest, actor_id=None)


def _basic_auth_password(authorization: str | None) -> bytes | None:
    if not authorization:
        return None
    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    _user, sep, password = decoded.partition(b":")
    return password if sep else None


# ---------------------------------------------------------------------------------------------------
# Requests and responses (pure)
# ---------------------------------------------------------------------------------------------------


def note_request(html: str) -> dict[str, Any]:
    """JSON for `POST /api/v2/tickets/{id}/notes`: the HTML body, private stated explicitly."""
    return {"body": html, "private": True}


def merge_tags(existing: Iterable[str], new: Iterable[str]) -> list[str]:
    """Existing tags first (their order kept), then the new ones; no duplicates, no empty strings."""
    return list(dict.fromkeys(tag for tag in (*existing, *new) if tag))


def decipher_response(status: int, headers: Mapping[str, str], *, what: str = "") -> HelpdeskError | None:
    """Map an HTTP status to the error the adapter raises, or None for 2xx/3xx.

    429 (Freshdesk sends `Retry-After: <seconds>`), 409 ("conflicting state") and 5xx →
    `TransientHelpdeskError`; 404 → `TicketNotFound`; other 4xx → `PermanentHelpdeskError`.
    The message reads "Freshdesk <what> answered <status>". Mapping in
    `integrations.http.error_for_status`. https://developers.freshdesk.com/api/#error
    """
    return error_for_status(status, headers, vendor="Freshdesk", what=what)


def ticket_from_api(
    ticket: Mapping[str, Any],
    conversations: Iterable[Mapping[str, Any]],
    *,
    bot_agent_id: str = "",
) -> Ticket:
    """Build a `Ticket` from `GET /api/v2/tickets/{id}` and its `…/conversations` pages.

    The ticket's `description_text` is the first message: id "description-<ticket id>", written by the
    requester (by an agent when the ticket came from an outbound e-mail), public, at the ticket's
    `created_at`. A conversation is "requester" when it is not private and either `user_id` is the
    requester or it is `incoming`; everything else (replies, notes, `bot_agent_id`) is "agent".
    Private notes are `public=False`. Status codes become names ("open", "pending", …); custom fields
    with a value become `fields`. Messages are oldest first (ties keep API order).
    """
    ticket_id = parse_ticket_id(ticket.get("id"))
    requester_id = parse_optional_id(ticket.get("requester_id"))
    bot = str(bot_agent_id or "")
    messages = []
    description_html = str(ticket.get("description") or "")
    description_text = ticket.get("description_text")
    if description_html or description_text:
        outbound = ticket.get("source") == _SOURCE_OUTBOUND_EMAIL
        messages.append(
            Message(
                id=f"description-{ticket_id}",
                author_id=None if outbound else requester_id,
                author_role="agent" if outbound else "requester",
                body=str(description_text or ""),
                public=True,
                created_at=parse_time(ticket.get("created_at"), source="Freshdesk"),
                html=description_html,
            )
        )
    for c in conversations:
        user_id = parse_optional_id(c.get("user_id"))
        private = bool(c.get("private"))
        role: AuthorRole = "agent"
        if not private and ((user_id is not None and user_id == requester_id) or c.get("incoming") is True):
            role = "requester"
        if bot and user_id == bot:
            role = "agent"
        messages.append(
            Message(
                id=str(c.get("id")),
                author_id=user_id,
                author_role=role,
                body=str(c.get("body_text") or ""),
                public=not private,
                created_at=parse_time(c.get("created_at"), source="Freshdesk"),
                html=str(c.get("body") or ""),
            )
        )
    messages.sort(key=lambda m: m.created_at)
    status = ticket.get("status")
    custom_fields = ticket.get("custom_fields") or {}
    return Ticket(
        id=ticket_id,
        subject=str(ticket.get("subject") or ""),
        requester_id=requester_id,
        status=STATUS_NAMES.get(status, str(status)) if isinstance(status, int) else str(status or ""),
        tags=tuple(ticket.get("tags") or ()),
        messages=tuple(messages),
        group_id=parse_optional_id(ticket.get("group_id")),
        locale=None,  # Freshdesk tickets carry no language; triage detects it
        fields={str(k): str(v) for k, v in custom_fields.items() if v not in (None, "")},
    )


# ---------------------------------------------------------------------------------------------------
# Network shell
# ---------------------------------------------------------------------------------------------------


class FreshdeskHelpdesk:
    """`Helpdesk` for Freshdesk, on `requests` with basic auth `(api_key, "X")` and a timeout per call.

    `domain` is `acme` or `acme.freshdesk.com`; `api_url` (e.g. a fake server) replaces
    `https://<domain>`. Every response's `X-Ratelimit-Remaining` is logged (ids only, never ticket
    text). Errors: `TransientHelpdeskError` (429/409/5xx/timeouts/connection errors, `retry_after_s`
    from Retry-After), `TicketNotFound` (404), `PermanentHelpdeskError` (other 4xx).
    """

    name = NAME

    def __init__(
        self,
        *,
        domain: str,
        api_key: str,
        api_url: str = "",
        timeout_s: float = 10.0,
        bot_agent_id: str = "",
    ) -> None:
        host = domain if "." in domain else f"{domain}.freshdesk.com"
        self._base = (api_url or f"https://{host}").rstrip("/")
        self._timeout_s = timeout_s
        self._bot_agent_id = str(bot_agent_id or "")
        self._session = requests.Session()
        self._session.auth = (api_key, "X")  # Freshdesk: API key as user name, any password
        self._session.headers["Accept"] = "application/json"

    def fetch_ticket(self, ticket_id: int) -> Ticket:
        """`GET /api/v2/tickets/{id}` + every page of `GET /api/v2/tickets/{id}/conversations?per_page=100`.

        Pages are followed through the `Link: <…>; rel="next"` header (only on the same host, so the
        API key never goes elsewhere). `?include=conversations` is not used: it stops at ten.
        """
        ticket = _json(self._request("GET", f"/api/v2/tickets/{int(ticket_id)}", what="view ticket"), dict)
        conversations: list[dict[str, Any]] = []
        url: str | None = f"{self._base}/api/v2/tickets/{int(ticket_id)}/conversations?per_page={CONVERSATIONS_PER_PAGE}"
        while url:
            response = self._request("GET", url, what="list conversations")
            conversations.extend(_json(response, list))
            url = response.links.get("next", {}).get("url")
            if url and not self._same_host(url):
                raise PermanentHelpdeskError("Freshdesk pagination link points to another host")
        return ticket_from_api(ticket, conversations, bot_agent_id=self._bot_agent_id)

    def post_note(self, ticket_id: int, html: str) -> str:
        """`POST /api/v2/tickets/{id}/notes {"body": html, "private": true}`; return the note id.

        `private` defaults to true on Freshdesk, and is still sent explicitly.
        """
        note = _json(
            self._request("POST", f"/api/v2/tickets/{int(ticket_id)}/notes", json=note_request(html), what="create note"),
            dict,
        )
        if note.get("id") is None:
            raise PermanentHelpdeskError("Freshdesk create note: no note id in the response")
        return str(note["id"])

    def add_tags(self, ticket_id: int, tags: Sequence[str]) -> None:
        """Add tags: GET the ticket, merge (existing first), `PUT /api/v2/tickets/{id} {"tags": merged}`.

        Freshdesk's `tags` on update replaces the whole set and there is no conditional update, so the
        list is re-read immediately before the PUT and is always the full merged list; nothing is sent
        when every tag is already there. A 409 gets one immediate re-read and retry, then is raised.
        """
        wanted = [t for t in tags if t]
        if not wanted:
            return
        for attempt in (1, 2):
            ticket = _json(self._request("GET", f"/api/v2/tickets/{int(ticket_id)}", what="view ticket"), dict)
            existing = list(ticket.get("tags") or [])
            merged = merge_tags(existing, wanted)
            if len(merged) == len(existing):
                return
            try:
                self._request("PUT", f"/api/v2/tickets/{int(ticket_id)}", json={"tags": merged}, what="update tags")
                return
            except TransientHelpdeskError as exc:
                if exc.status != 409 or attempt == 2:
                    raise

    def set_group(self, ticket_id: int, group_id: str) -> None:
        """`PUT /api/v2/tickets/{id} {"group_id": <int>}`."""
        if not str(group_id).strip().isdigit():
            raise PermanentHelpdeskError(f"Freshdesk group id must be numeric, got {group_id!r}")
        self._request("PUT", f"/api/v2/tickets/{int(ticket_id)}", json={"group_id": int(group_id)}, what="set group")

    def _request(self, method: str, path_or_url: str, *, what: str, json: Any = None) -> requests.Response:
        url = path_or_url if "://" in path_or_url else self._base + path_or_url
        with _mapped_errors(what):
            response = self._session.request(method, url, json=json, timeout=self._timeout_s)
        log.info(
            "freshdesk.response",
            method=method,
            path=urlsplit(url).path,
            status=response.status_code,
            ratelimit_remaining=response.headers.get("X-Ratelimit-Remaining"),
        )
        error = decipher_response(response.status_code, response.headers, what=what)
        if error is not None:
            try:
                response.raise_for_status()
            except requests.HTTPError as exc:
                raise error from exc
            raise error
        return response

    def _same_host(self, url: str) -> bool:
        ours, theirs = urlsplit(self._base), urlsplit(url)
        return (ours.scheme, ours.netloc) == (theirs.scheme, theirs.netloc)


def _json(response: requests.Response, shape: type) -> Any:
    try:
        data = response.json()
    except ValueError as exc:
        raise PermanentHelpdeskError(f"Freshdesk {response.request.method} {urlsplit(response.url).path}: body is not JSON") from exc
    if not isinstance(data, shape):
        raise PermanentHelpdeskError(f"Freshdesk {urlsplit(response.url).path}: expected a JSON {shape.__name__}")
    return data


@contextmanager
def _mapped_errors(what: str) -> Iterator[None]:
    """Network failures → `TransientHelpdeskError`; any other requests failure → `PermanentHelpdeskError`."""
    try:
        with network_errors_as_transient("Freshdesk", what):
            yield
    except requests.RequestException as exc:
        raise PermanentHelpdeskError(f"Freshdesk {what}: {type(exc).__name__}") from exc
