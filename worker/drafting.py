"""Drafting: the offline extractive drafter, the LLM drafter when one is configured, and the checks.

The offline drafter (the default, no LLM) makes the reply only of sentences taken from the retrieved,
approved passages, each followed by its citation `[n]`; no passage → no draft. `compose_draft` asks the
LLM drafter first when there is one and falls back to the offline drafter on any failure, saying so.
Whoever drafts, `worker.checks.check_draft` decides what the note shows: citations that resolve and
support their sentence, the category's AI role (`escalate_only` never drafts, `summary_only` summarises
the request and lists the policy to check, `constrained_draft` states no commitment its sources do
not), the customer's language, the missing facts and the word limit.
"""
from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import structlog

from integrations.base import Ticket
from knowledge.models import Passage
from worker.checks import (
    Candidate,
    Claim,
    Frame,
    ask_for,
    check_draft,
    missing_fact_keys,
    missing_facts,
    summarize_request,
)
from worker.config import CategoryConfig, DraftingConfig
from worker.models import Draft, Triage
from worker.sentences import LIST_ITEM as _LIST_ITEM
from worker.sentences import split_sentences, word_count
from worker.triage import Embeds

if TYPE_CHECKING:
    from worker.llm import LLMDrafter, TokenBudget

log = structlog.get_logger(__name__)
__all__ = ["SentenceVectors", "compose_draft", "draft", "missing_facts", "reply_frame", "split_sentences", "summarize_request", "word_count"]

MIN_SENTENCE_SCORE = 0.30  # cosine similarity of a sentence to the customer's message
MAX_SENTENCES = 5

_CITATION = re.compile(r"\s*\[\d+\]")
# "See “Other article”" points the reader elsewhere; out of its article it answers nothing.
_CROSS_REFERENCE = re.compile(r"(^|\b)see [\"“']", re.I)
_PAREN_REFERENCE = re.compile(r"\s*\((?:see|read) [\"“'][^)]*\)", re.I)
NEAR_DUPLICATE = 0.85  # cosine above which a sentence repeats one already picked
PASSAGE_MARGIN = 0.08  # draft only from passages whose score is within this of the best passage's
# A sentence opening with one of these leans on the sentence before it, so the two travel together.
_ANAPHOR = re.compile(r"^(it|this|that|these|those|they|them|there|he|she|such|its|their)\b", re.I)


class SentenceVectors:
    """Per-process cache of sentence embeddings per passage chunk, so a static help center is embedded once."""

    def __init__(self, embedder: Embeds, max_chunks: int = 4096):
        self._embedder = embedder
        self._cache: OrderedDict[tuple[str, int], tuple[list[str], np.ndarray]] = OrderedDict()
        self._max = max_chunks

    def get(self, passage: Passage) -> tuple[list[str], np.ndarray]:
        key = (passage.chunk_id, hash(passage.text))
        hit = self._cache.get(key)
        if hit is None:
            sentences = split_sentences(passage.text)
            vectors = np.asarray(self._embedder.embed(sentences), dtype=np.float32) if sentences else np.zeros((0, 1))
            hit = (sentences, vectors)
            self._cache[key] = hit
            if len(self._cache) > self._max:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return hit


def reply_frame(drafting: DraftingConfig | None, category: CategoryConfig | None, language: str) -> Frame:
    """The greeting and closing for a draft in `language`: the category's own, else the drafting
    section's; none when neither has that language (a greeting in the wrong language is worse than none)."""
    greeting = closing = ""
    if drafting is not None:
        greeting, closing = drafting.greeting.get(language, ""), drafting.closing.get(language, "")
    if category is not None:
        greeting = category.greeting.get(language, greeting)
        closing = category.closing.get(language, closing)
    return Frame(greeting=greeting.strip(), closing=closing.strip())


def offline_candidate(
    ticket: Ticket,
    triage: Triage,
    passages: list[Passage],
    *,
    query_vec: np.ndarray,
    sentences: SentenceVectors,
    budget_words: int,
) -> Candidate:
    """The offline drafter's proposal: the best-supported sentences and step lists of `passages` within
    `budget_words`, each claiming the passage it was taken from."""
    if not passages:
        return Candidate(reason="No approved help-center source supports a reply, so there is no draft. Answer manually or add an article.")
    picked = _pick_sentences(passages, query_vec, sentences, budget_words)
    if not picked:
        return Candidate(reason="The closest help-center passages do not answer this message closely enough to draft from.")
    claims = [
        Claim(text=part, sources=(passages[unit.p_idx].chunk_id,), unit=n, step=unit.is_list)
        for n, unit in enumerate(sorted(picked, key=lambda u: (u.p_idx, u.position)))
        for part in unit.parts
    ]
    return Candidate(claims=tuple(claims))


def draft(
    ticket: Ticket,
    triage: Triage,
    passages: list[Passage],
    *,
    query_vec: np.ndarray,
    sentences: SentenceVectors,
    category: CategoryConfig | None,
    max_words: int = 120,
    frame: Frame = Frame(),
    packet_after_messages: int = 0,
) -> Draft:
    """The offline draft for `ticket` from `passages` (already filtered by the retrieval minimum score),
    after the checks.

    Returns a Draft whose `body` has at most `max_words` words, every sentence followed by `[n]` where
    `citations[n-1]` is its passage; `body` is "" when the role forbids a draft or nothing supports one.
    """
    candidate = Candidate()
    if triage.role in ("draft", "constrained_draft"):
        ask = ask_for(missing_fact_keys(ticket, category), triage.language)
        budget = max_words - word_count(ask) - word_count(frame.greeting) - word_count(frame.closing)
        candidate = offline_candidate(ticket, triage, passages, query_vec=query_vec, sentences=sentences, budget_words=budget)
    return check_draft(
        candidate, ticket=ticket, triage=triage, passages=passages, category=category, frame=frame,
        max_words=max_words, packet_after_messages=packet_after_messages,
    )


def compose_draft(
    ticket: Ticket,
    triage: Triage,
    passages: list[Passage],
    *,
    query_vec: np.ndarray,
    sentences: SentenceVectors,
    category: CategoryConfig | None,
    max_words: int = 120,
    drafting: DraftingConfig | None = None,
    llm: "LLMDrafter | None" = None,
    detect_languages: tuple[str, ...] = ("en", "es", "fr", "de", "it", "nl", "pt"),
    llm_budget: "TokenBudget | None" = None,
) -> Draft:
    """The pipeline's drafting stage: the LLM drafter when configured, else (or on any LLM failure,
    invalid output, or a draft the checks empty) the offline drafter; then the checks.

    `llm_budget` is the ticket's token budget when an earlier stage (LLM triage) already drew on it;
    None starts a new one.

    The LLM is asked only where a reply may be drafted and a passage supports one; it also writes the
    escalation packet for escalations and long threads (`drafting.packet_after_messages`). Every
    fallback is named in the draft's `remarks`. Never raises because of the LLM.
    """
    frame = reply_frame(drafting, category, triage.language)
    after = drafting.packet_after_messages if drafting is not None else 0
    offline = draft(ticket, triage, passages, query_vec=query_vec, sentences=sentences, category=category, max_words=max_words,
                    frame=frame, packet_after_messages=after)
    if llm is None:
        return offline

    from worker.llm import LLMFailure

    budget = llm_budget if llm_budget is not None else llm.new_budget()
    remarks: list[str] = []
    result = offline
    if triage.role in ("draft", "constrained_draft") and passages:
        try:
            candidate = llm.propose(ticket, triage, passages, budget=budget, max_words=max_words)
            checked = check_draft(candidate, ticket=ticket, triage=triage, passages=passages, category=category, frame=frame,
                                  max_words=max_words, packet_after_messages=after, detect_languages=detect_languages)
            if checked.has_draft:
                result = checked
            else:
                remarks.append(f"The LLM draft ({llm.name}) did not pass the checks ({_why_empty(checked)}); "
                               "this draft is the offline drafter's.")
                log.info("llm_draft_rejected", drafter=llm.name)
        except LLMFailure as exc:
            remarks.append(f"The LLM ({llm.name}) failed: {exc.reason}; this draft is the offline drafter's.")
            log.warning("llm_fallback", drafter=llm.name, reason=exc.kind)
    if result.packet is not None:
        try:
            packet = llm.packet(ticket, triage, budget=budget)
            result = replace(result, packet=replace(packet, why=result.packet.why, risks=result.packet.risks,
                                                    messages=result.packet.messages))
        except LLMFailure as exc:
            remarks.append(f"The LLM ({llm.name}) could not write the case summary ({exc.reason}); it is extractive.")
            log.warning("llm_packet_fallback", drafter=llm.name, reason=exc.kind)
    if remarks:
        result = replace(result, remarks=(*result.remarks, *remarks))
    return result


def _why_empty(d: Draft) -> str:
    detail = next((r for r in d.remarks if r.startswith("Checks removed")), "")
    return detail.removeprefix("Checks removed ").rstrip(".") or d.reason.rstrip(".")


@dataclass(frozen=True)
class _Unit:
    """What the drafter picks: one sentence, an anaphoric sentence with the one it leans on, or a whole
    step list (steps are never quoted out of order or alone)."""

    p_idx: int
    position: int
    parts: tuple[str, ...]
    is_list: bool
    sim: float  # best cosine of its sentences to the customer's message
    vector: np.ndarray

    @property
    def words(self) -> int:
        return sum(word_count(p) + 1 for p in self.parts)  # + one citation marker each


def section_starts(text: str) -> set[int]:
    """Indices into `split_sentences(text)` of the first entry after each Markdown heading: a list
    never runs across a heading ("Works with Hearth" and "Doesn't work with Hearth" stay apart)."""
    starts: set[int] = set()
    count = 0
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#"):
            starts.add(count)
        elif line:
            count += len(split_sentences(line))
    return starts


def _units(
    p_idx: int, texts: list[str], vectors: np.ndarray, sims: list[float], starts: set[int] = frozenset(), heading: str = ""
) -> list[_Unit]:
    """`heading` (the section the chunk sits under) introduces a list that opens the chunk, so two
    chunks' lists ("works with…" / "does not work with…") never read as one."""
    units: list[_Unit] = []
    i = 0
    while i < len(texts):
        lead_in = ""
        if _LIST_ITEM.match(texts[i]):
            j = i + 1
            while j < len(texts) and _LIST_ITEM.match(texts[j]) and j not in starts:
                j += 1
            idx = list(range(i, j))
            prev = units[-1] if units else None
            if i not in starts and prev and not prev.is_list and len(prev.parts) == 1 and texts[prev.position].rstrip().endswith(":"):
                units.pop()  # the sentence that introduces the list travels with it
                idx = [prev.position, *idx]
            elif i == 0 and heading:
                lead_in = heading.rstrip(":") + ":"
        elif _ANAPHOR.match(texts[i]) and units and not units[-1].is_list and len(units[-1].parts) == 1:
            prev = units.pop()  # glue onto the sentence it refers to
            idx = [prev.position, i]
            j = i + 1
        else:
            idx, j = [i], i + 1
        vec = vectors[idx].mean(axis=0)
        parts = tuple(_PAREN_REFERENCE.sub("", _CITATION.sub("", texts[k])) for k in idx)
        units.append(
            _Unit(
                p_idx=p_idx,
                position=idx[0],
                parts=(lead_in, *parts) if lead_in else parts,
                is_list=any(_LIST_ITEM.match(texts[k]) for k in idx),
                sim=max(sims[k] for k in idx),
                vector=vec / (np.linalg.norm(vec) or 1.0),
            )
        )
        i = j
    return units


def _first_steps(unit: _Unit, budget_words: int) -> _Unit | None:
    """The longest prefix of a step list that fits `budget_words`, if it keeps at least two steps."""
    parts: list[str] = []
    for part in unit.parts:
        if sum(word_count(p) + 1 for p in [*parts, part]) > budget_words:
            break
        parts.append(part)
    return replace(unit, parts=tuple(parts)) if len(parts) >= 2 else None


def _pick_sentences(passages: list[Passage], query_vec: np.ndarray, cache: SentenceVectors, budget_words: int) -> list[_Unit]:
    """The best-supported units within `budget_words`, drawn only from passages close to the best one,
    so a draft never answers from a weaker article while the best one says something else."""
    best = max(p.score for p in passages)
    candidates: list[tuple[float, _Unit]] = []
    for p_idx, passage in enumerate(passages):
        if passage.score < best - PASSAGE_MARGIN:
            continue
        texts, vectors = cache.get(passage)
        if not texts:
            continue
        heading = passage.section if passage.section and passage.section != passage.title else ""
        for unit in _units(p_idx, texts, vectors, (vectors @ query_vec).tolist(), section_starts(passage.text), heading):
            text = " ".join(unit.parts)
            if unit.sim >= MIN_SENTENCE_SCORE and word_count(text) >= 5 and (unit.is_list or not _CROSS_REFERENCE.search(text)):
                # the passage's own relevance counts as much as the sentence's
                candidates.append((0.5 * unit.sim + 0.5 * passage.score, unit))
    candidates.sort(key=lambda c: c[0], reverse=True)
    picked: list[_Unit] = []
    used = 0
    for _score, unit in candidates:
        if unit.is_list and used + unit.words > budget_words:
            unit = _first_steps(unit, budget_words - used)  # the first steps, in order, or nothing
        if unit is None or used + unit.words > budget_words:
            continue
        if any(float(unit.vector @ u.vector) > NEAR_DUPLICATE for u in picked):
            continue
        picked.append(unit)
        used += unit.words
        if len(picked) == MAX_SENTENCES:
            break
    return picked
