"""Zendesk: webhook verification and parsing (pure) and a `Helpdesk` client built on zenpy.

Pure functions hold the vendor knowledge and are tested without a network:
`verify_signature`, `parse_event`, `decipher_response`, `parse_retry_after`, `ticket_from_api`,
`comment_id_from_update`, `escape_placeholders`, `fit_comment`, `note_update`. `ZendeskHelpdesk` is the
thin shell that talks HTTP, through zenpy and through zenpy's (hooked) session where zenpy falls short.

Vendor docs followed:
- webhook signing: https://developer.zendesk.com/documentation/webhooks/verifying/
- event payloads: https://developer.zendesk.com/api-reference/webhooks/event-types/ticket-events/
- tickets / comments / tags: https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/ ,
  https://developer.zendesk.com/api-reference/ticketing/tickets/ticket_comments/ ,
  https://developer.zendesk.com/api-reference/ticketing/ticket-management/tags/
- rate limits: https://developer.zendesk.com/api-reference/introduction/rate-limits/
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections import OrderedDict
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, Iterable, Iterator, Mapping, Sequence
from urllib.parse import urlsplit

import requests
import structlog
from zenpy import Zenpy
from zenpy.lib.api_objects import Comment as ZenpyComment
from zenpy.lib.api_objects import Ticket as ZenpyTicket
from zenpy.lib.api_objects import TicketAudit as ZenpyTicketAudit
from zenpy.lib.exception import ZenpyException

from integrations.base import (
    PRIORITIES,
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
    load_json_object,
    network_errors_as_transient,
    parse_optional_id,
    parse_retry_after as parse_retry_after,  # re-exported: part of this adapter's API
    parse_ticket_id,
    parse_time,
)
from integrations.local import message_text

log = structlog.get_logger()

NAME = "zendesk"

SIGNATURE_HEADER = "X-Zendesk-Webhook-Signature"
TIMESTAMP_HEADER = "X-Zendesk-Webhook-Signature-Timestamp"
INVOCATION_ID_HEADER = "X-Zendesk-Webhook-Invocation-Id"

#: The JSON body pasted into the trigger's "Notify active webhook" action. Ids are quoted so an empty
#: placeholder still yields valid JSON; the webhook's text is never trusted (the job re-reads the ticket).
TRIGGER_BODY_TEMPLATE = (
    '{"deskhand_event": "ticket_changed", "ticket_id": "{{ticket.id}}", '
    '"current_user_id": "{{current_user.id}}", "updated_at": "{{ticket.updated_at_with_timestamp}}"}'
)

#: The `deskhand_event` values a trigger body may carry: what `TRIGGER_BODY_TEMPLATE` sends. Anything
#: else is a hand-edited or foreign trigger, refused (400) so the admin sees it in the webhook's activity.
DESKHAND_EVENTS: tuple[str, ...] = ("ticket_changed",)

EVENT_TYPE_PREFIX = "zen:event-type:"
#: Event-subscription types that start a job; every other `zen:event-type:*` is acknowledged and ignored.
HANDLED_EVENT_TYPES: Mapping[str, str] = {
    "zen:event-type:ticket.created": "ticket_created",
    "zen:event-type:ticket.comment_added": "comment_added",
}

#: "Ticket comment bodies are limited to 64kB. Any characters exceeding this limit are truncated. No error
#: is reported." A truncated note would lose Deskhand's marker (it sits at the end), so the note is
#: shortened before sending (`fit_comment`). 64,000 bytes is within both readings of "64kB" (64,000 and
#: 65,536), and bytes are counted in UTF-8.
MAX_COMMENT_BYTES = 64_000

#: The text every Deskhand note carries in its marker (`worker.notes.make_marker`); `fit_comment` never
#: shortens the text that holds it.
MARKER_TOKEN = "deskhand:v1"

_SHOW_MANY_MAX_IDS = 100  # users/show_many accepts at most 100 ids per call
_SYSTEM_AUTHOR_ID = "-1"  # Zendesk attributes some automatic comments to user -1


# ---------------------------------------------------------------------------------------------------
# Webhook: signature and parsing (pure)
# ---------------------------------------------------------------------------------------------------


def sign_body(secret: str, timestamp: str, body: bytes) -> str:
    """base64(HMAC-SHA256(key=secret as UTF-8, msg=timestamp + body)): the signature Zendesk sends in
    `X-Zendesk-Webhook-Signature` (https://developer.zendesk.com/documentation/webhooks/verifying/)."""
    return base64.b64encode(hmac.new(secret.encode("utf-8"), timestamp.encode("utf-8") + body, hashlib.sha256).digest()).decode()


def verify_signature(
    *,
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    max_skew_s: int = 300,
    now: datetime | None = None,
) -> str:
    """Check a Zendesk webhook signature over the raw request body; return which reading verified.

    `signature` must equal base64(HMAC-SHA256(key=secret as UTF-8 bytes, msg=timestamp + body)), where
    `timestamp` is the exact `X-Zendesk-Webhook-Signature-Timestamp` header value (ISO-8601 UTC such as
    `2026-11-29T10:00:00Z`, or integer epoch seconds) and `body` the raw bytes as received. The secret is
    used as-is (it looks like base64 but is not decoded). The timestamp must lie within ±`max_skew_s`
    seconds of `now` (default: the current UTC time), which bounds replays. Returns "timestamp+body";
    the order of an older copy of Zendesk's docs, body + timestamp, is accepted too, returns
    "body+timestamp" and is logged (HELPDESK_APIS.md §1.4 lists both).

    Raises `InvalidSignature(reason)` on an empty secret or signature, an unparseable, stale or future
    timestamp, or a mismatch. Follows https://developer.zendesk.com/documentation/webhooks/verifying/ .
    """
    if not secret:
        raise InvalidSignature("no signing secret configured")
    if not signature:
        raise InvalidSignature("missing signature")
    signed_at = _parse_signature_timestamp(timestamp)
    now = now or datetime.now(timezone.utc)
    skew_s = (now - signed_at).total_seconds()
    if skew_s > max_skew_s:
        raise InvalidSignature(f"stale timestamp ({skew_s:.0f}s old)")
    if skew_s < -max_skew_s:
        raise InvalidSignature(f"timestamp in the future ({-skew_s:.0f}s ahead)")
    given = signature.strip().encode("utf-8", "replace")
    current = sign_body(secret, timestamp, body).encode()
    older = base64.b64encode(hmac.new(secret.encode("utf-8"), body + timestamp.encode("utf-8"), hashlib.sha256).digest())
    if hmac.compare_digest(current, given):
        return "timestamp+body"
    if hmac.compare_digest(older, given):
        # Zendesk's older verifying page orders it body + timestamp. Both need the secret and the fresh
        # timestamp, and bytes valid in one order cannot pass in the other (a JSON body never ends in a
        # timestamp), so accepting it is safe; say so, in case Zendesk's signing really differs.
        log.warning("zendesk.signature_reading", reading="body+timestamp (older docs)")
        return "body+timestamp"
    raise InvalidSignature("signature mismatch")


def parse_event(headers: Mapping[str, str], body: bytes) -> TicketEvent | None:
    """Turn one Zendesk webhook delivery into a `TicketEvent`, or None for a known event we ignore.

    Two body shapes are understood:
    - Deskhand's trigger body (`TRIGGER_BODY_TEMPLATE`): kind = its `deskhand_event` value,
      actor_id = `current_user_id`;
    - an event-subscription envelope (`{"type": "zen:event-type:…", "id": <uuid>, "subject":
      "zen:ticket:<id>", "detail": {...}, "event": {...}}`): `ticket.created` → kind "ticket_created",
      `ticket.comment_added` → kind "comment_added" (actor_id = the comment author, else
      `detail.actor_id`); every other `zen:event-type:*` (other ticket.*, user.*, organization.* …)
      returns None so the view answers 200 and Zendesk does not retry. A `comment_added` whose comment is
      an internal note (`is_public` false — Deskhand's own notes among them) or written by staff
      (`author.is_staff` true) is not a customer message: None as well.

    delivery_id is the envelope `id`, else the `X-Zendesk-Webhook-Invocation-Id` header (looked up
    case-insensitively), else the sha256 hex digest of the body; vendor_delivery_id is the same id when
    Zendesk issued it (envelope id or invocation header), else None. Ids arrive as strings and are cast.
    The comment text in an event is never used (it may be truncated, Pipedream #18260): the job fetches it.

    Raises `MalformedPayload` for invalid JSON, an unknown body shape, a `deskhand_event` not in
    `DESKHAND_EVENTS`, a missing, non-numeric or non-positive ticket id.
    Shapes: https://developer.zendesk.com/api-reference/webhooks/event-types/webhook-event-types/ .
    """
    payload = load_json_object(body)
    invocation_id = header(headers, INVOCATION_ID_HEADER)
    body_digest = hashlib.sha256(body).hexdigest()

    if "deskhand_event" in payload:
        kind = payload.get("deskhand_event")
        if not isinstance(kind, str) or not kind.strip():
            raise MalformedPayload(f"deskhand_event must be a non-empty string (valid: {', '.join(DESKHAND_EVENTS)})")
        if kind.strip() not in DESKHAND_EVENTS:
            raise MalformedPayload(f"unknown deskhand_event {kind.strip()!r} (valid: {', '.join(DESKHAND_EVENTS)})")
        return TicketEvent(
            helpdesk=NAME,
            ticket_id=parse_ticket_id(payload.get("ticket_id")),
            kind=kind.strip(),
            delivery_id=invocation_id or body_digest,
            actor_id=parse_optional_id(payload.get("current_user_id")),
            vendor_delivery_id=invocation_id or None,
        )

    event_type = payload.get("type")
    if not isinstance(event_type, str) or not event_type.startswith(EVENT_TYPE_PREFIX):
        raise MalformedPayload("neither a Deskhand trigger body nor a Zendesk event envelope")
    kind = HANDLED_EVENT_TYPES.get(event_type)
    if kind is None:
        return None

    detail = payload.get("detail") if isinstance(payload.get("detail"), dict) else {}
    event = payload.get("event") if isinstance(payload.get("event"), dict) else {}
    comment = event.get("comment") if isinstance(event.get("comment"), dict) else {}
    author = comment.get("author") if isinstance(comment.get("author"), dict) else {}
    envelope_id = str(payload.get("id") or "").strip() or None
    ticket_id = _envelope_ticket_id(detail.get("id"), payload.get("subject"))
    if kind == "comment_added" and (_is_false(comment.get("is_public")) or _is_true(author.get("is_staff"))):
        log.info("zendesk.comment_ignored", ticket_id=ticket_id, event_id=envelope_id,
                 reason="internal note" if _is_false(comment.get("is_public")) else "written by staff")
        return None
    vendor_id = envelope_id or invocation_id or None
    return TicketEvent(
        helpdesk=NAME,
        ticket_id=ticket_id,
        kind=kind,
        delivery_id=vendor_id or body_digest,
        actor_id=parse_optional_id(author.get("id")) or parse_optional_id(detail.get("actor_id")),
        vendor_delivery_id=vendor_id,
    )


def _is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _is_false(value: Any) -> bool:
    return value is False or (isinstance(value, str) and value.strip().lower() == "false")


def _parse_signature_timestamp(timestamp: str) -> datetime:
    value = (timestamp or "").strip()
    if not value:
        raise InvalidSignature("missing signature timestamp")
    if value.isdigit():
        return datetime.fromtimestamp(int(value), tz=timezone.utc)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidSignature("unparseable signature timestamp") from exc
    if parsed.tzinfo is None:  # Zendesk always sends "Z"; a bare time is read as UTC.
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def _envelope_ticket_id(detail_id: Any, subject: Any) -> int:
    # The ticket id is in `detail.id`; `subject` ("zen:ticket:<id>") says the same. Some third-party
    # receivers read the wrong field (Pipedream #18260), so when both are present they must agree.
    subject_id = None
    if isinstance(subject, str) and subject.startswith("zen:ticket:"):
        subject_id = parse_ticket_id(subject.removeprefix("zen:ticket:"))
    if detail_id in (None, ""):
        if subject_id is None:
            raise MalformedPayload("event has no ticket id (detail.id / subject)")
        return subject_id
    ticket_id = parse_ticket_id(detail_id)
    if subject_id is not None and subject_id != ticket_id:
        raise MalformedPayload("detail.id and subject name different tickets")
    return ticket_id


# ---------------------------------------------------------------------------------------------------
# Responses: errors and data (pure)
# ---------------------------------------------------------------------------------------------------


def decipher_response(status: int, headers: Mapping[str, str], *, what: str = "") -> HelpdeskError | None:
    """Map an HTTP status to the error the adapter raises, or None for 2xx/3xx.

    429 and 5xx → `TransientHelpdeskError` (retry_after_s from `Retry-After` when present);
    409 → `TransientHelpdeskError` (Zendesk answers 409 when updates to one ticket collide; a retry
    re-applies the change); 404 → `TicketNotFound`; any other 4xx → `PermanentHelpdeskError`.
    The status is kept on the error; the message reads "Zendesk <what> answered <status>". Mapping in
    `integrations.http.error_for_status`. https://developer.zendesk.com/api-reference/introduction/rate-limits/
    """
    return error_for_status(status, headers, vendor="Zendesk", what=what)


def ticket_from_api(
    ticket: Mapping[str, Any],
    comments: Iterable[Mapping[str, Any]],
    users: Iterable[Mapping[str, Any]],
    *,
    bot_user_id: str = "",
) -> Ticket:
    """Build a `Ticket` from Zendesk JSON: the `ticket` object, its comments and their authors.

    `comments` are comment objects as returned by `GET /api/v2/tickets/{id}/comments` (any order; the
    result is oldest first, ties kept in API order); `users` are user objects (`users/show_many`) used
    for author roles: "end-user" → "requester", "agent"/"admin" → "agent"; the configured
    `bot_user_id` is always "agent"; user -1 is "system". An author missing from `users` (deleted user)
    is "requester" if they are the ticket's requester, else "agent" (never draft for an unknown author).
    `body` is the first non-blank of `plain_body`, `body` and the text of `html_body` (an API-created
    or rich-text comment can have HTML only), `html` is `html_body`, `attachments` counts `attachments`; times become aware UTC datetimes.
    The requester's `locale` (when among `users`) becomes the ticket locale. Custom fields with a value
    become `fields` (`{"<field id>": "<value>"}`).
    """
    roles = {str(u.get("id")): str(u.get("role") or "") for u in users if u.get("id") is not None}
    locales = {str(u.get("id")): u.get("locale") for u in users if u.get("id") is not None}
    requester_id = parse_optional_id(ticket.get("requester_id"))

    def role_of(author_id: str | None) -> AuthorRole:
        if author_id is None or author_id == _SYSTEM_AUTHOR_ID:
            return "system"
        if bot_user_id and author_id == str(bot_user_id):
            return "agent"
        role = roles.get(author_id)
        if role == "end-user":
            return "requester"
        if role in ("agent", "admin"):
            return "agent"
        return "requester" if author_id == requester_id else "agent"

    messages = []
    for c in comments:
        author_id = parse_optional_id(c.get("author_id"))
        plain = c.get("plain_body")
        text = plain if isinstance(plain, str) and plain.strip() else str(c.get("body") or "")
        html = str(c.get("html_body") or "")
        messages.append(
            Message(
                id=str(c.get("id")),
                author_id=author_id,
                author_role=role_of(author_id),
                body=message_text(text, html),
                public=bool(c.get("public")),
                created_at=parse_time(c.get("created_at"), source="Zendesk"),
                html=html,
                attachments=len(c.get("attachments") or ()),
            )
        )
    messages.sort(key=lambda m: m.created_at)  # stable: equal times keep the API's order

    fields = {
        str(f.get("id")): str(f.get("value"))
        for f in ticket.get("custom_fields") or ()
        if isinstance(f, Mapping) and f.get("value") not in (None, "")
    }
    return Ticket(
        id=parse_ticket_id(ticket.get("id")),
        subject=str(ticket.get("subject") or ticket.get("raw_subject") or ""),
        requester_id=requester_id,
        status=str(ticket.get("status") or ""),
        tags=tuple(ticket.get("tags") or ()),
        messages=tuple(messages),
        group_id=parse_optional_id(ticket.get("group_id")),
        locale=locales.get(requester_id) if requester_id else None,
        fields=fields,
    )


def comment_id_from_update(response: Mapping[str, Any]) -> str:
    """The id of the comment an Update Ticket call created: the audit's `Comment` event id.

    `response` is the `PUT /api/v2/tickets/{id}` JSON (`{"ticket": {...}, "audit": {"id", "events"}}`).
    Falls back to the audit id when no Comment event is listed. Raises `PermanentHelpdeskError` when the
    response carries neither (the update may have been a no-op, see zenpy #236).
    """
    audit = response.get("audit") or {}
    for event in audit.get("events") or ():
        if isinstance(event, Mapping) and event.get("type") == "Comment" and event.get("id") is not None:
            return str(event["id"])
    if audit.get("id") is not None:
        return str(audit["id"])
    raise PermanentHelpdeskError("Zendesk update response has no audit: was the comment created?")


def escape_placeholders(html: str) -> str:
    """`html` with every `{` and `}` written as the character references `&#123;` / `&#125;`.

    Zendesk renders `{{placeholders}}` inside comment bodies and strips unknown ones ("Bodies" in
    https://developer.zendesk.com/api-reference/ticketing/tickets/ticket_comments/), so a note quoting
    `{{ticket.id}}` would change. Braces never occur in HTML syntax itself, only in text and attribute
    values, where a character reference reads the same, so replacing them everywhere is safe. Idempotent.
    """
    return html.replace("{", "&#123;").replace("}", "&#125;")


_TAG_RE = re.compile(r"(<!--.*?-->|<[^>]*>)", re.DOTALL)
_ELLIPSIS = "…"


def fit_comment(html: str, max_bytes: int = MAX_COMMENT_BYTES) -> str:
    """`html` shortened to at most `max_bytes` UTF-8 bytes, or unchanged when it already fits.

    Only text between tags is shortened — longest text first, each cut ending in "…" — so tags stay
    balanced, character references (`&amp;`, `&#123;`) are never cut in half, and the text holding
    Deskhand's marker (`MARKER_TOKEN`) is never touched: the long parts of a note (a quoted request,
    source titles, the draft) shrink, the marker survives. Raises `PermanentHelpdeskError` when even
    empty text would not fit (markup alone over the limit).
    """
    if len(html.encode("utf-8")) <= max_bytes:
        return html
    parts = _TAG_RE.split(html)  # even indexes: text; odd indexes: tags and comments
    texts = [i for i in range(0, len(parts), 2) if parts[i] and MARKER_TOKEN not in parts[i]]
    excess = len(html.encode("utf-8")) - max_bytes
    ellipsis_bytes = len(_ELLIPSIS.encode("utf-8"))
    while excess > 0:
        candidates = [i for i in texts if len(parts[i].encode("utf-8")) > ellipsis_bytes]
        if not candidates:
            raise PermanentHelpdeskError(f"note cannot be shortened under Zendesk's {max_bytes}-byte limit")
        longest = max(candidates, key=lambda i: len(parts[i].encode("utf-8")))
        before = len(parts[longest].encode("utf-8"))
        parts[longest] = _cut_text(parts[longest], max(0, before - excess - ellipsis_bytes)) + _ELLIPSIS
        excess -= before - len(parts[longest].encode("utf-8"))
    return "".join(parts)


def _cut_text(text: str, max_bytes: int) -> str:
    """The longest prefix of HTML text within `max_bytes` UTF-8 bytes that does not end inside a
    character reference; cut back to a space when one is near, so words stay whole."""
    prefix = text.encode("utf-8")[:max_bytes].decode("utf-8", "ignore")
    amp = prefix.rfind("&")
    if amp != -1 and ";" not in prefix[amp:]:
        prefix = prefix[:amp]
    space = prefix.rfind(" ")
    if space >= len(prefix) - 40 and space > 0:
        prefix = prefix[:space]
    return prefix.rstrip()


def note_update(
    html: str,
    *,
    tags: Sequence[str] = (),
    group_id: int | None = None,
    priority: str | None = None,
    updated_stamp: str | None = None,
) -> dict[str, Any]:
    """JSON for the one `PUT /api/v2/tickets/{id}` that posts Deskhand's note and its routing.

    `{"ticket": {"comment": {"html_body": …, "public": false}, "additional_tags": [...], "group_id": n,
    "priority": "high", "safe_update": true, "updated_stamp": "…"}}`:
    `public: false` is always explicit (Zendesk otherwise reuses the value the ticket was created with);
    the note goes as `html_body` (`body` collapses line breaks and strips HTML) with placeholders escaped
    and shortened to fit (`fit_comment`); tags go as `additional_tags`, which adds and never replaces —
    `tags` on this endpoint would replace the whole set (zendesk-laravel #20). `priority` is one of
    low/normal/high/urgent. `updated_stamp` (the ticket's `updated_at` as last read) makes it a safe
    update: Zendesk answers 409 instead of applying it when the ticket changed since
    (https://developer.zendesk.com/documentation/ticketing/managing-tickets/creating-and-updating-tickets/#protecting-against-ticket-update-collisions).
    Empty tags and None values are left out.
    """
    ticket: dict[str, Any] = {"comment": {"html_body": fit_comment(escape_placeholders(html)), "public": False}}
    if tags:
        ticket["additional_tags"] = list(tags)
    if group_id is not None:
        ticket["group_id"] = group_id
    if priority is not None:
        ticket["priority"] = priority
    if updated_stamp is not None:
        ticket["safe_update"] = True
        ticket["updated_stamp"] = updated_stamp
    return {"ticket": ticket}


# ---------------------------------------------------------------------------------------------------
# Network shell
# ---------------------------------------------------------------------------------------------------


class ZendeskHelpdesk:
    """`Helpdesk` for Zendesk Support, through zenpy 2.0.57 with a session Deskhand controls.

    The session is ours so that: every call has `timeout_s`; a response hook turns any status ≥ 400
    into a Deskhand error *before* zenpy sees it (zenpy would otherwise sleep inside the worker on 429,
    zenpy #687, and its urllib3 retry adapter is never mounted, zenpy #276); and `api_url`
    (e.g. `http://127.0.0.1:8765` for a fake server, or a proxy) replaces `https://<subdomain>.zendesk.com`
    without zenpy's process-wide ZENPY_FORCE_* environment variables. Where zenpy cannot express a call
    (comments with sideloaded users, `additional_tags`), the same session is used directly.

    API calls per job: reading a ticket is 2 calls (ticket; comments with their authors sideloaded, one
    call per 100 comments), posting the note with its tags, group and priority is 1 ticket update —
    Zendesk allows 30 updates per ticket per 10 minutes.

    Errors: `TransientHelpdeskError` (429/409/5xx/timeouts/connection errors, `retry_after_s` from
    Retry-After), `TicketNotFound` (404), `PermanentHelpdeskError` (other 4xx, unexpected responses).
    """

    name = NAME

    def __init__(
        self,
        *,
        subdomain: str,
        email: str,
        api_token: str,
        api_url: str = "",
        timeout_s: float = 10.0,
        bot_user_id: str = "",
    ) -> None:
        self._origin = f"https://{subdomain}.zendesk.com"
        self._bot_user_id = str(bot_user_id or "")
        self._timeout_s = timeout_s
        # Whether this account honours `additional_tags` on a single-ticket update: the docs disagree
        # (HELPDESK_APIS.md §2.3), so the first note finds out and the answer is kept for the process.
        self.additional_tags_honoured: bool | None = None
        # (priority, updated_at) of each ticket as last read: decides whether a priority would be raised
        # and stamps that update as a safe update, without another read.
        self._seen: OrderedDict[int, tuple[str | None, str]] = OrderedDict()
        self._session = _ZendeskSession(origin=self._origin, api_url=api_url)
        self._zenpy = Zenpy(
            subdomain=subdomain,
            email=email,
            token=api_token,
            session=self._session,  # zenpy adds basic auth "<email>/token:<api_token>" to it
            timeout=timeout_s,
            disable_cache=True,  # zenpy's cache would return a stale ticket on the second read
        )

    def fetch_ticket(self, ticket_id: int) -> Ticket:
        """Ticket + all comments (cursor pages) + author roles, oldest message first.

        Calls `GET /api/v2/tickets/{id}.json` (zenpy, cache disabled) and
        `GET /api/v2/tickets/{id}/comments.json?page[size]=100&include=users`, following `links.next`
        while `meta.has_more` (zenpy is not used for this one: with `include=users` zenpy 2.0.57 iterates
        the sideloaded users instead of the comments). Authors the sideload did not include are read with
        `GET /api/v2/users/show_many.json?ids=…` (100 ids per call), so an author's role is always known.
        """
        with _mapped_errors("fetch ticket"):
            ticket = self._zenpy.tickets(id=int(ticket_id))
            ticket_json = _as_dict(ticket, ZenpyTicket, "ticket show")
            comments, users = self._comments_with_authors(int(ticket_id))
            known = {str(u.get("id")) for u in users}
            missing = sorted({int(c["author_id"]) for c in comments if _is_user_id(c.get("author_id"))
                              and str(c["author_id"]) not in known})
            if missing:
                log.info("zendesk.authors_not_sideloaded", ticket_id=int(ticket_id), count=len(missing))
            for start in range(0, len(missing), _SHOW_MANY_MAX_IDS):
                chunk = missing[start : start + _SHOW_MANY_MAX_IDS]
                users.extend(u.to_dict() for u in self._zenpy.users(ids=chunk))
        self._remember(int(ticket_id), ticket_json)
        return ticket_from_api(ticket_json, comments, users, bot_user_id=self._bot_user_id)

    def post_note(
        self,
        ticket_id: int,
        html: str,
        *,
        tags: Sequence[str] = (),
        group_id: str | None = None,
        priority: str | None = None,
    ) -> str:
        """Add `html` as a private internal note, with `tags` added, `group_id` set and the priority
        raised to `priority` (never lowered), in ONE ticket update; return the new comment id (or the
        audit id).

        Sends `PUT /api/v2/tickets/{id}.json` with `note_update(...)`: `public: false` explicit,
        `html_body` with placeholders escaped and shortened under 64 kB (never dropping the marker),
        tags as `additional_tags` (added, never replaced). The priority goes in only when it is higher
        than the ticket's as this process last read it (`fetch_ticket`; one `GET` when it never did),
        and then as a safe update stamped with that read's `updated_at`, so a ticket changed in between
        answers 409 rather than have a newer priority overwritten; the ticket is then re-read and the
        update retried once. Any other 409 (colliding updates; nothing was written) is retried once at
        once; a second 409 is raised as transient.
        The response's ticket tags tell whether Zendesk applied `additional_tags`; when it did not (a
        reading of the docs some accounts report), the tags are added at once with
        `PUT /api/v2/tickets/{id}/tags.json`, and later notes of this process add tags that way first and
        then post the note (2 updates).
        """
        wanted = _clean_tags(tags)
        group = _group_number(group_id) if group_id not in (None, "") else None
        if priority is not None and priority not in PRIORITIES:
            raise PermanentHelpdeskError(f"Zendesk priority must be one of {', '.join(PRIORITIES)}, got {priority!r}")
        in_update = wanted
        if wanted and self.additional_tags_honoured is False:
            self.add_tags(ticket_id, wanted)
            in_update = []
        url = f"{self._origin}/api/v2/tickets/{int(ticket_id)}.json"
        for attempt in (1, 2):
            # adding tags first moved the ticket's updated_at: a stamp from the fetch would only earn a 409
            reread = attempt == 2 or (bool(wanted) and not in_update)
            raise_to, stamp = self._priority_change(int(ticket_id), priority, reread=reread)
            body = note_update(html, tags=in_update, group_id=group, priority=raise_to, updated_stamp=stamp)
            try:
                response = self._json("PUT", url, json=body, what="post note")
                break
            except TransientHelpdeskError as exc:
                if exc.status != 409 or attempt == 2:
                    raise
                log.info("zendesk.update_conflict", ticket_id=int(ticket_id), detail="retrying once",
                         safe_update=stamp is not None)
        self._remember(int(ticket_id), response.get("ticket"))
        note_id = comment_id_from_update(response)
        if in_update:
            self._check_additional_tags(int(ticket_id), in_update, response)
        return note_id

    def add_tags(self, ticket_id: int, tags: Sequence[str]) -> None:
        """Add tags with `PUT /api/v2/tickets/{id}/tags.json {"tags": [...]}` ("Add Tags", additive).

        Never sets `ticket.tags` through Update Ticket: that replaces the whole set.
        """
        wanted = _clean_tags(tags)
        if not wanted:
            return
        with _mapped_errors("add tags"):
            self._zenpy.tickets.add_tags(int(ticket_id), wanted)

    def set_group(self, ticket_id: int, group_id: str) -> None:
        """Assign the ticket to a group: `PUT /api/v2/tickets/{id}.json {"ticket": {"group_id": int}}`."""
        group = _group_number(group_id)
        with _mapped_errors("set group"):
            self._zenpy.tickets.update(ZenpyTicket(id=int(ticket_id), group_id=group))

    def _comments_with_authors(self, ticket_id: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        url: str | None = (
            f"{self._origin}/api/v2/tickets/{ticket_id}/comments.json"
            "?page[size]=100&include=users&include_inline_images=false"
        )
        comments: list[dict[str, Any]] = []
        users: list[dict[str, Any]] = []
        seen: set[str] = set()
        while url:
            if url in seen:  # a cursor that does not advance would loop forever (zenpy #451)
                raise PermanentHelpdeskError("Zendesk comments pagination did not advance")
            seen.add(url)
            page = self._json("GET", url, what="list comments")
            comments.extend(c for c in page.get("comments") or () if isinstance(c, dict))
            users.extend(u for u in page.get("users") or () if isinstance(u, dict))
            meta, links = page.get("meta") or {}, page.get("links") or {}
            url = links.get("next") if meta.get("has_more") else None
        return comments, users

    def _priority_change(self, ticket_id: int, priority: str | None, *, reread: bool) -> tuple[str | None, str | None]:
        """(priority to send, updated_stamp) when `priority` would raise the ticket's, else (None, None).

        Uses the ticket as last read, or reads it (`GET /api/v2/tickets/{id}.json`) when this process
        never did or `reread` asks for it."""
        if priority is None:
            return None, None
        seen = None if reread else self._seen.get(ticket_id)
        if seen is None:
            with _mapped_errors("read priority"):
                self._remember(ticket_id, _as_dict(self._zenpy.tickets(id=ticket_id), ZenpyTicket, "ticket show"))
            seen = self._seen.get(ticket_id)
        if seen is None or not raises_priority(seen[0], priority):
            return None, None
        return priority, seen[1] or None

    def _remember(self, ticket_id: int, ticket_json: Any) -> None:
        if not isinstance(ticket_json, Mapping) or "priority" not in ticket_json or not ticket_json.get("updated_at"):
            self._seen.pop(ticket_id, None)  # unknown now: the next priority change reads the ticket first
            return
        priority = ticket_json.get("priority")
        self._seen[ticket_id] = (str(priority) if priority else None, str(ticket_json["updated_at"]))
        self._seen.move_to_end(ticket_id)
        while len(self._seen) > 256:
            self._seen.popitem(last=False)

    def _check_additional_tags(self, ticket_id: int, tags: list[str], response: Mapping[str, Any]) -> None:
        current = (response.get("ticket") or {}).get("tags")
        if isinstance(current, list) and set(tags) <= set(current):
            # Present now. Only a tags Change in the audit proves this update added them (they may
            # have been on the ticket already), so only that settles which reading holds.
            if self.additional_tags_honoured is None and _audit_changed_tags(response):
                log.info("zendesk.additional_tags", reading="honoured on single-ticket update")
                self.additional_tags_honoured = True
            return
        log.warning("zendesk.additional_tags", reading="ignored on single-ticket update",
                    detail="adding tags with PUT tickets/{id}/tags from now on", ticket_id=ticket_id)
        self.additional_tags_honoured = False
        try:
            self.add_tags(ticket_id, tags)
        except TransientHelpdeskError:
            try:
                self.add_tags(ticket_id, tags)  # once more at once: the note is posted, a job retry would skip
            except HelpdeskError as exc:
                log.error("zendesk.tags_not_added", ticket_id=ticket_id, tags=tags, error=type(exc).__name__)
        except HelpdeskError as exc:
            log.error("zendesk.tags_not_added", ticket_id=ticket_id, tags=tags, error=type(exc).__name__)

    def _json(self, method: str, url: str, *, what: str, json: Any = None) -> dict[str, Any]:
        with _mapped_errors(what):
            response = self._session.request(method, url, json=json, timeout=self._timeout_s)
            per_ticket = header(response.headers, "Zendesk-RateLimit-Per-Ticket-Updates")
            if per_ticket:
                log.info("zendesk.per_ticket_updates", detail=per_ticket)
            data = response.json()
        if not isinstance(data, dict):
            raise PermanentHelpdeskError(f"Zendesk {what}: expected a JSON object")
        return data


@contextmanager
def _mapped_errors(what: str) -> Iterator[None]:
    """Network and zenpy failures → the Deskhand error tree, chained. HTTP statuses were already
    mapped by the session hook."""
    try:
        with network_errors_as_transient("Zendesk", what):
            yield
    except HelpdeskError:
        raise
    except (ZenpyException, requests.RequestException, ValueError, KeyError, AttributeError) as exc:
        raise PermanentHelpdeskError(f"Zendesk {what}: unexpected response ({type(exc).__name__})") from exc


class _ZendeskSession(requests.Session):
    """requests.Session that raises Deskhand errors on ≥ 400 and can point zenpy at another base URL."""

    def __init__(self, *, origin: str, api_url: str) -> None:
        super().__init__()
        self._origin = origin
        self._api_url = api_url.rstrip("/")
        self.hooks["response"].append(_raise_for_zendesk_status)

    def request(self, method, url, *args, **kwargs):  # type: ignore[override]
        target = _swap_prefix(url, self._origin, self._api_url) if self._api_url else url
        # zenpy follows `links.next` wherever it points; the API token only ever goes to our host.
        if _site(target) != _site(self._api_url or self._origin):
            raise PermanentHelpdeskError(f"refusing to send Zendesk credentials to {_site(target)[1]!r}")
        response = super().request(method, target, *args, **kwargs)
        if target != url:
            # zenpy chooses its response parser by finding "<subdomain>.zendesk.com" in the request
            # URL, so hand it back the URL it asked for.
            response.url = _swap_prefix(response.url, self._api_url, self._origin)
            response.request.url = _swap_prefix(response.request.url or "", self._api_url, self._origin)
        return response


def _raise_for_zendesk_status(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    path = urlsplit(response.url).path
    error = decipher_response(response.status_code, response.headers, what=f"{response.request.method} {path}")
    if error is None:
        return
    log.warning(
        "zendesk.http_error",
        status=response.status_code,
        method=response.request.method,
        path=path,
        retry_after_s=getattr(error, "retry_after_s", None),
    )
    try:
        response.raise_for_status()
    except requests.HTTPError as exc:
        raise error from exc
    raise error


def _site(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def _swap_prefix(url: str, old: str, new: str) -> str:
    if url == old or url.startswith(old + "/") or url.startswith(old + "?"):
        return new + url[len(old) :]
    return url


# ---------------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------------


def _as_dict(obj: Any, cls: type, what: str) -> dict[str, Any]:
    # zenpy hands back the raw Response when it cannot parse a body (e.g. an HTML page from a proxy).
    if not isinstance(obj, cls):
        raise PermanentHelpdeskError(f"Zendesk {what}: unexpected response ({type(obj).__name__})")
    return obj.to_dict()


def _is_user_id(value: Any) -> bool:
    return value is not None and not isinstance(value, bool) and str(value).isascii() and str(value).isdigit()


def _clean_tags(tags: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(t.strip() for t in tags if t and t.strip()))


def _group_number(group_id: Any) -> int:
    if not str(group_id).strip().isdigit():
        raise PermanentHelpdeskError(f"Zendesk group id must be numeric, got {group_id!r}")
    return int(str(group_id).strip())


def _audit_changed_tags(response: Mapping[str, Any]) -> bool:
    events = (response.get("audit") or {}).get("events") or ()
    return any(isinstance(e, Mapping) and e.get("type") == "Change" and e.get("field_name") == "tags" for e in events)
