"""Freshdesk: webhook authentication and parsing (pure) and a `Helpdesk` client on `requests`.

Freshdesk webhooks are an automation-rule action ("Trigger Webhook") and are not signed; Deskhand
authenticates them with a shared secret the admin puts in a custom header or in the rule's basic-auth
password. Pure functions hold the vendor knowledge: `verify_shared_secret`, `parse_event`,
`decipher_response`, `ticket_from_api`, `strip_quoted_reply`, `merge_tags`, `priority_name`, `note_request`.
`FreshdeskHelpdesk` is the shell.

Vendor docs followed: https://developers.freshdesk.com/api/ (tickets, conversations, notes, rate
limits, pagination) and https://support.freshdesk.com/support/solutions/articles/132589 (webhooks in
automation rules).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import time
from collections import OrderedDict
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence
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
    raises_priority,
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
from integrations.local import html_to_text, message_text

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
RATELIMIT_WINDOW_S = 60  # Freshdesk's limits are per minute (https://developers.freshdesk.com/api/#ratelimit)


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

    Freshdesk renders placeholders into the body without JSON-escaping them, so a value with a quote or
    HTML in it can break the JSON; then, and only for a body that is not valid JSON, the ticket id
    alone is recovered from `"ticket_id": "<digits>"` (the job re-reads the ticket and needs nothing
    else) and the recovery is logged. Valid JSON that is not an object (an array, a string…) is
    refused, as Zendesk intake refuses it: no placeholder can turn the rule's object into one.

    Never returns None today (the rule only fires for events Deskhand wants); the type matches
    `zendesk.parse_event`. vendor_delivery_id is always None: Freshdesk sends no delivery id. Raises
    `MalformedPayload` for valid JSON that is not an object, invalid JSON without a recoverable id,
    no ticket id or a non-numeric one.
    """
    try:
        payload = load_json_object(body)
    except MalformedPayload:
        if _is_json(body):
            raise  # valid JSON, just not an object: nothing to recover
        return _event_from_broken_json(body)
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


_TICKET_ID_IN_BROKEN_JSON = re.compile(r'"ticket_id"\s*:\s*"?\s*(\d+)\s*"?\s*[,}]')


def _is_json(body: bytes) -> bool:
    try:
        json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: absurdly deep nesting
        return False
    return True


def _event_from_broken_json(body: bytes) -> TicketEvent:
    """The event of a body a rendered placeholder broke: its ticket id only (MalformedPayload if none)."""
    match = _TICKET_ID_IN_BROKEN_JSON.search(body.decode("utf-8", "replace"))
    if match is None:
        raise MalformedPayload("body is not valid JSON")
    ticket_id = parse_ticket_id(match[1])
    log.warning("freshdesk.lenient_parse", ticket_id=ticket_id, detail="body is not valid JSON; ticket id recovered")
    digest = hashlib.sha256(f"{ticket_id}:".encode() + body).hexdigest()
    return TicketEvent(helpdesk=NAME, ticket_id=ticket_id, kind=DEFAULT_KIND, delivery_id=digest, actor_id=None)


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


#: A line where an e-mail client starts quoting the thread it replies to.
_QUOTE_START = re.compile(
    r"^\s*(-{2,}\s*original message\s*-{2,}|on .{4,200}\bwrote:|_{10,})\s*$", re.IGNORECASE
)


def strip_quoted_reply(html: str, text: str) -> str:
    """The text a customer wrote in an e-mail reply, without the thread it quotes.

    Freshdesk keeps the quoted thread in a conversation's body (`<div class="freshdesk_quote">`, a
    `<blockquote>`, or plain lines after "----- Original message -----" / "On … wrote:"). With quote
    markup in `html`, the text is `html` without it; otherwise `text` (Freshdesk's `body_text`) is cut
    at the first quote line and `>`-quoted lines are dropped. When nothing would remain, `text` is
    returned unchanged (a message that is only a quote is still a message).
    """
    visible = text
    if html and re.search(r"freshdesk_quote|<blockquote", html, re.IGNORECASE):
        visible = html_to_text(re.sub(
            r'<(div|blockquote)[^>]*class="[^"]*freshdesk_quote[^"]*"[^>]*>.*?</\1>|<blockquote\b.*?</blockquote>',
            "", html, flags=re.IGNORECASE | re.DOTALL))
    kept = []
    for line in visible.splitlines():
        if _QUOTE_START.match(line):
            break
        if not line.lstrip().startswith(">"):
            kept.append(line)
    result = "\n".join(kept).strip()
    return result or text


#: Freshdesk's ticket `priority` numbers for Deskhand's priority names (the API calls 2 "Medium").
#: https://developers.freshdesk.com/api/#ticket_attributes
PRIORITY_NUMBERS: Mapping[str, int] = {"low": 1, "normal": 2, "high": 3, "urgent": 4}
_PRIORITY_NAMES = {str(n): name for name, n in PRIORITY_NUMBERS.items()}


def priority_name(value: Any) -> str | None:
    """Deskhand's name for a Freshdesk ticket's `priority` (1–4, a number or a numeric string); None when
    it has none; any other value as its text, which `raises_priority` never overwrites."""
    text = "" if value is None else str(value).strip()
    return _PRIORITY_NAMES.get(text, text) or None


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
    `created_at`; its text is `description_text`, or the HTML's text when that is empty. A conversation is "requester" when it is not private and either `user_id` is the
    requester or it is `incoming`; everything else (replies, notes, `bot_agent_id`) is "agent".
    Private notes are `public=False`. A conversation's `body` is its text (`body_text`, or the text of
    the HTML `body` when `body_text` is empty) without a quoted e-mail thread (`strip_quoted_reply`); its
    `html` is Freshdesk's HTML unchanged; `attachments` counts the `attachments` list. Status codes become names ("open", "pending", …); custom fields
    with a value become `fields`. Messages are oldest first (ties keep API order).
    """
    ticket_id = parse_ticket_id(ticket.get("id"))
    requester_id = parse_optional_id(ticket.get("requester_id"))
    bot = str(bot_agent_id or "")
    messages = []
    description_html = str(ticket.get("description") or "")
    description_text = ticket.get("description_text")
    if description_html or description_text or ticket.get("attachments"):  # a photo alone is still a message
        outbound = ticket.get("source") == _SOURCE_OUTBOUND_EMAIL
        messages.append(
            Message(
                id=f"description-{ticket_id}",
                author_id=None if outbound else requester_id,
                author_role="agent" if outbound else "requester",
                body=message_text(str(description_text or ""), description_html),
                public=True,
                created_at=parse_time(ticket.get("created_at"), source="Freshdesk"),
                html=description_html,
                attachments=len(ticket.get("attachments") or ()),
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
        html = str(c.get("body") or "")
        messages.append(
            Message(
                id=str(c.get("id")),
                author_id=user_id,
                author_role=role,
                body=strip_quoted_reply(html, message_text(str(c.get("body_text") or ""), html)),
                public=not private,
                created_at=parse_time(c.get("created_at"), source="Freshdesk"),
                html=html,
                attachments=len(c.get("attachments") or ()),
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
    text) and respected: when the last response of the past minute left `ratelimit_reserve` calls or
    fewer, the next job is deferred (a `TransientHelpdeskError` before it reads anything, so Celery
    retries it after the window) instead of spending the calls agents and other apps need.

    API calls per job (Freshdesk counts each as 1 unless noted): reading a ticket is 2 (the ticket, then
    one conversations page per 100; `?include=conversations` would also cost 2 but stops at ten);
    posting is 1 note, plus — only when a tag, the group or the priority must change — 1 fresh read and
    1 update of the ticket (tags, group and priority together), because Freshdesk has no additive tag
    call and no conditional update.

    Errors: `TransientHelpdeskError` (429/409/5xx/timeouts/connection errors, `retry_after_s` from
    Retry-After), `TicketNotFound` (404), `PermanentHelpdeskError` (other 4xx).
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
        ratelimit_reserve: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        host = domain if "." in domain else f"{domain}.freshdesk.com"
        self._base = (api_url or f"https://{host}").rstrip("/")
        self._timeout_s = timeout_s
        self._bot_agent_id = str(bot_agent_id or "")
        self._reserve = max(0, int(ratelimit_reserve))
        self._clock = clock
        self._last_remaining: tuple[int, float] | None = None  # (X-Ratelimit-Remaining, clock() when seen)
        # Tags, group and priority of each ticket as its last fetch saw them: lets post_note skip the read
        # and the update when nothing needs to change. Never used to decide what to write.
        self._fetched: OrderedDict[int, tuple[frozenset[str], str | None, str | None]] = OrderedDict()
        self._session = requests.Session()
        self._session.auth = (api_key, "X")  # Freshdesk: API key as user name, any password
        self._session.headers["Accept"] = "application/json"

    def fetch_ticket(self, ticket_id: int) -> Ticket:
        """`GET /api/v2/tickets/{id}` + every page of `GET /api/v2/tickets/{id}/conversations?per_page=100`.

        Pages are followed through the `Link: <…>; rel="next"` header (only on the same host, so the
        API key never goes elsewhere). `?include=conversations` is not used: it stops at ten. Raises
        `TransientHelpdeskError` (retry after the rate-limit window) without calling Freshdesk when the
        account is at its reserve (see the class docstring).
        """
        self._check_reserve()
        ticket = _json(self._request("GET", f"/api/v2/tickets/{int(ticket_id)}", what="view ticket"), dict)
        conversations: list[dict[str, Any]] = []
        url: str | None = f"{self._base}/api/v2/tickets/{int(ticket_id)}/conversations?per_page={CONVERSATIONS_PER_PAGE}"
        seen: set[str] = set()
        while url:
            seen.add(url)
            response = self._request("GET", url, what="list conversations")
            conversations.extend(_json(response, list))
            url = response.links.get("next", {}).get("url")
            if url and not self._same_host(url):
                raise PermanentHelpdeskError("Freshdesk pagination link points to another host")
            if url in seen:
                raise PermanentHelpdeskError("Freshdesk conversations pagination did not advance")
        result = ticket_from_api(ticket, conversations, bot_agent_id=self._bot_agent_id)
        self._remember(result.id, result.tags, result.group_id, priority_name(ticket.get("priority")))
        return result

    def post_note(
        self,
        ticket_id: int,
        html: str,
        *,
        tags: Sequence[str] = (),
        group_id: str | None = None,
        priority: str | None = None,
    ) -> str:
        """Apply `tags`, `group_id` and `priority` (see `add_tags`), then `POST /api/v2/tickets/{id}/notes
        {"body": html, "private": true}`; return the note id.

        Routing goes first so that a failure before the note leaves the whole job to retry. When the
        ticket's last fetch already had every tag, the group and at least `priority`, routing costs no
        call at all; otherwise it is one fresh `GET` of the ticket and one `PUT` with only what must
        change: the merged tag list, `group_id`, and `priority` (as 1–4, `PRIORITY_NUMBERS`) only when
        it is higher than the ticket's own in that fresh read — a priority is never lowered.
        `private` defaults to true on Freshdesk, and is still sent explicitly.
        """
        group = _group_number(group_id) if group_id not in (None, "") else None
        if priority is not None and priority not in PRIORITY_NUMBERS:
            raise PermanentHelpdeskError(f"Freshdesk priority must be one of {', '.join(PRIORITY_NUMBERS)}, got {priority!r}")
        self._route(int(ticket_id), [t for t in dict.fromkeys(tags) if t], group, priority, skip_if_fetched=True)
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
        (The docs do not say whether `tags` replaces or adds; a full merged list is right either way.)
        """
        self._route(int(ticket_id), [t for t in dict.fromkeys(tags) if t], None, None, skip_if_fetched=False)

    def set_group(self, ticket_id: int, group_id: str) -> None:
        """`PUT /api/v2/tickets/{id} {"group_id": <int>}`."""
        group = _group_number(group_id)
        self._request("PUT", f"/api/v2/tickets/{int(ticket_id)}", json={"group_id": group}, what="set group")

    def _route(
        self, ticket_id: int, tags: list[str], group: int | None, priority: str | None, *, skip_if_fetched: bool
    ) -> None:
        if not tags and group is None and priority is None:
            return
        fetched = self._fetched.get(ticket_id) if skip_if_fetched else None
        if (
            fetched is not None
            and set(tags) <= fetched[0]
            and (group is None or fetched[1] == str(group))
            and (priority is None or not raises_priority(fetched[2], priority))
        ):
            return
        for attempt in (1, 2):
            current = _json(self._request("GET", f"/api/v2/tickets/{ticket_id}", what="view ticket"), dict)
            existing = [str(t) for t in current.get("tags") or ()]
            changes: dict[str, Any] = {}
            merged = merge_tags(existing, tags)
            if len(merged) != len(existing):
                changes["tags"] = merged  # the full list: a partial one would delete the others
            if group is not None and parse_optional_id(current.get("group_id")) != str(group):
                changes["group_id"] = group
            if priority is not None and raises_priority(priority_name(current.get("priority")), priority):
                changes["priority"] = PRIORITY_NUMBERS[priority]  # raised only: never lowered
            if not changes:
                return
            try:
                self._request("PUT", f"/api/v2/tickets/{ticket_id}", json=changes, what="update ticket")
                return
            except TransientHelpdeskError as exc:
                if exc.status != 409 or attempt == 2:
                    raise
                log.info("freshdesk.update_conflict", ticket_id=ticket_id, detail="re-reading and retrying once")

    def _remember(self, ticket_id: int, tags: Sequence[str], group_id: str | None, priority: str | None = None) -> None:
        self._fetched[ticket_id] = (frozenset(tags), group_id, priority)
        self._fetched.move_to_end(ticket_id)
        while len(self._fetched) > 256:
            self._fetched.popitem(last=False)

    def _check_reserve(self) -> None:
        if not self._reserve or self._last_remaining is None:
            return
        remaining, seen_at = self._last_remaining
        wait_s = RATELIMIT_WINDOW_S - (self._clock() - seen_at)
        if remaining <= self._reserve and wait_s > 0:
            log.warning("freshdesk.ratelimit_reserve", remaining=remaining, reserve=self._reserve, retry_after_s=round(wait_s, 1))
            raise TransientHelpdeskError(
                f"Freshdesk rate-limit reserve reached ({remaining} calls left)", retry_after_s=wait_s, status=429
            )

    def _request(self, method: str, path_or_url: str, *, what: str, json: Any = None) -> requests.Response:
        url = path_or_url if "://" in path_or_url else self._base + path_or_url
        with _mapped_errors(what):
            response = self._session.request(method, url, json=json, timeout=self._timeout_s)
        remaining = response.headers.get("X-Ratelimit-Remaining")
        if remaining is not None and remaining.strip().isdigit():
            self._last_remaining = (int(remaining), self._clock())
        log.info(
            "freshdesk.response",
            method=method,
            path=urlsplit(url).path,
            status=response.status_code,
            ratelimit_remaining=remaining,
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


def _group_number(group_id: Any) -> int:
    if not str(group_id).strip().isdigit():
        raise PermanentHelpdeskError(f"Freshdesk group id must be numeric, got {group_id!r}")
    return int(str(group_id).strip())


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
