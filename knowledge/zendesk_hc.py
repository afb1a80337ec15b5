"""Zendesk Help Center (Guide) articles: pure parsing of the vendor's pages, and a thin requests shell.

Changes come from the incremental article export
(https://developer.zendesk.com/documentation/help_center/help-center-api/understanding-incremental-article-exports/):
`GET /api/v2/help_center/incremental/articles?start_time=<epoch s>` returns up to 1,000 articles
whose metadata changed since `start_time`; `end_time` (also the `start_time` of `next_page`) is the
time of the last change on the page. That export never returns archived (deleted) articles, so
deletions are found by listing the ids that still exist (`GET /api/v2/help_center/articles`).

An article counts as approved when it is published (`draft` false), visible to everyone (no user
segment) and passes the Zendesk allowlist (sections, labels, locales, permission groups).
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlparse

import requests

from knowledge.approval import Allowlist
from knowledge.models import Article
from knowledge.sources import html_to_text, iso_utc
from knowledge.vendor_http import get_json, on_base

SOURCE = "zendesk"
EXPORT_PATH = "/api/v2/help_center/incremental/articles.json"
SECTIONS_PATH = "/api/v2/help_center/sections.json"
ARTICLES_PATH = "/api/v2/help_center/articles.json"


def article_key(zendesk_id: Any) -> str:
    """The index id of Zendesk article `zendesk_id`: "zendesk:<id>"."""
    return f"{SOURCE}:{zendesk_id}"


@dataclass(frozen=True)
class ExportPage:
    """One page of the incremental export.

    `next_start_time` is the cursor to ask for next, or None when the export is finished: no
    `next_page`, `end_of_stream` true, or a cursor that would not move forward (Zendesk repeats the
    same `end_time` when every article on a full page changed in the same second, and answers an
    empty page with `end_time` 1; following either would loop forever or go backwards).
    `cursor` is where a later run should start: `end_time` when it moved forward, else the
    request's `start_time`.
    """

    records: list[dict[str, Any]]
    cursor: int
    next_start_time: int | None


def parse_export_page(data: Any, start_time: int) -> ExportPage:
    """Parse one incremental-export response body requested with `start_time`.

    Raises ValueError when the body is not an object with an `articles` list.
    """
    if not isinstance(data, dict) or not isinstance(data.get("articles"), list):
        raise ValueError("Zendesk incremental article export: expected an object with an 'articles' list")
    records = [record for record in data["articles"] if isinstance(record, dict) and record.get("id") is not None]
    end_time = _int_or_none(data.get("end_time"))
    next_page = data.get("next_page")
    if end_time is None and isinstance(next_page, str):
        end_time = _int_or_none(parse_qs(urlparse(next_page).query).get("start_time", [None])[0])
    moved = end_time is not None and end_time > start_time
    cursor = end_time if moved else start_time
    finished = not next_page or bool(data.get("end_of_stream")) or not moved
    return ExportPage(records=records, cursor=cursor, next_start_time=None if finished else cursor)


def zendesk_article(
    record: Mapping[str, Any], *, sections: Mapping[str, str], allow: Allowlist
) -> tuple[Article | None, str]:
    """(the Article, "") for an approved article record, else (None, why it is not approved).

    Reasons: "draft", "restricted" (a user segment limits who can see it), "not in allowlist",
    "no text". `sections` maps section id → name (for the Article's section and the allowlist).
    The Article's `updated_at` is `edited_at` (last content edit) when present, else `updated_at`.
    """
    if record.get("draft") and not allow.include_drafts:
        return None, "draft"
    if _restricted(record) and not allow.include_restricted:
        return None, "restricted"
    section_id = str(record.get("section_id") or "")
    section_name = sections.get(section_id, "")
    locale = str(record.get("locale") or record.get("source_locale") or "en")
    labels = tuple(str(label) for label in record.get("label_names") or () if str(label).strip())
    permission_group = str(record.get("permission_group_id") or "")
    if not allow.allows(sections=(section_id, section_name), labels=labels, locale=locale, permission_group=permission_group):
        return None, "not in allowlist"
    body = html_to_text(str(record.get("body") or ""))
    title = str(record.get("title") or record.get("name") or "").strip()
    if not body.strip() or not title:
        return None, "no text"
    where = f"Zendesk article {record.get('id')}"
    return (
        Article(
            id=article_key(record["id"]),
            title=title,
            body=body,
            url=str(record.get("html_url") or ""),
            section=section_name or section_id,
            locale=locale,
            updated_at=iso_utc(record.get("edited_at") or record.get("updated_at"), where),
            source=SOURCE,
            outdated=bool(record.get("outdated")),
            labels=labels,
        ),
        "",
    )


def _restricted(record: Mapping[str, Any]) -> bool:
    # user_segment_id null = visible to everyone; newer accounts also send user_segment_ids.
    return record.get("user_segment_id") is not None or bool(record.get("user_segment_ids"))


def parse_list_page(data: Any, key: str) -> tuple[list[dict[str, Any]], str | None]:
    """(items under `key`, next page URL or None) of a Help Center list response.

    Handles cursor pagination (`meta.has_more` + `links.next`) and offset pagination (`next_page`).
    Raises ValueError when `key` is not a list.
    """
    if not isinstance(data, dict) or not isinstance(data.get(key), list):
        raise ValueError(f"Zendesk Help Center list: expected an object with a {key!r} list")
    items = [item for item in data[key] if isinstance(item, dict)]
    meta, links = data.get("meta"), data.get("links")
    if isinstance(meta, dict) and "has_more" in meta:
        following = links.get("next") if isinstance(links, dict) and meta.get("has_more") else None
    else:
        following = data.get("next_page")
    return items, following if isinstance(following, str) and following else None


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class ZendeskHelpCenter:
    """The network side: three paginated GETs with API-token auth and a timeout on every call.

    `api_url` overrides https://<subdomain>.zendesk.com (proxies, sandboxes, tests). Raises
    `TransientHelpdeskError` / `PermanentHelpdeskError` (see `knowledge.vendor_http`) and
    ValueError for a body of the wrong shape.
    """

    def __init__(
        self,
        *,
        subdomain: str = "",
        email: str = "",
        api_token: str = "",
        api_url: str = "",
        timeout_s: float = 10.0,
        session: requests.Session | None = None,
    ) -> None:
        if not api_url and not subdomain:
            raise ValueError("ZendeskHelpCenter needs a subdomain or an api_url")
        self.base_url = (api_url or f"https://{subdomain}.zendesk.com").rstrip("/")
        self.timeout_s = timeout_s
        self.session = session or requests.Session()
        if email and api_token:
            self.session.auth = (f"{email}/token", api_token)

    def export_pages(self, start_time: int) -> Iterator[ExportPage]:
        """Incremental export pages from `start_time` on, until `parse_export_page` says it is finished."""
        cursor = start_time
        while True:
            data, _ = get_json(
                self.session, self.base_url + EXPORT_PATH, params={"start_time": cursor}, timeout_s=self.timeout_s, vendor="Zendesk"
            )
            page = parse_export_page(data, cursor)
            yield page
            if page.next_start_time is None:
                return
            cursor = page.next_start_time

    def sections(self) -> dict[str, str]:
        """Section id → name, for every Help Center section."""
        return {str(item["id"]): str(item.get("name") or "") for item in self._list(SECTIONS_PATH, "sections") if "id" in item}

    def article_ids(self) -> set[str]:
        """Index ids ("zendesk:<id>") of every article that still exists (drafts included, archived not)."""
        return {article_key(item["id"]) for item in self._list(ARTICLES_PATH, "articles") if "id" in item}

    def _list(self, path: str, key: str) -> Iterator[dict[str, Any]]:
        url: str | None = self.base_url + path
        params: dict[str, Any] | None = {"page[size]": 100}
        seen: set[str] = set()
        while url:
            data, _ = get_json(self.session, url, params=params, timeout_s=self.timeout_s, vendor="Zendesk")
            items, following = parse_list_page(data, key)
            yield from items
            seen.add(url)
            if following and on_base(following, self.base_url) in seen:  # a repeated next link would never end
                return
            url, params = (on_base(following, self.base_url) if following else None), None
