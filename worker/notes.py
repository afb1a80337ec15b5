"""Render the internal note an agent reviews, and read Deskhand's marker back from a note.

The HTML works as Zendesk `comment.html_body` and Freshdesk note `body`: only <p>, <br>, <strong>,
<a>, <ol>/<li> and <small>, so line breaks survive both sanitisers. Every `{` is escaped because
Zendesk renders `{{placeholders}}` inside comment bodies
(https://developer.zendesk.com/api-reference/ticketing/tickets/ticket_comments/ "Bodies").
"""
from __future__ import annotations

import html
import re

from integrations.base import Ticket
from worker.config import RoutingConfig
from worker.models import UNKNOWN, Draft, Note, Triage

MARKER_RE = re.compile(r"deskhand:v1 ticket=(?P<ticket>\S+) message=(?P<message>\S+) pipeline=(?P<pipeline>[\w.+-]+)")


def make_marker(ticket_id: int, message_id: str, pipeline_version: str) -> str:
    return f"deskhand:v1 ticket={ticket_id} message={message_id} pipeline={pipeline_version}"


def parse_marker(text: str) -> dict[str, str] | None:
    """{'ticket', 'message', 'pipeline'} from a note's text or HTML, or None if it is not Deskhand's."""
    m = MARKER_RE.search(text or "")
    return m.groupdict() if m else None


def _esc(text: str) -> str:
    return html.escape(text, quote=True).replace("{", "&#123;").replace("}", "&#125;")


def route(triage: Triage, draft: Draft, routing: RoutingConfig) -> tuple[tuple[str, ...], str | None]:
    """(tags, group) for a triaged ticket; every tag carries `routing.tag_prefix`, no duplicates."""
    if triage.category == UNKNOWN:
        names, group = list(routing.unknown.tags), routing.unknown.group
    else:
        cat = routing.categories.get(triage.category)
        names, group = (list(cat.tags), cat.group) if cat else ([triage.category], None)
    names = [*routing.always_tags, *names, *routing.urgency_tags.get(triage.urgency, [])]
    names += routing.role_tags.get(triage.role, [])
    if triage.role in ("draft", "constrained_draft") and not draft.has_draft:
        names += routing.no_draft_tags
    tags = tuple(dict.fromkeys(f"{routing.tag_prefix}{n}" for n in names))
    return tags, group


def _updated(date: str) -> str:
    return f" (updated {date[:10]})" if date else ""


def render_note(
    ticket: Ticket, message_id: str, triage: Triage, draft: Draft, routing: RoutingConfig, pipeline_version: str
) -> Note:
    """The note for one customer message: triage line, draft or reason, sources, missing facts, escalation, marker."""
    marker = make_marker(ticket.id, message_id, pipeline_version)
    header = (
        f"<strong>Deskhand</strong> · {_esc(triage.label or triage.category)} · urgency {triage.urgency} · "
        f"{triage.sentiment} · {_esc(triage.language)} · confidence {triage.confidence:.2f}"
    )
    parts = [f"<p>{header}</p>"]
    if triage.reasons:
        parts.append(f"<p><small>Why: {_esc('; '.join(triage.reasons))}</small></p>")
    if draft.has_draft:
        body = "<br>".join(_esc(line) for line in draft.body.splitlines())
        parts.append(f"<p><strong>Draft reply (review before sending):</strong><br>{body}</p>")
        if draft.reason:
            parts.append(f"<p><small>{_esc(draft.reason)}</small></p>")
    else:
        if draft.summary:
            parts.append(f"<p><strong>Request:</strong> {_esc(draft.summary)}</p>")
        if not draft.escalate:  # an escalation states its reason once, below
            parts.append(f"<p><strong>No draft:</strong> {_esc(draft.reason)}</p>")
    if draft.citations:
        label = "Sources" if draft.has_draft else "Policy to check"
        items = []
        for n, p in enumerate(draft.citations, 1):
            title = _esc(p.title[:200])
            link = f'<a href="{_esc(p.url)}">{title}</a>' if p.url else title
            items.append(f"[{n}] {link}{_updated(p.updated_at)}")
        parts.append(f"<p><strong>{label}:</strong><br>{'<br>'.join(items)}</p>")
    if draft.missing_info:
        parts.append(f"<p><strong>Missing before you reply:</strong> {_esc(' · '.join(draft.missing_info))}</p>")
    if draft.escalate:
        parts.append(f"<p><strong>Escalation (no draft):</strong> {_esc(draft.reason)}</p>")
    parts.append(f"<p><small>{marker}</small></p>")
    tags, group = route(triage, draft, routing)
    return Note(html="\n".join(parts), marker=marker, tags=tags, group=group)
