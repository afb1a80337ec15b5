"""knowledge.freshdesk_solutions: the categories → folders → subfolders → articles walk, on fixtures in Freshdesk's shapes."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
import responses

from integrations.base import PermanentHelpdeskError, TransientHelpdeskError
from knowledge.approval import Allowlist, allowlist_from_mapping
from knowledge.freshdesk_solutions import FreshdeskSolutions, Folder, folder_from, freshdesk_article, next_link, parse_list
from knowledge.models import Article

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "freshdesk_solutions"
BASE = "https://larkspur.freshdesk.com"
CATEGORY = {"id": 5000012001, "name": "Customer help"}


def load(name: str):
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def orders_folder() -> Folder:
    return folder_from(load("folders_5000012001.json")[0], category=CATEGORY)


def register_knowledge_base() -> None:
    """The fixture knowledge base: one category, a public folder (two article pages, one subfolder), a restricted folder."""
    api = f"{BASE}/api/v2/solutions"
    responses.get(f"{api}/categories", json=load("categories.json"))
    responses.get(f"{api}/categories/5000012001/folders", json=load("folders_5000012001.json"))
    page_2 = f"{api}/folders/5000023001/articles?per_page=100&page=2"
    responses.get(
        f"{api}/folders/5000023001/articles",
        json=load("articles_5000023001_page_1.json"),
        headers={"Link": f'<{page_2}>; rel="next"'},
        match=[responses.matchers.query_param_matcher({"per_page": "100"})],
    )
    responses.get(
        page_2,
        json=load("articles_5000023001_page_2.json"),
        match=[responses.matchers.query_param_matcher({"per_page": "100", "page": "2"})],
    )
    responses.get(f"{api}/folders/5000023001/subfolders", json=load("subfolders_5000023001.json"))
    responses.get(f"{api}/folders/5000023003/articles", json=load("articles_5000023003.json"))
    responses.get(f"{api}/folders/5000023003/subfolders", json=[])
    responses.get(f"{api}/folders/5000023002/articles", json=load("articles_5000023002.json"))
    responses.get(f"{api}/folders/5000023002/subfolders", json=[])


def test_published_article_becomes_an_article_with_every_field() -> None:
    record = load("articles_5000023001_page_1.json")[0]

    article, reason = freshdesk_article(record, folder=orders_folder(), allow=Allowlist(), portal_url=BASE)

    assert reason == ""
    assert article == Article(
        id="freshdesk:5000040001",
        title="Delivery times",
        body="Standard delivery in the EU takes 3-5 business days.\n\n## Express\n\n- Order before 2 pm\n- Arrives in 1-2 business days",
        url=f"{BASE}/support/solutions/articles/5000040001",
        section="Orders & delivery",
        locale="en",
        updated_at="2025-08-14T15:30:00Z",
        source="freshdesk",
        labels=("delivery", "approved"),
    )


def test_draft_and_restricted_folder_are_not_approved_unless_configured() -> None:
    draft = load("articles_5000023001_page_1.json")[1]
    partner = load("articles_5000023002.json")[0]
    partners_folder = folder_from(load("folders_5000012001.json")[1], category=CATEGORY)

    assert freshdesk_article(draft, folder=orders_folder(), allow=Allowlist(), portal_url=BASE) == (None, "draft")
    assert freshdesk_article(partner, folder=partners_folder, allow=Allowlist(), portal_url=BASE) == (None, "restricted")
    assert freshdesk_article(draft, folder=orders_folder(), allow=Allowlist(include_drafts=True), portal_url=BASE)[0]
    assert freshdesk_article(partner, folder=partners_folder, allow=Allowlist(include_restricted=True), portal_url=BASE)[0]


def test_subfolder_inherits_a_restricted_parent() -> None:
    parent = Folder(id="1", name="Partners", visibility=4, category_id="9", category_name="Help")
    child = folder_from({"id": 2, "name": "Prices", "visibility": 1}, category={"id": 9, "name": "Help"}, parent=parent)
    assert child.restricted and [f.name for f in child.path] == ["Partners", "Prices"]


@pytest.mark.parametrize(
    ("rules", "approved"),
    [
        ({"categories": ["customer help"]}, True),
        ({"categories": ["Internal"]}, False),
        ({"folders": [5000023001]}, True),
        ({"folders": ["Returns"]}, False),
        ({"labels": ["approved"]}, True),
        ({"locales": ["de"]}, False),
    ],
)
def test_allowlist_decides_what_counts_as_approved(rules, approved) -> None:
    record = load("articles_5000023001_page_1.json")[0]
    article, _ = freshdesk_article(record, folder=orders_folder(), allow=allowlist_from_mapping(rules), portal_url=BASE)
    assert (article is not None) == approved


@responses.activate
def test_walk_visits_every_page_folder_and_subfolder() -> None:
    register_knowledge_base()
    client = FreshdeskSolutions(domain="larkspur.freshdesk.com", api_key="fd-key", timeout_s=5)

    walked = list(client.walk(Allowlist()))

    assert [(key, article.title if article else None, reason) for key, article, reason in walked] == [
        ("freshdesk:5000040001", "Delivery times", ""),
        ("freshdesk:5000040002", None, "draft"),
        ("freshdesk:5000040003", "Change a delivery address", ""),
        ("freshdesk:5000040004", "Return an item", ""),
        ("freshdesk:5000040005", None, "restricted"),
    ]
    returns = walked[3][1]
    assert returns is not None and returns.section == "Returns"
    # API key as the basic-auth user name, as Freshdesk documents.
    assert responses.calls[0].request.headers["Authorization"].startswith("Basic ")


@responses.activate
def test_subfolder_in_allowlist_is_found_through_its_parent() -> None:
    register_knowledge_base()
    walked = list(FreshdeskSolutions(api_url=BASE).walk(allowlist_from_mapping({"folders": ["Returns"]})))
    assert [key for key, article, _ in walked if article] == ["freshdesk:5000040004"]


@responses.activate
def test_errors_are_typed() -> None:
    responses.get(f"{BASE}/api/v2/solutions/categories", json=load("error_401.json"), status=401)
    with pytest.raises(PermanentHelpdeskError):
        list(FreshdeskSolutions(api_url=BASE).walk(Allowlist()))
    responses.replace(responses.GET, f"{BASE}/api/v2/solutions/categories", json={}, status=429, headers={"Retry-After": "30"})
    with pytest.raises(TransientHelpdeskError) as caught:
        list(FreshdeskSolutions(api_url=BASE).walk(Allowlist()))
    assert caught.value.retry_after_s == 30.0
    responses.replace(responses.GET, f"{BASE}/api/v2/solutions/categories", body=requests.Timeout("slow"))
    with pytest.raises(TransientHelpdeskError):
        list(FreshdeskSolutions(api_url=BASE).walk(Allowlist()))


def test_link_header_and_list_shapes() -> None:
    assert next_link({"link": '<https://x/a?page=2>; rel="next"'}) == "https://x/a?page=2"
    assert next_link({"Link": '<https://x/a?page=1>; rel="prev"'}) is None
    assert next_link({}) is None
    assert parse_list([{"id": 1}, {"name": "no id"}, "junk"], "articles") == [{"id": 1}]
    with pytest.raises(ValueError, match="JSON array"):
        parse_list({"articles": []}, "articles")
