"""The help-center index: article chunks and their embeddings in a Chroma collection, searched hybrid.

Embeddings are always computed here by an `Embedder` and handed to Chroma; the collection has no
embedding function, so Chroma never tries to download its default model (which fails offline).
Distances are cosine.

Each chunk's stored vector is normalise(embed(chunk) + title_weight · embed(article title)): help
center titles usually name the question an article answers, and a long chunk's own vector dilutes
that (on StackFAQ the blend lifts dense MRR@10 from 0.96 to 0.98, see benchmarks/retrieval_quality.py).
The blend only *orders* candidates. A passage's `score` is the cosine between the query and the
chunk's own vector (title, heading and text embedded together, as before the blend), recovered
exactly from the stored vector, the article's title vector (a second collection, "<name>-titles")
and the chunk's `title_dot`; that is the scale drafting's MIN_PASSAGE_SCORE was calibrated on.

Sync state lives in the collection itself, so it lives and dies with the index and is shared by
every worker of a Chroma server: each chunk's metadata carries its article's fingerprint
(`article_hash`, how `sync` tells unchanged articles from changed ones) and a hash of what was
embedded (`embed_hash`, so an edited article re-embeds only the chunks whose text changed); the
collection's metadata carries a revision (changed by every write) and each source's cursor.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal, TypeVar

import chromadb
import numpy as np
from chromadb.config import Settings
from chromadb.errors import InvalidArgumentError

from knowledge.chunking import Chunk, chunk_article
from knowledge.embeddings import Embedder
from knowledge.models import Article, Passage
from knowledge.retrieval import (
    TITLE_FIELD_WEIGHT,
    Candidate,
    Fusion,
    LexicalIndex,
    age_days,
    is_stale,
    select,
    weighted_rrf,
)

# Bump when the stored metadata or vectors change meaning, so the next sync rewrites every article.
_FINGERPRINT_VERSION = 3
_PAGE_SIZE = 2000  # rows per `get`/`delete` call when reading or pruning the whole collection
_REVISION_KEY = "deskhand_revision"
_STATE_PREFIX = "deskhand_state_"
DEFAULT_SOURCE = "folder"  # chunks written before sources existed have no `source` and were folder syncs

Mode = Literal["hybrid", "dense", "bm25"]
MODES: tuple[str, ...] = ("hybrid", "dense", "bm25")
Progress = Callable[[int, int], None]

T = TypeVar("T")

# Revisions written by this process, per Chroma folder: a change made here is already visible to
# this process's Chroma client; one made by another process is not (see KnowledgeIndex._refresh).
_WRITTEN_HERE: dict[str, set[str]] = {}
# Bumped when a folder's Chroma client is reopened, so every KnowledgeIndex on it re-attaches.
_GENERATION: dict[str, int] = {}


@dataclass(frozen=True)
class SyncStats:
    """What one sync (or one incremental apply) did.

    Counts are articles, except `chunks_embedded` (chunk texts run through the model) and
    `chunks_written` (chunks upserted, including ones whose vector was reused). `deleted` counts
    articles removed from the index (gone from the source, unpublished, no longer approved, or now
    without text); `skipped` counts input articles without any text to index. `seconds` is wall
    time.
    """

    added: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    chunks_embedded: int = 0
    seconds: float = 0.0
    skipped: int = 0
    chunks_written: int = 0

    def __add__(self, other: "SyncStats") -> "SyncStats":
        return SyncStats(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})


@dataclass(frozen=True)
class ArticleInfo:
    """One indexed article as `kb stats` / `kb stale` show it (read from its chunks' metadata)."""

    id: str
    title: str
    section: str
    url: str
    locale: str
    updated_at: str
    outdated: bool
    source: str
    chunks: int


@dataclass
class _Stored:
    chunk_ids: set[str] = field(default_factory=set)
    fingerprints: set[str] = field(default_factory=set)


@dataclass
class _Plan:
    writes: list[tuple[Chunk, str, str]] = field(default_factory=list)  # chunk, article fingerprint, source
    reuse_from: list[str] = field(default_factory=list)  # stored chunk ids whose vectors may be reused
    stale_ids: list[str] = field(default_factory=list)
    removed_articles: list[str] = field(default_factory=list)
    added: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    skipped: int = 0


class KnowledgeIndex:
    """Approved help-center chunks in one Chroma collection, searchable by meaning and by words.

    Pass either `path` (a folder for a Chroma `PersistentClient`, created if missing) or `client`
    (any Chroma client: `EphemeralClient` in tests, `HttpClient` for a shared server, see
    `chroma_client`). `max_words` / `overlap_words` are handed to `chunk_article`; `batch_size`
    is how many chunks are embedded and written per Chroma call; `title_weight` is the article
    title's weight in each chunk's vector (0: the chunk alone). `mode` is the default retrieval
    (hybrid | dense | bm25), `fusion` its weights, `candidates` how many chunks each method
    proposes, `lexical_title_weight` the weight of the article-title field in BM25 (see
    `LexicalIndex`; 0: titles count only as words of each chunk). A passage is stale when older than `stale_after_days` (None: never by age) or
    outdated upstream; `clock` gives "now" (UTC) for that.

    Raises ValueError if neither or both of `path` and `client` are given, or if an existing
    collection of that name does not use cosine distance.
    """

    def __init__(
        self,
        *,
        path: Path | None = None,
        client: Any = None,
        collection: str = "help_center",
        embedder: Embedder,
        max_words: int = 200,
        overlap_words: int = 30,
        batch_size: int = 64,
        title_weight: float = 1.5,
        mode: Mode = "hybrid",
        fusion: Fusion = Fusion(),
        candidates: int = 50,
        lexical_title_weight: float = TITLE_FIELD_WEIGHT,
        stale_after_days: int | None = 365,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if (path is None) == (client is None):
            raise ValueError("KnowledgeIndex needs exactly one of path= or client=")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        if candidates < 1:
            raise ValueError(f"candidates must be >= 1, got {candidates}")
        if title_weight < 0:
            raise ValueError(f"title_weight must be >= 0, got {title_weight}")
        if lexical_title_weight < 0:
            raise ValueError(f"lexical_title_weight must be >= 0, got {lexical_title_weight}")
        self._path = str(Path(path).resolve()) if path is not None else None
        self._name = collection
        self._embedder = embedder
        self._max_words = max_words
        self._overlap_words = overlap_words
        self._batch_size = batch_size
        self._title_weight = float(title_weight)
        self.mode: Mode = mode
        self.fusion = fusion
        self._candidates = candidates
        self.lexical_title_weight = float(lexical_title_weight)
        self.stale_after_days = stale_after_days
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self._client = client
        self._generation = -1
        self._collection: Any = None
        self._attach()
        space = _distance_space(self._collection)
        if space != "cosine":
            # get_or_create silently keeps an existing collection's settings; l2 scores would be wrong.
            raise ValueError(
                f"Chroma collection {collection!r} uses {space!r} distance, not cosine; "
                "delete it or choose another collection name"
            )
        self._revision = self._metadata().get(_REVISION_KEY)
        self._lexical: LexicalIndex | None = None
        self._lexical_key: Any = None

    # -- Chroma plumbing ------------------------------------------------------------------------

    def _attach(self) -> None:
        if self._path is not None:
            self._client = chromadb.PersistentClient(path=self._path, settings=Settings(anonymized_telemetry=False))
            self._generation = _GENERATION.get(self._path, 0)
        # embedding_function=None: Chroma must never embed (its default EF downloads a model).
        self._collection = self._client.get_or_create_collection(
            self._name, configuration={"hnsw": {"space": "cosine"}}, embedding_function=None
        )
        # Each article's title vector, by article id: what `search` needs to give every passage the
        # cosine of its own text (see `_text_cosines`).
        self._titles = self._client.get_or_create_collection(
            f"{self._name}-titles", configuration={"hnsw": {"space": "cosine"}}, embedding_function=None
        )

    @property
    def _col(self) -> Any:
        if self._path is not None and _GENERATION.get(self._path, 0) != self._generation:
            self._attach()
        return self._collection

    @property
    def _title_col(self) -> Any:
        self._col  # re-attach first if another KnowledgeIndex reopened this folder
        return self._titles

    def _metadata(self) -> dict[str, Any]:
        """The collection's metadata as stored now (a fresh read, not the cached collection object)."""
        self._col  # re-attach first if another KnowledgeIndex reopened this folder
        return dict(self._client.get_collection(self._name, embedding_function=None).metadata or {})

    def _write_metadata(self, updates: dict[str, Any]) -> None:
        # modify() replaces the whole metadata, so merge with a fresh read.
        merged = {**self._metadata(), **updates}
        self._col.modify(metadata=merged)

    def _bump_revision(self) -> None:
        revision = uuid.uuid4().hex
        if self._path is not None:
            _WRITTEN_HERE.setdefault(self._path, set()).add(revision)
        self._write_metadata({_REVISION_KEY: revision})
        self._revision = revision

    def _refresh(self) -> None:
        """Notice a change made by another process and make this one see it.

        A Chroma server serves every client the same data. A `PersistentClient` does not: it keeps
        its own in-memory copy of the vector index, so a worker would keep answering from the
        index as it was when it opened the folder. The revision in the collection metadata is
        read fresh from disk on every search; when another process changed it, the client is
        reopened. The BM25 index is rebuilt lazily on any change.
        """
        revision = self._metadata().get(_REVISION_KEY)
        if revision == self._revision:
            return
        if self._path is not None and revision not in _WRITTEN_HERE.get(self._path, set()):
            self._reopen()
        self._revision = revision

    def _reopen(self) -> None:
        from chromadb.api.shared_system_client import SharedSystemClient

        # Chroma caches one client system per folder per process; drop ours so the next client
        # reads the folder again. Every KnowledgeIndex on this folder re-attaches (generation).
        cache = getattr(SharedSystemClient, "_identifier_to_system", None)
        if isinstance(cache, dict):
            system = cache.pop(self._path, None)
            if system is not None:
                system.stop()
        assert self._path is not None
        _GENERATION[self._path] = _GENERATION.get(self._path, 0) + 1
        self._attach()

    # -- state ------------------------------------------------------------------------------------

    def get_state(self, name: str) -> dict[str, Any]:
        """The sync state stored under `name` (e.g. a source's cursor); {} when none."""
        raw = self._metadata().get(_STATE_PREFIX + name)
        try:
            value = json.loads(raw) if isinstance(raw, str) else {}
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    def set_state(self, name: str, value: dict[str, Any]) -> None:
        """Store `value` (JSON-serialisable) as the sync state `name`, beside the index it describes."""
        self._write_metadata({_STATE_PREFIX + name: json.dumps(value, sort_keys=True)})

    # -- sync -------------------------------------------------------------------------------------

    def sync(self, articles: Iterable[Article], *, source: str = DEFAULT_SOURCE, progress: Progress | None = None) -> SyncStats:
        """Make the index hold exactly `articles` for `source` (the full set of its approved articles).

        Articles whose chunks and metadata are unchanged embed nothing; an added or changed article
        has its chunks written (re-embedding only chunks whose text changed) and its chunks that no
        longer exist removed; articles of `source` in the index but not in `articles` are removed.
        Other sources' articles are not touched. `progress(done, total)` is called as chunks are
        written. Raises ValueError if two input articles share an id.
        """
        started = time.perf_counter()
        wanted, skipped = self._prepare(articles)
        stored = self._stored_articles(source)
        plan = self._plan(wanted, stored, source)
        plan.skipped = skipped
        for article_id, old in stored.items():
            if article_id not in wanted:
                plan.deleted += 1
                plan.stale_ids.extend(sorted(old.chunk_ids))
                plan.removed_articles.append(article_id)
        return self._execute(plan, started, progress)

    def apply(
        self,
        changed: Iterable[Article],
        removed: Iterable[str] = (),
        *,
        source: str,
        progress: Progress | None = None,
    ) -> SyncStats:
        """Apply an incremental change set of `source`: write `changed` articles, delete `removed` ids.

        Unlike `sync`, articles not mentioned are left alone. A changed article without text is
        removed (counted in `skipped` and, if it was indexed, `deleted`). Raises ValueError if an
        id appears twice in `changed`.
        """
        started = time.perf_counter()
        changed = list(changed)
        wanted, skipped = self._prepare(changed)
        stored = self._stored_articles(source)
        plan = self._plan(wanted, stored, source)
        plan.skipped = skipped
        gone = {article.id for article in changed if article.id not in wanted} | set(removed)
        for article_id in sorted(gone - set(wanted)):
            if article_id in stored:
                plan.deleted += 1
                plan.stale_ids.extend(sorted(stored[article_id].chunk_ids))
                plan.removed_articles.append(article_id)
        return self._execute(plan, started, progress)

    def prune(self, keep: Iterable[str], *, source: str) -> SyncStats:
        """Delete every article of `source` whose id is not in `keep` (e.g. those archived upstream)."""
        started = time.perf_counter()
        keep = set(keep)
        plan = _Plan()
        for article_id, old in self._stored_articles(source).items():
            if article_id not in keep:
                plan.deleted += 1
                plan.stale_ids.extend(sorted(old.chunk_ids))
                plan.removed_articles.append(article_id)
        return self._execute(plan, started, None)

    def relabel_source(self, old: str, new: str) -> int:
        """Move every chunk of source `old` to source `new`: metadata only, nothing is re-embedded.
        Returns how many chunks moved."""
        ids = [chunk_id for chunk_id, _, meta in self._all_rows(include=["metadatas"])
               if str(meta.get("source", DEFAULT_SOURCE)) == old]
        for batch in _batches(ids, _PAGE_SIZE):
            page = self._col.get(ids=list(batch), include=["metadatas"])
            self._col.update(ids=page["ids"], metadatas=[{**(meta or {}), "source": new} for meta in page["metadatas"]])
        if ids:
            self._bump_revision()
        return len(ids)

    def _prepare(self, articles: Iterable[Article]) -> tuple[dict[str, tuple[Article, str, list[Chunk]]], int]:
        wanted: dict[str, tuple[Article, str, list[Chunk]]] = {}
        seen: set[str] = set()
        skipped = 0
        for article in articles:
            if article.id in seen:
                raise ValueError(f"duplicate article id {article.id!r} in the articles to sync")
            seen.add(article.id)
            chunks = chunk_article(article, max_words=self._max_words, overlap_words=self._overlap_words)
            if chunks:
                wanted[article.id] = (article, self._fingerprint(article, chunks), chunks)
            else:
                skipped += 1
        return wanted, skipped

    def _plan(self, wanted: dict[str, tuple[Article, str, list[Chunk]]], stored: dict[str, _Stored], source: str) -> _Plan:
        plan = _Plan()
        for article_id, (_article, fingerprint, chunks) in wanted.items():
            chunk_ids = {chunk.id for chunk in chunks}
            old = stored.get(article_id)
            if old is not None and old.fingerprints == {fingerprint} and old.chunk_ids == chunk_ids:
                plan.unchanged += 1
                continue
            if old is None:
                plan.added += 1
            else:
                plan.updated += 1
                plan.reuse_from.extend(sorted(old.chunk_ids))
                plan.stale_ids.extend(sorted(old.chunk_ids - chunk_ids))
            plan.writes.extend((chunk, fingerprint, source) for chunk in chunks)
        return plan

    def _execute(self, plan: _Plan, started: float, progress: Progress | None) -> SyncStats:
        embedded = self._write(plan.writes, plan.reuse_from, progress)
        # Write new chunks before deleting old ones: a crash in between leaves mixed fingerprints,
        # which the next sync sees as "changed" and repairs.
        for batch in _batches(plan.stale_ids, _PAGE_SIZE):
            self._col.delete(ids=list(batch))
        for batch in _batches(plan.removed_articles, _PAGE_SIZE):
            self._title_col.delete(ids=list(batch))
        if plan.writes or plan.stale_ids:
            self._bump_revision()
        return SyncStats(
            added=plan.added,
            updated=plan.updated,
            deleted=plan.deleted,
            unchanged=plan.unchanged,
            chunks_embedded=embedded,
            seconds=time.perf_counter() - started,
            skipped=plan.skipped,
            chunks_written=len(plan.writes),
        )

    def _write(self, writes: list[tuple[Chunk, str, str]], reuse_from: list[str], progress: Progress | None) -> int:
        """Upsert every chunk of `writes` (and its article's title vector); returns how many chunk texts were embedded."""
        if not writes:
            return 0
        reusable = self._stored_vectors(reuse_from)
        hashes = [self._embed_hash(chunk) for chunk, _, _ in writes]
        fresh = [i for i, h in enumerate(hashes) if h not in reusable]
        reused = [i for i, h in enumerate(hashes) if h in reusable]
        title_vectors = self._title_vectors({writes[i][0].article_id: writes[i][0].title for i in fresh})
        total, done = len(writes), 0
        # Longest texts first, in model-sized batches: sentence-transformers pads each batch to its
        # longest text, so batches of similar length waste the least work.
        fresh.sort(key=lambda i: -len(writes[i][0].embedding_text))
        for batch in _batches(fresh, self._batch_size):
            vectors = self._embedder.embed([writes[i][0].embedding_text for i in batch])
            title_dots = [0.0] * len(batch)
            if self._title_weight:
                titles = np.stack([title_vectors[writes[i][0].article_id] for i in batch])
                title_dots = [float(d) for d in np.einsum("ij,ij->i", vectors, titles)]
                vectors = vectors + self._title_weight * titles
                vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            self._upsert([writes[i] for i in batch], [hashes[i] for i in batch], vectors, title_dots)
            done += len(batch)
            if progress:
                progress(done, total)
        for batch in _batches(reused, self._batch_size):
            vectors = np.stack([reusable[hashes[i]][0] for i in batch])
            self._upsert([writes[i] for i in batch], [hashes[i] for i in batch], vectors, [reusable[hashes[i]][1] for i in batch])
            done += len(batch)
            if progress:
                progress(done, total)
        return len(fresh)

    def _upsert(
        self,
        items: Sequence[tuple[Chunk, str, str]],
        embed_hashes: Sequence[str],
        vectors: np.ndarray,
        title_dots: Sequence[float],
    ) -> None:
        self._col.upsert(
            ids=[chunk.id for chunk, _, _ in items],
            embeddings=np.asarray(vectors, dtype=np.float32),
            documents=[chunk.text for chunk, _, _ in items],
            metadatas=[
                _metadata(chunk, fingerprint, source, embed_hash, title_dot, self._title_weight)
                for (chunk, fingerprint, source), embed_hash, title_dot in zip(items, embed_hashes, title_dots)
            ],
        )

    def _title_vectors(self, titles: dict[str, str]) -> dict[str, np.ndarray]:
        """Embed each article's title (article id → title) and store it in the titles collection."""
        if not self._title_weight or not titles:
            return {}
        ids = sorted(titles)
        vectors = self._embedder.embed([titles[i] for i in ids])
        for batch in _batches(list(range(len(ids))), _PAGE_SIZE):
            self._title_col.upsert(ids=[ids[i] for i in batch], embeddings=vectors[list(batch)])
        return dict(zip(ids, vectors))

    def _stored_vectors(self, chunk_ids: Sequence[str]) -> dict[str, tuple[np.ndarray, float]]:
        """embed_hash → (stored vector, title_dot), for chunks of articles about to be rewritten."""
        vectors: dict[str, tuple[np.ndarray, float]] = {}
        for batch in _batches(list(chunk_ids), _PAGE_SIZE):
            got = self._col.get(ids=list(batch), include=["embeddings", "metadatas"])
            for metadata, vector in zip(got["metadatas"] or [], _rows(got.get("embeddings"))):
                metadata = metadata or {}
                if metadata.get("embed_hash"):
                    vectors[str(metadata["embed_hash"])] = (
                        np.asarray(vector, dtype=np.float32),
                        float(metadata.get("title_dot", 0.0)),
                    )
        return vectors

    def _embed_hash(self, chunk: Chunk) -> str:
        payload = [_FINGERPRINT_VERSION, self._title_weight if chunk.title else 0.0, chunk.title, chunk.embedding_text]
        return hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode("utf-8")).hexdigest()

    def _fingerprint(self, article: Article, chunks: Sequence[Chunk]) -> str:
        """SHA-256 over everything stored for an article: metadata, vector recipe, every chunk's text and place."""
        payload = [
            _FINGERPRINT_VERSION,
            self._title_weight,
            article.title,
            article.url,
            article.section,
            article.locale,
            article.updated_at,
            article.outdated,
            list(article.labels),
            [[chunk.id, chunk.heading, chunk.section, chunk.content_hash] for chunk in chunks],
        ]
        return hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode("utf-8")).hexdigest()

    # -- search -----------------------------------------------------------------------------------

    def search(
        self,
        query: str | None = None,
        *,
        query_embedding: np.ndarray | None = None,
        top_k: int = 4,
        min_score: float = 0.0,
        max_per_article: int = 2,
        locale: str | Sequence[str] | None = None,
        mode: Mode | None = None,
    ) -> list[Passage]:
        """The passages that best match the query, in retrieval order (best first).

        Give the query text, its embedding (a vector from the same embedder, shape (dimension,)
        or (1, dimension)), or both: the text feeds BM25, the embedding dense search, and a caller
        that already embedded the text (the pipeline embeds each ticket once) passes it so it is
        not embedded twice. With only an embedding, hybrid search is dense search.

        `mode` (default: the index's) orders candidates by fused rank (hybrid), cosine (dense) or
        BM25 score (bm25). Whatever the mode, each passage's `score` is the cosine similarity of
        the query to the chunk's own text (see the module doc) and a passage is returned only when that score is >= `min_score` — the cut-off
        drafting relies on to say "no approved source". At most `top_k` passages, at most
        `max_per_article` from one article. `locale` ("en", "en-us" or several) keeps only
        articles in that locale or language ("en" matches en-us). A blank query or an empty
        index gives [].

        Raises ValueError if neither query nor embedding is given, for bm25 mode without text, if
        `top_k` or `max_per_article` is below 1, or if the embedding's length does not fit the index.
        """
        mode = mode or self.mode
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        if query is None and query_embedding is None:
            raise ValueError("search needs a query, a query_embedding, or both")
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        if max_per_article < 1:
            raise ValueError(f"max_per_article must be >= 1, got {max_per_article}")
        text = query if query is not None and query.strip() else None
        if query_embedding is None and text is None:
            return []
        if mode == "bm25" and text is None:
            raise ValueError("bm25 search needs the query text")
        vector = self._embedder.embed_one(text) if query_embedding is None else _as_vector(query_embedding)
        self._refresh()
        if self._col.count() == 0:
            return []
        languages = _languages(locale)
        use_dense = mode in ("dense", "hybrid")
        use_lexical = mode in ("bm25", "hybrid") and text is not None
        n = max(self._candidates, top_k * max_per_article * 3)
        while True:
            dense = self._dense(vector, n, languages) if use_dense else []
            lexical = self._lexical_index().search(text, n, languages=languages) if use_lexical else []
            ordered = sorted(self._order(dense, lexical, mode), key=lambda c: (-c.order, c.id))
            passages = self._choose(ordered, vector, top_k=top_k, min_score=min_score, max_per_article=max_per_article)
            # The per-article cap can starve a small pool (one long article fills it): widen the
            # dense pool while it is full and still near the floor.
            starved = len(passages) < top_k and len(dense) == n and dense[-1][1] >= min_score
            if not starved or n >= self._col.count():
                return passages
            n *= 4

    def article_passages(self, article_id: str, query_embedding: np.ndarray) -> list[Passage]:
        """Every chunk of one article as a Passage, in the article's own order, each scored like a
        search result (cosine of the query to the chunk's own text). [] for an unknown article.

        The pipeline reads more of the best article than a search gives (`max_per_article` chunks):
        for "how do I…" the step list is often not among an article's closest two chunks.
        Raises ValueError if the embedding's length does not fit the index.
        """
        vector = _as_vector(query_embedding)
        self._refresh()
        got = self._col.get(where={"article_id": article_id}, include=["embeddings", "documents", "metadatas"])
        if not got["ids"]:
            return []
        try:
            cosines = self._text_cosines(vector, got)
        except ValueError as exc:  # numpy: shapes (n,) and (m,) not aligned
            raise ValueError(f"query embedding does not fit the index: {exc}") from exc
        now = self._clock()
        rows = sorted(
            zip(got["ids"], got["documents"], got["metadatas"]), key=lambda row: int((row[2] or {}).get("index", 0))
        )
        return [
            self._passage(Candidate(id=chunk_id, article_id=article_id, cosine=cosines[chunk_id], order=0.0), document or "", metadata or {}, now)
            for chunk_id, document, metadata in rows
        ]

    def _dense(self, vector: np.ndarray, n: int, languages: list[str] | None) -> list[tuple[str, float]]:
        """(id, cosine to the stored title-blended vector) of the `n` nearest chunks, nearest first.

        Only distances are asked for: fetching documents and metadata for the whole candidate pool
        costs Chroma ~100x more than the nearest-neighbour search; `_choose` fetches them for the
        few chunks it looks at.
        """
        try:
            result = self._col.query(
                query_embeddings=vector[np.newaxis, :], n_results=n, where=_locale_where(languages), include=["distances"]
            )
        except InvalidArgumentError as exc:
            raise ValueError(f"query embedding does not fit the index: {exc}") from exc
        return [(chunk_id, 1.0 - float(distance)) for chunk_id, distance in zip(result["ids"][0], result["distances"][0])]

    def _order(self, dense: list[tuple[str, float]], lexical: list[tuple[str, float]], mode: str) -> list[Candidate]:
        """Every candidate with its ordering score for `mode`: fused rank (hybrid), BM25 score or the
        title-blended cosine (dense). `cosine` is a placeholder until `_choose` scores it."""
        if mode == "hybrid":
            order = weighted_rrf(
                [([c for c, _ in dense], self.fusion.dense_weight), ([c for c, _ in lexical], self.fusion.lexical_weight)],
                self.fusion.k,
            )
        elif mode == "bm25":
            order = dict(lexical)
        else:
            order = dict(dense)
        return [Candidate(id=chunk_id, article_id=_article_of(chunk_id), cosine=0.0, order=score) for chunk_id, score in order.items()]

    def _choose(
        self, ordered: list[Candidate], vector: np.ndarray, *, top_k: int, min_score: float, max_per_article: int
    ) -> list[Passage]:
        """The passages `select` keeps from `ordered`, each scored with its own text cosine.

        Candidates are read from Chroma in order, at most two reads of `4 * top_k` (so at most the
        first `8 * top_k` candidates are considered), until `top_k` are chosen. Without that cap a query
        that nothing in the index supports read every candidate, a few at a time: ~20 reads per search.
        """
        scored: list[Candidate] = []
        rows: dict[str, tuple[str, dict[str, Any]]] = {}
        chosen: list[Candidate] = []
        step = max(8, 4 * top_k)
        for start in range(0, min(len(ordered), 2 * step), step):
            batch = ordered[start : start + step]
            got = self._col.get(ids=[c.id for c in batch], include=["embeddings", "documents", "metadatas"])
            cosines = self._text_cosines(vector, got)
            for chunk_id, document, metadata in zip(got["ids"], got["documents"], got["metadatas"]):
                rows[chunk_id] = (document or "", metadata or {})
            scored.extend(dataclasses.replace(c, cosine=cosines[c.id]) for c in batch if c.id in cosines)
            chosen = select(scored, top_k=top_k, min_score=min_score, max_per_article=max_per_article)
            if len(chosen) == top_k:
                break
        now = self._clock()
        return [self._passage(c, *rows[c.id], now) for c in chosen]

    def _text_cosines(self, vector: np.ndarray, got: Any) -> dict[str, float]:
        """id → cosine between the query and the chunk's own text vector c (title, heading, text),
        recovered from its stored title-blended vector b = (c + w·t) / |c + w·t|:

            cos(q, c) = |c + w·t| · (q·b) − w · (q·t),   |c + w·t| = sqrt(1 + w² + 2w · c·t)

        with t its article's title vector (titles collection) and c·t kept in the chunk's metadata
        (`title_dot`). This is the score drafting's threshold was calibrated on; the blend only
        orders candidates.
        """
        ids = list(got["ids"])
        metadatas = [meta or {} for meta in got["metadatas"] or [{}] * len(ids)]
        blended = {chunk_id: float(np.asarray(stored, dtype=np.float32) @ vector) for chunk_id, stored in zip(ids, _rows(got.get("embeddings")))}
        weights = {chunk_id: float(meta.get("title_weight", 0.0)) for chunk_id, meta in zip(ids, metadatas)}
        articles = sorted({str(meta.get("article_id", "")) for chunk_id, meta in zip(ids, metadatas) if weights[chunk_id]})
        query_title: dict[str, float] = {}
        if articles:
            titles = self._title_col.get(ids=articles, include=["embeddings"])
            query_title = {
                article_id: float(np.asarray(stored, dtype=np.float32) @ vector)
                for article_id, stored in zip(titles["ids"], _rows(titles.get("embeddings")))
            }
        cosines = {}
        for chunk_id, meta in zip(ids, metadatas):
            w, qt = weights[chunk_id], query_title.get(str(meta.get("article_id", "")))
            if not w or qt is None:
                cosines[chunk_id] = blended[chunk_id]
                continue
            norm = float(np.sqrt(max(0.0, 1.0 + w * w + 2.0 * w * float(meta.get("title_dot", 0.0)))))
            cosines[chunk_id] = norm * blended[chunk_id] - w * qt
        return cosines

    def _lexical_index(self) -> LexicalIndex:
        """The BM25 index of every chunk (title, heading and text; the title also as its own field),
        built from the stored documents and metadata; rebuilt after any write or weight change."""
        key = (self._revision, self.lexical_title_weight)
        if self._lexical is None or self._lexical_key != key:
            ids, texts, languages, titles = [], [], [], []
            for chunk_id, document, metadata in self._all_rows(include=["documents", "metadatas"]):
                title = str(metadata.get("title", ""))
                ids.append(chunk_id)
                texts.append("\n".join(p for p in (title, metadata.get("heading", ""), document) if p))
                languages.append(str(metadata.get("language") or language_of(str(metadata.get("locale", "en")))))
                titles.append(title)
            self._lexical = LexicalIndex(ids, texts, languages, titles=titles, title_weight=self.lexical_title_weight)
            self._lexical_key = key
        return self._lexical

    def _passage(self, candidate: Candidate, document: str, metadata: dict[str, Any], now: datetime) -> Passage:
        updated_at = str(metadata.get("updated_at", ""))
        outdated = bool(metadata.get("outdated", False))
        return Passage(
            chunk_id=candidate.id,
            article_id=str(metadata.get("article_id", candidate.article_id)),
            title=str(metadata.get("title", "")),
            text=document,
            score=candidate.cosine,
            url=str(metadata.get("url", "")),
            section=str(metadata.get("section", "")),
            updated_at=updated_at,
            locale=str(metadata.get("locale", "en")),
            source=str(metadata.get("source", DEFAULT_SOURCE)),
            outdated=outdated,
            stale=is_stale(updated_at, outdated, now, self.stale_after_days),
        )

    # -- reading ----------------------------------------------------------------------------------

    def count(self) -> int:
        """Number of chunks in the index."""
        return self._col.count()

    def articles(self) -> int:
        """Number of distinct articles in the index (reads every chunk's metadata)."""
        return len({str((meta or {}).get("article_id", "")) for _, _, meta in self._all_rows(include=["metadatas"])})

    def article_infos(self) -> list[ArticleInfo]:
        """Every indexed article (from its chunks' metadata), sorted by source, section, title."""
        infos: dict[str, dict[str, Any]] = {}
        for _, _, meta in self._all_rows(include=["metadatas"]):
            article_id = str(meta.get("article_id", ""))
            entry = infos.setdefault(article_id, {"meta": meta, "chunks": 0})
            entry["chunks"] += 1
        result = [
            ArticleInfo(
                id=article_id,
                title=str(e["meta"].get("title", "")),
                section=str(e["meta"].get("article_section", e["meta"].get("section", ""))),
                url=str(e["meta"].get("url", "")),
                locale=str(e["meta"].get("locale", "en")),
                updated_at=str(e["meta"].get("updated_at", "")),
                outdated=bool(e["meta"].get("outdated", False)),
                source=str(e["meta"].get("source", DEFAULT_SOURCE)),
                chunks=e["chunks"],
            )
            for article_id, e in infos.items()
        ]
        return sorted(result, key=lambda a: (a.source, a.section.casefold(), a.title.casefold(), a.id))

    def stale_articles(self, stale_after_days: int | None = None) -> list[tuple[ArticleInfo, int | None]]:
        """(article, age in days or None) for every article that is outdated upstream or older than
        `stale_after_days` (default: the index's), oldest first within each section."""
        days = self.stale_after_days if stale_after_days is None else stale_after_days
        now = self._clock()
        stale = [
            (info, age_days(info.updated_at, now))
            for info in self.article_infos()
            if is_stale(info.updated_at, info.outdated, now, days)
        ]
        return sorted(stale, key=lambda item: (item[0].source, item[0].section.casefold(), -(item[1] or 0), item[0].title))

    def _stored_articles(self, source: str) -> dict[str, _Stored]:
        stored: dict[str, _Stored] = {}
        for chunk_id, _, meta in self._all_rows(include=["metadatas"]):
            if str(meta.get("source", DEFAULT_SOURCE)) != source:
                continue
            entry = stored.setdefault(str(meta.get("article_id", "")), _Stored())
            entry.chunk_ids.add(chunk_id)
            entry.fingerprints.add(str(meta.get("article_hash", "")))
        return stored

    def _all_rows(self, include: list[str]) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """(id, document or "", metadata) of every chunk, page by page."""
        offset = 0
        while True:
            page = self._col.get(include=include, limit=_PAGE_SIZE, offset=offset)
            documents = page.get("documents") or [""] * len(page["ids"])
            metadatas = page.get("metadatas") or [{}] * len(page["ids"])
            for chunk_id, document, metadata in zip(page["ids"], documents, metadatas):
                yield chunk_id, document or "", metadata or {}
            if len(page["ids"]) < _PAGE_SIZE:
                return
            offset += _PAGE_SIZE


def chroma_client(*, path: Path | None = None, host: str = "", port: int = 8000, ssl: bool = False) -> Any:
    """A Chroma client: `HttpClient(host, port)` for a shared Chroma server when `host` is set, else a
    `PersistentClient` on `path`. Telemetry is off either way. Raises ValueError with neither."""
    settings = Settings(anonymized_telemetry=False)
    if host:
        return chromadb.HttpClient(host=host, port=port, ssl=ssl, settings=settings)
    if path is None:
        raise ValueError("chroma_client needs a path or a host")
    return chromadb.PersistentClient(path=str(Path(path).resolve()), settings=settings)


def _metadata(
    chunk: Chunk, article_hash: str, source: str, embed_hash: str, title_dot: float, title_weight: float
) -> dict[str, str | int | float | bool]:
    return {
        "title_dot": title_dot,
        "title_weight": title_weight if chunk.title else 0.0,
        "article_id": chunk.article_id,
        "source": source,
        "title": chunk.title,
        "section": chunk.section,
        "article_section": chunk.article_section,
        "heading": chunk.heading,
        "index": chunk.index,
        "content_hash": chunk.content_hash,
        "embed_hash": embed_hash,
        "article_hash": article_hash,
        "url": chunk.url,
        "locale": chunk.locale,
        "language": language_of(chunk.locale),
        "updated_at": chunk.updated_at,
        "outdated": chunk.outdated,
    }


def _article_of(chunk_id: str) -> str:
    """The article id of chunk "<article id>#<index>" (article ids may themselves hold '#')."""
    return chunk_id.rsplit("#", 1)[0]


def language_of(locale: str) -> str:
    """The language part of a locale, as the locale filter compares them: "en" for en, en-us, en_US or EN."""
    return (locale or "en").replace("_", "-").split("-")[0].lower()


def _languages(locale: str | Sequence[str] | None) -> list[str] | None:
    if not locale:
        return None
    items = [locale] if isinstance(locale, str) else list(locale)
    return sorted({language_of(item) for item in items if item}) or None


def _locale_where(languages: list[str] | None) -> dict[str, Any] | None:
    if not languages:
        return None
    return {"language": languages[0]} if len(languages) == 1 else {"language": {"$in": languages}}


def _as_vector(query_embedding: Any) -> np.ndarray:
    vector = np.asarray(query_embedding, dtype=np.float32)
    if vector.ndim == 2 and vector.shape[0] == 1:
        vector = vector[0]
    if vector.ndim != 1:
        raise ValueError(f"query_embedding must have shape (dimension,) or (1, dimension), got {vector.shape}")
    return vector


def _rows(embeddings: Any) -> list[Any]:
    # Chroma returns embeddings as a numpy array (whose truth value is ambiguous) or a list.
    return [] if embeddings is None else list(embeddings)


def _distance_space(collection: Any) -> str:
    configuration = getattr(collection, "configuration", None) or {}
    for key in ("hnsw", "spann"):
        settings = configuration.get(key) if isinstance(configuration, dict) else None
        if isinstance(settings, dict) and settings.get("space"):
            return str(settings["space"])
    metadata = collection.metadata or {}
    return str(metadata.get("hnsw:space", "l2"))


def _batches(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
