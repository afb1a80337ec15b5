"""Records the knowledge package passes around: Article (a help-center article), Passage (a retrieved chunk)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Article:
    """One approved help-center article, whatever its source (folder, Zendesk Guide, Freshdesk Solutions)."""

    id: str
    title: str
    body: str  # plain text with headings kept as Markdown-style lines ("## Heading")
    url: str = ""
    section: str = ""
    locale: str = "en"
    updated_at: str = ""  # ISO-8601 UTC, "" when the source does not say
    source: str = "folder"


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk of an approved article, with its similarity to the query.

    `score` is cosine similarity in [-1, 1] (higher is closer).
    """

    chunk_id: str
    article_id: str
    title: str
    text: str
    score: float
    url: str = ""
    section: str = ""
    updated_at: str = ""
    locale: str = "en"
