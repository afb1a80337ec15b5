"""Helpdesk-neutral types, the `Helpdesk` protocol and the error tree.

Every helpdesk adapter (zendesk, freshdesk, local) turns its vendor's shapes into these frozen
dataclasses, so the pipeline never sees a vendor payload. Nothing here does I/O.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol, Sequence, get_args, runtime_checkable

AuthorRole = Literal["requester", "agent", "system"]

#: A ticket priority in Zendesk's words, lowest first (Zendesk `priority`; Freshdesk stores 1–4 for them).
Priority = Literal["low", "normal", "high", "urgent"]
PRIORITIES: tuple[Priority, ...] = get_args(Priority)


def raises_priority(current: str | None, wanted: str | None) -> bool:
    """True when setting `wanted` would RAISE the ticket's priority above `current`.

    Both are names from `PRIORITIES`; a ticket with no priority (None or "") ranks below "low". A
    current value Deskhand does not know is never overwritten, since it cannot tell whether `wanted` is
    higher. Adapters use it so that Deskhand never lowers a priority.
    """
    if wanted not in PRIORITIES:
        return False
    if not current:
        return True
    return current in PRIORITIES and PRIORITIES.index(wanted) > PRIORITIES.index(current)


@dataclass(frozen=True)
class TicketEvent:
    """One webhook delivery, reduced to what the job needs.

    `delivery_id` is the vendor's idempotency handle when it has one (Zendesk invocation or event id),
    else a hash of the raw body; it is for logs. `vendor_delivery_id` is set only when the vendor itself
    issued the id (it then stays the same across the vendor's retries of this delivery), so intake may
    drop a second delivery carrying it; a body hash is never used that way, because two different
    updates of one ticket can send identical bodies (Freshdesk). The job never trusts text from the
    webhook: it re-reads the ticket.
    """

    helpdesk: str  # "zendesk" | "freshdesk" | "local"
    ticket_id: int
    kind: str  # e.g. "ticket_created", "comment_added", "ticket_updated"
    delivery_id: str
    actor_id: str | None = None  # who caused the update, when the vendor says
    vendor_delivery_id: str | None = None  # the vendor's own id for this delivery, when it sends one


@dataclass(frozen=True)
class Message:
    """One entry of a ticket's conversation (Zendesk comment, Freshdesk conversation)."""

    id: str
    author_id: str | None
    author_role: AuthorRole
    body: str  # plain text, HTML already stripped; the HTML's text when the vendor's plain text is empty
    public: bool
    created_at: datetime  # UTC
    html: str = ""  # vendor HTML when there is one; used to find Deskhand's marker
    attachments: int = 0  # how many files (images, PDFs…) came with it; Deskhand never reads them


@dataclass(frozen=True)
class Ticket:
    """A ticket with its whole conversation, oldest message first."""

    id: int
    subject: str
    requester_id: str | None
    status: str
    tags: tuple[str, ...] = ()
    messages: tuple[Message, ...] = ()
    group_id: str | None = None
    locale: str | None = None
    fields: dict[str, str] = field(default_factory=dict)

    def customer_messages(self) -> list[Message]:
        """Public messages written by the requester (or another end user), oldest first."""
        return [m for m in self.messages if m.author_role == "requester" and m.public]

    def latest_customer_message(self) -> Message | None:
        msgs = self.customer_messages()
        return msgs[-1] if msgs else None


@runtime_checkable
class Helpdesk(Protocol):
    """What the pipeline needs from a helpdesk. One contract test runs every implementation.

    Implementations raise `TransientHelpdeskError` for 429/5xx/timeouts, `TicketNotFound` for a
    deleted ticket and `PermanentHelpdeskError` for any other 4xx.
    """

    name: str

    def fetch_ticket(self, ticket_id: int) -> Ticket:
        """Return the ticket and its whole conversation (all pages), oldest message first."""

    def post_note(
        self,
        ticket_id: int,
        html: str,
        *,
        tags: Sequence[str] = (),
        group_id: str | None = None,
        priority: Priority | None = None,
    ) -> str:
        """Post `html` as a private internal note (never public); return the new note's id.

        `tags` are added (tags already on the ticket always survive), `group_id` assigned and the
        ticket's priority raised to `priority` when it is lower (never lowered: a ticket already at that
        priority or above keeps its own) in the same call, in as few helpdesk writes as the vendor allows
        and, wherever the vendor allows it, no later than the note: the note is what marks a customer
        message answered, so a transient failure before it leaves everything to retry. Each adapter
        documents its writes.
        """

    def add_tags(self, ticket_id: int, tags: Sequence[str]) -> None:
        """Add `tags` to the ticket; tags already on it always survive."""

    def set_group(self, ticket_id: int, group_id: str) -> None:
        """Assign the ticket to a group (Zendesk group id, Freshdesk group_id)."""


class HelpdeskError(Exception):
    """Base of every error a helpdesk adapter or webhook parser raises."""


class InvalidSignature(HelpdeskError):
    """The webhook's signature or shared secret did not verify (answer 401)."""


class MalformedPayload(HelpdeskError):
    """The webhook body is not something we can parse (answer 400)."""


class TransientHelpdeskError(HelpdeskError):
    """429, 5xx, timeouts, connection errors: retry later, after `retry_after_s` if given."""

    def __init__(self, message: str, *, retry_after_s: float | None = None, status: int | None = None):
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.status = status


class PermanentHelpdeskError(HelpdeskError):
    """Any other 4xx: retrying would fail the same way. Recorded, never retried."""

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.status = status


class TicketNotFound(PermanentHelpdeskError):
    """404 on the ticket: it was deleted or merged. Record and stop."""
