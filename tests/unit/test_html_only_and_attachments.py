"""A message whose plain text is empty is read from its HTML, and an image-only message is counted, in
every adapter (local, Zendesk, Freshdesk); the note tells the agent a message had only attachments."""
from __future__ import annotations

import json
from datetime import datetime, timezone

from integrations import freshdesk, zendesk
from integrations.base import Message, Ticket
from integrations.local import LocalHelpdesk, message_text
from worker.config import RoutingConfig
from worker.models import Draft, Triage
from worker.notes import render_note

HTML = "<div><p>My order <b>A-1001</b> never arrived.</p><p>Can you check?</p></div>"
TEXT = "My order A-1001 never arrived.\nCan you check?"


def test_message_text_prefers_plain_text_and_falls_back_to_html():
    assert message_text("typed text", HTML) == "typed text"
    assert message_text("", HTML) == TEXT
    assert message_text("  \n", HTML) == TEXT
    assert message_text("", "") == ""


def test_local_ticket_with_empty_body_reads_the_html_and_counts_attachments(tmp_path):
    ticket = {
        "id": 7, "subject": "Where is it", "requester": {"id": "u-1"}, "status": "open",
        "messages": [
            {"id": "m1", "author_id": "u-1", "author_role": "requester", "created_at": "2026-11-20T10:00:00Z",
             "body": "", "html": HTML},
            {"id": "m2", "author_id": "u-1", "author_role": "requester", "created_at": "2026-11-20T10:05:00Z",
             "body": "", "attachments": [{"file_name": "a.jpg"}, {"file_name": "b.jpg"}]},
        ],
    }
    (tmp_path / "7.json").write_text(json.dumps(ticket), encoding="utf-8")
    m1, m2 = LocalHelpdesk(tmp_path).fetch_ticket(7).messages
    assert (m1.body, m1.attachments) == (TEXT, 0)
    assert (m2.body, m2.attachments) == ("", 2)


def _zendesk_comment(**fields):
    return {"id": 1, "author_id": 5, "public": True, "created_at": "2026-11-20T10:00:00Z", **fields}


def test_zendesk_comment_text_falls_back_from_plain_body_to_body_to_html():
    users = [{"id": 5, "role": "end-user"}]
    ticket = {"id": 9, "requester_id": 5, "status": "open", "subject": "s"}
    cases = [
        (_zendesk_comment(plain_body="plain", body="raw", html_body=HTML), "plain"),
        (_zendesk_comment(plain_body="", body="raw", html_body=HTML), "raw"),
        (_zendesk_comment(plain_body="", body="", html_body=HTML), TEXT),
        (_zendesk_comment(html_body=HTML), TEXT),
    ]
    for comment, expected in cases:
        (message,) = zendesk.ticket_from_api(ticket, [comment], users).messages
        assert message.body == expected
    photo = _zendesk_comment(plain_body="", body="", html_body="", attachments=[{"id": 1}, {"id": 2}, {"id": 3}])
    (message,) = zendesk.ticket_from_api(ticket, [photo], users).messages
    assert (message.body, message.attachments) == ("", 3)


def test_freshdesk_description_and_conversation_fall_back_to_html():
    ticket = {"id": 12, "requester_id": 5, "status": 2, "subject": "s", "created_at": "2026-11-20T10:00:00Z",
              "description": HTML, "description_text": ""}
    conversation = {"id": 300, "user_id": 5, "incoming": True, "private": False, "created_at": "2026-11-20T11:00:00Z",
                    "body": "<p>Any <i>news</i>?</p>", "body_text": "", "attachments": [{"id": 1}]}
    description, reply = freshdesk.ticket_from_api(ticket, [conversation]).messages
    assert description.body == TEXT
    assert (reply.body, reply.attachments) == ("Any news?", 1)


def test_freshdesk_ticket_with_only_a_photo_still_has_its_first_message():
    ticket = {"id": 13, "requester_id": 5, "status": 2, "subject": "see photo", "created_at": "2026-11-20T10:00:00Z",
              "description": "", "description_text": "", "attachments": [{"id": 1}, {"id": 2}]}
    (description,) = freshdesk.ticket_from_api(ticket, []).messages
    assert (description.author_role, description.body, description.attachments) == ("requester", "", 2)


def _note_for(message: Message) -> str:
    ticket = Ticket(id=42, subject="s", requester_id="u", status="open", messages=(message,))
    triage = Triage(category="unknown", confidence=0.1, role="summary_only", urgency="normal", sentiment="neutral", language="en")
    draft = Draft(body="", citations=(), reason="No approved help-center source supports a reply.")
    return render_note(ticket, message.id, triage, draft, RoutingConfig(), "0.1.0").html


def test_note_says_when_the_message_has_only_attachments():
    at = datetime(2026, 11, 20, tzinfo=timezone.utc)
    photos = Message(id="m1", author_id="u", author_role="requester", body="", public=True, created_at=at, attachments=2)
    assert "<p><strong>Message:</strong> (no text; 2 attachments)</p>" in _note_for(photos)
    one = Message(id="m1", author_id="u", author_role="requester", body=" ", public=True, created_at=at, attachments=1)
    assert "(no text; 1 attachment)" in _note_for(one)
    with_text = Message(id="m1", author_id="u", author_role="requester", body="see photo", public=True, created_at=at, attachments=1)
    assert "no text" not in _note_for(with_text)
