"""A running worker reloads edited YAML at the start of a job and keeps the last good config."""
import os
from pathlib import Path

from structlog.testing import capture_logs

from integrations.base import TicketEvent
from worker.config import load_config
from worker.pipeline import Pipeline, run_event
from worker.reload import ConfigWatcher
from worker.store import Store
from worker.triage import Taxonomy

from .fakes import BagOfWordsEmbedder, ListIndex, message, ticket
from .test_pipeline import PASSAGE, FakeHelpdesk

EMB = BagOfWordsEmbedder()
TRIAGE = """\
abstain_below: 0.2
categories:
  shipping:
    role: draft
    examples: ["how long does standard shipping take", "where is my parcel"]
  account_access:
    role: escalate_only
    examples: ["my account was hacked", "cannot log in to my account"]
"""
ROUTING = """\
categories:
  shipping: {tags: [shipping]}
"""


def write(path: Path, text: str) -> None:
    """Write and move the mtime forward, so the change is seen even on coarse-mtime file systems."""
    stamp = path.stat().st_mtime_ns + 2_000_000_000 if path.exists() else None
    path.write_text(text)
    if stamp:
        os.utime(path, ns=(stamp, stamp))


def setup(tmp_path: Path, helpdesk=None) -> Pipeline:
    write(tmp_path / "triage.yaml", TRIAGE)
    write(tmp_path / "routing.yaml", ROUTING)
    cfg = load_config(tmp_path)
    return Pipeline(
        helpdesk=helpdesk,
        config=cfg,
        taxonomy=Taxonomy.build(cfg.triage, EMB),
        index=ListIndex([PASSAGE], EMB),
        embedder=EMB,
        store=Store(f"sqlite:///{tmp_path}/s.db"),
        min_score=0.2,
        config_watcher=ConfigWatcher(cfg),
    )


def test_nothing_changed_nothing_reloaded(tmp_path):
    p = setup(tmp_path)
    before = p.config
    assert p.config_watcher.refresh(p) is False
    assert p.config is before


def test_routing_edit_is_picked_up_without_refitting(tmp_path):
    p = setup(tmp_path)
    clf = p.taxonomy.classifier
    write(tmp_path / "routing.yaml", ROUTING.replace("[shipping]", "[shipping, parcels]"))
    with capture_logs() as logs:
        assert p.config_watcher.refresh(p) is True
    assert p.config.routing.categories["shipping"].tags == ["shipping", "parcels"]
    assert p.taxonomy.classifier is clf
    assert logs[-1]["event"] == "config_reloaded" and logs[-1]["refitted"] is False


def test_new_examples_refit_the_classifier(tmp_path):
    p = setup(tmp_path)
    key = p.taxonomy.key
    write(tmp_path / "triage.yaml", TRIAGE.replace('"where is my parcel"', '"where is my parcel", "parcel lost in transit"'))
    assert p.config_watcher.refresh(p) is True
    assert p.taxonomy.key != key
    assert "parcel lost in transit" in p.config.triage.categories["shipping"].examples


def test_invalid_edit_keeps_the_last_good_config_and_logs_why(tmp_path):
    p = setup(tmp_path)
    good_config, good_taxonomy = p.config, p.taxonomy
    write(tmp_path / "triage.yaml", TRIAGE.replace("role: draft", "role: refund_everything"))
    with capture_logs() as logs:
        assert p.config_watcher.refresh(p) is False
        assert p.config_watcher.refresh(p) is False  # reported once, not on every job
    assert p.config is good_config and p.taxonomy is good_taxonomy
    failed = [e for e in logs if e["event"] == "config_reload_failed"]
    assert len(failed) == 1
    assert f"{tmp_path / 'triage.yaml'}:4: categories.shipping.role" in failed[0]["error"]
    assert failed[0]["log_level"] == "error"

    write(tmp_path / "triage.yaml", TRIAGE.replace("abstain_below: 0.2", "abstain_below: 0.25"))
    assert p.config_watcher.refresh(p) is True  # fixed: the next job picks it up
    assert p.config.triage.abstain_below == 0.25


def test_deleted_file_keeps_the_last_good_config(tmp_path):
    p = setup(tmp_path)
    good = p.config
    (tmp_path / "routing.yaml").unlink()
    with capture_logs() as logs:
        assert p.config_watcher.refresh(p) is False
    assert p.config is good
    assert "routing.yaml: cannot read" in logs[0]["error"]


def test_a_job_uses_the_config_as_edited_before_it_started(tmp_path):
    hd = FakeHelpdesk(ticket(message(1, "How long does standard shipping take?")))
    p = setup(tmp_path, helpdesk=hd)
    write(tmp_path / "routing.yaml", ROUTING.replace("[shipping]", "[shipping_v2]"))
    out = run_event(TicketEvent(helpdesk="zendesk", ticket_id=42, kind="ticket_created", delivery_id="d1"), p, job_id="j1")
    assert out.status == "posted"
    assert "deskhand_shipping_v2" in out.tags and "deskhand_shipping" not in out.tags


def test_reload_logs_carry_no_ticket_text(tmp_path):
    hd = FakeHelpdesk(ticket(message(1, "How long does standard shipping take? My secret word is marmalade")))
    p = setup(tmp_path, helpdesk=hd)
    write(tmp_path / "triage.yaml", "categories: [")
    with capture_logs() as logs:
        run_event(TicketEvent(helpdesk="zendesk", ticket_id=42, kind="ticket_created", delivery_id="d1"), p, job_id="j1")
    assert any(e["event"] == "config_reload_failed" for e in logs)
    assert "marmalade" not in repr(logs)
