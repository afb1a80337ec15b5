"""knowledge.sources.load_articles: every bad file or record is reported at once, the rest loads."""
from __future__ import annotations

import json
from pathlib import Path

from knowledge.sources import MAX_ARTICLE_CHARS, load_articles, load_html


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_six_kinds_of_bad_input_are_all_reported_and_the_good_articles_load(tmp_path: Path) -> None:
    write(tmp_path / "good.md", "# Good\nFine.\n")
    write(tmp_path / "bad-yaml.md", "---\nid: refunds\nsection: [unclosed\n---\nBody.\n")
    write(tmp_path / "never-closed.md", "---\nid: shipping\ntitle: Shipping\n\nBody.\n")
    (tmp_path / "binary.md").write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe")
    write(tmp_path / "bad-date.md", "---\nid: warranty\nupdated_at: 2026-02-30\n---\nBody.\n")
    write(tmp_path / "copy.md", "---\nid: good\n---\nA copy.\n")
    feed = "\n".join([json.dumps({"id": "a", "title": "A", "text": "x"}), '{"id": "b", "title": ', json.dumps({"id": "a", "title": "A2", "text": "y"})])
    write(tmp_path / "feed.jsonl", feed + "\n")

    report = load_articles(tmp_path)

    assert [a.id for a in report.articles] == []  # "good" and "a" are both duplicated
    by_place = {e.message.split(": ")[0].removeprefix(f"{tmp_path}/"): e for e in report.errors}
    assert sorted(by_place) == ["bad-date.md:3", "bad-yaml.md:3", "binary.md:1", "feed.jsonl:2", "feed.jsonl:3", "good.md", "never-closed.md:1"]
    assert "duplicate article id 'a', also at" in by_place["feed.jsonl:3"].message
    assert by_place["feed.jsonl:3"].message.endswith(f"{tmp_path}/feed.jsonl:1; none of them is loaded")
    assert "also at" in by_place["good.md"].message and "copy.md" in by_place["good.md"].message
    assert by_place["bad-yaml.md:3"].article_ids == {"refunds"}
    assert by_place["never-closed.md:1"].article_ids == {"shipping"}
    assert by_place["bad-date.md:3"].article_ids == {"warranty"}
    assert by_place["binary.md:1"].article_ids == {"binary"} and "not valid UTF-8" in by_place["binary.md:1"].message
    assert by_place["feed.jsonl:2"].article_ids == {"b"} and by_place["feed.jsonl:2"].ids_known


def test_good_files_load_beside_bad_ones(tmp_path: Path) -> None:
    write(tmp_path / "good.md", "# Good\nFine.\n")
    write(tmp_path / "bad.md", "---\ntitle: [x\n---\nBody.\n")

    report = load_articles(tmp_path)

    assert [a.id for a in report.articles] == ["good"]
    assert len(report.errors) == 1 and report.errors[0].article_ids == {"bad"}


def test_a_json_file_that_does_not_parse_has_unknown_ids(tmp_path: Path) -> None:
    write(tmp_path / "list.json", '[{"id": "a", "title": "A", "text": "x"},')

    [error] = load_articles(tmp_path).errors

    assert error.message.startswith(f"{tmp_path}/list.json:1: invalid JSON")
    assert error.article_ids == {"a"} and not error.ids_known


def test_unclosed_title_falls_back_to_the_first_heading_and_keeps_the_body(tmp_path: Path) -> None:
    page = write(tmp_path / "refunds.html", "<html><title>Broken HTML<body><h1>Refunds</h1><p>Refunds take 5 days.</p></body></html>")

    article = load_html(page)

    assert (article.title, article.body) == ("Refunds", "Refunds take 5 days.")


def test_unclosed_title_without_heading_falls_back_to_the_file_name(tmp_path: Path) -> None:
    page = write(tmp_path / "refund-times.html", "<title>Broken HTML<p>Refunds take 5 days</p> unclosed")
    long_title = write(tmp_path / "long.html", f"<title>{'word ' * 60}</title><p>Body.</p>")

    article = load_html(page)

    assert (article.title, article.body) == ("refund times", "Refunds take 5 days\n\nunclosed")
    assert load_html(long_title).title == "long"


def test_an_article_over_the_size_cap_is_left_out_with_its_place_and_id(tmp_path: Path) -> None:
    huge = "Paragraph of a whole manual pasted into one file.\n\n" * (MAX_ARTICLE_CHARS // 50)
    write(tmp_path / "manual.md", "---\nid: hc-77\n---\n# Manual\n" + huge)
    write(tmp_path / "good.md", "# Good\nFine.\n")
    feed = [{"id": "ok", "title": "OK", "text": "x"}, {"id": "dump", "title": "Dump", "text": "y" * (MAX_ARTICLE_CHARS + 1)}]
    write(tmp_path / "feed.jsonl", "\n".join(json.dumps(record) for record in feed) + "\n")
    write(tmp_path / "at-the-cap.md", "# At the cap\n" + "z" * MAX_ARTICLE_CHARS)

    report = load_articles(tmp_path)

    assert [a.id for a in report.articles] == ["at-the-cap", "ok", "good"]  # file path order: feed.jsonl, good.md
    assert [(e.message.split(": ")[0], e.article_ids, e.ids_known) for e in report.errors] == [
        (f"{tmp_path / 'feed.jsonl'}:2", {"dump"}, True),
        (str(tmp_path / "manual.md"), {"hc-77"}, True),
    ]
    assert report.errors[1].message == (
        f"{tmp_path / 'manual.md'}: article 'hc-77' has {len(huge.strip()):,} characters of text, more than the "
        f"{MAX_ARTICLE_CHARS:,} one article may have; split it into smaller articles"
    )


def test_a_page_file_over_the_byte_cap_is_refused_before_parsing_and_keeps_its_id(tmp_path: Path) -> None:
    from knowledge.sources import MAX_PAGE_BYTES

    page = tmp_path / "dump.html"
    write(page, "<html><head><title>Dump</title></head><body>" + "<p>x</p>" * (MAX_PAGE_BYTES // 8) + "</body></html>")
    write(tmp_path / "big.md", "---\nid: hc-9\n---\n# Big\n" + "y " * MAX_PAGE_BYTES)

    report = load_articles(tmp_path)

    assert report.articles == ()
    assert [(e.article_ids, e.ids_known) for e in report.errors] == [({"hc-9"}, True), ({"dump"}, True)]
    size = page.stat().st_size
    assert report.errors[1].message == (
        f"{page}: {size:,} bytes, more than the {MAX_PAGE_BYTES:,} one article's file may have; split it into smaller articles"
    )
