"""`deskhand eval` on a real on-disk Chroma with a stand-in embedder: stdout is the report and nothing else."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import structlog
from click.testing import CliRunner

from tests.kbfakes import HashEmbedder
from worker import cli
from worker.settings import Settings

pytestmark = pytest.mark.integration

ROWS = [
    ("Where is my parcel? It has not arrived yet.", "shipping"),
    ("My package is late, when will the parcel arrive?", "shipping"),
    ("The parcel tracking shows no delivery.", "shipping"),
    ("I want my money back for this order.", "refund"),
    ("Please refund the blender I returned.", "refund"),
    ("How long does a refund take to reach my card?", "refund"),
]


@pytest.fixture
def fresh_logging(tmp_path, monkeypatch):
    """A process where nothing has configured structlog yet, as when a user runs the command."""
    structlog.reset_defaults()
    monkeypatch.setattr(cli, "get_settings", lambda: Settings(data_dir=tmp_path, embedding_model="unused"))
    monkeypatch.setattr("knowledge.embeddings.get_embedder", lambda _model: HashEmbedder())
    yield
    structlog.reset_defaults()


def test_eval_stdout_is_only_the_report_and_logs_go_to_stderr(tmp_path: Path, fresh_logging) -> None:
    tickets = tmp_path / "tickets.jsonl"
    tickets.write_text("\n".join(json.dumps({"text": t, "label": label}) for t, label in ROWS) + "\n")
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "shipping.md").write_text("# Shipping\n\nA parcel arrives within five working days of the order.\n")
    (kb / "refunds.md").write_text("# Refunds\n\nA refund reaches your card within ten days of the return.\n")

    result = CliRunner().invoke(
        cli.main,
        ["eval", "--tickets", str(tickets), "--kb", str(kb), "--text-field", "text", "--label-field", "label",
         "--examples-per-category", "2", "--work-dir", str(tmp_path / "work")],
        catch_exceptions=False,
    )

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("knowledge base: 2 articles")
    figures = json.loads(lines[-1])
    assert figures["tickets"] == 2 and figures["categories"] == 2
    # The classifier logs that it fitted the taxonomy: on stderr, never among the figures on stdout.
    assert "taxonomy_fitted" not in result.stdout
    assert any(json.loads(line).get("event") == "taxonomy_fitted" for line in result.stderr.splitlines() if line.startswith("{"))
