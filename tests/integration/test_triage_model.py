"""The shipped taxonomy with the real embedding model routes the demo tickets as demo/README.md says."""
import json
from pathlib import Path

import pytest

from integrations.local import ticket_from_json
from worker.config import load_config
from worker.models import Draft
from worker.notes import route
from worker.triage import Taxonomy, triage, triage_text

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]

# ticket: (category, role, urgency) — the table in demo/README.md
EXPECTED = {
    1001: ("technical", "draft", "normal"),
    1002: ("shipping", "draft", "normal"),
    1003: ("orders", "draft", "normal"),
    1004: ("billing", "constrained_draft", "urgent"),
    1005: ("returns_refunds", "summary_only", "high"),
    1006: ("account_access", "escalate_only", "urgent"),
    1007: ("technical", "draft", "normal"),
    1008: ("shipping", "draft", "high"),
    1009: ("unknown", "escalate_only", "normal"),
    1010: ("unknown", "escalate_only", "normal"),
    1011: ("returns_refunds", "summary_only", "normal"),
    1012: ("orders", "draft", "normal"),
    1013: ("product_questions", "draft", "normal"),
    1014: ("feedback", "summary_only", "low"),
}


@pytest.fixture(scope="module")
def shipped():
    from knowledge.embeddings import get_embedder
    from worker.settings import Settings

    cfg = load_config(ROOT / "config")
    embedder = get_embedder(Settings().embedding_model)
    return cfg, Taxonomy.build(cfg.triage, embedder), embedder


def run(shipped, tid):
    cfg, tax, embedder = shipped
    t = ticket_from_json(json.loads((ROOT / "demo" / "tickets" / f"{tid}.json").read_text()))
    return triage(t, tax, embedder.embed([triage_text(t)])[0])


@pytest.mark.parametrize("tid", sorted(EXPECTED))
def test_demo_ticket_routes_as_documented(shipped, tid):
    r = run(shipped, tid)
    assert (r.category, r.role, r.urgency) == EXPECTED[tid], r.reasons
    assert 0.0 <= r.confidence <= 1.0


def test_signals_of_the_demo_tickets(shipped):
    assert run(shipped, 1010).language == "es"
    assert run(shipped, 1008).sentiment == "negative"
    assert "account_security" in run(shipped, 1006).risks
    injected = run(shipped, 1011)
    assert "prompt_injection" in injected.risks
    tags, _ = route(injected, Draft(body="", citations=()), shipped[0].routing)
    assert "deskhand_risk_prompt_injection" in tags and "deskhand_urgent" not in tags


def test_the_abstain_threshold_separates_the_demo_tickets(shipped):
    # every demo ticket the classifier answers is above the shipped threshold by a margin, and the
    # out-of-scope one is below it: the threshold separates them
    cfg = shipped[0].triage
    answered = [run(shipped, tid).confidence for tid, exp in EXPECTED.items() if exp[0] != "unknown"]
    assert min(answered) >= cfg.abstain_below
    assert run(shipped, 1009).category == "unknown"
