"""knowledge.chunking: heading-first, size-second splitting into Chunk records."""
from __future__ import annotations

import dataclasses
import hashlib

import pytest

from knowledge.chunking import Chunk, chunk_article, split_sections
from knowledge.models import Article


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def words(n: int, prefix: str = "w") -> str:
    return " ".join(f"{prefix}{i}" for i in range(n))


def test_short_article_is_one_chunk_with_every_field() -> None:
    article = Article(
        id="refund-policy",
        title="Refund policy",
        body="Refunds are paid within 14 days.",
        url="https://help.example.com/refunds",
        section="Billing",
        locale="en-gb",
        updated_at="2025-03-04T08:30:00Z",
    )

    assert chunk_article(article) == [
        Chunk(
            id="refund-policy#0",
            article_id="refund-policy",
            title="Refund policy",
            section="Billing",
            text="Refunds are paid within 14 days.",
            index=0,
            content_hash=sha256("Refunds are paid within 14 days."),
            url="https://help.example.com/refunds",
            locale="en-gb",
            updated_at="2025-03-04T08:30:00Z",
            heading="",
            article_section="Billing",
        )
    ]


def test_headings_split_first_and_name_the_section() -> None:
    article = Article(
        id="pw",
        title="Reset your password",
        section="Account",
        body=(
            "Use this when you cannot sign in.\n"
            "\n"
            "## Steps\n"
            "\n"
            "- Click Forgot password\n"
            "- Open the email\n"
            "\n"
            "## Empty heading\n"
            "### Still locked out?\n"
            "Contact support ##\n"
        ),
    )

    chunks = chunk_article(article)

    assert [(c.id, c.index, c.heading, c.section, c.text) for c in chunks] == [
        ("pw#0", 0, "", "Account", "Use this when you cannot sign in."),
        ("pw#1", 1, "Steps", "Steps", "- Click Forgot password\n- Open the email"),
        ("pw#2", 2, "Still locked out?", "Still locked out?", "Contact support ##"),
    ]
    assert [c.content_hash for c in chunks] == [sha256(c.text) for c in chunks]


def test_hash_lines_inside_fenced_code_are_not_headings() -> None:
    body = "Run this:\n\n```bash\n# restart the printer spooler\nsudo systemctl restart cups\n```\n\n## Next\nDone."

    assert split_sections(body) == [
        ("", "Run this:\n\n```bash\n# restart the printer spooler\nsudo systemctl restart cups\n```"),
        ("Next", "Done."),
    ]


def test_closing_hashes_and_indented_headings() -> None:
    assert split_sections("## Billing ##\nPaid monthly.\n   ### Taxes\nVAT included.\n    # code, not a heading") == [
        ("Billing", "Paid monthly."),
        ("Taxes", "VAT included.\n    # code, not a heading"),
    ]


def test_long_section_is_split_by_size_with_overlap() -> None:
    article = Article(id="long", title="Long", body=words(25))

    chunks = chunk_article(article, max_words=10, overlap_words=3)

    assert [c.text for c in chunks] == [
        "w0 w1 w2 w3 w4 w5 w6 w7 w8 w9",
        "w7 w8 w9 w10 w11 w12 w13 w14 w15 w16",
        "w14 w15 w16 w17 w18 w19 w20 w21 w22 w23",
        "w21 w22 w23 w24",
    ]
    assert [c.id for c in chunks] == ["long#0", "long#1", "long#2", "long#3"]


def test_size_split_prefers_paragraphs_then_sentences() -> None:
    body = (
        "Turn the printer off. Unplug it. Wait ten seconds.\n"
        "\n"
        "Open the rear tray and pull the paper out slowly. Close the tray. Turn the printer on."
    )
    article = Article(id="jam", title="Paper jam", body=body)

    chunks = chunk_article(article, max_words=12, overlap_words=0)

    assert [c.text for c in chunks] == [
        "Turn the printer off. Unplug it. Wait ten seconds.",
        "Open the rear tray and pull the paper out slowly.",
        "Close the tray. Turn the printer on.",
    ]
    assert all(len(c.text.split()) <= 12 for c in chunks)


def test_size_split_stays_within_its_heading() -> None:
    article = Article(id="a", title="A", body=f"## One\n{words(12, 'x')}\n## Two\n{words(3, 'y')}")

    chunks = chunk_article(article, max_words=10, overlap_words=2)

    assert [(c.heading, c.text) for c in chunks] == [
        ("One", "x0 x1 x2 x3 x4 x5 x6 x7 x8 x9"),
        ("One", "x8 x9 x10 x11"),
        ("Two", "y0 y1 y2"),
    ]


def test_default_sizes_keep_chunks_within_200_words() -> None:
    article = Article(id="big", title="Big", body="\n\n".join(f"{words(40, f'p{n}_')}." for n in range(12)))

    chunks = chunk_article(article)

    assert len(chunks) == 3
    assert all(len(c.text.split()) <= 200 for c in chunks)
    # Paragraph boundaries are respected: every chunk starts at the start of a paragraph.
    assert all(c.text.split()[0].endswith("_0") for c in chunks)


def test_embedding_text_adds_title_and_heading() -> None:
    article = Article(id="pw", title="Reset your password", body="Before any heading.\n## Steps\nClick Save.")

    first, second = chunk_article(article)

    assert first.embedding_text == "Reset your password\nBefore any heading."
    assert second.embedding_text == "Reset your password\nSteps\nClick Save."


def test_empty_or_heading_only_body_gives_no_chunks() -> None:
    assert chunk_article(Article(id="e", title="Empty", body="")) == []
    assert chunk_article(Article(id="h", title="Headings", body="## One\n\n## Two\n")) == []


def test_editing_one_section_changes_only_that_chunks_hash() -> None:
    before = Article(id="a", title="A", body="## One\nFirst.\n## Two\nSecond.")
    after = dataclasses.replace(before, body="## One\nFirst.\n## Two\nSecond, edited.")

    old, new = chunk_article(before), chunk_article(after)

    assert old[0] == new[0]
    assert old[1].content_hash != new[1].content_hash


@pytest.mark.parametrize(("max_words", "overlap_words"), [(0, 0), (10, 10), (10, -1)])
def test_invalid_sizes_are_rejected(max_words: int, overlap_words: int) -> None:
    with pytest.raises(ValueError):
        chunk_article(Article(id="a", title="A", body="x"), max_words=max_words, overlap_words=overlap_words)


def test_chunks_are_frozen() -> None:
    [chunk] = chunk_article(Article(id="a", title="A", body="x"))

    with pytest.raises(dataclasses.FrozenInstanceError):
        chunk.text = "y"  # type: ignore[misc]
