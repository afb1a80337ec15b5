"""knowledge.sources: every supported input becomes the expected Article records."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from knowledge.models import Article
from knowledge.sources import load_folder, load_path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# --- Markdown -------------------------------------------------------------------------------


def test_markdown_front_matter_sets_every_field(tmp_path: Path) -> None:
    md = write(
        tmp_path / "refunds.md",
        "---\n"
        "id: refund-policy\n"
        "title: Refund policy\n"
        "url: https://help.example.com/hc/en-us/articles/101\n"
        "section: Billing\n"
        "locale: en-gb\n"
        "updated_at: 2025-03-04T10:30:00+02:00\n"
        "labels: [billing, refunds]\n"
        "outdated: true\n"
        "owner: ignored\n"
        "---\n"
        "# Refund policy\n"
        "\n"
        "Refunds are paid within [14 days](https://help.example.com/terms) of the return.\n"
        "\n"
        "## Exceptions\n"
        "Gift cards ![card](card.png) are final.\n",
    )

    assert load_path(md) == [
        Article(
            id="refund-policy",
            title="Refund policy",
            body="Refunds are paid within 14 days of the return.\n\n## Exceptions\nGift cards  are final.",
            url="https://help.example.com/hc/en-us/articles/101",
            section="Billing",
            locale="en-gb",
            updated_at="2025-03-04T08:30:00Z",
            outdated=True,
            labels=("billing", "refunds"),
        )
    ]


def test_markdown_without_front_matter_takes_title_from_heading_and_id_from_stem(tmp_path: Path) -> None:
    md = write(tmp_path / "printer-jam.md", "\n# Clear a printer jam\n\nOpen the rear tray.\r\nPull the paper out.\n")

    assert load_path(md) == [
        Article(id="printer-jam", title="Clear a printer jam", body="Open the rear tray.\nPull the paper out.")
    ]


def test_markdown_without_any_title_falls_back_to_the_file_stem(tmp_path: Path) -> None:
    md = write(tmp_path / "shipping_times.md", "Standard shipping takes 3 to 5 business days.\n")

    [article] = load_path(md)

    assert (article.id, article.title) == ("shipping_times", "shipping times")


def test_markdown_heading_that_differs_from_the_front_matter_title_stays_in_the_body(tmp_path: Path) -> None:
    md = write(tmp_path / "a.md", "---\ntitle: Passwords\n---\n# Before you start\nHave your email ready.\n")

    [article] = load_path(md)

    assert (article.title, article.body) == ("Passwords", "# Before you start\nHave your email ready.")


def test_markdown_date_only_updated_at_stays_a_date(tmp_path: Path) -> None:
    md = write(tmp_path / "a.md", "---\ntitle: A\nupdated_at: 2024-12-01\n---\nBody.\n")

    assert load_path(md)[0].updated_at == "2024-12-01"


def test_markdown_unterminated_front_matter_names_the_file(tmp_path: Path) -> None:
    md = write(tmp_path / "broken.md", "---\ntitle: Never closed\n\nBody.\n")

    with pytest.raises(ValueError, match=r"broken\.md:1: front matter .* never closed"):
        load_path(md)


def test_markdown_invalid_yaml_names_file_and_line(tmp_path: Path) -> None:
    md = write(tmp_path / "bad.md", "---\ntitle: ok\nsection: [unclosed\n---\nBody.\n")

    with pytest.raises(ValueError, match=r"bad\.md:\d+: invalid YAML front matter"):
        load_path(md)


def test_markdown_unclosed_quote_in_front_matter_names_its_own_line(tmp_path: Path) -> None:
    # YAML lets a quoted value run over lines, so the parser only fails where the front matter ends.
    md = write(tmp_path / "quote.md", '---\nid: refunds\ntitle: "Refunds\nsection: Billing\nlocale: en\n---\nBody.\n')

    with pytest.raises(ValueError) as raised:
        load_path(md)

    assert str(raised.value).startswith(f"{md}:3: invalid YAML front matter: the quote opened on this line is never closed")
    assert "<unicode string>" not in str(raised.value)  # PyYAML's own line numbers count from the front matter


def test_markdown_unclosed_bracket_and_other_yaml_errors_name_the_right_line(tmp_path: Path) -> None:
    bracket = write(tmp_path / "bracket.md", "---\ntitle: ok\nlabels: [billing, refunds\nsection: Billing\n---\nBody.\n")
    colon = write(tmp_path / "colon.md", "---\ntitle: ok\nsection: a: b\nlocale: en\n---\nBody.\n")

    with pytest.raises(ValueError, match=rf"^{re.escape(str(bracket))}:3: invalid YAML front matter: the bracket opened on this line"):
        load_path(bracket)
    with pytest.raises(ValueError, match=rf"^{re.escape(str(colon))}:3: invalid YAML front matter: mapping values are not allowed here"):
        load_path(colon)


def test_markdown_bad_updated_at_names_the_file_and_line(tmp_path: Path) -> None:
    md = write(tmp_path / "when.md", "---\ntitle: A\nupdated_at: last tuesday\n---\nBody.\n")
    # PyYAML would build this date itself and fail with a bare "day is out of range for month".
    impossible = write(tmp_path / "feb.md", "---\ntitle: A\nsection: Billing\nupdated_at: 2026-02-30\n---\nBody.\n")

    with pytest.raises(ValueError, match=r"when\.md:3: updated_at 'last tuesday' is not an ISO-8601"):
        load_path(md)
    with pytest.raises(ValueError, match=r"feb\.md:4: updated_at '2026-02-30' is not an ISO-8601"):
        load_path(impossible)


# --- HTML -----------------------------------------------------------------------------------

HTML_PAGE = """<!DOCTYPE html>
<html lang="de-de">
<head>
  <title>Passwort zurücksetzen</title>
  <link rel="canonical" href="https://help.example.com/de/pw">
  <style>body { color: red }</style>
  <script>trackPageView();</script>
</head>
<body>
  <nav><a href="/">Help center</a> › <a href="/account">Account</a></nav>
  <h1>Passwort zurücksetzen</h1>
  <p>If you   forgot your <a href="/signin">password</a>,<br>follow these steps:</p>
  <ol>
    <li>Open <strong>Settings</strong></li>
    <li><p>Click <em>Reset</em></p>
      <ul><li>Check your inbox</li><li>Check spam</li></ul>
    </li>
  </ol>
  <h2>Limits</h2>
  <table>
    <tr><th>Plan</th><th>Resets per day</th></tr>
    <tr><td>Free</td><td>3</td></tr>
  </table>
  <!-- internal: reviewed by legal -->
  <p>Still stuck? Contact support.</p>
  <script>moreTracking();</script>
</body>
</html>
"""


def test_html_page_becomes_plain_text_with_markdown_structure(tmp_path: Path) -> None:
    page = write(tmp_path / "reset-password.html", HTML_PAGE)

    assert load_path(page) == [
        Article(
            id="reset-password",
            title="Passwort zurücksetzen",
            body=(
                "If you forgot your password,\n"
                "follow these steps:\n"
                "\n"
                "- Open Settings\n"
                "- Click Reset\n"
                "  - Check your inbox\n"
                "  - Check spam\n"
                "\n"
                "## Limits\n"
                "\n"
                "Plan | Resets per day\n"
                "Free | 3\n"
                "\n"
                "Still stuck? Contact support."
            ),
            url="https://help.example.com/de/pw",
            locale="de-de",
        )
    ]


def test_html_without_title_uses_first_h1_and_keeps_later_headings(tmp_path: Path) -> None:
    page = write(
        tmp_path / "jam.htm",
        "<body><h1>Clear a  printer jam</h1><p>Turn it off.</p><h1>Still jammed?</h1><p>Call us.</p></body>",
    )

    assert load_path(page) == [
        Article(
            id="jam",
            title="Clear a printer jam",
            body="Turn it off.\n\n## Still jammed?\n\nCall us.",
        )
    ]


def test_html_title_differing_from_h1_keeps_the_h1_as_a_heading(tmp_path: Path) -> None:
    page = write(
        tmp_path / "ship.html",
        "<html><head><title>Shipping | Acme Help</title></head><body><h1>Shipping</h1><p>3 days.</p></body></html>",
    )

    [article] = load_path(page)

    assert (article.title, article.body) == ("Shipping | Acme Help", "## Shipping\n\n3 days.")


# --- JSONL and JSON records -----------------------------------------------------------------


def test_jsonl_generic_and_gnome_shaped_records(tmp_path: Path) -> None:
    rows = [
        {
            "id": 360001,
            "title": "Refund policy",
            "body": "Refunds within 30 days.",
            "url": "https://help.example.com/hc/articles/360001",
            "section": "Billing",
            "locale": "en-us",
            "updated_at": "2025-01-02T03:04:05Z",
        },
        {
            "id": "printing-paperjam",
            "type": "topic",
            "style": "problem",
            "title": "Clear a paper jam",
            "desc": "Get jammed paper out of your printer.",
            "guides": ["printing#problems", "hardware"],
            "text": "Turn off the printer.\n\nOpen the tray.",
        },
    ]
    feed = write(tmp_path / "articles.jsonl", "\n".join(json.dumps(r) for r in rows[:1]) + "\n\n" + json.dumps(rows[1]) + "\n")

    assert load_path(feed) == [
        Article(
            id="360001",
            title="Refund policy",
            body="Refunds within 30 days.",
            url="https://help.example.com/hc/articles/360001",
            section="Billing",
            locale="en-us",
            updated_at="2025-01-02T03:04:05Z",
        ),
        Article(
            id="printing-paperjam",
            title="Clear a paper jam",
            body="Get jammed paper out of your printer.\n\nTurn off the printer.\n\nOpen the tray.",
            section="printing#problems",
        ),
    ]


def test_jsonl_invalid_json_names_file_and_line(tmp_path: Path) -> None:
    feed = write(tmp_path / "feed.jsonl", '{"id": "a", "title": "A", "body": "x"}\n{"id": "b", "title": \n')

    with pytest.raises(ValueError, match=r"feed\.jsonl:2: invalid JSON"):
        load_path(feed)


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"title": "A", "body": "x"}, "missing or empty 'id'"),
        ({"id": "a", "body": "x"}, "missing or empty 'title'"),
        ({"id": "a", "title": "A"}, "needs a 'body' or 'text'"),
        ({"id": "a", "title": "A", "body": ["x"]}, "'body' must be a string"),
        (["not", "an", "object"], "expected a JSON object"),
    ],
)
def test_jsonl_bad_record_names_file_and_line(tmp_path: Path, record: object, message: str) -> None:
    feed = write(tmp_path / "feed.jsonl", '{"id": "ok", "title": "OK", "text": "fine"}\n' + json.dumps(record) + "\n")

    with pytest.raises(ValueError, match=rf"feed\.jsonl:2: {message}"):
        load_path(feed)


def test_json_list_and_articles_wrapper(tmp_path: Path) -> None:
    record = {"id": "a", "title": "A", "text": "Body.", "updated_at": "2025-06-01T12:00:00"}
    expected = [Article(id="a", title="A", body="Body.", updated_at="2025-06-01T12:00:00Z")]

    assert load_path(write(tmp_path / "list.json", json.dumps([record]))) == expected
    assert load_path(write(tmp_path / "export.json", json.dumps({"articles": [record], "count": 1}))) == expected


def test_json_of_unknown_shape_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path / "other.json", json.dumps({"flows": 3}))

    with pytest.raises(ValueError, match=r"other\.json: expected a list of article objects"):
        load_path(path)


def test_json_bad_record_names_its_position(tmp_path: Path) -> None:
    path = write(tmp_path / "list.json", json.dumps([{"id": "a", "title": "A", "text": "x"}, {"id": "b"}]))

    with pytest.raises(ValueError, match=r"list\.json\[1\]: missing or empty 'title'"):
        load_path(path)


# --- ABCD-shaped policy manual --------------------------------------------------------------

MANUAL = {
    "Account Access": {
        "description": "username, password, and two-factor authentication",
        "subflows": {
            "Recover Password": {
                "actions": [
                    {"type": "interaction", "button": "Pull up Account", "text": "Ask for the  account ID.", "subtext": []},
                    {
                        "type": "kb query",
                        "button": "Make Password",
                        "text": "To make a new password you need:",
                        "subtext": ["the PIN, or", "the security answer"],
                    },
                ],
                "instructions": ["Help the customer get a new password"],
            },
        },
    },
    "Shipping Issue": {
        "description": "check or update a shipment",
        "subflows": {
            "Out-of-Stock Item": {"actions": [{"text": "Offer a substitute.", "subtext": ["Same size"]}]},
        },
    },
}


def test_policy_manual_gives_one_article_per_subflow(tmp_path: Path) -> None:
    # Named neutrally: the shape, not the file name, says it is a manual.
    path = write(tmp_path / "playbook.json", json.dumps(MANUAL))

    assert load_path(path) == [
        Article(
            id="account-access/recover-password",
            title="Account Access › Recover Password",
            body=(
                "username, password, and two-factor authentication\n"
                "\n"
                "- Ask for the account ID.\n"
                "- To make a new password you need:\n"
                "  - the PIN, or\n"
                "  - the security answer"
            ),
            section="Account Access",
        ),
        Article(
            id="shipping-issue/out-of-stock-item",
            title="Shipping Issue › Out-of-Stock Item",
            body="check or update a shipment\n\n- Offer a substitute.\n  - Same size",
            section="Shipping Issue",
        ),
    ]


# --- Folders and paths ----------------------------------------------------------------------


def test_folder_is_loaded_recursively_in_path_order_skipping_hidden_and_unknown_files(tmp_path: Path) -> None:
    write(tmp_path / "b-billing" / "refunds.md", "# Refunds\nWithin 30 days.\n")
    write(tmp_path / "a-account" / "password.html", "<title>Password</title><p>Use the reset link.</p>")
    write(tmp_path / "c-feed.jsonl", json.dumps({"id": "ship", "title": "Shipping", "text": "3 days."}) + "\n")
    write(tmp_path / "notes.txt", "not an article")
    write(tmp_path / ".drafts" / "secret.md", "# Unpublished\nDo not index.\n")
    write(tmp_path / ".hidden.md", "# Hidden\nNo.\n")

    assert load_folder(tmp_path) == [
        Article(id="password", title="Password", body="Use the reset link."),
        Article(id="refunds", title="Refunds", body="Within 30 days."),
        Article(id="ship", title="Shipping", body="3 days."),
    ]


def test_duplicate_ids_across_files_name_both_files(tmp_path: Path) -> None:
    write(tmp_path / "en" / "faq.md", "# FAQ\nEnglish.\n")
    write(tmp_path / "fr" / "faq.md", "# FAQ\nFrançais.\n")

    with pytest.raises(ValueError, match=r"fr/faq\.md: duplicate article id 'faq', also at .*en/faq\.md"):
        load_folder(tmp_path)


def test_load_path_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="missing"):
        load_path(tmp_path / "missing")
    with pytest.raises(ValueError, match=r"notes\.txt: unsupported file type"):
        load_path(write(tmp_path / "notes.txt", "x"))
    with pytest.raises(ValueError, match="not a folder"):
        load_folder(write(tmp_path / "a.md", "# A\nB\n"))


def test_non_utf8_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.md"
    path.write_bytes("# Café\nCrème brûlée\n".encode("latin-1"))

    with pytest.raises(ValueError, match=r"latin1\.md:1: not valid UTF-8 \(byte 0xe9\); save it as UTF-8"):
        load_path(path)
    later = tmp_path / "later.md"
    later.write_bytes(b"# Fine\nStill fine.\nCaf\xe9\n")
    with pytest.raises(ValueError, match=r"later\.md:3: not valid UTF-8"):
        load_path(later)


def test_a_folder_lists_the_files_it_cannot_read_instead_of_dropping_them_silently(tmp_path: Path) -> None:
    from knowledge.sources import load_articles

    (tmp_path / "returns.md").write_text("# Returns\nReturn within 30 days.\n", encoding="utf-8")
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "warranty.pdf").write_bytes(b"%PDF-1.7")
    (tmp_path / "notes.txt").write_text("draft", encoding="utf-8")
    (tmp_path / ".DS_Store").write_bytes(b"\0")
    report = load_articles(tmp_path)
    assert [a.id for a in report.articles] == ["returns"] and report.errors == ()
    why = "not a file type Deskhand reads (.htm, .html, .json, .jsonl, .markdown, .md); convert it to Markdown or HTML"
    hidden = "a hidden file (its name starts with '.'), not read (rename it if it holds articles)"
    assert report.ignored == (
        f"{tmp_path / '.DS_Store'}: {hidden}", f"{tmp_path / 'notes.txt'}: {why}", f"{tmp_path / 'policies' / 'warranty.pdf'}: {why}"
    )


def test_hidden_files_are_listed_and_a_hidden_folder_once_for_all_it_holds(tmp_path: Path) -> None:
    from knowledge.sources import load_articles

    write(tmp_path / "returns.md", "# Returns\nReturn within 30 days.\n")
    write(tmp_path / ".refunds.md", "# Refunds\nWithin 14 days.\n")
    write(tmp_path / "billing" / ".invoices.md", "# Invoices\nMonthly.\n")
    write(tmp_path / ".git" / "HEAD", "ref: refs/heads/main\n")
    write(tmp_path / ".git" / "refs" / "heads" / "main", "0" * 40)

    report = load_articles(tmp_path)

    assert [a.id for a in report.articles] == ["returns"] and report.errors == ()
    assert report.ignored == (
        f"{tmp_path / '.git'}: a hidden folder (its name starts with '.'), not read (rename it if it holds articles)",
        f"{tmp_path / '.refunds.md'}: a hidden file (its name starts with '.'), not read (rename it if it holds articles)",
        f"{tmp_path / 'billing' / '.invoices.md'}: a hidden file (its name starts with '.'), not read (rename it if it holds articles)",
    )
