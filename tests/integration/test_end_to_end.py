"""The main path end to end with real parts, for Zendesk and Freshdesk (see conftest.py)."""
import re

import pytest

from worker.notes import parse_marker

pytestmark = pytest.mark.integration


def is_private(vendor: str, note: dict) -> bool:
    return note["public"] is False if vendor == "zendesk" else note["private"] is True


def note_html(vendor: str, note: dict) -> str:
    return note["html_body"] if vendor == "zendesk" else note["body"]


def test_signed_webhook_ends_in_one_private_note_with_routing_tags(service):
    service.add_ticket(5001, "Delivery time", "How many business days does standard shipping take to France?", tags=["vip"])
    resp = service.send(5001, actor_id="70001", invocation_id="inv-5001-a")
    assert resp.status_code == 202
    outcome = service.outcome(resp.json()["job_id"])
    assert outcome["status"] == "posted" and outcome["category"] == "shipping" and outcome["drafted"] is True

    notes = service.notes(5001)
    assert len(notes) == 1 and is_private(service.vendor, notes[0])
    html = note_html(service.vendor, notes[0])
    assert "Draft reply (review before sending)" in html and "[1]" in html
    assert parse_marker(html)["ticket"] == "5001"
    tags = service.fake.tags(service.vendor, 5001)
    assert tags[0] == "vip"  # existing tags survive
    assert {"deskhand_triaged", "deskhand_shipping", "deskhand_draft_ready"} <= set(tags)

    # the same delivery again (Zendesk retries it with the same invocation id; Freshdesk sends no id),
    # then the update caused by Deskhand's own note
    dup = service.send(5001, actor_id="70001", invocation_id="inv-5001-a")
    loop = service.send(5001, actor_id="deskhand", invocation_id="inv-5001-b")
    if service.vendor == "zendesk":  # dropped at intake by the delivery id kept in Redis
        assert (dup.status_code, dup.json()) == (200, {"status": "duplicate"})
    else:
        assert service.outcome(dup.json()["job_id"])["status"] == "skipped"
    assert service.outcome(loop.json()["job_id"])["reason"] == "already answered by Deskhand"
    assert len(service.notes(5001)) == 1


def test_escalate_only_ticket_gets_tags_and_escalation_note_but_no_draft(service):
    service.add_ticket(5002, "Account hacked", "Someone hacked my account and changed my password, I can't log in anymore!")
    outcome = service.outcome(service.send(5002, invocation_id="inv-5002").json()["job_id"])
    assert outcome["status"] == "posted" and outcome["role"] == "escalate_only" and outcome["drafted"] is False
    (note,) = service.notes(5002)
    html = note_html(service.vendor, note)
    assert is_private(service.vendor, note)
    assert "Escalation (no draft):" in html and "Draft reply" not in html
    assert {"deskhand_account_access", "deskhand_escalation", "deskhand_urgent"} <= set(service.fake.tags(service.vendor, 5002))
    # the shipped routing sets no priority: even an urgent escalation keeps the priority it had
    assert service.fake.priority(service.vendor, 5002) == (None if service.vendor == "zendesk" else 1)


def test_a_draft_citing_a_stale_article_says_so_and_tags_it(service):
    # demo/help_center/hearth-battery.md was last updated 2024-06-02: older than KB_STALE_AFTER_DAYS (365)
    service.add_ticket(5012, "Thermostat batteries", "How long do the AA batteries in my Larkspur Hearth thermostat last?")
    outcome = service.outcome(service.send(5012, invocation_id="inv-5012").json()["job_id"])
    assert outcome["status"] == "posted" and outcome["drafted"] is True
    html = note_html(service.vendor, service.notes(5012)[0])
    sources = html.split("<strong>Sources:</strong><br>")[1].split("</p>")[0]
    assert re.search(r"Larkspur Hearth battery and power</a> \(updated 2024-06-02\) — stale: older than 365 days", sources)
    assert "stale" not in html.split("<strong>Sources:</strong>")[0]  # the draft itself is untouched
    assert "deskhand_stale_source" in service.fake.tags(service.vendor, 5012)


def test_rate_limited_note_is_retried_after_retry_after_and_posted_once(service):
    service.add_ticket(5003, "Kettle", "My kettle won't turn on at all, the light stays off. What can I check?")
    note_path = r"/tickets/5003(\.json|/notes)$"  # Zendesk: PUT tickets/{id}.json; Freshdesk: POST tickets/{id}/notes
    service.fake.fail_next("PUT" if service.vendor == "zendesk" else "POST", note_path, 429, headers={"Retry-After": "1"})
    outcome = service.outcome(service.send(5003, invocation_id="inv-5003").json()["job_id"])
    assert outcome["status"] == "posted"
    assert len(service.notes(5003)) == 1
    method = "PUT" if service.vendor == "zendesk" else "POST"
    attempts = [r for r in service.fake.requests if r[0] == method and re.search(note_path, r[1])]
    assert len(attempts) == 2  # the rate-limited try and the retry


def test_follow_up_customer_message_gets_its_own_note(service):
    service.add_ticket(5004, "Return", "How do I start a return for a blender I bought two weeks ago?")
    assert service.outcome(service.send(5004, invocation_id="inv-5004-a").json()["job_id"])["status"] == "posted"
    if service.vendor == "zendesk":
        service.fake.add_zendesk_comment(5004, 75004, "requester", "Thanks. And how long until I get my money back?", True)
    else:
        service.fake.add_freshdesk_reply(5004, 75004, "Thanks. And how long until I get my money back?")
    assert service.outcome(service.send(5004, invocation_id="inv-5004-b").json()["job_id"])["status"] == "posted"
    assert len(service.notes(5004)) == 2


def test_injected_5xx_and_409_are_retried_and_post_exactly_one_note(service):
    service.add_ticket(5005, "Express", "How long does express shipping take?", tags=["web"])
    ticket_read = r"/tickets/5005(\.json)?$"
    service.fake.fail_next("GET", ticket_read, 503)  # the job's first read: Celery retries with backoff
    # the write that carries the tags (Zendesk: the one combined update; Freshdesk: the tag update) collides
    # twice: the adapter retries once at once, then Celery retries the job
    write = r"/tickets/5005\.json$" if service.vendor == "zendesk" else r"/tickets/5005$"
    service.fake.fail_next("PUT", write, 409, times=2)
    outcome = service.outcome(service.send(5005, invocation_id="inv-5005").json()["job_id"])
    assert outcome["status"] == "posted"
    assert len(service.notes(5005)) == 1
    assert service.fake.tags(service.vendor, 5005)[0] == "web"
    puts = [r for r in service.fake.requests if r[0] == "PUT" and re.search(write, r[1])]
    assert len(puts) == 3  # two conflicts, then the write that landed
