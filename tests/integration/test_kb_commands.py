"""`deskhand kb …` commands and the knowledge Celery task, on a real on-disk Chroma with a stand-in embedder."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import responses
from click.testing import CliRunner

from knowledge.index import KnowledgeIndex
from tests.kbfakes import HashEmbedder
from worker import cli
from worker.settings import Settings

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ZD = ROOT / "tests" / "fixtures" / "zendesk_hc"
ZD_BASE = "https://larkspur.zendesk.com"


@pytest.fixture
def settings(tmp_path: Path, monkeypatch) -> Settings:
    s = Settings(data_dir=tmp_path, config_dir=ROOT / "config", zendesk_api_url=ZD_BASE, embedding_model="unused")
    embedder = HashEmbedder()

    def build_index(_settings: Settings) -> KnowledgeIndex:
        return KnowledgeIndex(path=tmp_path / "chroma", embedder=embedder)  # type: ignore[arg-type]

    monkeypatch.setattr("worker.wiring.build_index", build_index)
    monkeypatch.setattr(cli, "get_settings", lambda: s)
    return s


def run(*args: str):
    return CliRunner().invoke(cli.main, ["kb", *args], catch_exceptions=False)


def test_sync_a_folder_then_resync_embeds_nothing(settings) -> None:
    first = run("sync", str(ROOT / "demo" / "help_center"))
    again = run("sync", "--source", str(ROOT / "demo" / "help_center"))

    assert first.exit_code == 0 and again.exit_code == 0
    assert "34 added, 0 updated, 0 deleted, 0 unchanged" in first.output
    assert "0 added, 0 updated, 0 deleted, 34 unchanged; 0 chunks embedded" in again.output


def test_an_emptied_folder_does_not_wipe_its_articles_unless_asked(settings, tmp_path) -> None:
    folder = tmp_path / "kb"
    shutil.copytree(ROOT / "demo" / "help_center", folder)
    assert run("sync", str(folder)).exit_code == 0
    for file in folder.iterdir():
        file.unlink()
    refused = CliRunner().invoke(cli.main, ["kb", "sync", str(folder)])
    assert refused.exit_code == 1 and "refusing to delete its 34 indexed articles" in refused.output
    assert "34 deleted" in run("sync", str(folder), "--allow-empty").output


def test_sync_names_the_files_it_does_not_index(settings, tmp_path) -> None:
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "returns.md").write_text("# Returns\nYou can return items within 30 days of delivery.\n", encoding="utf-8")
    (folder / "warranty.pdf").write_bytes(b"%PDF-1.7")
    result = CliRunner().invoke(cli.main, ["kb", "sync", str(folder)])
    assert result.exit_code == 0 and "1 added" in result.output
    assert "1 file(s) not indexed:" in result.output
    assert f"{folder / 'warranty.pdf'}: not a file type Deskhand reads (.htm, .html, .json, .jsonl, .markdown, .md)" in result.output


def test_sync_names_hidden_files_and_skips_an_oversized_article_with_exit_code_1(settings, tmp_path) -> None:
    from knowledge.sources import MAX_ARTICLE_CHARS

    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "returns.md").write_text("# Returns\nYou can return items within 30 days of delivery.\n", encoding="utf-8")
    (folder / ".shipping.md").write_text("# Shipping\nShipping takes 3 days.\n", encoding="utf-8")
    (folder / "manual.md").write_text("# Manual\n" + "x" * (MAX_ARTICLE_CHARS + 1), encoding="utf-8")

    result = CliRunner().invoke(cli.main, ["kb", "sync", str(folder)])

    assert result.exit_code == 1 and "1 added" in result.output
    assert f"{folder / '.shipping.md'}: a hidden file (its name starts with '.'), not read" in result.output
    assert f"{folder / 'manual.md'}: article 'manual' has {MAX_ARTICLE_CHARS + 1:,} characters of text" in result.output
    assert "split it into smaller articles" in result.output


def test_empty_search_text_is_a_usage_error(settings) -> None:
    result = CliRunner().invoke(cli.main, ["kb", "search", "  "])
    assert result.exit_code == 2 and "TEXT is empty" in result.output


def test_sync_needs_exactly_one_source(settings) -> None:
    result = CliRunner().invoke(cli.main, ["kb", "sync"])
    assert result.exit_code == 2 and "either PATH or --source" in result.output


@responses.activate
def test_sync_zendesk_and_see_it_in_stats_and_stale(settings) -> None:
    responses.get(f"{ZD_BASE}/api/v2/help_center/sections.json", json=json.loads((ZD / "sections_page_2.json").read_text()))
    for name in ("export_page_1.json", "export_page_2.json", "export_page_3_no_progress.json"):
        responses.get(f"{ZD_BASE}/api/v2/help_center/incremental/articles.json", json=json.loads((ZD / name).read_text()))
    responses.get(f"{ZD_BASE}/api/v2/help_center/articles.json", json=json.loads((ZD / "articles_list.json").read_text()))

    synced = run("sync", "--source", "zendesk")
    stats = run("stats")
    stale = run("stale")

    assert "zendesk: 2 added" in synced.output
    assert "2 articles" in stats.output and "zendesk: 2 articles" in stats.output and "zendesk cursor: 2025-11-05" in stats.output
    assert "Account & login [zendesk]" in stale.output
    assert "Passwort zurücksetzen  [zendesk:4420000001004]  outdated upstream" in stale.output


@responses.activate
def test_vendor_error_is_a_clean_message(settings) -> None:
    responses.get(f"{ZD_BASE}/api/v2/help_center/sections.json", json={"error": "Couldn't authenticate you"}, status=401)
    result = CliRunner().invoke(cli.main, ["kb", "sync", "--source", "zendesk"])
    assert result.exit_code == 1 and "answered 401" in result.output


def test_search_prints_cosine_and_flags_stale(settings) -> None:
    run("sync", str(ROOT / "demo" / "help_center"))

    result = run("search", "battery of the Hearth thermostat", "--top-k", "2", "--mode", "bm25")

    assert result.exit_code == 0
    assert "[hc-603] [stale]" in result.output  # demo/help_center/hearth-battery.md was last updated in 2024


def test_search_in_a_locale_no_article_is_in_names_the_indexed_locales(settings, tmp_path) -> None:
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "reset.md").write_text("---\nlocale: en-us\n---\n# Reset your password\n\nOpen Settings, then Password.\n")
    (folder / "reset-de.md").write_text("---\nlocale: de\n---\n# Passwort zurücksetzen\n\nÖffnen Sie Einstellungen.\n")
    empty = run("search", "password", "--locale", "fr")
    run("sync", str(folder))

    french = run("search", "password", "--locale", "fr")
    english = run("search", "password", "--locale", "en")

    assert "the index is empty" in empty.output
    assert french.exit_code == 0
    assert "no article is indexed in locale fr; indexed locales: de, en-us" in french.output
    assert "is the index empty" not in french.output
    assert "Reset your password" in english.output  # "en" matches the en-us article


def test_celery_task_runs_the_same_sync(settings, monkeypatch, tmp_path) -> None:
    from worker import kb, tasks

    index = KnowledgeIndex(path=tmp_path / "task-chroma", embedder=HashEmbedder())  # type: ignore[arg-type]
    monkeypatch.setattr(kb, "worker_index", lambda: index)
    monkeypatch.setattr(tasks, "get_settings", lambda: settings)

    result = tasks.sync_knowledge.apply(args=(str(ROOT / "demo" / "help_center"),)).get()

    assert (result["added"], index.articles()) == (34, 34)


def test_sync_reports_every_bad_file_syncs_the_rest_and_exits_non_zero(settings, tmp_path) -> None:
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "good.md").write_text("# Good\nFine.\n")
    (folder / "bad.md").write_text("---\ntitle: [x\n---\nBody.\n")
    (folder / "never.md").write_text("---\ntitle: x\nBody.\n")

    result = CliRunner().invoke(cli.main, ["kb", "sync", str(folder)])

    assert result.exit_code == 1
    assert "1 added, 0 updated, 0 deleted" in result.output
    assert "2 file(s) or record(s) skipped" in result.output
    assert f"{folder / 'bad.md'}:2: invalid YAML" in result.output and f"{folder / 'never.md'}:1: front matter" in result.output


def test_stale_days_must_be_at_least_one(settings) -> None:
    for days in ("0", "-5"):
        result = CliRunner().invoke(cli.main, ["kb", "stale", "--days", days])
        assert result.exit_code == 2 and "--days" in result.output
