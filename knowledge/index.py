"""The help-center index: article chunks and their embeddings in a Chroma collection.

Embeddings are always computed here by an `Embedder` and handed to Chroma; the collection has no
embedding function, so Chroma never tries to download its default model (which fails offline).
Distances are cosine, so a passage's score is its cosine similarity to the query.

Every chunk's metadata carries a fingerprint of its whole article (`article_hash`), which is how
`sync` tells unchanged articles from changed ones without a separate state file.
"""
from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import chromadb
import numpy as np
from chromadb.config import Settings
from chromadb.errors import InvalidArgumentError

from knowledge.chunking import Chunk, chunk_article
from knowledge.embeddings import Embedder
from knowledge.models import Article, Passage

# Bump when the stored metadata changes meaning, so the next sync rewrites every article.
_FINGERPRINT_VERSION = 1
_PAGE_SIZE = 2000  # rows per `get`/`delete` call when reading or pruning the whole collection

T = TypeVar("T")


@dataclass(frozen=True)
class SyncStats:
    """What one `KnowledgeIndex.sync` did.

    Counts are articles, except `chunks_embedded`. `deleted` counts articles removed from the index
    (absent from the input, or now without text); `skipped` counts input articles without any text
    to index. `seconds` is wall-clock time for the whole sync.
    """

    added: int
    updated: int
    deleted: int
    unchanged: int
    chunks_embedded: int
    seconds: float
    skipped: int = 0


@dataclass
class _StoredArticle:
    chunk_ids: set[str] = field(default_factory=set)
    fingerprints: set[str] = field(default_factory=set)


class KnowledgeIndex:
    """Approved help-center chunks in one Chroma collection, searchable by meaning.

    Pass either `path` (a folder for a Chroma `PersistentClient`, created if missing) or `client`
    (any Chroma client: `EphemeralClient` in tests, `HttpClient` for a shared server).
    `max_words` / `overlap_words` are handed to `chunk_article`; `batch_size` is how many chunks are
    embedded and written per Chroma call.

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
    ) -> None:
        if (path is None) == (client is None):
            raise ValueError("KnowledgeIndex needs exactly one of path= or client=")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if client is None:
            client = chromadb.PersistentClient(path=str(path), settings=Settings(anonymized_telemetry=False))
        self._client = client
        self._embedder = embedder
        self._max_words = max_words
        self._overlap_words = overlap_words
        self._batch_size = batch_size
        # embedding_function=None: Chroma must never embed (its default EF downloads a model).
        self._collection = client.get_or_create_collection(
            collection,
            configuration={"hnsw": {"space": "cosine"}},
            embedding_function=None,
        )
        space = _distance_space(self._collection)
        if space != "cosine":
            # get_or_create silently keeps an existing collection's settings; l2 scores would be wrong.
            raise ValueError(
                f"Chroma collection {collection!r} uses {space!r} distance, not cosine; "
                "delete it or choose another collection name"
            )

    def sync(self, articles: Iterable[Article]) -> SyncStats:
        """Make the index hold exactly `articles`, the full set of approved articles.

        Articles whose chunks and metadata are unchanged are not re-embedded; an added or changed
        article has all its chunks embedded and written, and its chunks that no longer exist are
        removed; articles in the index but not in `articles` are removed. So an empty input empties
        the index. Raises ValueError if two input articles share an id.
        """
        started = time.perf_counter()
        wanted: dict[str, tuple[str, list[Chunk]]] = {}
        seen: set[str] = set()
        skipped = 0
        for article in articles:
            if article.id in seen:
                raise ValueError(f"duplicate article id {article.id!r} in the articles to sync")
            seen.add(article.id)
            chunks = chunk_article(article, max_words=self._max_words, overlap_words=self._overlap_words)
            if chunks:
                wanted[article.id] = (_fingerprint(article, chunks), chunks)
            else:
                skipped += 1

        stored = self._stored_articles()
        added = updated = unchanged = deleted = 0
        to_write: list[tuple[Chunk, str]] = []
        stale_ids: list[str] = []
        for article_id, (fingerprint, chunks) in wanted.items():
            chunk_ids = {chunk.id for chunk in chunks}
            old = stored.get(article_id)
            if old is not None and old.fingerprints == {fingerprint} and old.chunk_ids == chunk_ids:
                unchanged += 1
                continue
            if old is None:
                added += 1
            else:
                updated += 1
                stale_ids.extend(sorted(old.chunk_ids - chunk_ids))
            to_write.extend((chunk, fingerprint) for chunk in chunks)
        for article_id, old in stored.items():
            if article_id not in wanted:
                deleted += 1
                stale_ids.extend(sorted(old.chunk_ids))

        # Write new chunks before deleting old ones: a crash in between leaves mixed fingerprints,
        # which the next sync sees as "changed" and repairs.
        for batch in _batches(to_write, self._batch_size):
            vectors = self._embedder.embed([chunk.embedding_text for chunk, _ in batch])
            self._collection.upsert(
                ids=[chunk.id for chunk, _ in batch],
                embeddings=vectors,
                documents=[chunk.text for chunk, _ in batch],
                metadatas=[_metadata(chunk, fingerprint) for chunk, fingerprint in batch],
            )
        for batch in _batches(stale_ids, _PAGE_SIZE):
            self._collection.delete(ids=batch)

        return SyncStats(
            added=added,
            updated=updated,
            deleted=deleted,
            unchanged=unchanged,
            chunks_embedded=len(to_write),
            seconds=time.perf_counter() - started,
            skipped=skipped,
        )

    def search(
        self,
        query: str | None = None,
        *,
        query_embedding: np.ndarray | None = None,
        top_k: int = 4,
        min_score: float = 0.0,
        max_per_article: int = 2,
    ) -> list[Passage]:
        """The passages closest in meaning to the query, best first.

        Give either `query` (text, embedded here) or `query_embedding` (a vector from the same
        embedder, shape (dimension,) or (1, dimension)), so a caller that already embedded a
        ticket does not embed it twice. Returns at most `top_k` passages, each with
        `score` = cosine similarity (1 - cosine distance) >= `min_score`, and at most
        `max_per_article` from any one article. A blank `query` or an empty index gives [].

        Raises ValueError if neither or both of `query`/`query_embedding` are given, if
        `top_k` or `max_per_article` is below 1, or if the embedding's length does not match the index.
        """
        if (query is None) == (query_embedding is None):
            raise ValueError("search needs exactly one of query or query_embedding")
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        if max_per_article < 1:
            raise ValueError(f"max_per_article must be >= 1, got {max_per_article}")
        if query is not None:
            if not query.strip():
                return []
            vector = self._embedder.embed_one(query)
        else:
            vector = np.asarray(query_embedding, dtype=np.float32)
            if vector.ndim == 2 and vector.shape[0] == 1:
                vector = vector[0]
            if vector.ndim != 1:
                raise ValueError(
                    f"query_embedding must have shape (dimension,) or (1, dimension), got {vector.shape}"
                )

        # Fetch more than top_k so the per-article cap can still fill top_k; widen if it could not.
        n_results = top_k * 3
        while True:
            try:
                result = self._collection.query(
                    query_embeddings=vector[np.newaxis, :],
                    n_results=n_results,
                    include=["documents", "metadatas", "distances"],
                )
            except InvalidArgumentError as exc:
                raise ValueError(f"query embedding does not fit the index: {exc}") from exc
            ids = result["ids"][0]
            passages = _select(result, min_score=min_score, top_k=top_k, max_per_article=max_per_article)
            exhausted = len(ids) < n_results
            below_floor = bool(ids) and 1.0 - result["distances"][0][-1] < min_score
            if len(passages) >= top_k or exhausted or below_floor:
                return passages
            n_results *= 4

    def count(self) -> int:
        """Number of chunks in the index."""
        return self._collection.count()

    def articles(self) -> int:
        """Number of distinct articles in the index (reads every chunk's metadata)."""
        return len(self._stored_articles())

    def _stored_articles(self) -> dict[str, _StoredArticle]:
        stored: dict[str, _StoredArticle] = {}
        offset = 0
        while True:
            page = self._collection.get(include=["metadatas"], limit=_PAGE_SIZE, offset=offset)
            for chunk_id, metadata in zip(page["ids"], page["metadatas"] or []):
                metadata = metadata or {}
                entry = stored.setdefault(str(metadata.get("article_id", "")), _StoredArticle())
                entry.chunk_ids.add(chunk_id)
                entry.fingerprints.add(str(metadata.get("article_hash", "")))
            if len(page["ids"]) < _PAGE_SIZE:
                return stored
            offset += _PAGE_SIZE


def _select(result: Any, *, min_score: float, top_k: int, max_per_article: int) -> list[Passage]:
    """Passages from one Chroma query result (already nearest first), filtered and capped."""
    passages: list[Passage] = []
    per_article: dict[str, int] = {}
    rows = zip(result["ids"][0], result["documents"][0], result["metadatas"][0], result["distances"][0])
    for chunk_id, document, metadata, distance in rows:
        score = 1.0 - float(distance)
        if score < min_score:
            break
        metadata = metadata or {}
        article_id = str(metadata.get("article_id", ""))
        if per_article.get(article_id, 0) >= max_per_article:
            continue
        per_article[article_id] = per_article.get(article_id, 0) + 1
        passages.append(
            Passage(
                chunk_id=chunk_id,
                article_id=article_id,
                title=str(metadata.get("title", "")),
                text=document or "",
                score=score,
                url=str(metadata.get("url", "")),
                section=str(metadata.get("section", "")),
                updated_at=str(metadata.get("updated_at", "")),
                locale=str(metadata.get("locale", "en")),
            )
        )
        if len(passages) == top_k:
            break
    return passages


def _fingerprint(article: Article, chunks: Sequence[Chunk]) -> str:
    """SHA-256 over everything stored for an article: its metadata and every chunk's text and place."""
    payload = [
        _FINGERPRINT_VERSION,
        article.title,
        article.url,
        article.section,
        article.locale,
        article.updated_at,
        [[chunk.id, chunk.heading, chunk.section, chunk.content_hash] for chunk in chunks],
    ]
    return hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode("utf-8")).hexdigest()


def _metadata(chunk: Chunk, article_hash: str) -> dict[str, str | int]:
    return {
        "article_id": chunk.article_id,
        "title": chunk.title,
        "section": chunk.section,
        "heading": chunk.heading,
        "index": chunk.index,
        "content_hash": chunk.content_hash,
        "article_hash": article_hash,
        "url": chunk.url,
        "locale": chunk.locale,
        "updated_at": chunk.updated_at,
    }


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
