"""Keep the index a faithful copy of each approved source: folder, Zendesk Help Center, Freshdesk Solutions.

Each function returns the `SyncStats` of the whole run. State needed to continue (the Zendesk
cursor) is stored in the index itself after every applied page, so a sync that stops half-way
(crash, rate limit, deploy) continues from there on its next run.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

from knowledge import freshdesk_solutions, zendesk_hc
from knowledge.approval import Allowlist
from knowledge.chunking import split_sections
from knowledge.freshdesk_solutions import FreshdeskSolutions
from knowledge.index import KnowledgeIndex, Progress, SyncStats
from knowledge.models import Article
from knowledge.sources import MAX_ARTICLE_CHARS, load_articles
from knowledge.zendesk_hc import ZendeskHelpCenter

log = logging.getLogger(__name__)

FOLDER_SOURCE = "folder"  # folder syncs before each folder had a source of its own (see `folder_source`)


def folder_source(path: Path) -> str:
    """The index source of the folder or file `path`: "folder:<absolute path>", symbolic links kept
    (a `current` link switched to a new release stays one source). Each folder is the full set of its
    own articles only, so syncing a second folder never deletes the first one's."""
    return f"{FOLDER_SOURCE}:{os.path.abspath(path)}"


def _gone(source: str) -> bool:
    """True for a folder source whose folder no longer exists (moved, renamed), and for the single
    folder source of an index from before per-folder sources."""
    if source == FOLDER_SOURCE:
        return True
    return source.startswith(FOLDER_SOURCE + ":") and not Path(source.split(":", 1)[1]).exists()


@dataclass(frozen=True)
class FolderSyncStats(SyncStats):
    """A folder sync's `SyncStats`, plus what it could not load.

    `errors` has one "<file>[:<line>]: <problem>" per file or record left out (see
    `knowledge.sources.LoadError`); `kept_ids` are the indexed articles left at their last good
    version because their file or record is now broken; `deletions_held` is True when a broken
    file's ids could not be read, so no article was deleted at all in this run (the next clean run
    deletes what is really gone); `ignored` says why each of the folder's other files (another type,
    a symbolic link, a dot-file or dot-folder) and each article without text is not indexed. Not meant to be added to other stats.
    """

    errors: tuple[str, ...] = ()
    kept_ids: tuple[str, ...] = ()
    deletions_held: bool = False
    ignored: tuple[str, ...] = ()  # "<file or article>: <why>", not indexed (not an error)


def sync_folder(
    index: KnowledgeIndex, path: Path, allow: Allowlist = Allowlist(), *, progress: Progress | None = None, allow_empty: bool = False
) -> FolderSyncStats:
    """Index the articles under `path` (see `knowledge.sources.load_articles`) that pass `allow`: the
    full approved set of that folder (its own source, `folder_source`), so articles removed from the
    folder (or the allowlist) disappear; other folders' and sources' articles are never touched, and
    an article whose id another source holds is left out with an error.

    A malformed file or record does not stop the sync: it is left out, named in `errors`, and the
    article it held keeps its indexed (last good) version: a typo must not delete approved content.
    Only an article whose file is gone, or that the allowlist no longer approves, is deleted.
    Raises FileNotFoundError if `path` does not exist, and ValueError when it yields no approved
    article at all while the index holds some of its articles (unless `allow_empty`; the message
    lists every load error): an empty or wrongly mounted folder would otherwise delete the whole help
    center, and every ticket would lose its sources.
    """
    loaded = load_articles(path)
    articles = [a for a in loaded.articles if allow.allows(sections=(a.section,), labels=a.labels, locale=a.locale)]
    errors = tuple(error.message for error in loaded.errors)
    source = folder_source(path)
    owners = _owners(index, source, {a.id for a in articles})
    # an id another source already holds is that source's article: writing it here would move it
    # back and forth between the two on every sync
    taken = [a for a in articles if owners.get(a.id, source) != source]
    errors += tuple(
        f"{path}: article {a.id!r} (“{a.title}”) is already indexed from {owners[a.id]}; "
        "article ids must be unique across folders and sources" for a in taken
    )
    articles = [a for a in articles if owners.get(a.id, source) == source]
    indexed = {article_id for article_id, owner in owners.items() if owner == source}
    if not articles and indexed and not allow_empty:
        problems = "".join(f"\n  {message}" for message in errors)
        raise ValueError(
            f"{path}: no approved articles found; refusing to delete its {len(indexed)} indexed articles "
            f"(`deskhand kb sync --allow-empty` does it on purpose){problems}"
        )
    not_loaded = indexed - {a.id for a in articles}
    deletions_held = not all(error.ids_known for error in loaded.errors)
    if deletions_held:
        kept = not_loaded
    else:
        kept = not_loaded & {article_id for error in loaded.errors for article_id in error.article_ids}
    # `apply`, not `sync`: `sync` deletes every indexed article missing from its input, kept ones too.
    stats = index.apply(articles, not_loaded - kept, source=source, progress=progress)
    # the index counts articles without text (`skipped`); name them, as every other file left out is
    empty = tuple(f"article {a.id!r} (“{a.title}”): no text to index" for a in articles if not split_sections(a.body))
    return FolderSyncStats(**stats.__dict__, errors=errors, kept_ids=tuple(sorted(kept)), deletions_held=deletions_held,
                           ignored=loaded.ignored + empty)


def _owners(index: KnowledgeIndex, source: str, ids: set[str]) -> dict[str, str]:
    """{article id: its source} of the whole index. A folder source that is gone (`_gone`: its folder
    was moved or renamed, or the index predates per-folder sources) and holds one of this folder's
    ids (`ids`) is this folder: it takes all of its articles over (relabelled, nothing re-embedded),
    so its files removed meanwhile still disappear."""
    infos = index.article_infos()
    gone = {info.source for info in infos if info.id in ids and info.source != source and _gone(info.source)}
    for old in sorted(gone):
        index.relabel_source(old, source)
    if gone:
        infos = index.article_infos()
    return {info.id: info.source for info in infos}


def sync_zendesk(
    index: KnowledgeIndex,
    client: ZendeskHelpCenter,
    allow: Allowlist = Allowlist(),
    *,
    full: bool = False,
    progress: Progress | None = None,
) -> SyncStats:
    """Apply the Help Center's changes since the stored cursor, then drop archived articles.

    `full` starts the export from 0 (every article) instead of the stored cursor. Each export page
    is applied (approved articles written, drafts/restricted/unapproved ones removed) and then the
    cursor is stored. Last, articles that no longer exist upstream are removed (the export never
    reports archived articles). Raises the loader's Transient/PermanentHelpdeskError.
    """
    started = time.perf_counter()
    state = index.get_state(zendesk_hc.SOURCE)
    start_time = 0 if full else int(state.get("start_time", 0) or 0)
    sections = client.sections()
    total = SyncStats()
    written = 0  # chunks written by earlier pages: progress counts over the whole run

    def page_progress(done: int, page_total: int) -> None:
        if progress:
            progress(written + done, written + page_total)

    for page in client.export_pages(start_time):
        changed: dict[str, Article] = {}
        removed: set[str] = set()
        for record in page.records:  # an article changed twice sits once per change; the last wins
            article, reason = zendesk_hc.zendesk_article(record, sections=sections, allow=allow)
            key = zendesk_hc.article_key(record["id"])
            changed.pop(key, None)
            removed.discard(key)
            if article is None:
                removed.add(key)
                log.debug("zendesk article %s not approved: %s", record["id"], reason)
            else:
                changed[key] = within_size(article, zendesk_hc.SOURCE)
        applied = index.apply(changed.values(), removed, source=zendesk_hc.SOURCE, progress=page_progress)
        written += applied.chunks_written
        total = total + applied
        if page.cursor > start_time:
            index.set_state(zendesk_hc.SOURCE, {"start_time": page.cursor})
            start_time = page.cursor
    total = total + index.prune(client.article_ids(), source=zendesk_hc.SOURCE)
    return _timed(total, started)


def sync_freshdesk(
    index: KnowledgeIndex,
    client: FreshdeskSolutions,
    allow: Allowlist = Allowlist(),
    *,
    progress: Progress | None = None,
) -> SyncStats:
    """Walk every category, folder and subfolder and make the index hold exactly the approved articles.

    Freshdesk has no incremental export: unchanged articles (same `updated_at` and text) are
    recognised by their fingerprint and embed nothing; drafts, articles in restricted folders and
    deleted ones are removed. Raises the loader's Transient/PermanentHelpdeskError; nothing is
    deleted unless the whole walk succeeded.
    """
    started = time.perf_counter()
    approved: dict[str, Article] = {}
    for key, article, reason in client.walk(allow):
        if article is not None:
            approved[key] = within_size(article, freshdesk_solutions.SOURCE)
        else:
            log.debug("freshdesk article %s not approved: %s", key, reason)
    stats = index.sync(approved.values(), source=freshdesk_solutions.SOURCE, progress=progress)
    return _timed(stats, started)


def within_size(article: Article, source: str) -> Article:
    """`article` with its text cut to MAX_ARTICLE_CHARS (at the last whitespace before it), logged.

    A folder article that long is refused (`knowledge.sources`: its author can split the file); a
    vendor article is published and approved upstream, so its first part is indexed rather than none
    of it, and the warning names it for the knowledge owners."""
    if len(article.body) <= MAX_ARTICLE_CHARS:
        return article
    head = article.body[:MAX_ARTICLE_CHARS]
    cut = max(head.rfind(" "), head.rfind("\n"))
    log.warning("%s article %s has %d characters of text; only the first %d are indexed: split it into smaller articles",
                source, article.id, len(article.body), MAX_ARTICLE_CHARS)
    return replace(article, body=head[:cut] if cut > MAX_ARTICLE_CHARS // 2 else head)


def _timed(stats: SyncStats, started: float) -> SyncStats:
    fields = {**stats.__dict__, "seconds": time.perf_counter() - started}
    return SyncStats(**fields)
