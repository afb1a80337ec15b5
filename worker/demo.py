"""`deskhand demo`: the whole path on one machine, with the sample help center and sample tickets.

1. copy demo/tickets to var/demo/tickets (the local helpdesk writes notes there) and index demo/help_center;
2. start `deskhand serve` as a real process on embedded defaults (local helpdesk, embedded broker, SQLite);
3. send each ticket a signed Zendesk-style webhook, one of them twice (a duplicate delivery);
4. wait until every job has finished (read from the service's JSON log), then send every ticket's webhook
   again, as the helpdesk does when Deskhand's own note updates the ticket, and check nothing new is posted;
5. print every internal note and the tags.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import requests

from integrations.local import html_to_text
from integrations.zendesk import sign_body

JOB_END_EVENTS = {"note_posted", "skipped", "post_failed", "ticket_unreadable"}


def send_webhook(base_url: str, secret: str, ticket_id: int, actor_id: str) -> requests.Response:
    body = json.dumps(
        {"deskhand_event": "ticket_changed", "ticket_id": str(ticket_id), "current_user_id": actor_id, "updated_at": ""}
    ).encode()
    ts = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    headers = {
        "Content-Type": "application/json",
        "X-Zendesk-Webhook-Signature-Timestamp": ts,
        "X-Zendesk-Webhook-Signature": sign_body(secret, ts, body),
        "X-Zendesk-Webhook-Invocation-Id": secrets.token_hex(8),
    }
    return requests.post(f"{base_url}/webhooks/zendesk", data=body, headers=headers, timeout=10)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _finished_jobs(log_path: Path) -> list[dict]:
    done = []
    for line in log_path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if rec.get("event") in JOB_END_EVENTS:
                done.append(rec)
    return done


def _wait(predicate, timeout_s: float, proc: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if proc.poll() is not None:
            raise RuntimeError(f"the service exited (code {proc.returncode}) while waiting for {what}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(0.2)




def run_demo(demo_dir: Path, *, port: int = 0, timeout_s: int = 300, work_dir: Path = Path("var/demo")) -> int:
    """Run the demo; returns a process exit code (0 when every ticket got exactly one note)."""
    from knowledge.sources import load_path
    from worker.settings import Settings
    from worker.wiring import build_index

    if work_dir.exists():
        shutil.rmtree(work_dir)
    tickets_dir = work_dir / "tickets"
    shutil.copytree(demo_dir / "tickets", tickets_dir)
    ticket_ids = sorted(int(p.stem) for p in tickets_dir.glob("*.json"))
    secret = secrets.token_urlsafe(24)
    port = port or _free_port()
    env = {
        **os.environ,
        "HELPDESK": "local",
        "LOCAL_HELPDESK_DIR": str(tickets_dir.resolve()),
        "DATA_DIR": str(work_dir.resolve()),
        "CHROMA_PATH": "",
        "CHROMA_HOST": "",  # the demo's index lives under work_dir, never on a shared Chroma server
        "DATABASE_URL": "",
        "REDIS_URL": "",
        "ZENDESK_WEBHOOK_SECRET": secret,
        "LOG_JSON": "true",
    }

    print(f"1/4 Indexing the sample help center ({demo_dir / 'help_center'}) …", flush=True)
    settings = Settings(data_dir=work_dir.resolve(), chroma_path="", chroma_host="")
    articles = load_path(demo_dir / "help_center")
    stats = build_index(settings).sync(articles)
    print(f"    {len(articles)} articles, {stats.chunks_embedded} chunks embedded in {stats.seconds:.1f} s", flush=True)

    print(f"2/4 Starting `deskhand serve` on http://127.0.0.1:{port} (embedded broker, local helpdesk) …", flush=True)
    log_path = work_dir / "serve.log"
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "worker.cli", "serve", "--port", str(port)],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            _wait(lambda: _healthy(base), 120, proc, "the service to answer /healthz")
            print(f"3/4 Sending {len(ticket_ids)} signed webhooks, ticket {ticket_ids[0]} twice (duplicate delivery) …", flush=True)
            deliveries = [*ticket_ids, ticket_ids[0]]
            for tid in deliveries:
                resp = send_webhook(base, secret, tid, actor_id=f"u-{tid}")
                if resp.status_code != 202:
                    print(f"    ticket {tid}: HTTP {resp.status_code} {resp.text.strip()}", flush=True)
            _wait(lambda: len(_finished_jobs(log_path)) >= len(deliveries), timeout_s, proc, "the jobs")

            print("4/4 Re-sending every webhook, as the helpdesk does after Deskhand's own note …", flush=True)
            for tid in ticket_ids:
                send_webhook(base, secret, tid, actor_id="deskhand")
            total = len(deliveries) + len(ticket_ids)
            _wait(lambda: len(_finished_jobs(log_path)) >= total, timeout_s, proc, "the re-triggered jobs")
        except (RuntimeError, TimeoutError) as exc:
            print(f"demo failed: {exc}\n--- last lines of {log_path} ---", file=sys.stderr)
            print("\n".join(log_path.read_text(errors="replace").splitlines()[-30:]), file=sys.stderr)
            return 1
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()

    return _report(tickets_dir, ticket_ids, _finished_jobs(log_path))


def _healthy(base: str) -> bool:
    try:
        return requests.get(f"{base}/healthz", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def _report(tickets_dir: Path, ticket_ids: list[int], jobs: list[dict]) -> int:
    bad = 0
    for tid in ticket_ids:
        ticket = json.loads((tickets_dir / f"{tid}.json").read_text())
        notes = [m for m in ticket["messages"] if m.get("author_id") == "deskhand"]
        print("\n" + "=" * 78)
        print(f"Ticket {tid} · {ticket['subject']}")
        print(f"Tags: {' '.join(ticket.get('tags', []))}")
        print("-" * 78)
        for note in notes:
            print(html_to_text(note.get("html") or note["body"]))
        if len(notes) != 1:
            bad += 1
            print(f"!! expected exactly one note, found {len(notes)}")
    posted = sum(j["event"] == "note_posted" for j in jobs)
    skipped = sum(j["event"] == "skipped" for j in jobs)
    print("\n" + "=" * 78)
    print(f"{len(jobs)} jobs: {posted} notes posted, {skipped} skipped (duplicate delivery and self-triggered updates).")
    print(f"Notes and tags are in {tickets_dir}/ (ticket JSON + <id>.note-<n>.html); the service log is {tickets_dir.parent / 'serve.log'}.")
    print("The demo's index is its own (under that folder); for `deskhand triage` or `kb search`, run `deskhand kb sync demo/help_center` first.")
    return 1 if bad else 0
