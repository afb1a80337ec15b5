"""The real adapters against the fake helpdesk HTTP server (local sockets, fast, no marker needed)."""
from __future__ import annotations

import pytest
import requests
import zenpy.lib.api

from integrations.base import TicketNotFound, TransientHelpdeskError
from integrations.freshdesk import FreshdeskHelpdesk
from integrations.zendesk import ZendeskHelpdesk
from tests.fakehelpdesk import FakeHelpdesk

REQUESTER, AGENT = 501, 601
MESSAGES = [
    (REQUESTER, "requester", "Where is my refund?", True),
    (AGENT, "agent", "Looking into it.", True),
    (AGENT, "agent", "Refund queued in billing tool.", False),
    (REQUESTER, "requester", "Still nothing on my card.", True),
]


@pytest.fixture
def fake():
    with FakeHelpdesk(page_size=2) as server:
        server.add_zendesk_ticket(7, "Refund", REQUESTER, MESSAGES, tags=["vip"])
        server.add_freshdesk_ticket(8, "Refund", REQUESTER, MESSAGES, tags=["vip"])
        yield server


@pytest.fixture(params=["root", "prefixed"])
def zendesk(fake, request) -> ZendeskHelpdesk:
    url = fake.url if request.param == "root" else fake.zendesk_url
    return ZendeskHelpdesk(subdomain="acme", email="bot@acme.test", api_token="t", api_url=url, timeout_s=5,
                           bot_user_id=str(fake.zendesk_bot_user_id))


@pytest.fixture(params=["root", "prefixed"])
def freshdesk(fake, request) -> FreshdeskHelpdesk:
    url = fake.url if request.param == "root" else fake.freshdesk_url
    return FreshdeskHelpdesk(domain="acme", api_key="k", api_url=url, timeout_s=5,
                             bot_agent_id=str(fake.freshdesk_bot_agent_id))


def test_server_lifecycle():
    server = FakeHelpdesk().start()
    url = server.url
    assert requests.get(url + "/api/v2/tickets/1.json", auth=("a", "b"), timeout=5).status_code == 404
    server.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/api/v2/tickets/1.json", timeout=1)


def test_unauthenticated_requests_get_401(fake):
    assert requests.get(fake.url + "/api/v2/tickets/7.json", timeout=5).status_code == 401


# --- Zendesk ------------------------------------------------------------------------------------


def test_zendesk_fetch_paginates(zendesk, fake):
    ticket = zendesk.fetch_ticket(7)
    assert [(m.author_role, m.public, m.body) for m in ticket.messages] == [
        ("requester", True, "Where is my refund?"),
        ("agent", True, "Looking into it."),
        ("agent", False, "Refund queued in billing tool."),
        ("requester", True, "Still nothing on my card."),
    ]
    comment_pages = [path for method, path, _ in fake.requests if "/comments" in path]
    assert len(comment_pages) == 2


def test_zendesk_note_is_private_and_authored_by_the_bot(zendesk, fake):
    note_id = zendesk.post_note(7, "<p>Draft</p><!-- deskhand:v1 -->")
    [posted] = fake.zendesk_notes(7)
    assert str(posted["id"]) == note_id
    assert posted["public"] is False and posted["author_id"] == fake.zendesk_bot_user_id
    note = zendesk.fetch_ticket(7).messages[-1]
    assert (note.id, note.author_id, note.author_role, note.public) == (
        note_id, str(fake.zendesk_bot_user_id), "agent", False)
    puts = [body for method, path, body in fake.requests if method == "PUT" and path.endswith("/tickets/7.json")]
    assert puts == [{"ticket": {"comment": {"html_body": "<p>Draft</p><!-- deskhand:v1 -->", "public": False}}}]


def test_zendesk_note_with_routing_is_one_update_and_keeps_tags(zendesk, fake):
    zendesk.post_note(7, "<p>Draft</p>", tags=["deskhand_billing"], group_id="55")
    assert [(m, p) for m, p, _ in fake.requests if m != "GET"] == [("PUT", fake.requests[-1][1])]
    assert fake.tags("zendesk", 7) == ["vip", "deskhand_billing"] and fake.group_id("zendesk", 7) == 55


def test_zendesk_account_ignoring_additional_tags(fake):
    fake.zendesk_additional_tags = False
    zd = ZendeskHelpdesk(subdomain="acme", email="bot@acme.test", api_token="t", api_url=fake.zendesk_url,
                         bot_user_id=str(fake.zendesk_bot_user_id))
    zd.post_note(7, "<p>Draft</p>", tags=["deskhand_billing"])
    assert fake.tags("zendesk", 7) == ["vip", "deskhand_billing"]  # added through the tags endpoint
    assert zd.additional_tags_honoured is False


def test_zendesk_add_tags_and_group(zendesk, fake):
    zendesk.add_tags(7, ["deskhand_billing"])
    zendesk.set_group(7, "55")
    assert fake.tags("zendesk", 7) == ["vip", "deskhand_billing"]
    assert fake.group_id("zendesk", 7) == 55
    assert not any(body and "tags" in (body.get("ticket") or {}) for _, _, body in fake.requests)


@pytest.mark.parametrize("status,headers,retry_after_s", [(429, {"Retry-After": "7"}, 7.0), (500, None, None),
                                                          (409, None, None)])
def test_zendesk_injected_failures_are_transient(zendesk, fake, status, headers, retry_after_s, monkeypatch):
    def forbidden(seconds):
        raise AssertionError(f"slept {seconds}s inside the worker")

    monkeypatch.setattr(zenpy.lib.api, "sleep", forbidden)
    fake.fail_next("GET", r"/tickets/7\.json$", status, headers=headers)
    before = len(fake.requests)
    with pytest.raises(TransientHelpdeskError) as caught:
        zendesk.fetch_ticket(7)
    assert len(fake.requests) - before == 1  # no retry, no sleep inside the worker
    assert (caught.value.status, caught.value.retry_after_s) == (status, retry_after_s)
    assert len(zendesk.fetch_ticket(7).messages) == 4  # the failure was used up


def test_zendesk_unknown_ticket(zendesk):
    with pytest.raises(TicketNotFound):
        zendesk.fetch_ticket(999)


# --- Freshdesk ----------------------------------------------------------------------------------


def test_freshdesk_fetch_paginates(freshdesk, fake):
    ticket = freshdesk.fetch_ticket(8)
    assert [(m.id, m.author_role, m.public, m.body) for m in ticket.messages][0] == (
        "description-8", "requester", True, "Where is my refund?")
    assert [(m.author_role, m.public) for m in ticket.messages] == [
        ("requester", True), ("agent", True), ("agent", False), ("requester", True)]
    assert len([p for m, p, _ in fake.requests if "/conversations" in p]) == 2


def test_freshdesk_note_is_private_and_authored_by_the_bot(freshdesk, fake):
    note_id = freshdesk.post_note(8, "<p>Draft</p>")
    [posted] = fake.freshdesk_notes(8)
    assert str(posted["id"]) == note_id
    assert posted["private"] is True and posted["user_id"] == fake.freshdesk_bot_agent_id
    note = freshdesk.fetch_ticket(8).messages[-1]
    assert (note.id, note.author_id, note.author_role, note.public) == (
        note_id, str(fake.freshdesk_bot_agent_id), "agent", False)


def test_freshdesk_add_tags_keeps_existing(freshdesk, fake):
    freshdesk.add_tags(8, ["deskhand_billing"])
    assert fake.tags("freshdesk", 8) == ["vip", "deskhand_billing"]
    [put] = [body for method, _, body in fake.requests if method == "PUT"]
    assert put == {"tags": ["vip", "deskhand_billing"]}


def test_freshdesk_injected_429(freshdesk, fake):
    fake.fail_next("POST", r"/tickets/8/notes$", 429, headers={"Retry-After": "31"})
    with pytest.raises(TransientHelpdeskError) as caught:
        freshdesk.post_note(8, "<p>Draft</p>")
    assert (caught.value.status, caught.value.retry_after_s) == (429, 31.0)
    assert fake.freshdesk_notes(8) == []


def test_freshdesk_tag_conflict_is_retried_once(freshdesk, fake):
    fake.fail_next("PUT", r"/tickets/8$", 409)
    freshdesk.add_tags(8, ["deskhand_billing"])
    assert fake.tags("freshdesk", 8) == ["vip", "deskhand_billing"]


def test_freshdesk_unknown_ticket(freshdesk):
    with pytest.raises(TicketNotFound):
        freshdesk.fetch_ticket(999)
