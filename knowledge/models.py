"""Records the knowledge package passes around: Article (a help-center article), Passage (a retrieved chunk)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Article:
    """One approved help-center article, whatever its source (folder, Zendesk Guide, Freshdesk Solutions).

    `id` is unique across sources: folder articles keep their own id, vendor articles are
    "zendesk:<id>" / "freshdesk:<id>". `updated_at` is when the content last changed (Zendesk's
    `edited_at` when it has one, since its `updated_at` also moves on votes and label edits).
    `outdated` is the vendor's own "needs review" mark (Zendesk: a translation is behind its source).
    `section` is the section or folder name the knowledge owners know it by; `labels` are the
    vendor's labels or tags, used by the allowlist.
    """

    id: str
    title: str
    body: str  # plain text with headings kept as Markdown-style lines ("## Heading")
    url: str = ""
    section: str = ""
    locale: str = "en"
    updated_at: str = ""  # ISO-8601 UTC, "" when the source does not say
    source: str = "folder"  # folder | zendesk | freshdesk
    outdated: bool = False
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk of an approved article.

    `score` is the cosine similarity in [-1, 1] between the query embedding and the chunk's own
    embedding (article title, heading and text), whatever the retrieval mode: it is what the
    minimum-score cut-off and drafting's grounding threshold apply to.
    The order of a result list is the retrieval order (fused rank for hybrid search), so scores are
    not necessarily descending. `stale` is True when the article is older than the index's
    `stale_after_days` or `outdated` upstream.
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
    source: str = "folder"
    outdated: bool = False
    stale: bool = False
