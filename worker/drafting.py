"""Drafting v1: an extractive drafter (no LLM). Grounded or silent.

The reply is made only of sentences taken from the retrieved, approved passages, each followed by its
citation `[n]`; no passage → no draft. The category's AI role decides what may be written at all:
`escalate_only` never drafts, `summary_only` summarises the request and lists the policy sources.
"""
from __future__ import annotations

import re
from collections import OrderedDict

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
NEAR_DUPLICATE = 0.85  # cosine above which a sentence repeats one already picked


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
    # one citation number per article, in order of first use
    citations: list[Passage] = []
    parts: list[str] = []
    for p_idx, _s_idx, sentence in sorted(picked):
        passage = passages[p_idx]
        ids = [c.article_id for c in citations]
        if passage.article_id not in ids:
            citations.append(passage)
            ids.append(passage.article_id)
        parts.append(f"{sentence} [{ids.index(passage.article_id) + 1}]")
    body = "\n".join(parts) if any(_LIST_ITEM.match(p) for p in parts) else " ".join(parts)
    if missing:
        body += "\n" + _ask_for(missing)
    reason = "Policy wording only: make no commitment the sources do not state." if triage.role == "constrained_draft" else ""
    return Draft(body=body, citations=tuple(citations), missing_info=missing, reason=reason)


def _ask_for(missing: tuple[str, ...]) -> str:
    return "Could you please send me your " + " and ".join(missing) + "?"


def _ask_words(missing: tuple[str, ...]) -> int:
    return word_count(_ask_for(missing)) if missing else 0


def _pick_sentences(
    passages: list[Passage], query_vec: np.ndarray, cache: SentenceVectors, budget_words: int
) -> list[tuple[int, int, str]]:
    """Best-supported sentences as (passage index, sentence index, text), within `budget_words`."""
    candidates: list[tuple[float, int, int, str, np.ndarray]] = []
    for p_idx, passage in enumerate(passages):
        texts, vectors = cache.get(passage)
        if not texts:
            continue
        sims = vectors @ query_vec
        for s_idx, (text, sim) in enumerate(zip(texts, sims.tolist())):
            n = word_count(text)
            if 5 <= n <= 60 and sim >= MIN_SENTENCE_SCORE and not _CROSS_REFERENCE.search(text):
                # a small bonus for the passage's own rank keeps the draft anchored on the best article
                candidates.append((sim + 0.05 * passage.score, p_idx, s_idx, _CITATION.sub("", text), vectors[s_idx]))
    candidates.sort(key=lambda c: c[0], reverse=True)
    picked: list[tuple[int, int, str]] = []
    picked_vecs: list[np.ndarray] = []
    used = 0
    for _score, p_idx, s_idx, text, vec in candidates:
        cost = word_count(text) + 1  # + the citation marker
        if used + cost > budget_words or any(float(vec @ v) > NEAR_DUPLICATE for v in picked_vecs):
            continue
        picked.append((p_idx, s_idx, text))
        picked_vecs.append(vec)
        used += cost
        if len(picked) == MAX_SENTENCES:
            break
    return picked
