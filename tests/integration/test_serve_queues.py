"""`deskhand serve` as a real process runs help-center sync jobs as well as ticket jobs, tickets first."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import pytest
import requests

from integrations.base import TicketEvent
from knowledge.index import KnowledgeIndex
from tests.kbfakes import HashEmbedder
from worker.celery_app import KB_SYNC_TASK, KNOWLEDGE_QUEUE, TASK_NAME, TICKETS_QUEUE, make_celery
from worker.settings import Settings

from .conftest import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ARTICLES = {
    "returns.md": "# Returns\n\nReturn an item within 30 days for a full refund.\n",
    "shipping.md": "# Shipping\n\nOrders ship within two working days.\n",
}


def articles_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "articles"
    folder.mkdir()
    for name, text in ARTICLES.items():
        (folder / name).write_text(text)
    return folder


class Serve:
    """`deskhand serve` in a child process with its own DATA_DIR, local helpdesk and log file."""

    def __init__(self, work: Path, redis_url: str = "") -> None:
        self.work = work
        self.tickets = work / "tickets"
        shutil.copytree(ROOT / "demo" / "tickets", self.tickets)
        self.settings = Settings(data_dir=work, redis_url=redis_url, chroma_path="", embedding_model="unused")
        self.env = {
            **os.environ,
            "HELPDESK": "local",
            "LOCAL_HELPDESK_DIR": str(self.tickets),
            "DATA_DIR": str(work),
            "CHROMA_PATH": "",
            "DATABASE_URL": "",
            "REDIS_URL": redis_url,
            "CONFIG_DIR": str(ROOT / "config"),
            "ZENDESK_WEBHOOK_SECRET": "c2VydmUtdGVzdA==",
            "KB_SYNC_INTERVAL_S": "0",
            "LOG_LEVEL": "INFO",
        }
        self.log = work / "serve.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "worker.cli", "serve", "--port", str(port)],
            env=self.env, cwd=self.work, stdout=self.log.open("wb"), stderr=subprocess.STDOUT,
        )
        self.wait_for(lambda: _answers(f"http://127.0.0.1:{port}/healthz"), "the intake to answer /healthz")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def wait_for(self, predicate, what: str, timeout_s: float = 240) -> None:
        deadline = time.monotonic() + timeout_s
        while not predicate():
            assert self.proc is not None
            if self.proc.poll() is not None or time.monotonic() > deadline:
                tail = "\n".join(self.log.read_text(errors="replace").splitlines()[-30:])
                pytest.fail(f"serve (exit code {self.proc.poll()}) never got to {what}; last lines of its log:\n{tail}")
            time.sleep(0.5)


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture
def serve(tmp_path):
    started: list[Serve] = []

    def make(redis_url: str = "") -> Serve:
        started.append(Serve(tmp_path / "serve", redis_url))
        return started[-1]

    yield make
    for s in started:
        s.stop()


def test_serve_with_the_embedded_broker_runs_a_knowledge_sync_job(serve, tmp_path) -> None:
    svc = serve()
    svc.start()
    folder = articles_folder(tmp_path)

    make_celery(svc.settings, result_backend=False).send_task(KB_SYNC_TASK, args=[str(folder)], queue=KNOWLEDGE_QUEUE)

    # The index is the job's only trace with the embedded broker (no result backend): read it as `kb stats` does.
    index = KnowledgeIndex(path=svc.settings.chroma_dir, embedder=HashEmbedder())  # type: ignore[arg-type]
    svc.wait_for(lambda: index.articles() == len(ARTICLES), "the synced articles in its index")
    assert sorted(info.id for info in index.article_infos()) == ["returns", "shipping"]


def test_serve_runs_the_periodic_sync_of_kb_sync_sources(serve, tmp_path) -> None:
    svc = serve()
    folder = articles_folder(tmp_path)
    svc.env.update(KB_SYNC_SOURCES=str(folder), KB_SYNC_INTERVAL_S="2")
    svc.start()

    # Nothing is enqueued by the test: only the embedded beat can put a sync on the knowledge queue.
    index = KnowledgeIndex(path=svc.settings.chroma_dir, embedder=HashEmbedder())  # type: ignore[arg-type]
    svc.wait_for(lambda: index.articles() == len(ARTICLES), "the periodically synced articles in its index")
    (folder / "billing.md").write_text("# Billing\n\nInvoices are sent by e-mail.\n")
    svc.wait_for(lambda: index.articles() == len(ARTICLES) + 1, "the article added after the first sync")


def test_serve_on_redis_runs_waiting_ticket_jobs_before_a_waiting_sync(serve, tmp_path, redis_url) -> None:
    svc = serve(redis_url)
    app = make_celery(svc.settings)
    # Queued before the worker starts: one sync first, then two ticket jobs. Taking the queues in turn
    # would run the sync second; tickets first runs it last.
    sync = app.send_task(KB_SYNC_TASK, args=[str(articles_folder(tmp_path))], queue=KNOWLEDGE_QUEUE)
    events = [TicketEvent("local", ticket_id, "ticket_created", delivery_id=f"d-{ticket_id}") for ticket_id in (1001, 1002)]
    jobs = [app.send_task(TASK_NAME, args=[asdict(event)], queue=TICKETS_QUEUE) for event in events]
    svc.start()

    synced = sync.get(timeout=240)
    outcomes = [job.get(timeout=240) for job in jobs]

    assert synced["added"] == len(ARTICLES)
    assert [o["ticket_id"] for o in outcomes] == [1001, 1002]
    assert max(job.date_done for job in jobs) < sync.date_done
