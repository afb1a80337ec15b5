"""Real parts for integration tests: Redis, a Celery worker process, gunicorn serving the Flask app,
Chroma with the real embedding model, and the fake helpdesk server on 127.0.0.1."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest
import redis
import requests

from tests.fakehelpdesk import FakeHelpdesk

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("DESKHAND_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
ZENDESK_SECRET = "aW50ZWdyYXRpb24tdGVzdC1zZWNyZXQ="
FRESHDESK_SECRET = "fd-integration-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def redis_url() -> str:
    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"integration tests need Redis at {REDIS_URL} (.ci/run starts it): {exc}")
    client.flushdb()
    return REDIS_URL


@pytest.fixture(scope="session")
def demo_index_dir(tmp_path_factory) -> Path:
    """The demo help center indexed once with the real model into a real Chroma PersistentClient."""
    from knowledge.embeddings import get_embedder
    from knowledge.index import KnowledgeIndex
    from knowledge.sources import load_path
    from worker.settings import Settings

    path = tmp_path_factory.mktemp("chroma")
    index = KnowledgeIndex(path=path, collection="help_center", embedder=get_embedder(Settings().embedding_model))
    index.sync(load_path(ROOT / "demo" / "help_center"))
    return path


@dataclass
class Service:
    vendor: str
    base_url: str
    fake: FakeHelpdesk
    redis_url: str
    procs: list[subprocess.Popen]
    logs: list[Path]

    def send(self, ticket_id: int, *, actor_id: str = "", invocation_id: str = "inv-1") -> requests.Response:
        """Deliver the webhook the installed trigger/automation rule would send for this ticket."""
        if self.vendor == "zendesk":
            body = json.dumps(
                {"deskhand_event": "ticket_changed", "ticket_id": str(ticket_id), "current_user_id": actor_id, "updated_at": ""}
            ).encode()
            ts = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            sig = base64.b64encode(hmac.new(ZENDESK_SECRET.encode(), ts.encode() + body, hashlib.sha256).digest()).decode()
            headers = {
                "Content-Type": "application/json",
                "X-Zendesk-Webhook-Signature": sig,
                "X-Zendesk-Webhook-Signature-Timestamp": ts,
                "X-Zendesk-Webhook-Invocation-Id": invocation_id,
            }
        else:
            body = json.dumps({"freshdesk_webhook": {"ticket_id": str(ticket_id), "triggered_event": "{ticket_action:created}"}}).encode()
            headers = {"Content-Type": "application/json", "X-Deskhand-Secret": FRESHDESK_SECRET}
        return requests.post(f"{self.base_url}/webhooks/{self.vendor}", data=body, headers=headers, timeout=10)

    def outcome(self, job_id: str, timeout_s: float = 240) -> dict:
        """The job's outcome dict, read from the Celery result backend by the 202's job id."""
        from worker.celery_app import make_celery
        from worker.settings import Settings

        from celery.exceptions import TimeoutError as CeleryTimeout

        app = make_celery(Settings(redis_url=self.redis_url, embedding_model="unused"))
        try:
            return app.AsyncResult(job_id).get(timeout=timeout_s)
        except CeleryTimeout:
            tails = "\n".join(
                f"--- {log.name} (last 30 lines) ---\n" + "\n".join(log.read_text(errors="replace").splitlines()[-30:])
                for log in self.logs
            )
            raise AssertionError(f"job {job_id} did not finish in {timeout_s} s\n{tails}") from None

    def add_ticket(self, ticket_id: int, subject: str, body: str, tags=()) -> None:
        add = self.fake.add_zendesk_ticket if self.vendor == "zendesk" else self.fake.add_freshdesk_ticket
        add(ticket_id, subject, 70000 + ticket_id, [(70000 + ticket_id, "requester", body, True)], tags=list(tags))

    def notes(self, ticket_id: int) -> list[dict]:
        return self.fake.zendesk_notes(ticket_id) if self.vendor == "zendesk" else self.fake.freshdesk_notes(ticket_id)


def _wait_http(url: str, procs: list[subprocess.Popen], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for p in procs:
            if p.poll() is not None:
                raise RuntimeError(f"{p.args[2:5]} exited with {p.returncode}")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer in {timeout_s} s")


@pytest.fixture(scope="module", params=["zendesk", "freshdesk"])
def service(request, redis_url, demo_index_dir, tmp_path_factory):
    """gunicorn (the Procfile's `web`) + a Celery worker process (the Procfile's `worker`) against Redis,
    talking to the fake helpdesk."""
    vendor = request.param
    work = tmp_path_factory.mktemp(f"svc-{vendor}")
    fake = FakeHelpdesk().start()
    port = free_port()
    env = {
        **os.environ,
        "HELPDESK": vendor,
        "REDIS_URL": redis_url,
        "DATA_DIR": str(work),
        "DATABASE_URL": "",
        "CHROMA_PATH": str(demo_index_dir),
        "CONFIG_DIR": str(ROOT / "config"),
        "ZENDESK_SUBDOMAIN": "acme",
        "ZENDESK_EMAIL": "deskhand@acme.example",
        "ZENDESK_API_TOKEN": "zd-token",
        "ZENDESK_API_URL": fake.zendesk_url,
        "ZENDESK_WEBHOOK_SECRET": ZENDESK_SECRET,
        "ZENDESK_BOT_USER_ID": str(fake.zendesk_bot_user_id),
        "FRESHDESK_DOMAIN": "acme.freshdesk.com",
        "FRESHDESK_API_KEY": "fd-key",
        "FRESHDESK_API_URL": fake.freshdesk_url,
        "FRESHDESK_WEBHOOK_SECRET": FRESHDESK_SECRET,
        "FRESHDESK_BOT_AGENT_ID": str(fake.freshdesk_bot_agent_id),
        "RETRY_BACKOFF_MAX_S": "2",
        "LOG_LEVEL": "INFO",
    }
    logs = [work / "worker.log", work / "web.log"]
    commands = [
        [sys.executable, "-m", "celery", "-A", "worker.celery_app", "worker", "--queues", "tickets", "--pool", "solo",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "INFO"],
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1", "worker.wsgi:app"],
    ]
    procs = [
        subprocess.Popen(cmd, env=env, cwd=work, stdout=log.open("wb"), stderr=subprocess.STDOUT)
        for cmd, log in zip(commands, logs)
    ]
    svc = Service(vendor=vendor, base_url=f"http://127.0.0.1:{port}", fake=fake, redis_url=redis_url, procs=procs, logs=logs)
    try:
        _wait_http(f"{svc.base_url}/healthz", procs)
        yield svc
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        fake.stop()
        if request.session.testsfailed:
            for log in logs:
                print(f"--- {log.name} (last 40 lines) ---\n" + "\n".join(log.read_text(errors="replace").splitlines()[-40:]))
