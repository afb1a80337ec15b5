"""Pieces of hybrid retrieval that need no Chroma: a BM25 lexical index, weighted rank fusion, the
minimum-score cut-off with the per-article cap, and freshness.

Hybrid search (see `KnowledgeIndex.search`) takes the dense candidates (Chroma, cosine) and the
lexical candidates (BM25 over title, heading and text), fuses their ranks with weighted reciprocal
rank fusion, and then keeps, in fused order, only candidates whose *cosine* similarity reaches the
minimum score, so a lexical-only match never lets an unrelated passage through.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

import numpy as np

# Tuned on StackFAQ (benchmarks/retrieval_quality.py --tune; 4 of 5 cross-validation folds chose
# this): BM25 only reorders dense candidates whose ranks are close, and never outvotes a clearly
# better dense match. Equal weights (classic RRF, k=60) cost 0.04 MRR@10 there.
DENSE_WEIGHT = 1.0
LEXICAL_WEIGHT = 0.3
RRF_K = 1


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

    `languages[i]` is the language of text i ("en"), used by the locale filter.
    """

    def __init__(self, ids: Sequence[str], texts: Sequence[str], languages: Sequence[str]) -> None:
        import bm25s

        if not len(ids) == len(texts) == len(languages):
            raise ValueError("ids, texts and languages must have the same length")
        self.ids = list(ids)
        self._languages = np.asarray([lang.lower() for lang in languages], dtype=object)
        self._locale_masks: dict[tuple[str, ...], np.ndarray] = {}
        self._bm25 = bm25s.BM25() if self.ids else None
        if self._bm25 is not None:
            self._bm25.index(tokenize(texts), show_progress=False)

    def __len__(self) -> int:
        return len(self.ids)

    def search(self, query: str, n: int, *, languages: Sequence[str] | None = None) -> list[tuple[str, float]]:
        """Up to `n` (id, BM25 score) pairs with a score above 0, best first; [] when no query word is indexed.

        `languages`, when given, keeps only texts in one of those languages.
        """
        if self._bm25 is None or n < 1:
            return []
        vocab = self._bm25.vocab_dict
        tokens = [token for token in tokenize([query])[0] if token in vocab]
        if not tokens:
            return []
        scores = np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)
        if languages:
            scores = scores * self._mask(languages)
        n = min(n, len(scores))
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self.ids[i], float(scores[i])) for i in top if scores[i] > 0]

    def _mask(self, languages: Sequence[str]) -> np.ndarray:
        key = tuple(sorted(lang.lower() for lang in languages))
        if key not in self._locale_masks:
            self._locale_masks[key] = np.isin(self._languages, key).astype(np.float32)
        return self._locale_masks[key]


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
