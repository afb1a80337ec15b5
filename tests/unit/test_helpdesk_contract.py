"""One contract, every `Helpdesk` implementation (Warehouse style).

Zendesk and Freshdesk run their real adapters against `responses`, whose callbacks are served from the
in-memory state of `tests.fakehelpdesk.FakeHelpdesk` (no sockets); local runs on a temporary folder.
Each builder returns the helpdesk and a function reading the ticket's priority as Deskhand names it
(the `Ticket` record does not carry it), starting at "normal".
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterator

import pytest
import responses

from integrations.base import Helpdesk, TicketNotFound
from integrations.freshdesk import FreshdeskHelpdesk, priority_name
from integrations.local import LocalHelpdesk
from tests.fakehelpdesk import FakeHelpdesk

TICKET_ID = 4242
REQUESTER, AGENT = 5001, 6001
CONVERSATION = [
    (REQUESTER, "requester", "My parcel A-1 never arrived.", True),
    (AGENT, "agent", "Sorry about that, checking with the carrier.", True),
    (AGENT, "agent", "Carrier says it is lost.", False),
    (REQUESTER, "requester", "Any news?", True),
]
ROLES = ["requester", "agent", "agent", "requester"]
BODIES = [body for _, _, body, _ in CONVERSATION]
NOTE = '<p>Draft reply: we will resend parcel A-1.</p><!-- deskhand:v1 ticket=4242 -->'


Built = tuple[Helpdesk, Callable[[], str | None]]


def _zendesk(rsps: responses.RequestsMock, tmp_path: Path) -> Built:
    from integrations.zendesk import ZendeskHelpdesk

    fake = FakeHelpdesk(page_size=2)  # forces comment pagination
    fake.mock(rsps, zendesk_url="https://acme.zendesk.com")
    fake.add_zendesk_ticket(TICKET_ID, "Parcel lost", REQUESTER, CONVERSATION, tags=["vip"], priority="normal")
    desk = ZendeskHelpdesk(subdomain="acme", email="bot@acme.test", api_token="t", bot_user_id=str(fake.zendesk_bot_user_id))
    return desk, lambda: fake.priority("zendesk", TICKET_ID)


def _freshdesk(rsps: responses.RequestsMock, tmp_path: Path) -> Built:
    fake = FakeHelpdesk(page_size=2)  # forces conversation pagination
    fake.mock(rsps, freshdesk_url="https://acme.freshdesk.com")
    fake.add_freshdesk_ticket(TICKET_ID, "Parcel lost", REQUESTER, CONVERSATION, tags=["vip"], priority=2)
    desk = FreshdeskHelpdesk(domain="acme", api_key="k", bot_agent_id=str(fake.freshdesk_bot_agent_id))
    return desk, lambda: priority_name(fake.priority("freshdesk", TICKET_ID))


def _local(rsps: responses.RequestsMock, tmp_path: Path) -> Built:
    start = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)
    messages = [
        {"id": f"m{i}", "author_id": str(author), "author_role": role, "public": public,
         "created_at": (start + timedelta(minutes=i)).isoformat().replace("+00:00", "Z"), "body": body}
        for i, (author, role, body, public) in enumerate(CONVERSATION)
    ]
    ticket = {"id": TICKET_ID, "subject": "Parcel lost", "requester": {"id": str(REQUESTER), "name": "R"},
              "status": "open", "priority": "normal", "tags": ["vip"], "group_id": None, "locale": "en", "messages": messages}
    path = tmp_path / f"{TICKET_ID}.json"
    path.write_text(json.dumps(ticket), encoding="utf-8")
    return LocalHelpdesk(tmp_path), lambda: json.loads(path.read_text(encoding="utf-8")).get("priority")


@pytest.fixture(params=[_zendesk, _freshdesk, _local], ids=["zendesk", "freshdesk", "local"])
def built(request, tmp_path) -> Iterator[Built]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield request.param(rsps, tmp_path)


@pytest.fixture
def helpdesk(built) -> Helpdesk:
    return built[0]


def test_implements_the_protocol(helpdesk):
    assert isinstance(helpdesk, Helpdesk)
    assert helpdesk.name in {"zendesk", "freshdesk", "local"}


def test_fetch_returns_the_conversation_oldest_first_with_roles(helpdesk):
    ticket = helpdesk.fetch_ticket(TICKET_ID)
    assert ticket.id == TICKET_ID and ticket.subject == "Parcel lost"
    assert ticket.requester_id == str(REQUESTER)
    assert [m.body for m in ticket.messages] == BODIES
    assert [m.author_role for m in ticket.messages] == ROLES
    assert [m.public for m in ticket.messages] == [True, True, False, True]
    times = [m.created_at for m in ticket.messages]
    assert times == sorted(times) and all(t.utcoffset() == timedelta(0) for t in times)
    assert ticket.latest_customer_message().body == "Any news?"


def test_post_note_is_private_and_visible_on_next_fetch(helpdesk):
    note_id = helpdesk.post_note(TICKET_ID, NOTE)
    assert isinstance(note_id, str) and note_id
    ticket = helpdesk.fetch_ticket(TICKET_ID)
    note = ticket.messages[-1]
    assert note.id == note_id
    assert (note.author_role, note.public) == ("agent", False)
    assert "deskhand:v1 ticket=4242" in note.html
    assert "we will resend parcel A-1" in note.body
    # Loop safety relies on this: after the note, there is no newer customer message.
    assert ticket.latest_customer_message().created_at <= note.created_at
    assert [m.body for m in ticket.messages[:-1]] == BODIES


def test_add_tags_keeps_existing_tags(helpdesk):
    helpdesk.add_tags(TICKET_ID, ["deskhand_shipping", "deskhand_lost"])
    helpdesk.add_tags(TICKET_ID, ["deskhand_shipping"])
    assert list(helpdesk.fetch_ticket(TICKET_ID).tags) == ["vip", "deskhand_shipping", "deskhand_lost"]


def test_set_group(helpdesk):
    helpdesk.set_group(TICKET_ID, "360001")
    assert helpdesk.fetch_ticket(TICKET_ID).group_id == "360001"


def test_unknown_ticket_raises_ticket_not_found(helpdesk):
    with pytest.raises(TicketNotFound):
        helpdesk.fetch_ticket(TICKET_ID + 1)


def test_post_note_with_routing_adds_tags_sets_group_and_stays_private(helpdesk):
    note_id = helpdesk.post_note(TICKET_ID, NOTE, tags=["deskhand_shipping", "vip"], group_id="360001")
    ticket = helpdesk.fetch_ticket(TICKET_ID)
    assert list(ticket.tags) == ["vip", "deskhand_shipping"]  # added after the existing tag, never replacing it
    assert ticket.group_id == "360001"
    note = ticket.messages[-1]
    assert (note.id, note.author_role, note.public) == (note_id, "agent", False)


def test_post_note_raises_a_lower_priority(built):
    helpdesk, priority = built
    helpdesk.fetch_ticket(TICKET_ID)  # as the job does; the adapter may use what it read
    note_id = helpdesk.post_note(TICKET_ID, NOTE, tags=["deskhand_shipping"], priority="high")
    assert priority() == "high"
    ticket = helpdesk.fetch_ticket(TICKET_ID)
    assert ticket.messages[-1].id == note_id and "deskhand_shipping" in ticket.tags


@pytest.mark.parametrize("wanted", ["low", "normal"])
def test_post_note_never_lowers_a_priority(built, wanted):
    helpdesk, priority = built
    helpdesk.fetch_ticket(TICKET_ID)
    helpdesk.post_note(TICKET_ID, NOTE, priority=wanted)
    assert priority() == "normal"
    assert helpdesk.fetch_ticket(TICKET_ID).messages[-1].public is False


def test_post_note_without_priority_leaves_it_alone(built):
    helpdesk, priority = built
    helpdesk.post_note(TICKET_ID, NOTE, tags=["deskhand_shipping"])
    assert priority() == "normal"
