"""knowledge.retrieval: weighted rank fusion, the cosine cut-off with the per-article cap, BM25, freshness."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from knowledge.retrieval import Candidate, Fusion, LexicalIndex, age_days, is_stale, select, tokenize, weighted_rrf


def test_weighted_rrf_adds_weight_over_k_plus_rank() -> None:
    fused = weighted_rrf([(["a", "b", "c"], 1.0), (["c", "d"], 0.5)], k=5)

    assert fused == pytest.approx({"a": 1 / 6, "b": 1 / 7, "c": 1 / 8 + 0.5 / 6, "d": 0.5 / 7})


def test_small_lexical_weight_does_not_let_bm25_outvote_the_dense_winner() -> None:
    dense = ["x", "y", "z"]
    lexical = ["z"]  # BM25's favourite is dense's third
    fused = weighted_rrf([(dense, 1.0), (lexical, 0.2)], k=5)
    order = sorted(fused, key=fused.get, reverse=True)
    assert order == ["x", "z", "y"]  # it moves up one place, not past the clear dense winner

    equal = weighted_rrf([(dense, 1.0), (lexical, 1.0)], k=5)
    assert max(equal, key=equal.get) == "z"  # equal weights let BM25 overturn dense


def test_zero_weight_list_is_ignored_and_fusion_rejects_negative_weights() -> None:
    assert weighted_rrf([(["a"], 1.0), (["b"], 0.0)], k=1) == {"a": 0.5}
    with pytest.raises(ValueError):
        Fusion(lexical_weight=-1)


def candidate(cid: str, article: str, cosine: float, order: float) -> Candidate:
    return Candidate(id=cid, article_id=article, cosine=cosine, order=order)


def test_select_keeps_fused_order_but_cuts_on_cosine() -> None:
    candidates = [
        candidate("lexical-only#0", "a", cosine=0.10, order=0.9),  # first by fusion, unrelated by meaning
        candidate("b#0", "b", cosine=0.62, order=0.5),
        candidate("c#0", "c", cosine=0.71, order=0.4),
    ]

    chosen = select(candidates, top_k=4, min_score=0.35, max_per_article=2)

    assert [c.id for c in chosen] == ["b#0", "c#0"]


def test_nothing_above_the_minimum_means_nothing_returned() -> None:
    candidates = [candidate("a#0", "a", 0.2, 0.9), candidate("b#0", "b", 0.34, 0.8)]
    assert select(candidates, top_k=4, min_score=0.35, max_per_article=2) == []


def test_select_caps_passages_per_article_and_top_k() -> None:
    candidates = [candidate(f"a#{i}", "a", 0.9, 1 - i / 10) for i in range(4)] + [candidate("b#0", "b", 0.8, 0.1)]

    assert [c.id for c in select(candidates, top_k=3, min_score=0.0, max_per_article=2)] == ["a#0", "a#1", "b#0"]
    assert [c.id for c in select(candidates, top_k=1, min_score=0.0, max_per_article=2)] == ["a#0"]


def test_lexical_index_ranks_by_bm25_and_filters_by_language() -> None:
    index = LexicalIndex(
        ids=["printer#0", "refund#0", "drucker#0"],
        texts=["Clear a printer jam: open the rear tray", "Refund policy: 30 days", "Papierstau im Drucker: printer tray"],
        languages=["en", "en", "de"],
    )

    hits = index.search("printer tray jammed", 10)
    assert [i for i, _ in hits] == ["printer#0", "drucker#0"]
    assert all(score > 0 for _, score in hits)
    assert [i for i, _ in index.search("printer tray", 10, languages=["de"])] == ["drucker#0"]
    assert index.search("weather in Lisbon", 10) == []
    assert LexicalIndex([], [], []).search("anything", 5) == []


# Chunks as the index hands them to BM25: each text starts with its article's title. The e-mail
# article says "password" often in passing; the password article's title names the question but
# its two chunks do not repeat it.
TITLED = {
    "ids": ["email#0", "password#0", "password#1", "shipping#0", "printer#0"],
    "titles": ["Change your e-mail address", "Reset your password", "Reset your password", "Shipping times", "Clear a printer jam"],
    "texts": [
        "Change your e-mail address\nYour password is needed: type your password, then the new address. "
        "A wrong password locks the form; reset it with Cancel.",
        "Reset your password\nOn the sign-in page choose Forgot, type the address you signed up with and follow "
        "the link we send you by e-mail.",
        "Reset your password\nThe link stays valid for 30 minutes. If it expired, ask for a new one from the same "
        "page and check your spam folder.",
        "Shipping times\nStandard shipping takes 3 to 5 business days.",
        "Clear a printer jam\nTurn the printer off and open the rear tray.",
    ],
}


def titled_index(title_weight: float) -> LexicalIndex:
    return LexicalIndex(TITLED["ids"], TITLED["texts"], ["en"] * 5, titles=TITLED["titles"], title_weight=title_weight)


def test_title_field_lifts_the_article_whose_title_names_the_question() -> None:
    without = titled_index(0.0).search("reset password", 10)
    with_title = titled_index(1.0).search("reset password", 10)

    # Words alone: the chunk that repeats "password" wins.
    assert [i for i, _ in without][0] == "email#0"
    # As a field, the title adds the same score to every chunk of its article, so both password
    # chunks move up by it and the e-mail chunk (whose title has neither word) does not.
    assert [i for i, _ in with_title][0] == "password#0"
    gained = {i: dict(with_title)[i] - dict(without)[i] for i in ("email#0", "password#0", "password#1")}
    assert gained["email#0"] == pytest.approx(0.0)
    assert gained["password#0"] == pytest.approx(gained["password#1"]) and gained["password#0"] > 0
    assert "shipping#0" not in dict(with_title)


def test_title_field_is_optional_and_checked() -> None:
    plain = LexicalIndex(TITLED["ids"], TITLED["texts"], ["en"] * 5)

    assert plain.search("reset password", 10) == titled_index(0.0).search("reset password", 10)
    with pytest.raises(ValueError):
        LexicalIndex(TITLED["ids"], TITLED["texts"], ["en"] * 5, titles=["one title"])
    with pytest.raises(ValueError):
        titled_index(-1.0)


def test_tokenize_stems_and_drops_stopwords() -> None:
    assert tokenize(["The printers are jamming"]) == [["printer", "jam"]]


NOW = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)


def test_age_and_staleness() -> None:
    assert age_days("2026-11-19", NOW) == 10
    assert age_days("2025-11-29T12:00:00Z", NOW) == 365
    assert age_days("", NOW) is None and age_days("last week", NOW) is None
    assert is_stale("2024-01-01", False, NOW, 365)
    assert not is_stale("2026-06-01T00:00:00Z", False, NOW, 365)
    assert is_stale("2026-11-28", True, NOW, 365)  # outdated upstream is stale whatever its age
    assert not is_stale("", False, NOW, 365)  # no date: unknown, not stale
    assert not is_stale("2001-01-01", False, NOW, None)
