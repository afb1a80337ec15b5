"""Drafting v1: an extractive drafter (no LLM). Grounded or silent.

The reply is made only of sentences taken from the retrieved, approved passages, each followed by its
citation `[n]`; no passage → no draft. The category's AI role decides what may be written at all:
`escalate_only` never drafts, `summary_only` summarises the request and lists the policy sources.
"""
from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, replace

import numpy as np

from integrations.base import Ticket
from knowledge.models import Passage
from worker.config import CategoryConfig
from worker.models import Draft, Triage
from worker.triage import Embeds

MIN_SENTENCE_SCORE = 0.30  # cosine similarity of a sentence to the customer's message
MAX_SENTENCES = 5
SUMMARY_WORDS = 40

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")
_LIST_ITEM = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
_CITATION = re.compile(r"\s*\[\d+\]")
_EMPHASIS = re.compile(r"(\*\*|__|`)")
# "See “Other article”" points the reader elsewhere; out of its article it answers nothing.
_CROSS_REFERENCE = re.compile(r"(^|\b)see [\"“']", re.I)
_PAREN_REFERENCE = re.compile(r"\s*\((?:see|read) [\"“'][^)]*\)", re.I)
NEAR_DUPLICATE = 0.85  # cosine above which a sentence repeats one already picked
PASSAGE_MARGIN = 0.08  # draft only from passages whose score is within this of the best passage's
# A sentence opening with one of these leans on the sentence before it, so the two travel together.
_ANAPHOR = re.compile(r"^(it|this|that|these|those|they|them|there|he|she|such|its|their)\b", re.I)


def split_sentences(text: str) -> list[str]:
    """Sentences and list items of `text`, in order; Markdown headings and blank lines dropped."""
    out: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        line = _EMPHASIS.sub("", line)
        if _LIST_ITEM.match(line):
            out.append(line)
            continue
        out.extend(s.strip() for s in _SENTENCE_END.split(line) if s.strip())
    return out


def word_count(text: str) -> int:
    """Words as an agent counts them (citation markers included)."""
    return len(text.split())


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


_FACT_PATTERNS = {
    "order_number": (re.compile(r"(#\s?\d{4,}|\border\b[^.\n]{0,20}?\b[A-Z]{0,4}-?\d{4,}\b|\b\d{6,}\b)", re.I), "order number"),
    "email": (re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+"), "e-mail address on the account"),
    "device_model": (
        re.compile(r"\b(model|version|firmware|app|v)\s*[:#]?\s*[\w.-]*\d", re.I),
        "device model or app version",
    ),
}


def missing_facts(ticket: Ticket, category: CategoryConfig | None) -> tuple[str, ...]:
    """Human labels of the category's required facts that no customer message contains."""
    if category is None:
        return ()
    text = "\n".join(m.body for m in ticket.customer_messages()) + "\n" + ticket.subject
    return tuple(label for fact in category.requires for rx, label in [_FACT_PATTERNS[fact]] if not rx.search(text))


def summarize_request(ticket: Ticket) -> str:
    """The customer's latest request in at most SUMMARY_WORDS words, taken from their own words."""
    latest = ticket.latest_customer_message()
    if latest is None:
        return "No customer message found."
    words: list[str] = []
    for sentence in split_sentences(latest.body):
        words.extend(sentence.split())
        if len(words) >= SUMMARY_WORDS:
            break
    text = " ".join(words[:SUMMARY_WORDS])
    return f"Customer writes: “{text}{'…' if len(words) > SUMMARY_WORDS else ''}”"


def draft(
    ticket: Ticket,
    triage: Triage,
    passages: list[Passage],
    *,
    query_vec: np.ndarray,
    sentences: SentenceVectors,
    category: CategoryConfig | None,
    max_words: int = 120,
) -> Draft:
    """Build the draft for `ticket` from `passages` (already filtered by the retrieval minimum score).

    Returns a Draft whose `body` has at most `max_words` words, every sentence followed by `[n]` where
    `citations[n-1]` is its passage; `body` is "" when the role forbids a draft or nothing supports one.
    """
    missing = missing_facts(ticket, category)
    if triage.role == "escalate_only":
        why = (
            "Triage could not place this ticket in a category; route it for human triage."
            if category is None
            else f"{triage.label} is escalate-only: no draft. Hand it to the owning team."
        )
        if triage.risks:
            why += " Risk flags: " + ", ".join(triage.risks) + "."
        return Draft(body="", citations=(), missing_info=missing, escalate=True, reason=why, summary=summarize_request(ticket))
    if triage.role == "summary_only":
        reason = "Summary only: the agent decides. Check the policy sources below before replying."
        if not passages:
            reason = "Summary only, and no approved source covers this request: check the policy manually."
        return Draft(body="", citations=tuple(passages[:2]), missing_info=missing, reason=reason, summary=summarize_request(ticket))
    if not passages:
        return Draft(
            body="",
            citations=(),
            missing_info=missing,
            reason="No approved help-center source supports a reply, so there is no draft. Answer manually or add an article.",
        )

    picked = _pick_sentences(passages, query_vec, sentences, max_words - _ask_words(missing))
    if not picked:
        return Draft(
            body="",
            citations=(),
            missing_info=missing,
            reason="The closest help-center passages do not answer this message closely enough to draft from.",
        )
    # one citation number per article, in order of first use; every sentence and list line is cited
    citations: list[Passage] = []
    lines: list[str] = []
    for unit in sorted(picked, key=lambda u: (u.p_idx, u.position)):
        passage = passages[unit.p_idx]
        ids = [c.article_id for c in citations]
        if passage.article_id not in ids:
            citations.append(passage)
            ids.append(passage.article_id)
        n = ids.index(passage.article_id) + 1
        lines.append("\n".join(f"{part} [{n}]" for part in unit.parts) if unit.is_list else " ".join(f"{part} [{n}]" for part in unit.parts))
    body = "\n".join(lines) if any(u.is_list for u in picked) else " ".join(lines)
    if missing:
        body += "\n" + _ask_for(missing)
    reason = "Policy wording only: make no commitment the sources do not state." if triage.role == "constrained_draft" else ""
    return Draft(body=body, citations=tuple(citations), missing_info=missing, reason=reason)


def _ask_for(missing: tuple[str, ...]) -> str:
    return "Could you please send me your " + " and ".join(missing) + "?"


def _ask_words(missing: tuple[str, ...]) -> int:
    return word_count(_ask_for(missing)) if missing else 0


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


def _units(p_idx: int, texts: list[str], vectors: np.ndarray, sims: list[float]) -> list[_Unit]:
    units: list[_Unit] = []
    i = 0
    while i < len(texts):
        if _LIST_ITEM.match(texts[i]):
            j = i
            while j < len(texts) and _LIST_ITEM.match(texts[j]):
                j += 1
            idx = list(range(i, j))
        elif _ANAPHOR.match(texts[i]) and units and not units[-1].is_list and len(units[-1].parts) == 1:
            prev = units.pop()  # glue onto the sentence it refers to
            idx = [prev.position, i]
            j = i + 1
        else:
            idx, j = [i], i + 1
        vec = vectors[idx].mean(axis=0)
        units.append(
            _Unit(
                p_idx=p_idx,
                position=idx[0],
                parts=tuple(_PAREN_REFERENCE.sub("", _CITATION.sub("", texts[k])) for k in idx),
                is_list=bool(_LIST_ITEM.match(texts[idx[0]])),
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
        for unit in _units(p_idx, texts, vectors, (vectors @ query_vec).tolist()):
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
