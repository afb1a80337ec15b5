"""Failures reported from the field (HELPDESK_APIS.md §6 and issue 3), one test each, through the real
adapters and the real pipeline. Helpdesk HTTP is served from `tests.fakehelpdesk.FakeHelpdesk` state by
`responses` (no sockets); triage, retrieval and drafting use the pure doubles of `tests.unit.fakes`."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import responses

from integrations.base import Helpdesk, TicketEvent, TransientHelpdeskError
from integrations.freshdesk import FreshdeskHelpdesk
from integrations.zendesk import MAX_COMMENT_BYTES, ZendeskHelpdesk
from knowledge.models import Passage
from tests.fakehelpdesk import FakeHelpdesk
from worker.config import CategoryConfig, Config, RouteConfig, RoutingConfig, TriageConfig
from worker.deliveries import StoreDeliveryLog
from worker.models import Draft, Triage
from worker.notes import parse_marker, render_note
from worker.pipeline import Pipeline, run_event
from worker.settings import Settings
from worker.store import Store
from worker.triage import Taxonomy
from worker.web import create_app

from .fakes import BagOfWordsEmbedder, ListIndex

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
EMB = BagOfWordsEmbedder()
TRIAGE = TriageConfig(
    abstain_below=0.2,
    categories={
        "shipping": CategoryConfig(role="draft", examples=["how long does standard shipping take", "where is my parcel"]),
        "billing": CategoryConfig(role="summary_only", examples=["I was charged twice", "refund the second charge"]),
    },
)
ROUTING = RoutingConfig(tag_prefix="deskhand_", always_tags=["triaged"],
                        categories={"shipping": RouteConfig(tags=["shipping"], group="55"),
                                    "billing": RouteConfig(tags=["billing"])})
PASSAGES = [
    Passage(chunk_id="s#0", article_id="s", title="Shipping times",
            text="Standard shipping takes 3 to 5 business days. Express shipping takes 1 to 2 business days.", score=0.0),
    Passage(chunk_id="b#0", article_id="b", title="Double charges",
            text="A second charge is usually a pending authorisation that drops off within 7 days.", score=0.0),
]
REQUESTER = 70001
SHIPPING_QUESTION = "How long does standard shipping take to France?"


@dataclass
class Desk:
    vendor: str
    fake: FakeHelpdesk
    helpdesk: Helpdesk
    pipeline: Pipeline

    def add_ticket(self, ticket_id: int, body: str, tags=()) -> None:
        add = self.fake.add_zendesk_ticket if self.vendor == "zendesk" else self.fake.add_freshdesk_ticket
        add(ticket_id, "Question", REQUESTER, [(REQUESTER, "requester", body, True)], tags=list(tags))

    def notes(self, ticket_id: int) -> list[dict[str, Any]]:
        return self.fake.zendesk_notes(ticket_id) if self.vendor == "zendesk" else self.fake.freshdesk_notes(ticket_id)

    def note_html(self, note: dict[str, Any]) -> str:
        return note["html_body"] if self.vendor == "zendesk" else note["body"]

    def event(self, ticket_id: int, delivery: str = "d1") -> TicketEvent:
        return TicketEvent(helpdesk=self.vendor, ticket_id=ticket_id, kind="ticket_changed", delivery_id=delivery)

    def writes(self) -> list[tuple[str, str, Any]]:
        return [r for r in self.fake.requests if r[0] != "GET"]


def make_pipeline(helpdesk: Helpdesk, tmp_path: Path) -> Pipeline:
    cfg = Config(triage=TRIAGE, routing=ROUTING, triage_path=tmp_path, routing_path=tmp_path)
    return Pipeline(helpdesk=helpdesk, config=cfg, taxonomy=Taxonomy.build(TRIAGE, EMB), index=ListIndex(PASSAGES, EMB),
                    embedder=EMB, store=Store(f"sqlite:///{tmp_path}/store.db"), min_score=0.2)


def open_desk(vendor: str, rsps: responses.RequestsMock, tmp_path: Path, **fake_options) -> Desk:
    fake = FakeHelpdesk(**fake_options)
    if vendor == "zendesk":
        fake.mock(rsps, zendesk_url="https://acme.zendesk.com")
        helpdesk: Helpdesk = ZendeskHelpdesk(subdomain="acme", email="bot@acme.test", api_token="t",
                                             bot_user_id=str(fake.zendesk_bot_user_id))
    else:
        fake.mock(rsps, freshdesk_url="https://acme.freshdesk.com")
        helpdesk = FreshdeskHelpdesk(domain="acme", api_key="k", bot_agent_id=str(fake.freshdesk_bot_agent_id))
    return Desk(vendor, fake, helpdesk, make_pipeline(helpdesk, tmp_path))


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture(params=["zendesk", "freshdesk"])
def desk(request, rsps, tmp_path) -> Desk:
    return open_desk(request.param, rsps, tmp_path)


# --- 1. zendesk-laravel #20: an update that carried `tags` wiped the ticket's tags ------------------


def test_tags_wiped_by_an_update(desk):
    desk.add_ticket(11, SHIPPING_QUESTION, tags=["vip", "legal_hold"])
    assert run_event(desk.event(11), desk.pipeline, "j1").status == "posted"
    tags = desk.fake.tags(desk.vendor, 11)
    assert tags[:2] == ["vip", "legal_hold"] and {"deskhand_triaged", "deskhand_shipping"} <= set(tags)
    for method, path, body in desk.writes():
        if desk.vendor == "zendesk":  # never `tags` on a ticket update: Zendesk would replace the set
            assert "tags" not in ((body or {}).get("ticket") or {}), (method, path)
        elif "tags" in (body or {}):  # Freshdesk: only ever the full merged list
            assert body["tags"][:2] == ["vip", "legal_hold"], (method, path)


# --- 2. zendesk_api_client_rb #298, Pipedream #17610: read-modify-write tag races --------------------


def test_tag_added_by_an_agent_while_deskhand_works_survives(desk):
    desk.add_ticket(12, SHIPPING_QUESTION, tags=["web"])
    add_tag = desk.fake.add_zendesk_tags if desk.vendor == "zendesk" else desk.fake.add_freshdesk_tags
    # just after Deskhand read the ticket (its tags), while it reads the conversation, an agent adds a tag
    desk.fake.before_next("GET", r"/comments|/conversations", lambda: add_tag(12, ["agent_escalated"]))
    assert run_event(desk.event(12), desk.pipeline, "j1").status == "posted"
    tags = desk.fake.tags(desk.vendor, 12)
    assert tags[:2] == ["web", "agent_escalated"] and "deskhand_shipping" in tags


def test_freshdesk_conflict_on_the_tag_update_rereads_and_keeps_the_other_writers_tag(rsps, tmp_path):
    desk = open_desk("freshdesk", rsps, tmp_path)
    desk.add_ticket(13, SHIPPING_QUESTION, tags=["web"])
    desk.fake.fail_next("PUT", r"/tickets/13$", 409, body=json.loads((FIXTURES / "freshdesk" / "error_409.json").read_text()))
    desk.fake.before_next("PUT", r"/tickets/13$", lambda: desk.fake.add_freshdesk_tags(13, ["other_app"]))
    assert run_event(desk.event(13), desk.pipeline, "j1").status == "posted"
    assert desk.fake.tags("freshdesk", 13)[:2] == ["web", "other_app"]
    assert [m for m, p, _ in desk.fake.requests if p.endswith("/tickets/13")] == ["GET", "GET", "PUT", "GET", "PUT"]


# --- 3. attendee #227 and others: the signed body was re-serialized before verification ----------------

SECRET = "ZmllbGQtZmFpbHVyZS1zZWNyZXQ="


def sign(body: bytes, secret: str = SECRET) -> dict[str, str]:
    ts = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    sig = base64.b64encode(hmac.new(secret.encode(), ts.encode() + body, hashlib.sha256).digest()).decode()
    return {"X-Zendesk-Webhook-Signature": sig, "X-Zendesk-Webhook-Signature-Timestamp": ts,
            "Content-Type": "application/json"}


def test_body_reserialized_before_verification(tmp_path):
    queued: list[TicketEvent] = []
    app = create_app(Settings(zendesk_webhook_secret=SECRET, embedding_model="unused"),
                     enqueue=lambda e: queued.append(e) or "job-1").test_client()
    # Zendesk's bytes: spacing and a \u escape that any JSON re-serialization changes
    raw = b'{ "deskhand_event":"ticket_changed",  "ticket_id" : "48213", "current_user_id": "7", "x": "caf\\u00e9" }'
    headers = sign(raw)
    assert app.post("/webhooks/zendesk", data=raw, headers=headers).status_code == 202
    reserialized = json.dumps(json.loads(raw)).encode()
    assert app.post("/webhooks/zendesk", data=reserialized, headers=headers).status_code == 401
    assert [e.ticket_id for e in queued] == [48213]


# --- 4. Zendesk incident 5787768576666, n8n #25017: replayed and late deliveries -----------------------


def test_replayed_late_zendesk_delivery_never_posts_a_second_note(rsps, tmp_path):
    desk = open_desk("zendesk", rsps, tmp_path)
    desk.add_ticket(14, SHIPPING_QUESTION)
    outcomes = []

    def run_now(event: TicketEvent) -> str:  # the queue, run in-process
        outcomes.append(run_event(event, desk.pipeline, job_id=f"job-{len(outcomes) + 1}"))
        return f"job-{len(outcomes)}"

    log = StoreDeliveryLog(f"sqlite:///{tmp_path}/deliveries.db", ttl_s=3 * 24 * 3600)
    app = create_app(Settings(zendesk_webhook_secret=SECRET, embedding_model="unused"), enqueue=run_now,
                     deliveries=log).test_client()
    trigger = json.dumps({"deskhand_event": "ticket_changed", "ticket_id": "14", "current_user_id": str(REQUESTER),
                          "updated_at": "2026-11-30T10:00:00Z"}).encode()

    first = app.post("/webhooks/zendesk", data=trigger, headers={**sign(trigger), "X-Zendesk-Webhook-Invocation-Id": "inv-14"})
    assert first.status_code == 202 and outcomes[0].status == "posted"
    # hours later, after an outage, Zendesk retries the same invocation (newly signed): dropped at intake
    retry = app.post("/webhooks/zendesk", data=trigger, headers={**sign(trigger), "X-Zendesk-Webhook-Invocation-Id": "inv-14"})
    assert (retry.status_code, retry.get_json()) == (200, {"status": "duplicate"}) and len(outcomes) == 1
    # a late event-subscription delivery about the same comment, with its own id: the job skips it
    customer_comment = desk.fake.zendesk_comments(14)[0]
    late = json.loads((FIXTURES / "zendesk" / "comment_added.json").read_text())
    late.update(id="late-event-1", subject="zen:ticket:14")
    late["detail"]["id"] = "14"
    late["event"]["comment"].update(id=str(customer_comment["id"]), author={"id": str(REQUESTER), "is_staff": False})
    body = json.dumps(late).encode()
    assert app.post("/webhooks/zendesk", data=body, headers=sign(body)).status_code == 202
    assert (outcomes[1].status, outcomes[1].reason) == ("skipped", "already answered by Deskhand")
    assert len(desk.notes(14)) == 1


def test_replayed_freshdesk_delivery_is_skipped_by_the_job(rsps, tmp_path):
    desk = open_desk("freshdesk", rsps, tmp_path)
    desk.add_ticket(15, SHIPPING_QUESTION)
    assert run_event(desk.event(15, "same-body"), desk.pipeline, "job-1").status == "posted"
    replay = run_event(desk.event(15, "same-body"), desk.pipeline, "job-2")  # Freshdesk retried 60 min later
    assert (replay.status, replay.reason) == ("skipped", "already answered by Deskhand")
    assert len(desk.notes(15)) == 1


# --- 5. Pipedream #18260: a comment event carried truncated text ---------------------------------------


def test_comment_event_with_truncated_text_makes_the_job_fetch_the_comment(rsps, tmp_path):
    from integrations.zendesk import parse_event

    desk = open_desk("zendesk", rsps, tmp_path)
    full = ("Following up: the second charge of EUR 49.00 on 28 Nov is still on my card and I was charged twice, "
            "please refund the second charge.")
    desk.fake.add_zendesk_ticket(48213, "Charged twice", REQUESTER, [(REQUESTER, "requester", full, True)])
    event = parse_event({}, (FIXTURES / "zendesk" / "comment_added_truncated.json").read_bytes())
    truncated = json.loads((FIXTURES / "zendesk" / "comment_added_truncated.json").read_text())["event"]["comment"]["body"]
    assert full.startswith(truncated) and len(truncated) < len(full)
    outcome = run_event(event, desk.pipeline, "j1")
    [comment] = desk.fake.zendesk_comments(48213)[:1]
    assert outcome.status == "posted" and outcome.message_id == str(comment["id"])
    assert any("/comments" in path for _, path, _ in desk.fake.requests)  # read from Zendesk, not from the event
    assert desk.helpdesk.fetch_ticket(48213).latest_customer_message().body == full


# --- 6. zendesk_api_client_php #307/#452: line breaks lost in the note ------------------------------


def test_note_line_breaks_survive(desk):
    desk.add_ticket(16, SHIPPING_QUESTION)
    ticket = desk.helpdesk.fetch_ticket(16)
    draft = Draft(body="Standard shipping takes 3 to 5 business days. [1]\nExpress takes 1 to 2. [1]",
                  citations=(PASSAGES[0],))
    triage = Triage(category="shipping", confidence=0.9, role="draft", urgency="normal", sentiment="neutral",
                    language="en", label="Shipping")
    note = render_note(ticket, ticket.messages[0].id, triage, draft, ROUTING, "0.1.0")
    desk.helpdesk.post_note(16, note.html, tags=note.tags, group_id=note.group)
    [posted] = desk.notes(16)
    html = desk.note_html(posted)
    assert "business days. [1]<br>Express takes" in html and "</br>" not in html  # a break HTML renders
    if desk.vendor == "zendesk":
        [put] = [b for m, p, b in desk.writes() if p.endswith("/tickets/16.json")]
        assert "html_body" in put["ticket"]["comment"] and "body" not in put["ticket"]["comment"]
    lines = desk.helpdesk.fetch_ticket(16).messages[-1].body.splitlines()
    assert "Standard shipping takes 3 to 5 business days. [1]" in lines and "Express takes 1 to 2. [1]" in lines


# --- 7. xagent PR #2015: a note over 64 KB, silently truncated by Zendesk ----------------------------


def test_note_over_64kb_is_shortened_and_keeps_its_marker(rsps, tmp_path):
    desk = open_desk("zendesk", rsps, tmp_path)
    pasted_log = "I was charged twice, refund the second charge. Log: " + "0xDEADBEEF" * 8000  # one 80 KB "word"
    desk.add_ticket(17, pasted_log)
    outcome = run_event(desk.event(17), desk.pipeline, "j1")
    assert outcome.status == "posted" and outcome.role == "summary_only"
    [note] = desk.notes(17)
    assert len(note["html_body"].encode("utf-8")) <= MAX_COMMENT_BYTES
    marker = parse_marker(note["html_body"])
    assert marker["ticket"] == "17" and marker["message"] == outcome.message_id
    # and because the marker survived, the next delivery sees the message as answered
    assert run_event(desk.event(17, "d2"), desk.pipeline, "j2").reason == "already answered by Deskhand"


# --- vendor failures through the job: 404, 422, 429, 5xx, 409 ---------------------------------------


def note_path(desk: Desk, ticket_id: int) -> tuple[str, str]:
    return ("PUT", rf"/tickets/{ticket_id}\.json$") if desk.vendor == "zendesk" else ("POST", rf"/tickets/{ticket_id}/notes$")


def test_deleted_ticket_is_recorded_and_stops(desk):
    outcome = run_event(desk.event(404404), desk.pipeline, "j1")
    assert outcome.status == "failed" and "TicketNotFound" in outcome.reason
    assert len(desk.fake.requests) == 1  # nothing after the 404


def test_comment_limit_422_is_recorded_not_retried(desk):
    desk.add_ticket(18, SHIPPING_QUESTION)
    body = json.loads((FIXTURES / "zendesk" / "error_422_comment_limit.json").read_text())
    desk.fake.fail_next(*note_path(desk, 18), 422, body=body)
    outcome = run_event(desk.event(18), desk.pipeline, "j1")
    assert outcome.status == "failed" and "422" in outcome.reason
    assert [r.status for r in desk.pipeline.store.outcomes()] == ["failed"]
    assert desk.notes(18) == []


@pytest.mark.parametrize("status,headers,retry_after_s", [
    (429, {"Retry-After": "13"}, 13.0), (429, {}, None), (503, {}, None), (409, {}, None)])
def test_transient_failures_propagate_for_celery_and_the_retry_posts_once(desk, status, headers, retry_after_s):
    desk.add_ticket(19, SHIPPING_QUESTION)
    times = 2 if (status == 409 and desk.vendor == "zendesk") else 1  # Zendesk retries a 409 once at once
    desk.fake.fail_next(*note_path(desk, 19), status, times=times, headers=headers)
    with pytest.raises(TransientHelpdeskError) as caught:
        run_event(desk.event(19), desk.pipeline, "j1")
    assert (caught.value.status, caught.value.retry_after_s) == (status, retry_after_s)
    assert desk.notes(19) == []
    assert run_event(desk.event(19), desk.pipeline, "j1").status == "posted"  # Celery re-runs the same job id
    assert len(desk.notes(19)) == 1


def test_zendesk_per_ticket_update_limit_is_a_transient_error(rsps, tmp_path):
    desk = open_desk("zendesk", rsps, tmp_path, zendesk_ticket_updates_limit=0)
    desk.add_ticket(20, SHIPPING_QUESTION)
    with pytest.raises(TransientHelpdeskError) as caught:
        run_event(desk.event(20), desk.pipeline, "j1")
    assert (caught.value.status, caught.value.retry_after_s) == (429, 120.0)
    assert len(desk.writes()) == 1  # the one combined update, refused; nothing else tried
