"""Data the pipeline stages hand to each other (frozen; helpdesk types live in integrations/base.py)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from knowledge.models import Passage

Role = Literal["draft", "constrained_draft", "summary_only", "escalate_only"]
ROLES: tuple[Role, ...] = ("draft", "constrained_draft", "summary_only", "escalate_only")
UNKNOWN = "unknown"


@dataclass(frozen=True)
class Triage:
    """What the ticket is about and what the AI may do with it.

    `confidence` is the cosine similarity (0..1) of the nearest category's examples; below the
    taxonomy's `abstain_below` the category is `unknown` and the role `escalate_only`.
    """

    category: str
    confidence: float
    role: Role
    urgency: Literal["low", "normal", "high", "urgent"]
    sentiment: Literal["negative", "neutral", "positive"]
    language: str
    risks: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    alternatives: tuple[tuple[str, float], ...] = ()
    label: str = ""  # human-readable category name for the note


@dataclass(frozen=True)
class Draft:
    """The drafting stage's output.

    `body` holds the reply text with `[n]` citation markers ("" when there is no draft);
    `citations[n-1]` is the passage behind `[n]`. `summary` is set for summary_only and escalations.
    """

    body: str
    citations: tuple[Passage, ...]
    missing_info: tuple[str, ...] = ()
    escalate: bool = False
    reason: str = ""
    summary: str = ""

    @property
    def has_draft(self) -> bool:
        return bool(self.body)


@dataclass(frozen=True)
class Note:
    """What gets posted: the note's HTML (marker included), the tags to add and an optional group."""

    html: str
    marker: str
    tags: tuple[str, ...]
    group: str | None = None
