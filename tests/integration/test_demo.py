"""`deskhand demo` as a user runs it: embedded broker, local helpdesk, `deskhand serve` as a real process."""
import json
from pathlib import Path

import pytest

from worker.demo import run_demo
from worker.notes import parse_marker

pytestmark = pytest.mark.integration
DEMO = Path(__file__).resolve().parents[2] / "demo"


def test_demo_posts_exactly_one_note_per_ticket_and_routes_by_role(tmp_path, capsys):
    assert run_demo(DEMO, work_dir=tmp_path / "demo", timeout_s=240) == 0
    out = capsys.readouterr().out
    assert "notes posted" in out

    def ticket(tid):
        return json.loads((tmp_path / "demo" / "tickets" / f"{tid}.json").read_text())

    ids = sorted(int(p.stem) for p in (DEMO / "tickets").glob("*.json"))
    for tid in ids:
        notes = [m for m in ticket(tid)["messages"] if m["author_id"] == "deskhand"]
        assert len(notes) == 1, tid
        assert notes[0]["public"] is False
        assert parse_marker(notes[0]["html"])["ticket"] == str(tid)
    assert "deskhand_escalation" in ticket(1006)["tags"]  # account access: escalate_only
    assert "deskhand_needs_human_triage" in ticket(1009)["tags"]  # not covered: unknown
    assert "deskhand_policy_review" in ticket(1005)["tags"]  # refund: summary_only
    assert "Draft reply" in ticket(1002)["messages"][-1]["html"]  # shipping question: drafted with citations
    assert "[1]" in ticket(1002)["messages"][-1]["html"]
