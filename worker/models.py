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

    `confidence` is the classifier's calibrated probability (0..1) that `category` is right (1.0 when
    an ops rule chose it); below the taxonomy's `abstain_below` the category is `unknown` and the role
    `escalate_only`. `role` is the category's, lowered by any risk flag configured to limit it.
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
class EscalationPacket:
    """A case summary an agent in another tier can act on without reading the thread.

    `problem` is one sentence; `tried_by_customer` / `tried_by_agents` / `open_questions` are short
    items, oldest first; `risks` pairs each risk flag with why it matters; `why` says why the ticket
    escalated (role, thread length, the model's advice). `source` is "extractive" or "llm".
    """

    problem: str
    tried_by_customer: tuple[str, ...] = ()
    tried_by_agents: tuple[str, ...] = ()
    open_questions: tuple[str, ...] = ()
    risks: tuple[tuple[str, str], ...] = ()
    why: str = ""
    messages: int = 0  # public messages in the thread
    source: str = "extractive"


@dataclass(frozen=True)
class Draft:
    """The drafting stage's output.

    `body` holds the reply text with `[n]` citation markers ("" when there is no draft);
    `citations[n-1]` is the passage behind `[n]`. `summary` is set for summary_only and escalations.
    `checklist` (summary_only) holds policy conditions quoted from the sources, each cited `[n]`;
    `remarks` are what the checks removed or changed and any LLM fallback, for the agent;
    `drafter` names what wrote the draft ("offline", or "llm:<model>"); `packet` is the case summary
    for escalations and long threads.
    """

    body: str
    citations: tuple[Passage, ...]
    missing_info: tuple[str, ...] = ()
    escalate: bool = False
    reason: str = ""
    summary: str = ""
    checklist: tuple[str, ...] = ()
    remarks: tuple[str, ...] = ()
    drafter: str = "offline"
    packet: EscalationPacket | None = None

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
