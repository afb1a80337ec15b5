"""TRIAGE_UNLABELED_PATH reaches the worker's taxonomy and its config reloads (real Chroma and SQLite
under a temporary DATA_DIR; a stand-in embedder keeps it fast)."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.fakes import BagOfWordsEmbedder
from worker.settings import Settings
from worker.wiring import build_pipeline

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def test_the_worker_self_trains_on_the_unlabelled_export_and_keeps_it_for_reloads(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr("knowledge.embeddings.get_embedder", lambda _name: BagOfWordsEmbedder())
    export = tmp_path / "past-tickets.txt"
    export.write_text("where is my parcel, it is a week late\nI was charged twice for one order\n"
                      "please cancel my order\nmy thermostat shows offline\n", encoding="utf-8")
    plain = build_pipeline(Settings(data_dir=tmp_path / "a", config_dir=ROOT / "config", embedding_model="unused"), with_store=False)
    trained = build_pipeline(Settings(data_dir=tmp_path / "b", config_dir=ROOT / "config", embedding_model="unused",
                                      triage_unlabeled_path=str(export)), with_store=False)

    assert trained.taxonomy.key != plain.taxonomy.key
    assert len(trained.taxonomy.classifier._rows) == len(plain.taxonomy.classifier._rows) + 4
    assert trained.config_watcher is not None and len(trained.config_watcher.unlabeled) == 4
    assert list((tmp_path / "b" / "triage").glob("unlabeled-*.npy"))  # embedded once, kept for refits


def test_a_bad_unlabelled_export_stops_start_up_with_a_config_error(tmp_path, monkeypatch) -> None:
    from worker.config import ConfigError

    monkeypatch.setattr("knowledge.embeddings.get_embedder", lambda _name: BagOfWordsEmbedder())
    s = Settings(data_dir=tmp_path, config_dir=ROOT / "config", embedding_model="unused", triage_unlabeled_path=str(tmp_path / "gone.txt"))
    with pytest.raises(ConfigError, match=r"TRIAGE_UNLABELED_PATH: .*gone.txt: no such file"):
        build_pipeline(s, with_store=False)


def test_the_export_is_read_once_per_version_of_the_file(tmp_path, monkeypatch) -> None:
    from worker import wiring

    calls: list[str] = []
    real = wiring.load_unlabeled
    monkeypatch.setattr(wiring, "load_unlabeled", lambda path: calls.append(str(path)) or real(path))
    wiring._load_unlabeled.cache_clear()
    export = tmp_path / "past.txt"
    export.write_text("where is my parcel\n", encoding="utf-8")
    s = Settings(data_dir=tmp_path, config_dir=ROOT / "config", embedding_model="unused", triage_unlabeled_path=str(export))
    assert wiring.unlabeled_messages(s) == wiring.unlabeled_messages(s) == ("where is my parcel",)
    assert len(calls) == 1  # serve's start-up check and its worker share one read
    export.write_text("where is my parcel\nrefund please\n", encoding="utf-8")
    assert wiring.unlabeled_messages(s) == ("where is my parcel", "refund please") and len(calls) == 2
