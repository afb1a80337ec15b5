"""Render the internal note an agent reviews, and read Deskhand's marker back from a note.

The HTML works as Zendesk `comment.html_body` and Freshdesk note `body`: only <p>, <br>, <strong>,
<a>, <ol>/<li> and <small>, so line breaks survive both sanitisers. Every `{` is escaped because
Zendesk renders `{{placeholders}}` inside comment bodies
(https://developer.zendesk.com/api-reference/ticketing/tickets/ticket_comments/ "Bodies").
"""
from __future__ import annotations

import html
import re
from collections.abc import Callable
from urllib.parse import urlsplit

from integrations.base import PRIORITIES, Ticket
from knowledge.models import Passage
from worker.config import RoutingConfig
from worker.drafting import LIST_CUT_PREFIX, NOT_IN_DRAFT_PREFIX, PROCEDURE_PREFIX, UNANSWERED_PREFIX
from worker.escalation import RISK_WHY
from worker.models import UNKNOWN, Draft, EscalationPacket, Note, Triage
from worker.redaction import labelled_secrets, mask_secrets

MARKER_RE = re.compile(r"deskhand:v1 ticket=(?P<ticket>\S+) message=(?P<message>\S+) pipeline=(?P<pipeline>[\w.+-]+)")


def make_marker(ticket_id: int, message_id: str, pipeline_version: str) -> str:
    return f"deskhand:v1 ticket={ticket_id} message={message_id} pipeline={pipeline_version}"


def parse_marker(text: str) -> dict[str, str] | None:
    """{'ticket', 'message', 'pipeline'} from a note's text or HTML, or None if it is not Deskhand's."""
    m = MARKER_RE.search(text or "")
    return m.groupdict() if m else None


def _esc(text: str) -> str:
    return html.escape(text, quote=True).replace("{", "&#123;").replace("}", "&#125;")


def _quoting(ticket: Ticket) -> Callable[[str], str]:
    """`_esc` for lines that quote the ticket (the request, the case summary, listed questions, reasons):
    card numbers, SSNs and secrets are masked (`mask_secrets`), also where the customer repeats a
    secret without its label, since the note must not be one more copy of them to scrub. Article
    text and links are never masked."""
    known = labelled_secrets([ticket.subject, *(m.body for m in ticket.messages)])
    return lambda text: _esc(mask_secrets(text, known))


def _link(url: str, text_html: str) -> str:
    """`text_html` as a link to `url` when it is an http(s) address; otherwise the text alone. An
    article's URL comes from its front matter or vendor record: a `javascript:` or `data:` URL must
    never become a clickable link in the agent's helpdesk."""
    if urlsplit(url.strip()).scheme.lower() not in ("http", "https"):
        return text_html
    return f'<a href="{_esc(url.strip())}">{text_html}</a>'


def route(triage: Triage, draft: Draft, routing: RoutingConfig) -> tuple[tuple[str, ...], str | None]:
    """(tags, group) for a triaged ticket; every tag carries `routing.tag_prefix`, no duplicates.

    `stale_source_tags` are added when a source the note cites is stale or outdated upstream.
    The helpdesk priority is `route_priority`'s."""
    if triage.category == UNKNOWN:
        names, group = list(routing.unknown.tags), routing.unknown.group
    else:
        cat = routing.categories.get(triage.category)
        names, group = (list(cat.tags), cat.group) if cat else ([triage.category], None)
    names = [*routing.always_tags, *names, *routing.urgency_tags.get(triage.urgency, [])]
    if triage.role in ("draft", "constrained_draft") and not draft.has_draft:
        names += routing.no_draft_tags  # and not the role's tag: "draft_ready" beside "no_source" contradicts
    else:
        names += routing.role_tags.get(triage.role, [])
    if any(p.stale or p.outdated for p in draft.citations):
        names += routing.stale_source_tags
    risk_routes = [routing.risks[f] for f in triage.risks if f in routing.risks]
    names += [t for r in risk_routes for t in r.tags]
    group = next((r.group for r in risk_routes if r.group), group)  # a risk flag's group wins over the category's
    tags = tuple(dict.fromkeys(f"{routing.tag_prefix}{n}" for n in names))
    return tags, group


def route_priority(triage: Triage, routing: RoutingConfig) -> str | None:
    """The least helpdesk priority routing asks for this ticket ("low" < "normal" < "high" < "urgent"),
    or None when routing sets none (the default: ops opt in).

    The highest of the category's (or `unknown`'s) `priority`, `urgency_priority[triage.urgency]` and
    the `priority` of each raised risk flag. It is a floor, not a value to set: the helpdesk adapters
    raise a lower priority to it and never lower one (`integrations.base.raises_priority`).
    """
    route_ = routing.unknown if triage.category == UNKNOWN else routing.categories.get(triage.category)
    wanted = [
        route_.priority if route_ else None,
        routing.urgency_priority.get(triage.urgency),
        *(routing.risks[f].priority for f in triage.risks if f in routing.risks),
    ]
    return max((p for p in wanted if p), key=PRIORITIES.index, default=None)


def _updated(date: str) -> str:
    return f" (updated {date[:10]})" if date else ""


def _freshness(passage: Passage, stale_after_days: int | None) -> str:
    """What the agent must know about a cited source's age, after its title: "" when it is fresh."""
    if passage.outdated:
        return " — outdated upstream"
    if not passage.stale:
        return ""
    return f" — stale: older than {stale_after_days} days" if stale_after_days else " — stale"


def _packet_html(packet: EscalationPacket, *, show_why: bool, quote: Callable[[str], str] = _esc) -> str:
    """The case summary: problem, what was tried, open questions, risk flags and why it escalated;
    `quote` escapes what comes from the thread."""
    lines = [f"Problem: {quote(packet.problem)}"]
    if packet.tried_by_customer:
        lines.append("Customer already tried: " + quote(" · ".join(packet.tried_by_customer)))
    if packet.tried_by_agents:
        lines.append("Agents already tried: " + quote(" · ".join(packet.tried_by_agents)))
    if packet.open_questions:
        lines.append("Open questions: " + quote(" · ".join(packet.open_questions)))
    for flag, why in packet.risks:
        lines.append(f"Risk flag {_esc(flag)}: {_esc(why)}")
    if show_why and packet.why:
        lines.append(f"Why: {quote(packet.why)}")
    source = "written by the LLM from the thread" if packet.source == "llm" else "quoted from the thread"
    title = f"Case summary ({packet.messages} public message{'' if packet.messages == 1 else 's'}; {source})"
    return f"<p><strong>{title}:</strong><br>{'<br>'.join(lines)}</p>"


def render_note(
    ticket: Ticket,
    message_id: str,
    triage: Triage,
    draft: Draft,
    routing: RoutingConfig,
    pipeline_version: str,
    *,
    stale_after_days: int | None = None,
) -> Note:
    """The note for one customer message: triage line, draft or reason, sources, missing facts, escalation, marker.

    A cited source that is outdated upstream or stale (older than `stale_after_days`, the index's
    setting, named in the note when given) is marked after its date, outside the draft, so the
    draft's word budget is unchanged.
    """
    marker = make_marker(ticket.id, message_id, pipeline_version)
    header = (
        f"<strong>Deskhand</strong> · {_esc(triage.label or triage.category)} · urgency {triage.urgency} · "
        f"{triage.sentiment} · {_esc(triage.language)} · confidence {triage.confidence:.2f}"
    )
    parts = [f"<p>{header}</p>"]
    answered = next((m for m in ticket.messages if m.id == message_id), None)
    if answered is not None and answered.attachments and not answered.body.strip():
        # An image-only message (a screenshot, a photo of the parcel): the agent must open it, Deskhand cannot.
        count = f"{answered.attachments} attachment{'' if answered.attachments == 1 else 's'}"
        parts.append(f"<p><strong>Message:</strong> (no text; {count})</p>")
    quote = _quoting(ticket)
    if triage.reasons:
        parts.append(f"<p><small>Why: {quote('; '.join(triage.reasons))}</small></p>")
    if triage.risks and draft.packet is None:
        # what each flag asks of the agent, before the draft (a case summary lists them itself)
        risks = "<br>".join(f"{_esc(flag)}: {_esc(RISK_WHY.get(flag, 'raised by triage'))}" for flag in triage.risks)
        parts.append(f"<p><strong>Risk flags:</strong><br>{risks}</p>")
    if draft.has_draft:
        body = "<br>".join(_esc(line) for line in draft.body.splitlines())
        parts.append(f"<p><strong>Draft reply (review before sending):</strong><br>{body}</p>")
        if draft.reason:
            parts.append(f"<p><small>{_esc(draft.reason)}</small></p>")
    else:
        if draft.summary:
            parts.append(f"<p><strong>Request:</strong> {quote(draft.summary)}</p>")
        if not draft.escalate:  # an escalation states its reason once, below
            parts.append(f"<p><strong>No draft:</strong> {_esc(draft.reason)}</p>")
    if draft.drafter != "offline" and draft.has_draft:
        parts.append(f"<p><small>Drafted by {_esc(draft.drafter)}, then checked against the sources.</small></p>")
    # the customer's questions the draft leaves open stand out like the missing facts; other remarks are small print
    open_questions = [r for r in draft.remarks if r.startswith((UNANSWERED_PREFIX, NOT_IN_DRAFT_PREFIX, PROCEDURE_PREFIX, LIST_CUT_PREFIX))]
    remarks = [r for r in draft.remarks if r not in open_questions]
    for line in open_questions:
        label, _, questions = line.partition(": ")
        parts.append(f"<p><strong>{_esc(label)}:</strong> {quote(questions)}</p>")
    if remarks:
        parts.append(f"<p><small>{'<br>'.join(quote(r) for r in remarks)}</small></p>")
    if draft.citations:
        label = "Sources" if draft.has_draft else "Policy to check"
        items = []
        for n, p in enumerate(draft.citations, 1):
            title = _esc(p.title[:200])
            link = _link(p.url, title)
            items.append(f"[{n}] {link}{_updated(p.updated_at)}{_freshness(p, stale_after_days)}")
        parts.append(f"<p><strong>{label}:</strong><br>{'<br>'.join(items)}</p>")
    if draft.checklist:
        items = "<br>".join(f"• {_esc(item)}" for item in draft.checklist)
        parts.append(f"<p><strong>Policy checklist (confirm each before deciding):</strong><br>{items}</p>")
    if draft.missing_info:
        parts.append(f"<p><strong>Missing before you reply:</strong> {_esc(' · '.join(draft.missing_info))}</p>")
    if draft.escalate:
        parts.append(f"<p><strong>Escalation (no draft):</strong> {_esc(draft.reason)}</p>")
    if draft.packet is not None:
        parts.append(_packet_html(draft.packet, show_why=not draft.escalate, quote=quote))
    parts.append(f"<p><small>{marker}</small></p>")
    tags, group = route(triage, draft, routing)
    return Note(html="\n".join(parts), marker=marker, tags=tags, group=group)
