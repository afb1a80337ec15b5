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
    content_words,
    missing_fact_keys,
    missing_facts,
    summarize_request,
)
from worker.config import CategoryConfig, DraftingConfig
from worker.models import Draft, Triage
from worker.sentences import LIST_ITEM as _LIST_ITEM
from worker.sentences import NUMBERED_ITEM as _NUMBERED
from worker.sentences import split_questions, split_sentences, word_count
from worker.triage import Embeds, steering_sentences

if TYPE_CHECKING:
    from worker.llm import LLMDrafter, TokenBudget

log = structlog.get_logger(__name__)
__all__ = ["NOT_IN_DRAFT_PREFIX", "UNANSWERED_PREFIX", "SentenceVectors", "compose_draft", "customer_questions", "draft", "missing_facts", "reply_frame", "split_sentences", "summarize_request", "word_count"]

MIN_SENTENCE_SCORE = 0.30  # cosine similarity of a sentence to the customer's message
MAX_SENTENCES = 5

_CITATION = re.compile(r"\s*\[\d+\]")
_CITATIONS = re.compile(r"(?:\s*\[\d+\])+")
# "See “Other article”" points the reader elsewhere; out of its article it answers nothing.
_CROSS_REFERENCE = re.compile(r"(^|\b)see [\"“']", re.I)
_PAREN_REFERENCE = re.compile(r"\s*\((?:see|read) [\"“'][^)]*\)", re.I)
# Not reply material: a Markdown table row ("| Express | EU | €9.95 |" means nothing without its header)
# and a sentence about the article itself ("This article covers the Brew Kettle…").
_NOT_REPLY = re.compile(r"^\s*\||^this (?:article|page|guide|section|topic) (?:covers|explains|describes|is about|tells you)\b", re.I)
# "One of the settings below is the reason", "Check the socket as above": out of the article, what
# they point at is not in the draft. (A sentence introducing a list travels with the list, and
# "drops below 5 °C" is a quantity, not a reference.)
_DANGLING = re.compile(
    r"\b(?:as|see|listed|shown|described|explained|mentioned)\s+(?:above|below)\b"
    r"|\b(?:the|these|those)\s+(?:[\w-]+\s+){0,2}(?:above|below)\b(?!\s*[-−]?\d)",
    re.I,
)
# Question coverage, tuned by hand on 13 questions against the demo help center with all-MiniLM-L6-v2
# (tests/integration/test_question_coverage.py): a sentence (or sentence pair) that answers a question
# scored 0.45–0.83 against it, a neighbouring one ("Express delivery: 1–2 business days" vs "Is the
# courier DHL or UPS?") up to 0.44 — a thin margin: a listed question is a hint to check, not a verdict.
ANSWERS_QUESTION = 0.45  # cosine above which a draft or passage sentence answers a customer's question
MAX_UNANSWERED = 3
PROCEDURE_PREFIX = "Procedure cut: "  # a numbered step list that did not fit the draft whole (shown in bold)
LIST_CUT_PREFIX = "List cut: "  # the same for a bulleted list (requirements, options)
# "How do I…", "how to…", "what should I do…": the answer is a procedure, so the best-supported
# numbered list goes first for such a question (see `_pick_sentences`).
_HOW_TO = re.compile(r"\bhow (?:do|can|should|would|could) (?:i|we|you)\b|\bhow to\b|\bwhat (?:should|can|do|must) (?:i|we) do\b|\bsteps?\b|\bset(?:-| )?up\b", re.I)
UNANSWERED_PREFIX = "Possibly unanswered (no matching source): "
NOT_IN_DRAFT_PREFIX = "Possibly unanswered (a retrieved passage may cover it): "  # questions listed in the note as unanswered, at most
QUESTION_CHARS = 80  # a listed question longer than this is cut with "…"
NEAR_DUPLICATE = 0.85  # cosine above which a sentence repeats one already picked
PASSAGE_MARGIN = 0.08  # draft only from passages whose score is within this of the best passage's
# A sentence opening with one of these leans on the sentence before it, so the two travel together.
_ANAPHOR = re.compile(r"^(it|this|that|these|those|they|them|there|he|she|such|its|their)\b", re.I)


class SentenceVectors:
    """Per-process cache of sentence embeddings per passage chunk, so a static help center is embedded once."""

    def __init__(self, embedder: Embeds, max_chunks: int = 4096):
        self._embedder = embedder
        self._cache: OrderedDict[tuple, tuple[list[str], np.ndarray]] = OrderedDict()
        self._texts: OrderedDict[str, np.ndarray] = OrderedDict()  # text → unit vector, most recent last
        self._max = max_chunks

    def get(self, passage: Passage) -> tuple[list[str], np.ndarray]:
        key = (passage.chunk_id, hash(passage.text))
        hit = self._cache.get(key)
        if hit is None:
            sentences = split_sentences(passage.text)
            vectors = self.embed(sentences) if sentences else np.zeros((0, 1))
            hit = (sentences, vectors)
            self._cache[key] = hit
            if len(self._cache) > self._max:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return hit

    def windows(self, passage: Passage) -> np.ndarray:
        """Unit vectors of the passage's sentences alone, then of each with the one before it (see
        `_windows`), one row each; cached like `get`, so a static help center is embedded once."""
        key = ("windows", passage.chunk_id, hash(passage.text))
        hit = self._cache.get(key)
        if hit is None:
            texts, vectors = self.get(passage)
            pairs = [f"{a} {b}" for a, b in zip(texts, texts[1:])]
            hit = ([], np.vstack([vectors, self.embed(pairs)]) if pairs else vectors)
            self._cache[key] = hit
            if len(self._cache) > self._max:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return hit[1]

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit vectors, one row per text. Recent texts are remembered (up to `max_chunks` of them), so a
        draft line quoted from a passage, or a question asked twice in one job, is embedded once."""
        if not texts:
            return np.zeros((0, 1), dtype=np.float32)
        missing = [t for t in dict.fromkeys(texts) if t not in self._texts]
        if missing:
            for text, vector in zip(missing, np.asarray(self._embedder.embed(missing), dtype=np.float32)):
                self._texts[text] = vector
        for text in texts:
            self._texts.move_to_end(text)
        rows = np.stack([self._texts[t] for t in texts])
        while len(self._texts) > self._max:
            self._texts.popitem(last=False)
        return rows


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
    question_vecs: np.ndarray | None = None,
    how_to: frozenset[int] = frozenset(),
) -> Candidate:
    """The offline drafter's proposal: the best-supported sentences and step lists of `passages` within
    `budget_words`, each claiming the passage it was taken from, answering as many of the customer's
    questions (`question_vecs`, from `question_vectors`) as fit; `how_to` holds the row numbers of
    the questions asking how to do something (see `how_to_questions`). When a list does not fit
    whole, a remark names the article holding the full procedure or list."""
    if not passages:
        return Candidate(reason="No approved help-center source supports a reply, so there is no draft. Answer manually or add an article.")
    choice = _pick_sentences(passages, query_vec, sentences, budget_words, question_vecs, how_to)
    picked = choice.units
    pointer: tuple[str, ...] = ()
    if choice.cut_list is not None:
        p_idx, steps, quoted, numbered = choice.cut_list
        where = passages[p_idx].title + (f" ({passages[p_idx].url})" if passages[p_idx].url else "")
        if numbered:
            pointer = (
                f"{PROCEDURE_PREFIX}the draft quotes steps 1–{quoted} of {steps}; the full procedure is in “{where}”." if quoted
                else f"{PROCEDURE_PREFIX}the full procedure ({steps} steps) is in “{where}”: it does not fit the draft.",
            )
        else:
            pointer = (
                f"{LIST_CUT_PREFIX}the draft quotes {quoted} of {steps} items; the full list is in “{where}”." if quoted
                else f"{LIST_CUT_PREFIX}the full list ({steps} items) is in “{where}”: it does not fit the draft.",
            )
    if not picked:
        return Candidate(
            reason="The closest help-center passages do not answer this message closely enough to draft from."
            if not pointer else "The answer is a procedure too long for a draft: send the customer the article.",
            remarks=pointer,
        )
    claims = [
        Claim(text=part, sources=(passages[unit.p_idx].chunk_id,), unit=n, step=unit.is_list)
        for n, unit in enumerate(sorted(picked, key=lambda u: (u.p_idx, u.position)))
        for part in unit.parts
    ]
    return Candidate(claims=tuple(claims), remarks=pointer)


_NOT_WORDS = re.compile(r"\S*(?:://|www\.|@)\S*|\S*\d\S*")  # links, e-mail addresses, order and tracking numbers
MIN_REQUEST_WORDS = 2
THIN_REQUEST = "The message has too few words to answer (only a link, a number or a word or two): ask the customer what they need."


def too_little_to_answer(ticket: Ticket) -> bool:
    """True when the subject and the latest customer message hold fewer than `MIN_REQUEST_WORDS`
    words once links, e-mail addresses and numbers are left out: a bare order link or tracking
    number says nothing about what the customer wants, and a draft would guess."""
    latest = ticket.latest_customer_message()
    text = f"{ticket.subject} {latest.body if latest is not None else ''}"
    return len(re.findall(r"[^\W\d_]{2,}", _NOT_WORDS.sub(" ", text))) < MIN_REQUEST_WORDS


def customer_questions(ticket: Ticket) -> list[str]:
    """The questions and requests of the latest customer message (`split_questions`), without the
    sentences triage found addressed to Deskhand (those are not the customer's questions to answer)."""
    latest = ticket.latest_customer_message()
    if latest is None:
        return []
    steering = steering_sentences(latest.body)
    return [q for q in split_questions(latest.body) if not any(q.rstrip("?.!") in s or s in q for s in steering)]


def how_to_questions(questions: list[str]) -> frozenset[int]:
    """Row numbers of the questions that ask how to do something ("How do I…", "how to…", "steps")."""
    return frozenset(i for i, question in enumerate(questions) if _HOW_TO.search(question))


def question_vectors(questions: list[str], sentences: SentenceVectors) -> np.ndarray:
    """One unit vector per question, rows in order; shape (0, 1) when there are none."""
    return sentences.embed(questions)


def _draft_sentences(d: Draft) -> list[str]:
    """The cited sentences of a draft's body, markers removed (greeting, closing and the question for
    missing facts carry no marker and are left out)."""
    out = []
    for line in d.body.splitlines():
        *cited, _uncited = _CITATIONS.split(line)  # the text before each group of markers is what they cite
        out += [s for part in cited for s in split_sentences(part)]
    return out


def _windows(texts: list[str]) -> list[str]:
    """Each sentence alone, then each with the one before it: an answer often leans on its neighbour
    ("Hearth runs on 2 AA batteries. A fresh pair lasts around 12 months.")."""
    return [*texts, *(f"{a} {b}" for a, b in zip(texts, texts[1:]))]


_CAPITALISED = re.compile(r"\b[A-Z][a-z]{2,}\b")
_IT = re.compile(r"\bit\b", re.I)


def named_question(question: str, message: str, passages: list[Passage]) -> str:
    """`question` with its "it" replaced by the product the message names, when a retrieved article's
    title names it too ("Can I install it myself?" → "Can I install Hearth myself?"): a question split
    off its sentence loses what "it" is, and with it its match to the sentence that answers it
    (all-MiniLM-L6-v2: 0.29 → 0.58 against "Hearth is designed to be installed yourself"). The
    product is the last capitalised word of the message that is also a capitalised word (not the
    first) of a title; `question` is returned as it is when there is none."""
    if not _IT.search(question):
        return question
    in_titles = {word for p in passages for word in _CAPITALISED.findall(p.title.split(" ", 1)[-1])}
    named = [word for word in _CAPITALISED.findall(message) if word in in_titles]
    return _IT.sub(named[-1], question, count=1) if named else question


def unanswered_remarks(
    d: Draft, questions: list[str], passages: list[Passage], sentences: SentenceVectors, message: str = ""
) -> tuple[str, ...]:
    """The note's lines naming the customer's questions no cited sentence of the draft answers: one
    for those no retrieved passage answers either ("Possibly unanswered (no matching source): …"), one for those
    a retrieved passage answers but the draft does not quote ("Possibly unanswered (a retrieved passage may cover it): …").
    `message` is the customer message the questions come from: a question counts as answered when
    its named form (`named_question`) matches the draft. () when `d` has no draft or every question is answered."""
    if not d.has_draft or not questions:
        return ()
    q_vecs = sentences.embed(questions)
    named = sentences.embed([named_question(q, message, passages) for q in questions])
    drafted = sentences.embed(_windows(_draft_sentences(d)))
    # the named form only ever clears a question: naming the product also lifts its match to passage
    # sentences that answer a neighbouring question, so "a passage may cover it" keeps the plain form
    in_draft = np.maximum(q_vecs @ drafted.T, named @ drafted.T).max(axis=1) if len(drafted) else np.zeros(len(questions))
    in_passages = np.zeros(len(questions))
    for passage in passages:
        vectors = sentences.windows(passage)
        if len(vectors) and vectors.shape[1] == q_vecs.shape[1]:
            in_passages = np.maximum(in_passages, (q_vecs @ vectors.T).max(axis=1))
    # Noise control (from the demo tickets): a bare "How do I fix it?" restates the main request and is
    # never listed; "no matching source" needs the draft to answer another question (a message the draft
    # answers none of was still matched as a whole by retrieval), while "a passage may cover it" rests on
    # a passage sentence that does answer it.
    specific = [len(content_words(q)) >= 2 for q in questions]
    partly = bool((in_draft >= ANSWERS_QUESTION).any())
    nowhere = [q for q, a, b, ok in zip(questions, in_draft, in_passages, specific)
               if ok and partly and a < ANSWERS_QUESTION and b < ANSWERS_QUESTION]
    elsewhere = [q for q, a, b, ok in zip(questions, in_draft, in_passages, specific) if ok and a < ANSWERS_QUESTION <= b]
    lines = []
    if nowhere:
        lines.append(UNANSWERED_PREFIX + " · ".join(f"“{_short(q)}”" for q in nowhere[:MAX_UNANSWERED]))
    if elsewhere:
        lines.append(NOT_IN_DRAFT_PREFIX + " · ".join(f"“{_short(q)}”" for q in elsewhere[:MAX_UNANSWERED]))
    return tuple(lines)


def _short(question: str) -> str:
    return question if len(question) <= QUESTION_CHARS else question[: QUESTION_CHARS - 1].rstrip() + "…"


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
    if triage.role in ("draft", "constrained_draft") and too_little_to_answer(ticket):
        candidate = Candidate(reason=THIN_REQUEST)
    elif triage.role in ("draft", "constrained_draft"):
        ask = ask_for(missing_fact_keys(ticket, category), triage.language)
        budget = max_words - word_count(ask) - word_count(frame.greeting) - word_count(frame.closing)
        questions = customer_questions(ticket)
        candidate = offline_candidate(ticket, triage, passages, query_vec=query_vec, sentences=sentences, budget_words=budget,
                                      question_vecs=question_vectors(questions, sentences), how_to=how_to_questions(questions))
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
        return _with_unanswered(offline, ticket, passages, sentences)

    from worker.llm import LLMFailure

    budget = llm_budget if llm_budget is not None else llm.new_budget()
    remarks: list[str] = []
    result = offline
    if triage.role in ("draft", "constrained_draft") and passages and not too_little_to_answer(ticket):
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
    return _with_unanswered(result, ticket, passages, sentences)


def _with_unanswered(d: Draft, ticket: Ticket, passages: list[Passage], sentences: SentenceVectors) -> Draft:
    latest = ticket.latest_customer_message()
    message = latest.body if latest is not None else ""
    unanswered = unanswered_remarks(d, customer_questions(ticket), passages, sentences, message)
    return replace(d, remarks=(*d.remarks, *unanswered)) if unanswered else d


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
    p_idx: int,
    texts: list[str],
    vectors: np.ndarray,
    sims: list[float],
    starts: set[int] = frozenset(),
    heading: str = "",
    heading_vec: np.ndarray | None = None,
) -> list[_Unit]:
    """`heading` (the section the chunk sits under) introduces a list that opens the chunk, so two
    chunks' lists ("works with…" / "does not work with…") never read as one. Its unit vector
    (`heading_vec`) weighs as much as the list's items in the list's vector: the heading names what
    the list is for ("Connect Hearth to Wi-Fi"), which its steps rarely say."""
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
        if lead_in and heading_vec is not None:
            vec = vec / (np.linalg.norm(vec) or 1.0) + heading_vec
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
    """The longest prefix of a step list that fits `budget_words`, if it keeps at least two steps
    (a lead-in line does not count as one)."""
    parts: list[str] = []
    for part in unit.parts:
        if sum(word_count(p) + 1 for p in [*parts, part]) > budget_words:
            break
        parts.append(part)
    cut = replace(unit, parts=tuple(parts))
    return cut if _steps(cut) >= 2 else None


@dataclass(frozen=True)
class _Picked:
    """The drafter's choice: the units to quote, and the best step list that did not fit the budget
    whole, for the note to point to."""

    units: list[_Unit]
    cut_list: tuple[int, int, int, bool] | None = None  # (passage index, its steps, steps quoted: 0 = none, numbered)


def _steps(unit: _Unit) -> int:
    return len([p for p in unit.parts if _LIST_ITEM.match(p)])


def _numbered(unit: _Unit) -> bool:
    return any(_NUMBERED.match(p) for p in unit.parts)


def _answers(unit: _Unit, question_vecs: np.ndarray) -> set[int]:
    """Indices of the questions `unit` answers (cosine of its vector to the question's)."""
    if len(question_vecs) == 0:
        return set()
    return {i for i, sim in enumerate((question_vecs @ unit.vector).tolist()) if sim >= ANSWERS_QUESTION}


def _pick_sentences(
    passages: list[Passage],
    query_vec: np.ndarray,
    cache: SentenceVectors,
    budget_words: int,
    question_vecs: np.ndarray | None = None,
    how_to: frozenset[int] = frozenset(),
) -> _Picked:
    """The best-supported units within `budget_words`, drawn only from passages close to the best one,
    so a draft never answers from a weaker article while the best one says something else.

    With the customer's questions (`question_vecs`, one unit vector per row), a unit that answers a
    question no unit picked so far answers goes first, best-supported first (for a question in
    `how_to`, its row numbers, the best-supported numbered step list first); the rest follow by support.
    """
    question_vecs = question_vecs if question_vecs is not None else np.zeros((0, 1), dtype=np.float32)
    best = max(passages, key=lambda p: p.score)
    candidates: list[tuple[float, _Unit]] = []
    for p_idx, passage in enumerate(passages):
        # another article must score close to the best one; the best article's own chunks all count
        if passage.score < best.score - PASSAGE_MARGIN and passage.article_id != best.article_id:
            continue
        texts, vectors = cache.get(passage)
        if not texts:
            continue
        heading = passage.section if passage.section and passage.section != passage.title else ""
        heading_vec = cache.embed([heading])[0] if heading else None
        for unit in _units(p_idx, texts, vectors, (vectors @ query_vec).tolist(), section_starts(passage.text), heading, heading_vec):
            text = " ".join(unit.parts)
            points_away = not unit.is_list and bool(_CROSS_REFERENCE.search(text) or _DANGLING.search(text))
            if unit.sim >= MIN_SENTENCE_SCORE and word_count(text) >= 5 and not points_away and not _NOT_REPLY.search(text):
                # the passage's own relevance counts as much as the sentence's
                candidates.append((0.5 * unit.sim + 0.5 * passage.score, unit))
    candidates.sort(key=lambda c: c[0], reverse=True)
    picked: list[_Unit] = []
    tried: set[tuple[int, int]] = set()  # (passage, position) of every unit already considered
    answered: set[int] = set()
    cut_list: tuple[int, int, int, bool] | None = None
    used = 0

    def try_pick(unit: _Unit) -> bool:
        nonlocal used, cut_list
        tried.add((unit.p_idx, unit.position))
        whole = unit
        if unit.is_list and used + unit.words > budget_words:
            unit = _first_steps(unit, budget_words - used)  # the first steps, in order, or nothing
            quoted = _steps(unit) if unit is not None and used + unit.words <= budget_words else 0
            # The note says so in bold: a draft quoting steps 1–3 of 7 must not read as the whole
            # procedure. A list left out whole is worth a line only if it is a procedure that answers
            # what the customer asks. One remark: the first such list, or the first partly quoted one.
            numbered = _numbered(whole)
            relevant = quoted or (numbered and (len(question_vecs) == 0 or _answers(whole, question_vecs)))
            if relevant and (cut_list is None or (quoted and not cut_list[2])):
                cut_list = (whole.p_idx, _steps(whole), quoted, numbered)
        if unit is None or used + unit.words > budget_words or len(picked) == MAX_SENTENCES:
            return False
        if any(float(unit.vector @ u.vector) > NEAR_DUPLICATE for u in picked):
            return False
        picked.append(unit)
        answered.update(_answers(unit, question_vecs))
        used += unit.words
        return True

    # first, for each question in turn, the best-supported unit that answers it (if one does); a
    # question asking how (or what to do) takes the best-supported numbered procedure first, even when
    # its wording is too vague to match one ("What should I do to get it back online?")
    for q in range(len(question_vecs)):
        if q not in answered:
            answering = [u for _s, u in candidates if (u.p_idx, u.position) not in tried and q in _answers(u, question_vecs)]
            if q in how_to:
                procedures = [u for _s, u in candidates if (u.p_idx, u.position) not in tried and _numbered(u)]
                answering = [*procedures[:1], *(u for u in answering if u not in procedures[:1])]
            if any(try_pick(u) for u in answering):  # stops at the first one that fits
                answered.add(q)
    for _score, unit in candidates:
        if (unit.p_idx, unit.position) not in tried:
            try_pick(unit)
    if cut_list is not None and not cut_list[2] and any(_numbered(u) for u in picked):
        cut_list = None  # the draft quotes a procedure: a line about another one left out reads as a contradiction
    return _Picked(units=picked, cut_list=cut_list)
