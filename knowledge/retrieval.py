"""Pieces of hybrid retrieval that need no Chroma: a BM25 lexical index, weighted rank fusion, the
minimum-score cut-off with the per-article cap, and freshness.

Hybrid search (see `KnowledgeIndex.search`) takes the dense candidates (Chroma, cosine) and the
lexical candidates (BM25 over title, heading and text, plus the article title as a field of its
own), fuses their ranks with weighted reciprocal rank fusion, and then keeps, in fused order, only candidates whose *cosine* similarity reaches the
minimum score, so a lexical-only match never lets an unrelated passage through.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

import numpy as np

# BM25 only reorders dense candidates whose ranks are close, and never outvotes a clearly better
# dense match. On StackFAQ (benchmarks/retrieval_quality.py --tune) equal weights (classic RRF,
# k=60) cost 0.04 MRR@10; these weights score within 0.0002 of dense alone, and the
# cross-validation folds pick a lexical weight of 0 there (its queries paraphrase titles, so words
# add nothing the model misses). 0.3 is kept for help centers where exact words (error codes,
# product names) matter.
DENSE_WEIGHT = 1.0
LEXICAL_WEIGHT = 0.3
RRF_K = 1
# Weight of the article-title field in BM25 (0: titles count only as words of each chunk). A help
# center title names the question an article answers; in a ~200-word chunk its words weigh little.
# On StackFAQ (benchmarks/retrieval_quality.py --tune) it lifts BM25 MRR@10 from 0.82 to 0.87; the
# 5 cross-validation folds chose 1.0 or 0.75.
TITLE_FIELD_WEIGHT = 1.0


@dataclass(frozen=True)
class Fusion:
    """Weights of weighted reciprocal rank fusion: score(id) = Σ weight / (k + rank), rank from 1."""

    dense_weight: float = DENSE_WEIGHT
    lexical_weight: float = LEXICAL_WEIGHT
    k: float = RRF_K

    def __post_init__(self) -> None:
        if self.dense_weight < 0 or self.lexical_weight < 0 or self.k < 0:
            raise ValueError("fusion weights and k must be >= 0")


def weighted_rrf(rankings: Iterable[tuple[Sequence[str], float]], k: float) -> dict[str, float]:
    """Fused score per id from ranked id lists, each with its weight.

    An id scores Σ weight / (k + rank) over the lists that hold it (rank counts from 1; an id
    absent from a list gets nothing from it). Returns {id: score}; order it yourself.
    """
    fused: dict[str, float] = {}
    for ids, weight in rankings:
        if weight == 0:
            continue
        for rank, item in enumerate(ids, start=1):
            fused[item] = fused.get(item, 0.0) + weight / (k + rank)
    return fused


@dataclass(frozen=True)
class Candidate:
    """A chunk considered for the result: its cosine to the query and its place in the chosen order."""

    id: str
    article_id: str
    cosine: float
    order: float  # higher first (fused score, cosine or BM25 score, by mode)


def select(candidates: Iterable[Candidate], *, top_k: int, min_score: float, max_per_article: int) -> list[Candidate]:
    """The first `top_k` candidates by `order` (descending, ties by id) whose cosine is >= `min_score`,
    at most `max_per_article` from any one article."""
    ordered = sorted(candidates, key=lambda c: (-c.order, c.id))
    chosen: list[Candidate] = []
    per_article: dict[str, int] = {}
    for candidate in ordered:
        if candidate.cosine < min_score:
            continue
        if per_article.get(candidate.article_id, 0) >= max_per_article:
            continue
        per_article[candidate.article_id] = per_article.get(candidate.article_id, 0) + 1
        chosen.append(candidate)
        if len(chosen) == top_k:
            break
    return chosen


# ---------------------------------------------------------------------------------------------
# Lexical index


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer  # PyStemmer: Snowball stemmers in C

    return Stemmer.Stemmer("english")


def tokenize(texts: Sequence[str]) -> list[list[str]]:
    """Lower-cased, English-stopword-free, Snowball-stemmed word tokens of each text (bm25s' tokenizer)."""
    import bm25s

    return bm25s.tokenize(list(texts), stopwords="en", stemmer=_stemmer(), return_ids=False, show_progress=False)


class LexicalIndex:
    """BM25 (bm25s, Lucene variant) over a fixed list of texts; rebuilt, not updated, when the index changes.

    `languages[i]` is the language of text i ("en"), used by the locale filter. `titles[i]`, when
    given, is the title of the article text i belongs to: titles are then also scored as a field of
    their own (each distinct title one BM25 document, so IDF counts titles, not chunks), and a
    text scores BM25(text) + `title_weight` · BM25(its title) — a simple form of BM25F's field
    weights. Raises ValueError when the lists differ in length or `title_weight` is negative.
    """

    def __init__(
        self,
        ids: Sequence[str],
        texts: Sequence[str],
        languages: Sequence[str],
        *,
        titles: Sequence[str] | None = None,
        title_weight: float = TITLE_FIELD_WEIGHT,
    ) -> None:
        import bm25s

        if not len(ids) == len(texts) == len(languages) or (titles is not None and len(titles) != len(ids)):
            raise ValueError("ids, texts, languages (and titles) must have the same length")
        if title_weight < 0:
            raise ValueError(f"title_weight must be >= 0, got {title_weight}")
        self.ids = list(ids)
        self._languages = np.asarray([lang.lower() for lang in languages], dtype=object)
        self._locale_masks: dict[tuple[str, ...], np.ndarray] = {}
        self._bm25 = _bm25(texts) if self.ids else None
        # The title field: distinct titles, and for each text the position of its title among them.
        self._title_weight = float(title_weight)
        self._title_bm25: bm25s.BM25 | None = None
        self._title_of = np.zeros(0, dtype=np.int64)
        if self.ids and titles is not None and self._title_weight:
            distinct = sorted(set(titles))
            position = {title: i for i, title in enumerate(distinct)}
            self._title_of = np.asarray([position[title] for title in titles], dtype=np.int64)
            self._title_bm25 = _bm25(distinct)

    def __len__(self) -> int:
        return len(self.ids)

    def search(self, query: str, n: int, *, languages: Sequence[str] | None = None) -> list[tuple[str, float]]:
        """Up to `n` (id, BM25 score) pairs with a score above 0, best first; [] when no query word is indexed.

        The score includes the weighted title field when titles were given. `languages`, when
        given, keeps only texts in one of those languages.
        """
        if self._bm25 is None or n < 1:
            return []
        query_tokens = tokenize([query])[0]
        scores = _scores(self._bm25, query_tokens, len(self.ids))
        if self._title_bm25 is not None:
            title_scores = _scores(self._title_bm25, query_tokens, int(self._title_of.max()) + 1)
            scores = scores + self._title_weight * title_scores[self._title_of]
        if languages:
            scores = scores * self._mask(languages)
        if not scores.any():
            return []
        n = min(n, len(scores))
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self.ids[i], float(scores[i])) for i in top if scores[i] > 0]

    def _mask(self, languages: Sequence[str]) -> np.ndarray:
        key = tuple(sorted(lang.lower() for lang in languages))
        if key not in self._locale_masks:
            self._locale_masks[key] = np.isin(self._languages, key).astype(np.float32)
        return self._locale_masks[key]


def _bm25(texts: Sequence[str]) -> Any:
    import bm25s

    model = bm25s.BM25()
    model.index(tokenize(texts), show_progress=False)
    return model


def _scores(model: Any, query_tokens: Sequence[str], size: int) -> np.ndarray:
    """BM25 score of every document of `model` for the query tokens it knows (zeros when none)."""
    vocab = model.vocab_dict
    tokens = [token for token in query_tokens if token in vocab]
    if not tokens:
        return np.zeros(size, dtype=np.float32)
    return np.asarray(model.get_scores(tokens), dtype=np.float32)


# ---------------------------------------------------------------------------------------------
# Freshness


def age_days(updated_at: str, now: datetime) -> int | None:
    """Whole days between `updated_at` (ISO date or UTC time) and `now`; None when unknown or unparseable."""
    if not updated_at:
        return None
    try:
        if len(updated_at) == 10:
            moment = datetime.combine(date.fromisoformat(updated_at), datetime.min.time(), tzinfo=timezone.utc)
        else:
            moment = datetime.fromisoformat(updated_at.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=timezone.utc)
    except ValueError:
        return None
    return max(0, (now - moment) // timedelta(days=1))


def is_stale(updated_at: str, outdated: bool, now: datetime, stale_after_days: int | None) -> bool:
    """True when the article is marked outdated upstream, or older than `stale_after_days` (None: never by age)."""
    if outdated:
        return True
    if stale_after_days is None:
        return False
    age = age_days(updated_at, now)
    return age is not None and age > stale_after_days
