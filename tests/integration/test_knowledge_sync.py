"""Incremental sync of every source into a real on-disk Chroma: what is embedded, replaced, removed, and
where the cursor goes. A hashing embedder stands in for the model (these tests are about bookkeeping;
tests/integration/test_knowledge_index.py covers meaning with the real model)."""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import responses

from knowledge.approval import Allowlist, allowlist_from_mapping
from knowledge.freshdesk_solutions import FreshdeskSolutions
from knowledge.index import KnowledgeIndex
from knowledge.models import Article
from knowledge.sync import sync_folder, sync_freshdesk, sync_zendesk
from knowledge.zendesk_hc import ZendeskHelpCenter
from tests.kbfakes import HashEmbedder
from tests.unit.test_freshdesk_solutions import register_knowledge_base

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ZD = ROOT / "tests" / "fixtures" / "zendesk_hc"
FD = ROOT / "tests" / "fixtures" / "freshdesk_solutions"
ZD_BASE = "https://larkspur.zendesk.com"
EXPORT = f"{ZD_BASE}/api/v2/help_center/incremental/articles.json"
FD_BASE_URL = "https://larkspur.freshdesk.com"
NOW = datetime(2026, 11, 29, tzinfo=timezone.utc)


def zd(name: str):
    return json.loads((ZD / name).read_text(encoding="utf-8"))


def fd(name: str):
    return json.loads((FD / name).read_text(encoding="utf-8"))


@pytest.fixture
def embedder() -> HashEmbedder:
    return HashEmbedder()


@pytest.fixture
def index(tmp_path: Path, embedder: HashEmbedder) -> KnowledgeIndex:
    return KnowledgeIndex(path=tmp_path / "chroma", embedder=embedder, clock=lambda: NOW)  # type: ignore[arg-type]


def register_zendesk(pages: list[str], article_list: dict | None = None) -> None:
    responses.get(f"{ZD_BASE}/api/v2/help_center/sections.json", json=zd("sections.json"))
    responses.get(f"{ZD_BASE}/api/v2/help_center/sections.json", json=zd("sections_page_2.json"))
    for name in pages:
        responses.get(EXPORT, json=zd(name))
    responses.get(f"{ZD_BASE}/api/v2/help_center/articles.json", json=article_list or zd("articles_list.json"))


def export_starts() -> list[str]:
    return [parse_qs(urlparse(c.request.url).query)["start_time"][0] for c in responses.calls if c.request.url.startswith(EXPORT)]


# --- Zendesk Help Center ----------------------------------------------------------------------


@responses.activate
def test_zendesk_first_sync_indexes_published_public_articles_and_stores_the_cursor(index: KnowledgeIndex) -> None:
    register_zendesk(["export_page_1.json", "export_page_2.json", "export_page_3_no_progress.json"])

    stats = sync_zendesk(index, ZendeskHelpCenter(api_url=ZD_BASE), Allowlist())

    assert export_starts() == ["0", "1762254000", "1762326000"]  # stopped when the cursor stopped moving
    assert {a.id for a in index.article_infos()} == {"zendesk:4420000001001", "zendesk:4420000001004"}
    assert (stats.added, stats.deleted) == (2, 0)
    assert index.get_state("zendesk") == {"start_time": 1762326000}
    german = next(a for a in index.article_infos() if a.id == "zendesk:4420000001004")
    assert (german.locale, german.outdated, german.section) == ("de", True, "Account & login")


@responses.activate
def test_zendesk_next_sync_continues_from_the_cursor_and_drops_archived_articles(index: KnowledgeIndex, embedder) -> None:
    register_zendesk(["export_page_1.json", "export_page_2.json", "export_page_3_no_progress.json"])
    sync_zendesk(index, ZendeskHelpCenter(api_url=ZD_BASE), Allowlist())
    responses.reset()
    embedder.texts.clear()
    archived = zd("articles_list.json")
    archived["articles"] = [a for a in archived["articles"] if a["id"] != 4420000001001]
    register_zendesk(["export_empty.json"], article_list=archived)

    stats = sync_zendesk(index, ZendeskHelpCenter(api_url=ZD_BASE), Allowlist())

    assert export_starts() == ["1762326000"]
    assert index.get_state("zendesk") == {"start_time": 1762326000}  # the empty page's end_time 1 is ignored
    assert (stats.deleted, stats.chunks_embedded) == (1, 0)
    assert embedder.texts == []
    assert {a.id for a in index.article_infos()} == {"zendesk:4420000001004"}


@responses.activate
def test_zendesk_article_that_becomes_a_draft_or_restricted_disappears(index: KnowledgeIndex) -> None:
    register_zendesk(["export_page_1.json", "export_page_2.json", "export_page_3_no_progress.json"])
    sync_zendesk(index, ZendeskHelpCenter(api_url=ZD_BASE), Allowlist())
    responses.reset()
    page = zd("export_page_2.json")
    unpublished = {**zd("export_page_1.json")["articles"][0], "draft": True, "updated_at": "2025-11-06T10:00:00Z"}
    restricted = {**page["articles"][0], "user_segment_id": 4450000000003}
    page.update(articles=[unpublished, restricted], next_page=None, end_time=1762423200)
    responses.get(EXPORT, json=page)
    register_zendesk([])

    stats = sync_zendesk(index, ZendeskHelpCenter(api_url=ZD_BASE), Allowlist())

    assert stats.deleted == 2 and index.count() == 0
    assert index.get_state("zendesk") == {"start_time": 1762423200}


@responses.activate
def test_zendesk_full_sync_starts_from_zero_and_allowlist_applies(index: KnowledgeIndex) -> None:
    index.set_state("zendesk", {"start_time": 1762326000})
    register_zendesk(["export_page_1.json", "export_page_2.json", "export_page_3_no_progress.json"])

    sync_zendesk(index, ZendeskHelpCenter(api_url=ZD_BASE), allowlist_from_mapping({"locales": ["en"]}), full=True)

    assert export_starts()[0] == "0"
    assert {a.id for a in index.article_infos()} == {"zendesk:4420000001001"}


# --- Freshdesk Solutions ----------------------------------------------------------------------


@responses.activate
def test_freshdesk_sync_indexes_published_articles_of_public_folders(index: KnowledgeIndex) -> None:
    register_knowledge_base()

    stats = sync_freshdesk(index, FreshdeskSolutions(api_url=FD_BASE_URL), Allowlist())

    assert {a.id for a in index.article_infos()} == {"freshdesk:5000040001", "freshdesk:5000040003", "freshdesk:5000040004"}
    assert (stats.added, stats.deleted) == (3, 0)


@responses.activate
def test_freshdesk_resync_compares_updated_at_and_embeds_only_what_changed(index: KnowledgeIndex, embedder) -> None:
    register_knowledge_base()
    sync_freshdesk(index, FreshdeskSolutions(api_url=FD_BASE_URL), Allowlist())
    responses.reset()
    register_knowledge_base()
    assert sync_freshdesk(index, FreshdeskSolutions(api_url=FD_BASE_URL), Allowlist()).chunks_embedded == 0

    responses.reset()
    register_knowledge_base()
    edited = fd("articles_5000023003.json")
    edited[0].update(updated_at="2025-12-01T08:00:00Z", description="<p>Return any item within 60 days of delivery.</p>")
    responses.replace(responses.GET, f"{FD_BASE_URL}/api/v2/solutions/folders/5000023003/articles", json=edited)
    page_2 = f"{FD_BASE_URL}/api/v2/solutions/folders/5000023001/articles?per_page=100&page=2"
    responses.replace(
        responses.GET, page_2, json=[], match=[responses.matchers.query_param_matcher({"per_page": "100", "page": "2"})]
    )
    embedder.texts.clear()

    stats = sync_freshdesk(index, FreshdeskSolutions(api_url=FD_BASE_URL), Allowlist())

    assert (stats.updated, stats.deleted, stats.unchanged) == (1, 1, 1)  # edited · deleted upstream · untouched
    assert stats.chunks_embedded == 1
    assert any("60 days" in text for text in embedder.texts)
    assert "freshdesk:5000040003" not in {a.id for a in index.article_infos()}


# --- sources share one index ------------------------------------------------------------------


def test_each_source_owns_its_articles(index: KnowledgeIndex, tmp_path: Path) -> None:
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "returns.md").write_text("---\nid: returns\nsection: Orders\n---\n# Returns\nReturn within 30 days.\n")
    index.apply([Article(id="zendesk:1", title="Z", body="From Zendesk.", source="zendesk")], source="zendesk")

    sync_folder(index, folder)
    assert {a.id for a in index.article_infos()} == {"returns", "zendesk:1"}

    (folder / "returns.md").unlink()
    with pytest.raises(ValueError, match="refusing to delete its 1 indexed articles"):
        sync_folder(index, folder)  # an emptied folder is refused by default...
    stats = sync_folder(index, folder, allow_empty=True)  # ...the folder is the full folder set: zendesk's article stays
    assert stats.deleted == 1
    assert {a.id for a in index.article_infos()} == {"zendesk:1"}


def test_folder_allowlist_filters_sections(index: KnowledgeIndex, tmp_path: Path) -> None:
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "a.md").write_text("---\nsection: Billing\n---\n# Pay\nPay by card.\n")
    (folder / "b.md").write_text("---\nsection: Internal\n---\n# Secret\nDo not share.\n")

    sync_folder(index, folder, allowlist_from_mapping({"sections": ["billing"]}))

    assert [a.id for a in index.article_infos()] == ["a"]


def test_apply_writes_changes_and_removes_ids_without_touching_others(index: KnowledgeIndex, embedder) -> None:
    one = Article(id="zendesk:1", title="One", body="First article.", source="zendesk")
    two = Article(id="zendesk:2", title="Two", body="Second article.", source="zendesk")
    index.apply([one, two], source="zendesk")
    embedder.texts.clear()

    stats = index.apply([dataclasses.replace(one, body="First article, edited.")], ["zendesk:2", "zendesk:404"], source="zendesk")

    assert (stats.added, stats.updated, stats.deleted) == (0, 1, 1)
    assert embedder.texts == ["One", "One\nFirst article, edited."]  # the title vector, then the changed chunk
    assert [a.id for a in index.article_infos()] == ["zendesk:1"]


def test_stale_articles_list_outdated_and_old_ones(index: KnowledgeIndex) -> None:
    index.sync(
        [
            Article(id="old", title="Old", body="Old text.", section="Billing", updated_at="2024-01-02"),
            Article(id="fresh", title="Fresh", body="Fresh text.", section="Billing", updated_at="2026-11-01"),
            Article(id="flagged", title="Flagged", body="Flagged text.", section="Account", updated_at="2026-11-20", outdated=True),
            Article(id="undated", title="Undated", body="No date."),
        ]
    )

    stale = [(info.id, age) for info, age in index.stale_articles()]

    assert stale == [("flagged", 9), ("old", 1062)]
    assert [info.id for info, _ in index.stale_articles(stale_after_days=20)] == ["flagged", "old", "fresh"]
    passage = index.search(query_embedding=HashEmbedder().embed_one("Old text"), top_k=1, mode="dense")[0]
    assert (passage.article_id, passage.stale) == ("old", True)


def test_state_survives_reopening(tmp_path: Path, embedder) -> None:
    first = KnowledgeIndex(path=tmp_path / "chroma", embedder=embedder)
    first.set_state("zendesk", {"start_time": 42})
    first.sync([Article(id="a", title="A", body="Alpha.")])

    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient.clear_system_cache()
    reopened = KnowledgeIndex(path=tmp_path / "chroma", embedder=embedder)
    assert reopened.get_state("zendesk") == {"start_time": 42}
    assert reopened.get_state("freshdesk") == {}
    assert reopened.sync([Article(id="a", title="A", body="Alpha.")]).unchanged == 1


WRITER = """
import sys
from pathlib import Path
from knowledge.index import KnowledgeIndex
from knowledge.models import Article
from tests.kbfakes import HashEmbedder
index = KnowledgeIndex(path=Path(sys.argv[1]), embedder=HashEmbedder())
index.sync([Article(id="a", title="Alpha", body="Alpha text."), Article(id="b", title="Printer jam", body="Open the rear tray.")])
"""


def test_a_worker_sees_a_sync_made_by_another_process(tmp_path: Path, embedder) -> None:
    path = tmp_path / "chroma"
    worker = KnowledgeIndex(path=path, embedder=embedder)
    worker.sync([Article(id="a", title="Alpha", body="Alpha text.")])
    assert [p.article_id for p in worker.search("printer tray jam", top_k=2, mode="bm25")] == []

    subprocess.run([sys.executable, "-c", WRITER, str(path)], cwd=ROOT, check=True, timeout=120)

    # A PersistentClient keeps its vector index in memory: without the revision check the worker
    # would keep answering from the index as it was before the other process's sync.
    assert [p.article_id for p in worker.search("printer tray jam", top_k=1, mode="dense")] == ["b"]
    assert [p.article_id for p in worker.search("printer tray jam", top_k=1, mode="bm25")] == ["b"]


# --- broken files ---------------------------------------------------------------------------


def test_a_broken_file_keeps_its_indexed_article_and_does_not_block_the_others(index: KnowledgeIndex, tmp_path: Path) -> None:
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "refunds.md").write_text("---\nid: refund-policy\n---\n# Refunds\nRefunds take 5 days.\n")
    (folder / "shipping.md").write_text("# Shipping\nShipping takes 3 days.\n")
    (folder / "returns.md").write_text("# Returns\nReturn within 30 days.\n")
    sync_folder(index, folder)

    (folder / "refunds.md").write_text("---\nid: refund-policy\nupdated_at: 2026-13-01\n---\n# Refunds\nRefunds take 9 days.\n")
    (folder / "shipping.md").write_text("# Shipping\nShipping takes 2 days.\n")
    (folder / "returns.md").unlink()
    stats = sync_folder(index, folder)

    assert (stats.updated, stats.deleted, stats.kept_ids, stats.deletions_held) == (1, 1, ("refund-policy",), False)
    assert len(stats.errors) == 1 and stats.errors[0].startswith(f"{folder / 'refunds.md'}:3: updated_at '2026-13-01'")
    assert {a.id for a in index.article_infos()} == {"refund-policy", "shipping"}
    assert "5 days" in index.search("how long do refunds take", top_k=1)[0].text  # the last good version


def test_a_file_whose_ids_cannot_be_read_holds_every_deletion(index: KnowledgeIndex, tmp_path: Path) -> None:
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "a.md").write_text("# A\nAlpha text.\n")
    (folder / "b.md").write_text("# B\nBeta text.\n")
    sync_folder(index, folder)

    (folder / "b.md").unlink()
    (folder / "list.json").write_text("[{")
    stats = sync_folder(index, folder)

    assert (stats.deleted, stats.kept_ids, stats.deletions_held) == (0, ("b",), True)
    assert {a.id for a in index.article_infos()} == {"a", "b"}


def test_a_file_overwritten_with_bytes_that_are_not_text_keeps_its_article(index: KnowledgeIndex, tmp_path: Path) -> None:
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "shipping-times.md").write_text("---\nid: hc-101\n---\n# Shipping\nShipping takes 3 days.\n")
    (folder / "returns.md").write_text("# Returns\nReturn within 30 days.\n")
    sync_folder(index, folder)

    (folder / "shipping-times.md").write_bytes(b"\x89\xff\xfe garbage \x00\x81" * 20)  # no front matter left to read an id from
    stats = sync_folder(index, folder)

    assert (stats.deleted, stats.deletions_held) == (0, True)
    assert len(stats.errors) == 1 and "shipping-times.md:1: not valid UTF-8" in stats.errors[0]
    assert {a.id for a in index.article_infos()} == {"hc-101", "returns"}

    (folder / "shipping-times.md").write_bytes(b"\x00" * 4096)  # valid UTF-8, but no text file holds NUL bytes
    stats = sync_folder(index, folder)

    assert (stats.added, stats.deleted, stats.deletions_held) == (0, 0, True)
    assert len(stats.errors) == 1 and "shipping-times.md:1: not a text file (control character 0x00)" in stats.errors[0]
    assert {a.id for a in index.article_infos()} == {"hc-101", "returns"}


# --- several folders, symbolic links, an index from before per-folder sources ------------------


def test_two_folders_keep_each_others_articles(index: KnowledgeIndex, tmp_path: Path) -> None:
    main, extra = tmp_path / "kb", tmp_path / "extra"
    main.mkdir()
    extra.mkdir()
    (main / "returns.md").write_text("# Returns\nReturn within 30 days.\n")
    (main / "shipping.md").write_text("# Shipping\nShipping takes 3 days.\n")
    (extra / "gift-cards.md").write_text("# Gift cards\nGift cards never expire.\n")

    sync_folder(index, main)
    stats = sync_folder(index, extra)  # used to delete returns and shipping: every folder was one source

    assert (stats.added, stats.deleted) == (1, 0)
    assert {a.id for a in index.article_infos()} == {"returns", "shipping", "gift-cards"}
    (main / "shipping.md").unlink()
    assert sync_folder(index, main).deleted == 1  # a folder is still the full set of its own articles
    assert {a.id for a in index.article_infos()} == {"returns", "gift-cards"}


def test_a_folder_cannot_take_an_article_another_folder_holds(index: KnowledgeIndex, tmp_path: Path) -> None:
    main = tmp_path / "kb"
    (main / "nested").mkdir(parents=True)
    (main / "returns.md").write_text("# Returns\nReturn within 30 days.\n")
    (main / "nested" / "shipping.md").write_text("# Shipping\nShipping takes 3 days.\n")
    sync_folder(index, main)

    stats = sync_folder(index, main / "nested")  # its one article belongs to kb

    assert (stats.added, stats.deleted) == (0, 0)
    assert len(stats.errors) == 1 and "article 'shipping' (“Shipping”) is already indexed from folder:" in stats.errors[0]
    assert {a.id for a in index.article_infos()} == {"returns", "shipping"}
    assert sync_folder(index, main).unchanged == 2  # and kb still holds it


def test_an_index_from_before_per_folder_sources_is_taken_over_without_re_embedding(index: KnowledgeIndex, tmp_path: Path) -> None:
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "returns.md").write_text("# Returns\nReturn within 30 days.\n")
    (folder / "shipping.md").write_text("# Shipping\nShipping takes 3 days.\n")
    from knowledge.sources import load_path

    index.apply(load_path(folder), source="folder")  # what a folder sync wrote before
    (folder / "shipping.md").unlink()
    stats = sync_folder(index, folder)

    assert (stats.unchanged, stats.deleted, stats.chunks_embedded) == (1, 1, 0)
    assert {(a.id, a.source) for a in index.article_infos()} == {("returns", f"folder:{folder}")}


def test_a_moved_folder_takes_its_articles_along(index: KnowledgeIndex, tmp_path: Path) -> None:
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "returns.md").write_text("# Returns\nReturn within 30 days.\n")
    (folder / "shipping.md").write_text("# Shipping\nShipping takes 3 days.\n")
    sync_folder(index, folder)

    moved = folder.rename(tmp_path / "help-center")
    (moved / "shipping.md").unlink()
    stats = sync_folder(index, moved)

    assert (stats.unchanged, stats.deleted, stats.chunks_embedded, stats.errors) == (1, 1, 0, ())
    assert {(a.id, a.source) for a in index.article_infos()} == {("returns", f"folder:{moved}")}


def test_a_release_link_switched_to_a_new_folder_stays_one_source(index: KnowledgeIndex, tmp_path: Path) -> None:
    first, second, current = tmp_path / "r1", tmp_path / "r2", tmp_path / "current"
    for release, days in ((first, 30), (second, 60)):
        release.mkdir()
        (release / "returns.md").write_text(f"# Returns\nReturn within {days} days.\n")
    current.symlink_to(first)
    sync_folder(index, current)
    current.unlink()
    current.symlink_to(second)

    stats = sync_folder(index, current)

    assert (stats.updated, stats.errors) == (1, ())
    assert "60 days" in index.search("how long to return", top_k=1)[0].text


def test_symbolic_links_are_not_followed(index: KnowledgeIndex, tmp_path: Path) -> None:
    folder, outside = tmp_path / "kb", tmp_path / "secrets.md"
    folder.mkdir()
    outside.write_text("# Admin passwords\nThe root password is hunter2.\n")
    (folder / "returns.md").write_text("# Returns\nReturn within 30 days.\n")
    (folder / "passwords.md").symlink_to(outside)
    (folder / "returns-copy.md").symlink_to(folder / "returns.md")  # would be a duplicate id
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "admin.md").write_text("# Admin\nInternal only.\n")
    (folder / "linked-folder").symlink_to(tmp_path / "elsewhere")
    (folder / "dangling.md").symlink_to(tmp_path / "gone.md")

    stats = sync_folder(index, folder)

    assert {a.id for a in index.article_infos()} == {"returns"} and stats.errors == ()
    assert stats.ignored == tuple(
        f"{folder / name}: a symbolic link, not followed (copy the file or folder in instead)"
        for name in ("dangling.md", "linked-folder", "passwords.md", "returns-copy.md")
    )
    with pytest.raises(ValueError, match="a symbolic link to a file, not followed"):
        sync_folder(index, folder / "passwords.md")


def test_an_article_without_text_is_named(index: KnowledgeIndex, tmp_path: Path) -> None:
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "returns.md").write_text("# Returns\nReturn within 30 days.\n")
    (folder / "draft.md").write_text("---\nid: hc-900\ntitle: Coming soon\n---\n")
    stats = sync_folder(index, folder)
    assert stats.skipped == 1 and stats.ignored == ("article 'hc-900' (“Coming soon”): no text to index",)


def test_an_article_over_the_size_cap_keeps_its_last_good_version(index: KnowledgeIndex, tmp_path: Path) -> None:
    from knowledge.sources import MAX_ARTICLE_CHARS

    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "refunds.md").write_text("# Refunds\nRefunds take 5 days.\n")
    (folder / "returns.md").write_text("# Returns\nReturn within 30 days.\n")
    sync_folder(index, folder)

    (folder / "refunds.md").write_text("# Refunds\n" + "Refunds take 9 days, says the pasted manual.\n\n" * (MAX_ARTICLE_CHARS // 40))
    stats = sync_folder(index, folder)

    assert (stats.updated, stats.deleted, stats.chunks_embedded, stats.kept_ids) == (0, 0, 0, ("refunds",))
    assert len(stats.errors) == 1 and stats.errors[0].startswith(f"{folder / 'refunds.md'}: article 'refunds' has ")
    assert stats.errors[0].endswith("; split it into smaller articles")
    assert "5 days" in index.search("how long do refunds take", top_k=1)[0].text  # the last good version


def test_hidden_files_and_folders_are_named_not_indexed(index: KnowledgeIndex, tmp_path: Path) -> None:
    folder = tmp_path / "kb"
    (folder / ".drafts").mkdir(parents=True)
    (folder / "returns.md").write_text("# Returns\nReturn within 30 days.\n")
    (folder / ".refunds.md").write_text("# Refunds\nRefunds take 5 days.\n")
    (folder / ".drafts" / "gift-cards.md").write_text("# Gift cards\nGift cards never expire.\n")

    stats = sync_folder(index, folder)

    assert {a.id for a in index.article_infos()} == {"returns"} and stats.errors == ()
    assert stats.ignored == (
        f"{folder / '.drafts'}: a hidden folder (its name starts with '.'), not read (rename it if it holds articles)",
        f"{folder / '.refunds.md'}: a hidden file (its name starts with '.'), not read (rename it if it holds articles)",
    )
