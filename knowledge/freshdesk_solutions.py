"""Freshdesk Solutions articles: pure parsing of the vendor's pages, and a thin requests shell.

The knowledge base is categories → folders (→ subfolders, since 2022) → articles
(https://developers.freshdesk.com/api/#solutions). There is no incremental endpoint, so every sync
walks the whole tree; an unchanged article (same `updated_at` and text) is recognised by the
index and embeds nothing. An article counts as approved when it is published (`status` 2), every
folder above it is visible to "All users" (`visibility` 1) and it passes the Freshdesk allowlist.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import requests

from knowledge.approval import Allowlist
from knowledge.models import Article
from knowledge.sources import html_to_text, iso_utc
from knowledge.vendor_http import get_json, on_base

SOURCE = "freshdesk"
PUBLISHED = 2  # article status: 1 draft, 2 published
VISIBLE_TO_ALL = 1  # folder visibility: 1 all users; 2 logged-in users, 3 agents, 4 companies, 5 bots, 6-7 segments
PER_PAGE = 100


def article_key(freshdesk_id: Any) -> str:
    """The index id of Freshdesk article `freshdesk_id`: "freshdesk:<id>"."""
    return f"{SOURCE}:{freshdesk_id}"


@dataclass(frozen=True)
class Folder:
    """A folder or subfolder, with the chain of folders above it (outermost first) already resolved."""

    id: str
    name: str
    visibility: int
    category_id: str
    category_name: str
    parents: tuple["Folder", ...] = ()

    @property
    def path(self) -> tuple["Folder", ...]:
        return (*self.parents, self)

    @property
    def restricted(self) -> bool:
        return any(folder.visibility != VISIBLE_TO_ALL for folder in self.path)


def parse_list(data: Any, what: str) -> list[dict[str, Any]]:
    """The objects of a Freshdesk list response (a JSON array). Raises ValueError for any other shape."""
    if not isinstance(data, list):
        raise ValueError(f"Freshdesk {what}: expected a JSON array")
    return [item for item in data if isinstance(item, dict) and item.get("id") is not None]


def folder_from(record: Mapping[str, Any], *, category: Mapping[str, Any], parent: Folder | None = None) -> Folder:
    """A `Folder` from a folder/subfolder record of `category`, below `parent` when it is a subfolder."""
    try:
        visibility = int(record.get("visibility", VISIBLE_TO_ALL))
    except (TypeError, ValueError):
        visibility = 0  # unknown visibility: treat as restricted
    return Folder(
        id=str(record["id"]),
        name=str(record.get("name") or ""),
        visibility=visibility,
        category_id=str(category.get("id", "")),
        category_name=str(category.get("name") or ""),
        parents=parent.path if parent is not None else (),
    )


def freshdesk_article(
    record: Mapping[str, Any], *, folder: Folder, allow: Allowlist, portal_url: str, locale: str = "en"
) -> tuple[Article | None, str]:
    """(the Article, "") for an approved article record in `folder`, else (None, why not).

    Reasons: "draft" (status other than 2), "restricted" (a folder above it is not visible to all
    users), "not in allowlist", "no text". The section is the innermost folder's name; the allowlist
    sees every folder on the path (ids and names) and the category.
    """
    if record.get("status") != PUBLISHED and not allow.include_drafts:
        return None, "draft"
    if folder.restricted and not allow.include_restricted:
        return None, "restricted"
    labels = tuple(str(tag) for tag in record.get("tags") or () if str(tag).strip())
    folder_keys = [key for f in folder.path for key in (f.id, f.name)]
    if not allow.allows(
        sections=folder_keys, categories=(folder.category_id, folder.category_name), labels=labels, locale=locale
    ):
        return None, "not in allowlist"
    body = html_to_text(str(record.get("description") or ""))
    if not body.strip():
        body = str(record.get("description_text") or "").strip()
    title = str(record.get("title") or "").strip()
    if not body or not title:
        return None, "no text"
    return (
        Article(
            id=article_key(record["id"]),
            title=title,
            body=body,
            url=f"{portal_url.rstrip('/')}/support/solutions/articles/{record['id']}" if portal_url else "",
            section=folder.name,
            locale=locale,
            updated_at=iso_utc(record.get("updated_at"), f"Freshdesk article {record['id']}"),
            source=SOURCE,
            labels=labels,
        ),
        "",
    )


def category_locale(category: Mapping[str, Any], default: str = "en") -> str:
    """The category's language when the response names one, else `default`."""
    for key in ("language", "locale"):
        if isinstance(category.get(key), str) and category[key].strip():
            return category[key].strip()
    return default


class FreshdeskSolutions:
    """The network side: list categories, folders, subfolders and articles, each paginated, with a timeout.

    Basic auth with the API key as user name (Freshdesk's convention). `api_url` overrides
    https://<domain> (tests). Raises `TransientHelpdeskError` / `PermanentHelpdeskError` and
    ValueError for a body of the wrong shape.
    """

    def __init__(
        self,
        *,
        domain: str = "",
        api_key: str = "",
        api_url: str = "",
        timeout_s: float = 10.0,
        session: requests.Session | None = None,
    ) -> None:
        if not api_url and not domain:
            raise ValueError("FreshdeskSolutions needs a domain or an api_url")
        self.base_url = (api_url or f"https://{domain}").rstrip("/")
        self.portal_url = f"https://{domain}" if domain else self.base_url
        self.timeout_s = timeout_s
        self.session = session or requests.Session()
        if api_key:
            self.session.auth = (api_key, "X")

    def walk(self, allow: Allowlist, default_locale: str = "en") -> Iterator[tuple[str, Article | None, str]]:
        """(index id, Article or None, reason) for every article of every folder and subfolder."""
        for category in self.categories():
            locale = category_locale(category, default_locale)
            for record in self.folders(category["id"]):
                yield from self._walk_folder(folder_from(record, category=category), category, allow, locale)

    def _walk_folder(
        self, folder: Folder, category: Mapping[str, Any], allow: Allowlist, locale: str
    ) -> Iterator[tuple[str, Article | None, str]]:
        for record in self.articles(folder.id):
            article, reason = freshdesk_article(record, folder=folder, allow=allow, portal_url=self.portal_url, locale=locale)
            yield article_key(record["id"]), article, reason
        if len(folder.path) > 8:  # Freshdesk nests a few levels; guard against a cycle in a bad response
            return
        for record in self.subfolders(folder.id):
            yield from self._walk_folder(folder_from(record, category=category, parent=folder), category, allow, locale)

    def categories(self) -> list[dict[str, Any]]:
        return self._pages("/api/v2/solutions/categories", "categories")

    def folders(self, category_id: Any) -> list[dict[str, Any]]:
        return self._pages(f"/api/v2/solutions/categories/{category_id}/folders", "folders")

    def subfolders(self, folder_id: Any) -> list[dict[str, Any]]:
        return self._pages(f"/api/v2/solutions/folders/{folder_id}/subfolders", "subfolders")

    def articles(self, folder_id: Any) -> list[dict[str, Any]]:
        return self._pages(f"/api/v2/solutions/folders/{folder_id}/articles", "articles")

    def _pages(self, path: str, what: str) -> list[dict[str, Any]]:
        """Every item of a list endpoint, following the `Link: <…>; rel="next"` header."""
        items: list[dict[str, Any]] = []
        url: str | None = self.base_url + path
        params: dict[str, Any] | None = {"per_page": PER_PAGE}
        seen: set[str] = set()
        while url and url not in seen:
            seen.add(url)
            data, response = get_json(self.session, url, params=params, timeout_s=self.timeout_s, vendor="Freshdesk")
            items.extend(parse_list(data, what))
            following = next_link(response.headers)
            url, params = (on_base(following, self.base_url) if following else None), None
        return items


def next_link(headers: Mapping[str, str]) -> str | None:
    """The URL of `rel="next"` in a `Link` header, or None."""
    value = next((v for k, v in headers.items() if k.lower() == "link"), "")
    for part in value.split(","):
        if 'rel="next"' in part or "rel=next" in part:
            start, end = part.find("<"), part.find(">")
            if 0 <= start < end:
                return part[start + 1 : end].strip()
    return None

