"""The one path of data, stage by stage: fetch → should_process → triage → retrieve → draft → render → post.

`Pipeline` holds the stages' dependencies (built once per worker process); `run_event` is what the
Celery task calls; `analyze` is the same path without the helpdesk, used by `deskhand eval`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np
import structlog

from integrations.base import Helpdesk, Message, PermanentHelpdeskError, Ticket, TicketEvent
from knowledge.index import KnowledgeIndex
from knowledge.models import Passage
from worker import PIPELINE_VERSION
from worker.config import Config
from worker.drafting import SentenceVectors, compose_draft, customer_questions, how_to_questions
from worker.models import UNKNOWN, Draft, Note, Triage
from worker.notes import parse_marker, render_note, route_priority
from worker.sentences import NUMBERED_ITEM
from worker.store import Store
from worker.triage import Embeds, Taxonomy, triage, triage_text

if TYPE_CHECKING:
    from worker.llm import LLMDrafter
    from worker.llm_triage import LLMTriager
    from worker.reload import ConfigWatcher

log = structlog.get_logger(__name__)


@dataclass
class Pipeline:
    helpdesk: Helpdesk | None
    config: Config
    taxonomy: Taxonomy
    index: KnowledgeIndex
    embedder: Embeds
    store: Store | None = None
    top_k: int = 4
    min_score: float = 0.35
    max_words: int = 120
    config_watcher: "ConfigWatcher | None" = None  # reloads changed YAML at the start of each job
    match_language: bool = False  # retrieve only articles in the ticket's detected language
    llm: "LLMDrafter | None" = None  # the LLM drafter (DESKHAND_LLM); None = the offline drafter only
    llm_triage: "LLMTriager | None" = None  # the LLM choosing categories (DESKHAND_LLM_TRIAGE); None = the local classifier only
    sentences: SentenceVectors = field(init=False)

    def __post_init__(self) -> None:
        self.sentences = SentenceVectors(self.embedder)


@dataclass(frozen=True)
class Analysis:
    triage: Triage
    passages: list[Passage]
    draft: Draft
    note: Note
    priority: str | None = None  # the least helpdesk priority routing asks for (raised to, never lowered); None: none


@dataclass(frozen=True)
class Outcome:
    status: str  # posted | skipped | failed
    ticket_id: int
    reason: str = ""
    message_id: str | None = None
    category: str | None = None
    role: str | None = None
    drafted: bool | None = None
    tags: tuple[str, ...] = ()


def is_deskhand_note(message: Message) -> bool:
    """A private, non-customer message carrying Deskhand's marker (a customer cannot forge one publicly)."""
    return not message.public and message.author_role != "requester" and parse_marker(message.html or message.body) is not None


def should_process(ticket: Ticket) -> tuple[Message | None, str]:
    """(the customer message to answer, "") or (None, why not).

    Answer only the latest public customer message, and only if no Deskhand note and no public agent
    reply came after it, and no Deskhand note anywhere already names it (loop guard, invariant 3).
    """
    latest = ticket.latest_customer_message()
    if latest is None:
        return None, "no customer message"
    after = ticket.messages[ticket.messages.index(latest) + 1 :]
    if any(is_deskhand_note(m) for m in after):
        return None, "already answered by Deskhand"
    if any(m.public and m.author_role == "agent" for m in after):
        return None, "an agent already replied"
    if any(is_deskhand_note(m) and (parse_marker(m.html or m.body) or {}).get("message") == latest.id for m in ticket.messages):
        return None, "already answered by Deskhand"
    return latest, ""


# The most of one message Deskhand reads: about 3,000 words, a long e-mail with its quoted history.
# Sentence-level work (questions, "already tried", the case summary) grows with the text: a 770 KB paste
# held the only worker for over two minutes. The note says when a message was cut.
MAX_MESSAGE_CHARS = 20_000
MAX_SUBJECT_CHARS = 1_000  # a subject line, not a second message


def within_reading_limit(ticket: Ticket, max_chars: int = MAX_MESSAGE_CHARS) -> tuple[Ticket, str]:
    """(`ticket` with every message body longer than `max_chars` cut at the last whitespace before it,
    the note's remark saying so, or "" when nothing was cut)."""
    long = [len(m.body) for m in ticket.messages if len(m.body) > max_chars]
    subject_cut = len(ticket.subject) > MAX_SUBJECT_CHARS
    if not long and not subject_cut:
        return ticket, ""

    def cut(body: str) -> str:
        head = body[:max_chars]
        word_end = max(head.rfind(" "), head.rfind("\n"))
        return head[:word_end] if word_end > max_chars // 2 else head

    messages = tuple(replace(m, body=cut(m.body)) if len(m.body) > max_chars else m for m in ticket.messages)
    which = "a message" if len(long) == 1 else f"{len(long)} messages"
    read = [f"the first {max_chars:,} characters of {which} (the longest has {max(long):,})"] if long else []
    read += [f"the first {MAX_SUBJECT_CHARS:,} of the subject's {len(ticket.subject):,} characters"] if subject_cut else []
    remark = f"Message cut: Deskhand read only {' and '.join(read)}; read the rest in the ticket."
    return replace(ticket, subject=ticket.subject[:MAX_SUBJECT_CHARS], messages=messages), remark


def analyze(ticket: Ticket, message: Message, p: Pipeline, timings: dict[str, float] | None = None) -> Analysis:
    """Triage, retrieve, draft and render for one customer message. No helpdesk I/O.

    Reads at most MAX_MESSAGE_CHARS of each message (`within_reading_limit`). `timings`, when given,
    receives the wall-clock seconds of each stage (embed, triage, retrieve, draft, render), for benchmarks.
    """
    clock = _StageClock(timings)
    ticket, cut_remark = within_reading_limit(ticket)
    message = next((m for m in ticket.messages if m.id == message.id), message)
    query_text = triage_text(ticket)
    query_vec = p.embedder.embed([query_text])[0]
    clock.lap("embed")
    budget = p.llm.new_budget() if p.llm is not None else None  # the ticket's LLM tokens, triage and drafting together
    choose = p.llm_triage.chooser(ticket, p.taxonomy.config, budget=budget) if p.llm_triage is not None else None
    t = triage(ticket, p.taxonomy, query_vec, choose=choose)
    clock.lap("triage")
    category = p.config.triage.categories.get(t.category) if t.category != UNKNOWN else None
    passages: list[Passage] = []
    if t.role != "escalate_only":
        # The text feeds BM25 (hybrid search), the vector dense search: the ticket is embedded once.
        locale = t.language if p.match_language else None
        passages = p.index.search(query_text, query_embedding=query_vec, top_k=p.top_k, min_score=p.min_score, locale=locale)
        if passages and t.role in ("draft", "constrained_draft"):
            how_to = bool(how_to_questions(customer_questions(ticket)))
            passages = with_best_article(passages, p.index, query_vec, p.min_score, prefer_steps=how_to)
    clock.lap("retrieve")
    d = compose_draft(
        ticket, t, passages, query_vec=query_vec, sentences=p.sentences, category=category, max_words=p.max_words,
        drafting=p.config.triage.drafting, llm=p.llm, detect_languages=tuple(p.config.triage.language.detect), llm_budget=budget,
    )
    if cut_remark:
        d = replace(d, remarks=(*d.remarks, cut_remark))
    clock.lap("draft")
    # the index's age limit, for the note's stale-source marks (a test double may not have one)
    stale_after_days = getattr(p.index, "stale_after_days", None)
    note = render_note(ticket, message.id, t, d, p.config.routing, PIPELINE_VERSION, stale_after_days=stale_after_days)
    clock.lap("render")
    return Analysis(triage=t, passages=passages, draft=d, note=note, priority=route_priority(t, p.config.routing))


def with_best_article(
    passages: list[Passage],
    index: KnowledgeIndex,
    query_vec: np.ndarray,
    min_score: float,
    extra: int = 2,
    prefer_steps: bool = False,
) -> list[Passage]:
    """`passages` with up to `extra` more chunks of the best-scoring passage's article (its closest
    ones that reach `min_score`; with `prefer_steps`, for a ticket asking how to do something, its
    chunks holding a numbered list first), that article's chunks in its own order where its first
    passage was; other articles keep their retrieval order. A search returns at most two chunks of
    one article; for a "how do I…" ticket the article's step list is often not among them (the intro
    and a troubleshooting list score higher), and the drafter can only quote what it is given. The
    cap bounds the sentences a long article adds to embed (each chunk once per process)."""
    best = max(passages, key=lambda passage: passage.score).article_id
    found = {passage.chunk_id: passage for passage in passages if passage.article_id == best}
    article = index.article_passages(best, query_vec)
    more = sorted(
        (p for p in article if p.chunk_id not in found and p.score >= min_score),
        key=lambda p: (not (prefer_steps and any(NUMBERED_ITEM.match(line) for line in p.text.splitlines())), -p.score),
    )[:extra]
    keep = set(found) | {p.chunk_id for p in more}
    whole = [found.get(passage.chunk_id, passage) for passage in article if passage.chunk_id in keep]
    if not whole:  # the article changed under us: keep the search's own result
        return passages
    first = next(iter(found))
    result: list[Passage] = []
    for passage in passages:
        if passage.article_id != best:
            result.append(passage)
        elif passage.chunk_id == first:
            result.extend(whole)
    return result


class _StageClock:
    def __init__(self, sink: dict[str, float] | None):
        self.sink, self.last = sink, time.perf_counter()

    def lap(self, stage: str) -> None:
        if self.sink is not None:
            now = time.perf_counter()
            self.sink[stage] = self.sink.get(stage, 0.0) + now - self.last
            self.last = now


def run_event(event: TicketEvent, p: Pipeline, job_id: str) -> Outcome:
    """Handle one webhook event end to end and post at most one note per customer message.

    Raises TransientHelpdeskError (the task retries it); a PermanentHelpdeskError is recorded and
    returned as a `failed` outcome, never retried.
    """
    assert p.helpdesk is not None and p.store is not None
    if p.config_watcher is not None:
        p.config_watcher.refresh(p)  # keeps the last good config when the edited YAML is invalid
    bound = log.bind(
        ticket_id=event.ticket_id, job_id=job_id, helpdesk=p.helpdesk.name, intake=event.helpdesk, delivery_id=event.delivery_id
    )
    try:
        ticket = p.helpdesk.fetch_ticket(event.ticket_id)
    except PermanentHelpdeskError as exc:
        bound.warning("ticket_unreadable", error=type(exc).__name__, status=exc.status)
        return Outcome("failed", event.ticket_id, reason=f"{type(exc).__name__}: {exc}")
    message, why_not = should_process(ticket)
    if message is None:
        bound.info("skipped", reason=why_not)
        return Outcome("skipped", ticket.id, reason=why_not)
    claim = p.store.claim(p.helpdesk.name, ticket.id, message.id, job_id)
    if not claim:
        # the store row, not the ticket, knows: e.g. a re-sent message whose note the helpdesk no longer shows
        why = "a note was already posted for this message" if claim.status == "posted" else "in progress in another job"
        bound.info("skipped", reason=why, message_id=message.id, holder_job_id=claim.job_id)
        return Outcome("skipped", ticket.id, reason=why, message_id=message.id)

    a = analyze(ticket, message, p)
    t = a.triage
    bound = bound.bind(message_id=message.id, category=t.category, role=t.role, confidence=t.confidence)
    try:
        # One call: the adapter writes tags, group and priority no later than the note, in as few helpdesk
        # updates as the vendor allows (Zendesk: one ticket update). The note is what marks the message
        # answered, so a transient failure before it is retried in full and never leaves a note without its tags.
        p.helpdesk.post_note(ticket.id, a.note.html, tags=a.note.tags, group_id=a.note.group, priority=a.priority)
    except PermanentHelpdeskError as exc:
        p.store.finish(p.helpdesk.name, ticket.id, message.id, status="failed", category=t.category, role=t.role, detail=str(exc))
        bound.error("post_failed", error=type(exc).__name__, status=exc.status)
        return Outcome("failed", ticket.id, reason=str(exc), message_id=message.id, category=t.category, role=t.role)
    p.store.finish(
        p.helpdesk.name, ticket.id, message.id, status="posted", category=t.category, role=t.role, drafted=a.draft.has_draft
    )
    bound.info("note_posted", drafted=a.draft.has_draft, citations=len(a.draft.citations), tags=list(a.note.tags),
               priority=a.priority)
    return Outcome(
        "posted", ticket.id, message_id=message.id, category=t.category, role=t.role, drafted=a.draft.has_draft, tags=a.note.tags
    )
