"""Triage v1: category by embedding similarity to each category's example messages, urgency by rules.

The category score is the mean cosine similarity of the message to that category's `k` nearest
examples; below the taxonomy's `abstain_below` the ticket is `unknown` (routed for human triage,
never drafted). Sentiment, language and risk flags are small rule sets here; each is one function so
a later version can swap it for a model without touching the pipeline.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from integrations.base import Ticket
from worker.config import TriageConfig
from worker.models import UNKNOWN, Triage

NEAREST_K = 2


class Embeds(Protocol):
    """The one method triage and drafting need from knowledge.embeddings.Embedder."""

    def embed(self, texts: list[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class Taxonomy:
    """A TriageConfig with its example messages embedded once (rows L2-normalised)."""

    config: TriageConfig
    names: tuple[str, ...]  # category name per example row
    vectors: np.ndarray  # shape (n_examples, dim)

    @classmethod
    def build(cls, config: TriageConfig, embedder: Embeds) -> "Taxonomy":
        names, texts = [], []
        for name, cat in config.categories.items():
            for example in cat.examples:
                names.append(name)
                texts.append(example)
        return cls(config=config, names=tuple(names), vectors=np.asarray(embedder.embed(texts), dtype=np.float32))

    def scores(self, query_vec: np.ndarray) -> list[tuple[str, float]]:
        """Per-category score (mean similarity of the NEAREST_K closest examples), best first."""
        sims = self.vectors @ query_vec
        per_cat: dict[str, list[float]] = {}
        for name, sim in zip(self.names, sims.tolist()):
            per_cat.setdefault(name, []).append(sim)
        scored = [(n, float(np.mean(sorted(s, reverse=True)[:NEAREST_K]))) for n, s in per_cat.items()]
        return sorted(scored, key=lambda t: t[1], reverse=True)


def triage_text(ticket: Ticket) -> str:
    """The text triage and retrieval look at: the subject (first message only) and the latest customer message."""
    latest = ticket.latest_customer_message()
    body = latest.body if latest else ""
    first = bool(ticket.customer_messages()) and ticket.customer_messages()[0] is latest
    return f"{ticket.subject}\n{body}".strip() if first and ticket.subject else body.strip()


def triage(ticket: Ticket, taxonomy: Taxonomy, query_vec: np.ndarray) -> Triage:
    """Classify `ticket` given the embedding of `triage_text(ticket)`.

    Returns a Triage whose category is one of the taxonomy's names or `unknown` (role escalate_only).
    """
    cfg = taxonomy.config
    ranked = taxonomy.scores(query_vec)
    best, confidence = ranked[0]
    text = triage_text(ticket)
    reasons = [f"nearest examples: {best} {confidence:.2f}"]
    if len(ranked) > 1:
        reasons[0] += f", {ranked[1][0]} {ranked[1][1]:.2f}"
    if confidence < cfg.abstain_below:
        reasons.append(f"below abstain threshold {cfg.abstain_below:.2f}")
        category, role, label = UNKNOWN, "escalate_only", "Unknown (needs human triage)"
    else:
        cat = cfg.categories[best]
        category, role, label = best, cat.role, cat.label or best
    sentiment = detect_sentiment(text)
    urgency, why = detect_urgency(ticket, cfg, sentiment)
    if why:
        reasons.append(why)
    risks = detect_risks(text)
    if risks:
        reasons.append("risk: " + ", ".join(risks))
    return Triage(
        category=category,
        confidence=round(max(confidence, 0.0), 3),
        role=role,
        urgency=urgency,
        sentiment=sentiment,
        language=detect_language(text),
        risks=risks,
        reasons=tuple(reasons),
        alternatives=tuple((n, round(s, 3)) for n, s in ranked[1:3]),
        label=label,
    )


def detect_urgency(ticket: Ticket, cfg: TriageConfig, sentiment: str) -> tuple[str, str]:
    """(urgency, reason) from configured phrases (searched in the subject and every customer message;
    the first level that matches wins: urgent, then high), repeated contact, sentiment, then low phrases."""
    text = _normalize(" ".join([ticket.subject, *(m.body for m in ticket.customer_messages())]))
    for level in ("urgent", "high"):
        hit = next((p for p in getattr(cfg.urgency, level) if _normalize(p) in text), None)
        if hit:
            return level, f"{level}: '{hit}'"
    if len(ticket.customer_messages()) >= 3:
        return "high", "high: customer wrote 3+ times"
    if sentiment == "negative":
        return "high", "high: negative sentiment"
    hit = next((p for p in cfg.urgency.low if _normalize(p) in text), None)
    if hit:
        return "low", f"low: '{hit}'"
    return "normal", ""


def _normalize(text: str) -> str:
    """Lower-case with typographic apostrophes made straight, so "can’t" matches "can't"."""
    return text.lower().replace("\u2019", "'").replace("\u2018", "'")


_NEGATIVE = re.compile(
    r"\b(angry|furious|terrible|awful|horrible|unacceptable|ridiculous|worst|disappointed|disappointing|"
    r"frustrat\w*|useless|scam|fed up|annoyed|upset|outrageous|never again|waste of)\b|!{2,}",
    re.I,
)
_POSITIVE = re.compile(r"\b(thanks?|thank you|great|love|awesome|excellent|perfect|appreciate\w*|happy)\b", re.I)


def detect_sentiment(text: str) -> str:
    neg, pos = len(_NEGATIVE.findall(text)), len(_POSITIVE.findall(text))
    if neg > pos:
        return "negative"
    if pos > neg and pos >= 1:
        return "positive"
    return "neutral"


_STOPWORDS = {
    "en": "the and is are you my your i to of it for not have with this that was on can please",
    "es": "el la los las de que y en un una por para mi con no es pero como hola gracias",
    "fr": "le la les de des et est un une pour pas je mon ma avec vous bonjour merci",
    "de": "der die das und ist ich nicht ein eine mit mein meine sie zu bitte danke hallo",
    "pt": "o a os as de que e em um uma para não meu minha com obrigado olá você",
    "it": "il la di che e un una per non mio mia con sono ciao grazie",
    "nl": "de het een en is ik niet mijn met van voor dat hallo bedankt",
}
_STOP = {lang: set(words.split()) for lang, words in _STOPWORDS.items()}


def detect_language(text: str) -> str:
    """ISO 639-1 code by stopword overlap; 'en' when the text is too short to tell."""
    words = re.findall(r"[^\W\d_]+", text.lower())
    if len(words) < 3:
        return "en"
    counts = {lang: sum(w in stop for w in words) for lang, stop in _STOP.items()}
    best = max(counts, key=counts.get)
    return best if counts[best] > counts["en"] else "en"


_RISKS = {
    "account_security": r"\b(hack(ed|er)?|compromised|someone (else )?(logged|accessed|changed)|unauthori[sz]ed|"
    r"stolen (account|card|password)|phishing|identity theft)\b",
    "legal_threat": r"\b(lawyer|attorney|legal action|sue|suing|court|small claims|solicitor)\b",
    "payment_dispute": r"\b(chargeback|charge back|dispute (the|this|a) (charge|payment)|my bank|reverse the charge)\b",
    "self_harm": r"\b(kill myself|suicid\w*|end my life|self[- ]harm)\b",
    "prompt_injection": r"(ignore (all |any |your |the )?(previous |prior )?(rules|instructions|guidelines|policy|policies)|"
    r"you are now|system prompt|disregard (your|the|all) (rules|instructions)|act as (an?|the) )",
}
_RISK_RES = {name: re.compile(rx, re.I) for name, rx in _RISKS.items()}


def detect_risks(text: str) -> tuple[str, ...]:
    return tuple(name for name, rx in _RISK_RES.items() if rx.search(text))
