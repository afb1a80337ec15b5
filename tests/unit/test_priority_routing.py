"""Priority routing through the real adapters and the fake helpdesk: which calls it costs, and that a
priority someone else raised meanwhile is never lowered (Freshdesk re-reads before its PUT; Zendesk's
stamped safe update answers 409 and is retried after a re-read)."""
from __future__ import annotations

import pytest
import responses

from integrations.base import PermanentHelpdeskError, raises_priority
from integrations.freshdesk import FreshdeskHelpdesk, priority_name
from integrations.zendesk import ZendeskHelpdesk
from tests.fakehelpdesk import FakeHelpdesk

TICKET, REQUESTER = 7312, 5001
FD, ZD = "https://acme.freshdesk.com", "https://acme.zendesk.com"
NOTE = "<p>Draft</p><p><small>deskhand:v1 ticket=7312 message=m1 pipeline=t</small></p>"


@pytest.fixture
def fake():
    fake = FakeHelpdesk()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake.mock(rsps, freshdesk_url=FD, zendesk_url=ZD)
        yield fake


def calls(fake: FakeHelpdesk, start: int = 0) -> list[str]:
    return [f"{method} {path.split('?')[0]}" for method, path, _ in fake.requests[start:]]


def freshdesk(fake: FakeHelpdesk, *, tags=("web",), priority=1) -> FreshdeskHelpdesk:
    fake.add_freshdesk_ticket(TICKET, "Card charged twice", REQUESTER, [(REQUESTER, "requester", "Charged twice", True)],
                              tags=tags, priority=priority)
    return FreshdeskHelpdesk(domain="acme", api_key="k", bot_agent_id=str(fake.freshdesk_bot_agent_id))


@pytest.mark.parametrize("current,wanted,expected", [
    (None, "low", True), ("", "normal", True), ("low", "high", True), ("high", "urgent", True),
    ("high", "high", False), ("urgent", "high", False), ("normal", "low", False),
    ("high", None, False), ("normal", "critical", False), ("p1", "urgent", False),  # an unknown current value is kept
])
def test_raises_priority(current, wanted, expected):
    assert raises_priority(current, wanted) is expected


@pytest.mark.parametrize("value,name", [(1, "low"), ("2", "normal"), (3, "high"), (4, "urgent"), (None, None), (9, "9")])
def test_freshdesk_priority_names(value, name):
    assert priority_name(value) == name


def test_freshdesk_priority_only_costs_a_fresh_read_and_one_put(fake):
    fd = freshdesk(fake)
    fd.fetch_ticket(TICKET)
    start = len(fake.requests)
    fd.post_note(TICKET, NOTE, tags=["web"], priority="high")  # the tag is there already: only the priority changes
    assert calls(fake, start) == [f"GET /api/v2/tickets/{TICKET}", f"PUT /api/v2/tickets/{TICKET}",
                                  f"POST /api/v2/tickets/{TICKET}/notes"]
    assert fake.requests[start + 1][2] == {"priority": 3}  # only what changes: the tag list is not rewritten
    assert fake.priority("freshdesk", TICKET) == 3 and fake.tags("freshdesk", TICKET) == ["web"]


def test_freshdesk_tags_and_priority_share_one_put(fake):
    fd = freshdesk(fake)
    fd.fetch_ticket(TICKET)
    start = len(fake.requests)
    fd.post_note(TICKET, NOTE, tags=["deskhand_billing"], priority="urgent")
    assert calls(fake, start).count(f"PUT /api/v2/tickets/{TICKET}") == 1
    assert fake.requests[start + 1][2] == {"tags": ["web", "deskhand_billing"], "priority": 4}


def test_freshdesk_costs_nothing_extra_when_the_fetch_shows_a_priority_as_high(fake):
    fd = freshdesk(fake, priority=4)
    fd.fetch_ticket(TICKET)
    start = len(fake.requests)
    fd.post_note(TICKET, NOTE, tags=["web"], priority="high")
    assert calls(fake, start) == [f"POST /api/v2/tickets/{TICKET}/notes"]
    assert fake.priority("freshdesk", TICKET) == 4


def test_freshdesk_keeps_a_priority_an_agent_raised_after_the_fetch(fake):
    fd = freshdesk(fake, priority=2)
    fd.fetch_ticket(TICKET)
    # between Deskhand's fetch and its write, an agent makes the ticket urgent
    fake.before_next("GET", rf"/api/v2/tickets/{TICKET}$", lambda: fake.set_priority("freshdesk", TICKET, 4))
    start = len(fake.requests)
    fd.post_note(TICKET, NOTE, tags=["deskhand_billing"], priority="high")
    put = next(body for method, _, body in fake.requests[start:] if method == "PUT")
    assert put == {"tags": ["web", "deskhand_billing"]}
    assert fake.priority("freshdesk", TICKET) == 4


def test_freshdesk_rejects_an_unknown_priority_before_any_call(fake):
    fd = freshdesk(fake)
    start = len(fake.requests)
    with pytest.raises(PermanentHelpdeskError, match="low, normal, high, urgent"):
        fd.post_note(TICKET, NOTE, priority="3")
    assert calls(fake, start) == []


def zendesk(fake: FakeHelpdesk, *, priority="normal") -> ZendeskHelpdesk:
    fake.add_zendesk_ticket(TICKET, "Card charged twice", REQUESTER, [(REQUESTER, "requester", "Charged twice", True)],
                            tags=["web"], priority=priority)
    return ZendeskHelpdesk(subdomain="acme", email="bot@acme.test", api_token="t", bot_user_id=str(fake.zendesk_bot_user_id))


def test_zendesk_raises_priority_in_the_note_update_at_no_extra_cost(fake):
    zd = zendesk(fake)
    zd.fetch_ticket(TICKET)
    start = len(fake.requests)
    zd.post_note(TICKET, NOTE, tags=["deskhand_billing"], priority="urgent")
    assert calls(fake, start) == [f"PUT /api/v2/tickets/{TICKET}.json"]
    assert fake.priority("zendesk", TICKET) == "urgent"
    assert fake.tags("zendesk", TICKET) == ["web", "deskhand_billing"]
    assert fake.zendesk_notes(TICKET)[0]["public"] is False


def test_zendesk_keeps_a_priority_an_agent_raised_after_the_fetch(fake):
    zd = zendesk(fake)
    zd.fetch_ticket(TICKET)
    fake.before_next("PUT", rf"/api/v2/tickets/{TICKET}\.json$", lambda: fake.set_priority("zendesk", TICKET, "urgent"))
    start = len(fake.requests)
    zd.post_note(TICKET, NOTE, tags=["deskhand_billing"], priority="high")
    # the stamped update is refused (409), the ticket re-read, and the note posted without a priority
    assert calls(fake, start) == [f"PUT /api/v2/tickets/{TICKET}.json", f"GET /api/v2/tickets/{TICKET}.json",
                                  f"PUT /api/v2/tickets/{TICKET}.json"]
    assert fake.priority("zendesk", TICKET) == "urgent"
    assert len(fake.zendesk_notes(TICKET)) == 1 and "deskhand_billing" in fake.tags("zendesk", TICKET)


def test_zendesk_that_ignores_additional_tags_rereads_once_instead_of_colliding():
    fake = FakeHelpdesk(zendesk_additional_tags=False)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake.mock(rsps, zendesk_url=ZD)
        zd = zendesk(fake)
        zd.fetch_ticket(TICKET)
        zd.post_note(TICKET, NOTE, tags=["deskhand_billing"])  # learns that additional_tags is ignored
        assert zd.additional_tags_honoured is False
        zd.fetch_ticket(TICKET)
        start = len(fake.requests)
        zd.post_note(TICKET, NOTE, tags=["deskhand_refund"], priority="high")
    # tags first (they move updated_at), then a fresh read for the stamp, then the one stamped update: no 409
    assert calls(fake, start) == [f"PUT /api/v2/tickets/{TICKET}/tags.json", f"GET /api/v2/tickets/{TICKET}.json",
                                  f"PUT /api/v2/tickets/{TICKET}.json"]
    assert fake.priority("zendesk", TICKET) == "high" and "deskhand_refund" in fake.tags("zendesk", TICKET)
