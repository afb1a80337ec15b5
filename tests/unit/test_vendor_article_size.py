"""knowledge.sync.within_size: a vendor article longer than MAX_ARTICLE_CHARS is cut, and said so in the log."""
from __future__ import annotations

import logging

from knowledge.models import Article
from knowledge.sources import MAX_ARTICLE_CHARS
from knowledge.sync import within_size


def test_a_long_vendor_article_is_cut_at_a_word_and_logged(caplog) -> None:
    body = "word " * (MAX_ARTICLE_CHARS // 5 + 1000)
    article = Article(id="zendesk:7", title="Manual", body=body, source="zendesk")
    with caplog.at_level(logging.WARNING, logger="knowledge.sync"):
        cut = within_size(article, "zendesk")
    assert len(cut.body) <= MAX_ARTICLE_CHARS and cut.body.endswith("word")
    assert (cut.id, cut.title) == ("zendesk:7", "Manual")
    assert f"zendesk article zendesk:7 has {len(body)} characters of text" in caplog.text


def test_an_article_within_the_limit_is_the_same_object() -> None:
    article = Article(id="freshdesk:1", title="Short", body="x" * MAX_ARTICLE_CHARS, source="freshdesk")
    assert within_size(article, "freshdesk") is article
