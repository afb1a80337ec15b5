"""knowledge.zendesk_hc: Help Center export parsing and the HTTP shell, on fixtures in Zendesk's shapes."""
from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import requests
import responses

from integrations.base import PermanentHelpdeskError, TransientHelpdeskError
from knowledge.approval import Allowlist, allowlist_from_mapping
from knowledge.models import Article
from knowledge.zendesk_hc import ExportPage, ZendeskHelpCenter, parse_export_page, parse_list_page, zendesk_article

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "zendesk_hc"
BASE = "https://larkspur.zendesk.com"
EXPORT = f"{BASE}/api/v2/help_center/incremental/articles.json"
SECTIONS = {"4410000000101": "Returns & refunds", "4410000000102": "Account & login"}


def load(name: str):
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def records(name: str) -> dict[int, dict]:
    return {record["id"]: record for record in load(name)["articles"]}


# --- export pages -----------------------------------------------------------------------------


def test_page_with_a_next_page_moves_the_cursor_to_its_end_time() -> None:
    page = parse_export_page(load("export_page_1.json"), start_time=0)

    assert [r["id"] for r in page.records] == [4420000001001, 4420000001002, 4420000001003]
    assert (page.cursor, page.next_start_time) == (1762254000, 1762254000)


def test_cursor_that_makes_no_progress_ends_the_export() -> None:
    # Every article of the page changed in the second the request started from: following
    # next_page would ask for the same page forever.
    page = parse_export_page(load("export_page_3_no_progress.json"), start_time=1762326000)

    assert len(page.records) == 1
    assert (page.cursor, page.next_start_time) == (1762326000, None)


def test_empty_page_with_end_time_1_keeps_the_cursor() -> None:
    # Zendesk answers an empty export with end_time 1: storing it would replay the whole history.
    assert parse_export_page(load("export_empty.json"), start_time=1762326000) == ExportPage([], 1762326000, None)


def test_end_of_stream_or_no_next_page_ends_the_export() -> None:
    body = {**load("export_page_2.json"), "end_of_stream": True}
    assert parse_export_page(body, start_time=1762254000).next_start_time is None
    body = {**load("export_page_2.json"), "next_page": None}
    page = parse_export_page(body, start_time=1762254000)
    assert (page.cursor, page.next_start_time) == (1762326000, None)


def test_cursor_falls_back_to_next_page_start_time() -> None:
    body = {k: v for k, v in load("export_page_2.json").items() if k != "end_time"}
    assert parse_export_page(body, start_time=0).next_start_time == 1762326000


@pytest.mark.parametrize("body", [[], {"count": 0}, {"articles": "none"}])
def test_page_of_the_wrong_shape_is_an_error(body) -> None:
    with pytest.raises(ValueError, match="'articles' list"):
        parse_export_page(body, start_time=0)


# --- articles ---------------------------------------------------------------------------------


def test_published_public_article_becomes_an_article_with_every_field() -> None:
    article, reason = zendesk_article(records("export_page_1.json")[4420000001001], sections=SECTIONS, allow=Allowlist())

    assert reason == ""
    assert article == Article(
        id="zendesk:4420000001001",
        title="Return an item",
        body=(
            "You can return most items within 30 days of delivery.\n\n"
            "## How to start a return\n\n"
            "- Open Your orders.\n"
            "- Choose Return an item and print the label.\n\n"
            "## Refund times\n\n"
            "Payment | Refund within\n"
            "Card | 5-10 business days"
        ),
        url="https://larkspur.zendesk.com/hc/en-us/articles/4420000001001-Return-an-item",
        section="Returns & refunds",
        locale="en-us",
        updated_at="2025-10-30T09:15:00Z",  # edited_at: the later updated_at is a vote
        source="zendesk",
        outdated=False,
        labels=("returns", "approved"),
    )


def test_outdated_translation_keeps_its_flag_and_locale() -> None:
    article, _ = zendesk_article(records("export_page_2.json")[4420000001004], sections=SECTIONS, allow=Allowlist())

    assert article is not None
    assert (article.locale, article.outdated, article.section, article.updated_at) == ("de", True, "Account & login", "2023-01-10T10:00:00Z")


def test_drafts_and_restricted_articles_are_not_approved_unless_configured() -> None:
    page = records("export_page_1.json")
    draft, restricted = page[4420000001002], page[4420000001003]

    assert zendesk_article(draft, sections=SECTIONS, allow=Allowlist()) == (None, "draft")
    assert zendesk_article(restricted, sections=SECTIONS, allow=Allowlist()) == (None, "restricted")
    assert zendesk_article(draft, sections=SECTIONS, allow=Allowlist(include_drafts=True))[0] is not None
    assert zendesk_article(restricted, sections=SECTIONS, allow=Allowlist(include_restricted=True))[0] is not None


def test_restricted_by_user_segment_ids_alone() -> None:
    record = {**records("export_page_1.json")[4420000001001], "user_segment_id": None, "user_segment_ids": [9]}
    assert zendesk_article(record, sections=SECTIONS, allow=Allowlist())[1] == "restricted"


@pytest.mark.parametrize(
    ("rules", "approved"),
    [
        ({"sections": ["Returns & refunds"]}, True),
        ({"sections": ["returns & REFUNDS"]}, True),
        ({"sections": [4410000000101]}, True),
        ({"sections": ["Account & login"]}, False),
        ({"labels": ["approved"]}, True),
        ({"labels": ["internal"]}, False),
        ({"locales": ["en"]}, True),
        ({"locales": ["en-gb"]}, False),
        ({"permission_groups": [4440000000001]}, True),
        ({"permission_groups": [4440000000002]}, False),
    ],
)
def test_allowlist_decides_what_counts_as_approved(rules, approved) -> None:
    record = records("export_page_1.json")[4420000001001]
    article, reason = zendesk_article(record, sections=SECTIONS, allow=allowlist_from_mapping(rules))
    assert (article is not None) == approved
    assert reason == ("" if approved else "not in allowlist")


def test_article_without_text_is_not_indexed() -> None:
    record = {**records("export_page_1.json")[4420000001001], "body": "<p> </p>"}
    assert zendesk_article(record, sections=SECTIONS, allow=Allowlist()) == (None, "no text")


def test_list_pages_follow_cursor_and_offset_pagination() -> None:
    items, following = parse_list_page(load("sections.json"), "sections")
    assert [i["id"] for i in items] == [4410000000101]
    assert following and "page%5Bafter%5D=eyJvIjoiMSJ9" in following
    assert parse_list_page(load("sections_page_2.json"), "sections")[1] is None
    assert parse_list_page({"articles": [], "next_page": f"{BASE}/x?page=2"}, "articles")[1] == f"{BASE}/x?page=2"


# --- the HTTP shell ---------------------------------------------------------------------------


class TimeoutRecordingSession(requests.Session):
    def __init__(self) -> None:
        super().__init__()
        self.timeouts: list[float | None] = []

    def request(self, method, url, **kwargs):  # type: ignore[override]
        self.timeouts.append(kwargs.get("timeout"))
        return super().request(method, url, **kwargs)


@responses.activate
def test_export_follows_pages_until_the_cursor_stops_moving() -> None:
    for name in ("export_page_1.json", "export_page_2.json", "export_page_3_no_progress.json"):
        responses.get(EXPORT, json=load(name))
    session = TimeoutRecordingSession()
    client = ZendeskHelpCenter(subdomain="larkspur", email="bot@larkspur.example", api_token="tok", timeout_s=7, session=session)

    pages = list(client.export_pages(0))

    assert [p.next_start_time for p in pages] == [1762254000, 1762326000, None]
    starts = [parse_qs(urlparse(call.request.url).query)["start_time"] for call in responses.calls]
    assert starts == [["0"], ["1762254000"], ["1762326000"]]
    assert session.timeouts == [7, 7, 7]
    assert responses.calls[0].request.headers["Authorization"].startswith("Basic ")


@responses.activate
def test_sections_and_article_ids_follow_next_links() -> None:
    responses.get(f"{BASE}/api/v2/help_center/sections.json", json=load("sections.json"))
    responses.get(f"{BASE}/api/v2/help_center/sections.json", json=load("sections_page_2.json"))
    responses.get(f"{BASE}/api/v2/help_center/articles.json", json=load("articles_list.json"))
    client = ZendeskHelpCenter(api_url=BASE)

    assert client.sections() == SECTIONS
    assert client.article_ids() == {
        "zendesk:4420000001001", "zendesk:4420000001002", "zendesk:4420000001003", "zendesk:4420000001004"
    }  # fmt: skip
    assert "page%5Bafter%5D" in responses.calls[1].request.url


@responses.activate
def test_rate_limit_is_transient_with_retry_after() -> None:
    responses.get(EXPORT, json=load("rate_limited.json"), status=429, headers={"Retry-After": "42"})

    with pytest.raises(TransientHelpdeskError) as caught:
        list(ZendeskHelpCenter(api_url=BASE).export_pages(0))
    assert (caught.value.retry_after_s, caught.value.status) == (42.0, 429)


@responses.activate
def test_forbidden_is_permanent_and_network_failure_transient() -> None:
    responses.get(EXPORT, json={"error": "Forbidden"}, status=403)
    with pytest.raises(PermanentHelpdeskError):
        list(ZendeskHelpCenter(api_url=BASE).export_pages(0))
    responses.replace(responses.GET, EXPORT, body=requests.ConnectionError("reset"))
    with pytest.raises(TransientHelpdeskError):
        list(ZendeskHelpCenter(api_url=BASE).export_pages(0))


def test_client_needs_a_subdomain_or_url() -> None:
    with pytest.raises(ValueError, match="subdomain or an api_url"):
        ZendeskHelpCenter()


@responses.activate
def test_next_links_are_followed_on_the_configured_host_only() -> None:
    # A proxy or sandbox URL keeps working, and credentials never go to a host named in a response.
    first = {**load("sections.json"), "links": {"next": "https://elsewhere.example/api/v2/help_center/sections.json?page%5Bafter%5D=x"}}
    responses.get("http://127.0.0.1:9/api/v2/help_center/sections.json", json=first)
    responses.get("http://127.0.0.1:9/api/v2/help_center/sections.json", json=load("sections_page_2.json"))

    assert len(ZendeskHelpCenter(api_url="http://127.0.0.1:9", email="e", api_token="t").sections()) == 2
    assert all(call.request.url.startswith("http://127.0.0.1:9/") for call in responses.calls)
