"""Freshdesk adapter: shared-secret auth, event parsing and the requests client (HTTP faked with `responses`)."""
from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests
import responses
from structlog.testing import capture_logs

from integrations.base import (
    Helpdesk,
    InvalidSignature,
    MalformedPayload,
    Message,
    PermanentHelpdeskError,
    Ticket,
    TicketEvent,
    TicketNotFound,
    TransientHelpdeskError,
)
from integrations.freshdesk import (
    WEBHOOK_BODY_TEMPLATE,
    FreshdeskHelpdesk,
    decipher_response,
    merge_tags,
    note_request,
    parse_event,
    strip_quoted_reply,
    ticket_from_api,
    verify_shared_secret,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "freshdesk"
API = "https://acme.freshdesk.com/api/v2"
UTC = timezone.utc


def raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def load(name: str):
    return json.loads(raw(name))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# --- shared secret ------------------------------------------------------------------------------

SECRET = "fd-shared-secret-2f9c"


def test_secret_in_custom_header():
    verify_shared_secret(secret=SECRET, headers={"X-Deskhand-Secret": SECRET})
    verify_shared_secret(secret=SECRET, headers={"x-deskhand-secret": SECRET})


def test_secret_as_basic_auth_password_any_user():
    verify_shared_secret(secret=SECRET, headers={"Authorization": basic("freshdesk", SECRET)})
    verify_shared_secret(secret=SECRET, headers={"authorization": basic("", SECRET)})


def test_either_form_may_match():
    verify_shared_secret(secret=SECRET, headers={"X-Deskhand-Secret": "wrong", "Authorization": basic("u", SECRET)})


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Deskhand-Secret": "fd-shared-secret-2f9d"},
        {"Authorization": basic("freshdesk", "nope")},
        {"Authorization": basic(SECRET, "x")},  # the secret as user name is not enough
        {"Authorization": "Basic !!!not-base64"},
        {"Authorization": "Basic " + base64.b64encode(SECRET.encode()).decode()},  # no colon
        {"Authorization": f"Bearer {SECRET}"},
        {"X-Deskhand-Secret": SECRET + "é"},
        {},
    ],
)
def test_wrong_or_missing_secret(headers):
    with pytest.raises(InvalidSignature):
        verify_shared_secret(secret=SECRET, headers=headers)


@pytest.mark.parametrize("headers", [{"X-Deskhand-Secret": ""}, {"Authorization": basic("u", "")}, {}])
def test_empty_configured_secret_fails_closed(headers):
    with pytest.raises(InvalidSignature, match="no shared secret configured"):
        verify_shared_secret(secret="", headers=headers)


# --- event parsing ------------------------------------------------------------------------------


def digest(ticket_id: int, body: bytes) -> str:
    return hashlib.sha256(f"{ticket_id}:".encode() + body).hexdigest()


def test_webhook_template_is_json():
    assert json.loads(WEBHOOK_BODY_TEMPLATE) == {
        "freshdesk_webhook": {"ticket_id": "{{ticket.id}}", "triggered_event": "{{triggered_event}}"}
    }


def test_parse_webhook_body():
    body = raw("webhook_body.json")
    assert parse_event({}, body) == TicketEvent(
        helpdesk="freshdesk", ticket_id=7312, kind="{ticket_action:created}", delivery_id=digest(7312, body),
        actor_id=None,
    )


def test_parse_flat_body():
    body = raw("flat_body.json")
    assert parse_event({}, body) == TicketEvent(
        helpdesk="freshdesk", ticket_id=7312, kind="ticket_updated", delivery_id=digest(7312, body), actor_id=None
    )


def test_parse_string_id():
    body = raw("string_id.json")
    assert parse_event({}, body) == TicketEvent(
        helpdesk="freshdesk", ticket_id=7312, kind="ticket_updated", delivery_id=digest(7312, body), actor_id=None
    )


@pytest.mark.parametrize(
    "name_or_body,reason",
    [
        ("prefixed_id.json", "not a number"),
        ("missing_ticket_id.json", "no ticket id"),
        (b'{"freshdesk_webhook": {"ticket_id": "{{ticket.id}}"}}', "not a number"),
        (b'{"ticket_id": "12.5"}', "not a number"),
        (b'{"ticket_id": -3}', "positive"),
        (b'{"ticket_id": false}', "not a number"),
        (b'{"freshdesk_webhook": "7312"}', "not an object"),
        (b"[]", "not a JSON object"),
        (b"ticket_id=7312", "not valid JSON"),
    ],
)
def test_malformed_bodies(name_or_body, reason):
    body = raw(name_or_body) if isinstance(name_or_body, str) else name_or_body
    with pytest.raises(MalformedPayload, match=reason):
        parse_event({}, body)


def test_unrendered_triggered_event_falls_back_to_default_kind():
    event = parse_event({}, b'{"freshdesk_webhook": {"ticket_id": "9", "triggered_event": "{{triggered_event}}"}}')
    assert event is not None and event.kind == "ticket_updated"


# --- pure helpers -------------------------------------------------------------------------------


def test_note_request_is_explicitly_private():
    assert note_request("<p>x</p>") == {"body": "<p>x</p>", "private": True}


def test_merge_tags_keeps_existing_first_without_duplicates():
    assert merge_tags(["export", "web"], ["deskhand_data", "web", "", "deskhand_data"]) == [
        "export", "web", "deskhand_data",
    ]


@pytest.mark.parametrize(
    "status,cls",
    [(200, None), (201, None), (429, TransientHelpdeskError), (409, TransientHelpdeskError),
     (500, TransientHelpdeskError), (404, TicketNotFound), (400, PermanentHelpdeskError),
     (401, PermanentHelpdeskError), (422, PermanentHelpdeskError)],
)
def test_decipher_response(status, cls):
    error = decipher_response(status, {"Retry-After": "9"})
    assert (error is None) if cls is None else (type(error) is cls and error.status == status)


EXPECTED_TICKET = Ticket(
    id=7312,
    subject="CSV export stops at 1,000 rows",
    requester_id="43012345678",
    status="open",
    tags=("export", "web"),
    messages=(
        Message(
            id="description-7312", author_id="43012345678", author_role="requester",
            body="Hi, when I export my dashboard to CSV the file only has 1,000 rows.", public=True,
            created_at=at("2026-11-27T15:02:11"),
            html="<div>Hi, when I export my dashboard to CSV the file only has 1,000 rows.</div>",
        ),
        Message(
            id="43000555001", author_id="43098765432", author_role="agent",
            body="Thanks for the report. Which plan are you on, and how many rows should the export have?",
            public=True, created_at=at("2026-11-27T16:20:00"),
            html="<div>Thanks for the report. Which plan are you on, and how many rows should the export have?</div>",
        ),
        Message(
            id="43000555002", author_id="43012345678", author_role="requester",
            body="We are on the Team plan. The dashboard has about 4,800 rows.", public=True,
            created_at=at("2026-11-28T07:55:31"),
            html="<div>We are on the Team plan. The dashboard has about 4,800 rows.</div>",
        ),
        Message(
            id="43000555003", author_id="43098765432", author_role="agent",
            body="Known limit on Team exports, see the row-limit article.", public=False,
            created_at=at("2026-11-28T08:10:00"),
            html="<div>Known limit on Team exports, see the row-limit article.</div>",
        ),
        Message(
            id="43000555004", author_id="43012349999", author_role="requester",
            body="Adding my colleague: we also need the export for the monthly report.", public=True,
            created_at=at("2026-11-29T08:40:02"),
            html="<div>Adding my colleague: we also need the export for the monthly report.</div>",
        ),
    ),
    group_id=None,
    locale=None,
    fields={"cf_plan": "Team"},
)


def test_ticket_from_api_on_fixtures():
    conversations = load("conversations_page_1.json") + load("conversations_page_2.json")
    assert ticket_from_api(load("ticket_view.json"), conversations) == EXPECTED_TICKET


def test_ticket_from_api_roles_edge_cases():
    ticket = {"id": 1, "requester_id": 10, "status": 4, "source": 10, "description": "<p>Hello from us</p>",
              "description_text": "Hello from us", "created_at": "2026-01-01T00:00:00Z", "group_id": 55}
    conversations = [
        # the requester's own private note (e.g. via an app) is not a customer message
        {"id": 2, "user_id": 10, "private": True, "incoming": True, "body_text": "a", "created_at": "2026-01-01T00:02:00Z"},
        # Deskhand's note: agent, even if someone marked it incoming
        {"id": 3, "user_id": 77, "private": False, "incoming": True, "body_text": "b", "created_at": "2026-01-01T00:03:00Z"},
        {"id": 1, "user_id": 10, "private": False, "incoming": False, "body_text": "c", "created_at": "2026-01-01T00:01:00Z"},
    ]
    result = ticket_from_api(ticket, conversations, bot_agent_id="77")
    assert [(m.id, m.author_role, m.public) for m in result.messages] == [
        ("description-1", "agent", True),  # outbound e-mail: an agent wrote the description
        ("1", "requester", True),
        ("2", "agent", False),
        ("3", "agent", True),
    ]
    assert (result.status, result.group_id) == ("resolved", "55")


# --- client over HTTP (responses) ---------------------------------------------------------------

BOT = "43000000777"
CONVERSATIONS = f"{API}/tickets/7312/conversations?per_page=100"
CONVERSATIONS_2 = f"{API}/tickets/7312/conversations?per_page=100&page=2"


@pytest.fixture
def fd() -> FreshdeskHelpdesk:
    return FreshdeskHelpdesk(domain="acme", api_key="fd-api-key", timeout_s=4.0, bot_agent_id=BOT)


@pytest.fixture
def rsps():
    with responses.RequestsMock() as mock:
        yield mock


def ratelimit(remaining: int) -> dict[str, str]:
    return {"X-Ratelimit-Total": "400", "X-Ratelimit-Remaining": str(remaining), "X-Ratelimit-Used-CurrentRequest": "1"}


def add_ticket_responses(rsps) -> None:
    rsps.get(f"{API}/tickets/7312", json=load("ticket_view.json"), headers=ratelimit(399))
    rsps.get(CONVERSATIONS, json=load("conversations_page_1.json"),
             headers={**ratelimit(398), "Link": f'<{CONVERSATIONS_2}>; rel="next"'})
    rsps.get(CONVERSATIONS_2, json=load("conversations_page_2.json"), headers=ratelimit(397))


def test_is_a_helpdesk(fd):
    assert isinstance(fd, Helpdesk) and fd.name == "freshdesk"


def test_domain_forms():
    for domain in ("acme", "acme.freshdesk.com"):
        assert FreshdeskHelpdesk(domain=domain, api_key="k")._base == "https://acme.freshdesk.com"


def test_fetch_ticket_follows_link_header(fd, rsps):
    add_ticket_responses(rsps)
    assert fd.fetch_ticket(7312) == EXPECTED_TICKET
    assert [c.request.url for c in rsps.calls] == [f"{API}/tickets/7312", CONVERSATIONS, CONVERSATIONS_2]
    assert all(c.request.req_kwargs["timeout"] == 4.0 for c in rsps.calls)
    assert rsps.calls[0].request.headers["Authorization"] == basic("fd-api-key", "X")


def test_ratelimit_remaining_is_logged_without_ticket_text(fd, rsps):
    add_ticket_responses(rsps)
    with capture_logs() as logs:
        fd.fetch_ticket(7312)
    assert [entry["ratelimit_remaining"] for entry in logs] == ["399", "398", "397"]
    text = json.dumps(logs)
    assert "CSV" not in text and "4,800" not in text and "fd-api-key" not in text


def test_pagination_link_to_another_host_is_refused(fd, rsps):
    rsps.get(f"{API}/tickets/7312", json=load("ticket_view.json"))
    rsps.get(CONVERSATIONS, json=[], headers={"Link": '<https://evil.example/api/v2/x?page=2>; rel="next"'})
    with pytest.raises(PermanentHelpdeskError, match="another host"):
        fd.fetch_ticket(7312)
    assert len(rsps.calls) == 2


def test_post_note_is_private(fd, rsps):
    rsps.post(f"{API}/tickets/7312/notes", status=201, json=load("create_note_response.json"))
    html = "<p>Draft</p><!-- deskhand:v1 -->"
    assert fd.post_note(7312, html) == "43000555010"
    assert json.loads(rsps.calls[0].request.body) == {"body": html, "private": True}


def test_add_tags_merges_with_fresh_read(fd, rsps):
    rsps.get(f"{API}/tickets/7312", json=load("ticket_view.json"))
    rsps.put(f"{API}/tickets/7312", json={**load("ticket_view.json"), "tags": ["export", "web", "deskhand_data"]})
    fd.add_tags(7312, ["deskhand_data", "web"])
    assert [c.request.method for c in rsps.calls] == ["GET", "PUT"]
    assert json.loads(rsps.calls[1].request.body) == {"tags": ["export", "web", "deskhand_data"]}


def test_add_tags_already_present_sends_no_update(fd, rsps):
    rsps.get(f"{API}/tickets/7312", json=load("ticket_view.json"))
    fd.add_tags(7312, ["web"])
    assert [c.request.method for c in rsps.calls] == ["GET"]


def test_add_tags_retries_once_on_conflict_with_a_fresh_read(fd, rsps):
    rsps.get(f"{API}/tickets/7312", json=load("ticket_view.json"))
    rsps.put(f"{API}/tickets/7312", status=409, json={"description": "conflict"})
    rsps.get(f"{API}/tickets/7312", json={**load("ticket_view.json"), "tags": ["export", "web", "vip"]})
    rsps.put(f"{API}/tickets/7312", json=load("ticket_view.json"))
    fd.add_tags(7312, ["deskhand_data"])
    assert [c.request.method for c in rsps.calls] == ["GET", "PUT", "GET", "PUT"]
    assert json.loads(rsps.calls[3].request.body) == {"tags": ["export", "web", "vip", "deskhand_data"]}


def test_add_tags_second_conflict_is_transient(fd, rsps):
    rsps.get(f"{API}/tickets/7312", json=load("ticket_view.json"))
    rsps.put(f"{API}/tickets/7312", status=409, json={"description": "conflict"})
    with pytest.raises(TransientHelpdeskError) as caught:
        fd.add_tags(7312, ["deskhand_data"])
    assert caught.value.status == 409 and len(rsps.calls) == 4


def test_set_group(fd, rsps):
    rsps.put(f"{API}/tickets/7312", json={**load("ticket_view.json"), "group_id": 43000011})
    fd.set_group(7312, "43000011")
    assert json.loads(rsps.calls[0].request.body) == {"group_id": 43000011}
    with pytest.raises(PermanentHelpdeskError):
        fd.set_group(7312, "Billing team")


@pytest.mark.parametrize("headers,retry_after_s", [({"Retry-After": "17"}, 17.0), ({}, None)])
def test_429(fd, rsps, headers, retry_after_s):
    rsps.get(f"{API}/tickets/7312", status=429, headers={**headers, **ratelimit(0)}, json={})
    with pytest.raises(TransientHelpdeskError) as caught:
        fd.fetch_ticket(7312)
    assert (caught.value.status, caught.value.retry_after_s) == (429, retry_after_s)
    assert isinstance(caught.value.__cause__, requests.HTTPError) and len(rsps.calls) == 1


def test_500_is_transient(fd, rsps):
    rsps.post(f"{API}/tickets/7312/notes", status=500, body="")
    with pytest.raises(TransientHelpdeskError) as caught:
        fd.post_note(7312, "<p>x</p>")
    assert caught.value.status == 500


@pytest.mark.parametrize("exc", [requests.exceptions.ConnectTimeout("slow"), requests.exceptions.ConnectionError("x")])
def test_timeout_and_connection_errors_are_transient(fd, rsps, exc):
    rsps.get(f"{API}/tickets/7312", body=exc)
    with pytest.raises(TransientHelpdeskError) as caught:
        fd.fetch_ticket(7312)
    assert caught.value.__cause__ is exc


def test_404_is_ticket_not_found(fd, rsps):
    rsps.get(f"{API}/tickets/7312", status=404, body="")
    with pytest.raises(TicketNotFound):
        fd.fetch_ticket(7312)


@pytest.mark.parametrize("status", [400, 422, 403])
def test_other_4xx_are_permanent(fd, rsps, status):
    rsps.put(f"{API}/tickets/7312", status=status,
             json={"description": "Validation failed",
                   "errors": [{"field": "group_id", "message": "There is no group matching the given group_id",
                               "code": "invalid_value"}]})
    with pytest.raises(PermanentHelpdeskError) as caught:
        fd.set_group(7312, "1")
    assert type(caught.value) is PermanentHelpdeskError and caught.value.status == status


def test_non_json_body_is_an_error(fd, rsps):
    rsps.get(f"{API}/tickets/7312", body="<html>login</html>", content_type="text/html")
    with pytest.raises(PermanentHelpdeskError, match="not JSON"):
        fd.fetch_ticket(7312)


# --- note with routing, rate-limit reserve, quoted replies, broken bodies ------------------------


def test_post_note_with_tags_and_group_reads_fresh_then_updates_then_posts(fd, rsps):
    rsps.get(f"{API}/tickets/7312", json=load("ticket_view.json"))
    rsps.put(f"{API}/tickets/7312", json=load("ticket_view.json"))
    rsps.post(f"{API}/tickets/7312/notes", status=201, json=load("create_note_response.json"))
    assert fd.post_note(7312, "<p>Draft</p>", tags=["deskhand_data", "web"], group_id="43000011") == "43000555010"
    assert [c.request.method for c in rsps.calls] == ["GET", "PUT", "POST"]  # routing before the note
    assert json.loads(rsps.calls[1].request.body) == {"tags": ["export", "web", "deskhand_data"], "group_id": 43000011}
    assert json.loads(rsps.calls[2].request.body) == {"body": "<p>Draft</p>", "private": True}


def test_post_note_skips_routing_calls_when_the_fetch_already_had_everything(fd, rsps):
    add_ticket_responses(rsps)
    fd.fetch_ticket(7312)
    rsps.post(f"{API}/tickets/7312/notes", status=201, json=load("create_note_response.json"))
    rsps.calls.reset()
    fd.post_note(7312, "<p>Follow-up</p>", tags=["export"])
    assert [c.request.method for c in rsps.calls] == ["POST"]  # nothing to add: no read, no update


def test_post_note_routing_failure_posts_no_note(fd, rsps):
    rsps.get(f"{API}/tickets/7312", json=load("ticket_view.json"))
    rsps.put(f"{API}/tickets/7312", status=503, headers={"Retry-After": "20"})
    with pytest.raises(TransientHelpdeskError) as caught:
        fd.post_note(7312, "<p>Draft</p>", tags=["deskhand_data"])
    assert caught.value.retry_after_s == 20.0
    assert [c.request.method for c in rsps.calls] == ["GET", "PUT"]


def test_post_note_rejects_non_numeric_group_before_any_call(fd, rsps):
    with pytest.raises(PermanentHelpdeskError):
        fd.post_note(7312, "<p>x</p>", group_id="Billing")
    assert len(rsps.calls) == 0


def test_error_fixtures_map_to_the_error_tree(fd, rsps):
    rsps.get(f"{API}/tickets/1", status=429, headers={"Retry-After": "41"}, json=load("error_429.json"))
    rsps.get(f"{API}/tickets/2", status=404, json=load("error_404.json"))
    rsps.put(f"{API}/tickets/3", status=400, json=load("error_400_validation.json"))
    with pytest.raises(TransientHelpdeskError) as rate_limited:
        fd.fetch_ticket(1)
    assert rate_limited.value.retry_after_s == 41.0
    with pytest.raises(TicketNotFound):
        fd.fetch_ticket(2)
    with pytest.raises(PermanentHelpdeskError) as invalid:
        fd.set_group(3, "9")
    assert invalid.value.status == 400


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_ratelimit_reserve_defers_the_next_job_without_calling_freshdesk(rsps):
    clock = Clock()
    fd = FreshdeskHelpdesk(domain="acme", api_key="k", ratelimit_reserve=10, clock=clock)
    rsps.get(f"{API}/tickets/7312", json=load("ticket_view.json"), headers=ratelimit(12))
    rsps.get(CONVERSATIONS, json=[], headers=ratelimit(9))
    fd.fetch_ticket(7312)  # ends with 9 calls left: at the reserve
    clock.now += 15
    with pytest.raises(TransientHelpdeskError) as caught:
        fd.fetch_ticket(7312)
    assert caught.value.retry_after_s == pytest.approx(45.0) and len(rsps.calls) == 2  # no call spent
    clock.now += 46  # the per-minute window has passed: the old figure no longer says anything
    fd.fetch_ticket(7312)
    assert len(rsps.calls) == 4


def test_ratelimit_reserve_zero_never_defers(rsps):
    fd = FreshdeskHelpdesk(domain="acme", api_key="k", ratelimit_reserve=0)
    rsps.get(f"{API}/tickets/7312", json=load("ticket_view.json"), headers=ratelimit(0))
    rsps.get(CONVERSATIONS, json=[], headers=ratelimit(0))
    fd.fetch_ticket(7312)
    fd.fetch_ticket(7312)


def test_email_reply_quoting_the_thread_keeps_only_the_new_text():
    conversation = load("conversation_email_reply.json")
    ticket = ticket_from_api(load("ticket_view.json"), [conversation])
    reply = ticket.messages[-1]
    assert reply.body == "Thanks, the Team plan export limit explains it. Can I pay for a one-off full export?"
    assert reply.html == conversation["body"]  # the HTML is kept as Freshdesk sent it


@pytest.mark.parametrize("text,expected", [
    ("Yes please.\n\n----- Original message -----\nFrom: Support\nOld text", "Yes please."),
    ("Yes please.\nOn Thu, 27 Nov 2026 at 16:20, Support <s@x.test> wrote:\n> Old text", "Yes please."),
    ("Yes please.\n> quoted line\nStill mine.", "Yes please.\nStill mine."),
    ("> only a quote", "> only a quote"),  # nothing would remain: keep the message as it is
    ("Plain message without quotes.", "Plain message without quotes."),
])
def test_strip_quoted_reply_on_plain_text(text, expected):
    assert strip_quoted_reply("", text) == expected


def test_broken_json_body_recovers_the_ticket_id_only():
    body = raw("webhook_body_broken_json.json")
    with pytest.raises(ValueError):
        json.loads(body)
    with capture_logs() as logs:
        event = parse_event({}, body)
    assert (event.ticket_id, event.kind, event.vendor_delivery_id) == (7312, "ticket_updated", None)
    assert logs[0]["event"] == "freshdesk.lenient_parse"


@pytest.mark.parametrize("body", [
    b'[{"freshdesk_webhook": {"ticket_id": "7312"}}]',
    b'[{"ticket_id": 7312}]',
    b'"{\\"ticket_id\\": 7312}"',
])
def test_valid_json_that_is_not_an_object_is_refused_even_with_a_ticket_id_inside(body):
    json.loads(body)  # valid JSON: the lenient recovery is only for bodies a placeholder broke
    with capture_logs() as logs, pytest.raises(MalformedPayload, match="not a JSON object"):
        parse_event({}, body)
    assert logs == []


def test_lenient_recovery_still_covers_a_broken_object_and_a_truncated_one():
    broken = b'{"freshdesk_webhook": {"ticket_id": "7312", "triggered_event": "Subject: "urgent""}}'
    truncated = b'{"ticket_id": 7312, "triggered_event": "'
    assert parse_event({}, broken).ticket_id == 7312
    assert parse_event({}, truncated).ticket_id == 7312
    with pytest.raises(MalformedPayload, match="not valid JSON"):
        parse_event({}, b'{"freshdesk_webhook": {"ticket": "7312"')


def test_freshdesk_events_never_carry_a_vendor_delivery_id():
    assert parse_event({}, raw("webhook_body.json")).vendor_delivery_id is None
