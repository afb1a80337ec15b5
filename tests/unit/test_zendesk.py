"""Zendesk adapter: signature, event parsing and the zenpy-backed client (HTTP faked with `responses`)."""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
import responses
import responses.matchers
import zenpy.lib.api
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
from integrations.zendesk import (
    MAX_COMMENT_BYTES,
    TRIGGER_BODY_TEMPLATE,
    ZendeskHelpdesk,
    comment_id_from_update,
    decipher_response,
    escape_placeholders,
    fit_comment,
    note_update,
    parse_event,
    parse_retry_after,
    ticket_from_api,
    verify_signature,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "zendesk"
API = "https://acme.zendesk.com/api/v2"
UTC = timezone.utc


def raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def load(name: str) -> dict:
    return json.loads(raw(name))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- signature ----------------------------------------------------------------------------------

# Derived once with `openssl dgst -sha256 -hmac <secret> -binary | base64` over timestamp + body.
SECRET = "deskhand-test-signing-secret"
TIMESTAMP = "2026-11-29T10:00:00Z"
BODY = b'{"deskhand_event": "ticket_changed", "ticket_id": "48213"}'
SIGNATURE = "wsuce59tA4Xn3Wych0MoL5LWVb2izdYCxaRHwZm3BV0="
SIGNED_AT = datetime(2026, 11, 29, 10, 0, 0, tzinfo=UTC)


def test_signature_vector_verifies():
    verify_signature(secret=SECRET, timestamp=TIMESTAMP, body=BODY, signature=SIGNATURE, now=SIGNED_AT)


def test_signature_epoch_seconds_timestamp():
    # 1795946400 == 2026-11-29T10:00:00Z; vector derived with openssl over "1795946400" + b'{"a":1}'.
    verify_signature(
        secret=SECRET,
        timestamp="1795946400",
        body=b'{"a":1}',
        signature="Qi1gDzWI3v7IrJmjmL6F9ORtncgp5RBZseoBDblJSUI=",
        now=SIGNED_AT,
    )


def test_signature_accepts_both_documented_orders_and_logs_the_older_one():
    # The example of Zendesk's older docs page only verifies as body+timestamp; current docs use
    # timestamp+body. Both are accepted, and the reading that matched is returned (and logged when it is
    # the older one). Both digests were computed with openssl.
    secret, ts, body = "HRkRd4BeOAoUkfZr-mhauJT64rvBASlJRoIyPsd3zeA=", "2021-07-25T10:00:00Z", b'{"say": "hello"}'
    then = datetime(2021, 7, 25, 10, 0, 30, tzinfo=UTC)
    with capture_logs() as logs:
        assert verify_signature(secret=secret, timestamp=ts, body=body,
                                signature="Rry/4TtIdFyawtXXp8QdI6tlAUUQ/5kL1OTp5qo/ZIk=", now=then) == "timestamp+body"
        assert logs == []
        assert verify_signature(secret=secret, timestamp=ts, body=body,
                                signature="tRDSF7URY8BLCDlaBcQ7FHu051Zk+aAB0NKMP53teMw=", now=then) == "body+timestamp"
    assert logs[0]["event"] == "zendesk.signature_reading"
    with pytest.raises(InvalidSignature, match="mismatch"):  # the older order still needs the right secret
        verify_signature(secret="other", timestamp=ts, body=body,
                         signature="tRDSF7URY8BLCDlaBcQ7FHu051Zk+aAB0NKMP53teMw=", now=then)


def test_signature_wrong_secret():
    with pytest.raises(InvalidSignature, match="mismatch"):
        verify_signature(secret="another-secret", timestamp=TIMESTAMP, body=BODY, signature=SIGNATURE, now=SIGNED_AT)


def test_signature_reserialized_body_is_rejected():
    reserialized = json.dumps(json.loads(BODY), separators=(",", ":")).encode()
    assert reserialized != BODY and json.loads(reserialized) == json.loads(BODY)
    with pytest.raises(InvalidSignature, match="mismatch"):
        verify_signature(secret=SECRET, timestamp=TIMESTAMP, body=reserialized, signature=SIGNATURE, now=SIGNED_AT)


def test_signature_stale_timestamp():
    with pytest.raises(InvalidSignature, match="stale"):
        verify_signature(secret=SECRET, timestamp=TIMESTAMP, body=BODY, signature=SIGNATURE,
                         now=SIGNED_AT + timedelta(seconds=301))


def test_signature_future_timestamp():
    with pytest.raises(InvalidSignature, match="future"):
        verify_signature(secret=SECRET, timestamp=TIMESTAMP, body=BODY, signature=SIGNATURE,
                         now=SIGNED_AT - timedelta(seconds=301))


def test_signature_skew_boundary_is_inclusive():
    for delta in (300, -300):
        verify_signature(secret=SECRET, timestamp=TIMESTAMP, body=BODY, signature=SIGNATURE,
                         now=SIGNED_AT + timedelta(seconds=delta))


@pytest.mark.parametrize(
    "secret,timestamp,signature,reason",
    [
        ("", TIMESTAMP, SIGNATURE, "no signing secret"),
        (SECRET, TIMESTAMP, "", "missing signature"),
        (SECRET, "", SIGNATURE, "missing signature timestamp"),
        (SECRET, "yesterday", SIGNATURE, "unparseable"),
        (SECRET, TIMESTAMP, "not base64 at all ✓", "mismatch"),
    ],
)
def test_signature_bad_inputs(secret, timestamp, signature, reason):
    with pytest.raises(InvalidSignature, match=reason):
        verify_signature(secret=secret, timestamp=timestamp, body=BODY, signature=signature, now=SIGNED_AT)


# --- event parsing ------------------------------------------------------------------------------


def test_trigger_template_is_json_with_quoted_placeholders():
    template = json.loads(TRIGGER_BODY_TEMPLATE)
    assert template == {
        "deskhand_event": "ticket_changed",
        "ticket_id": "{{ticket.id}}",
        "current_user_id": "{{current_user.id}}",
        "updated_at": "{{ticket.updated_at_with_timestamp}}",
    }


def test_parse_trigger_body_uses_invocation_header_case_insensitively():
    event = parse_event({"x-zendesk-webhook-invocation-id": "01JDZK3V9Q8M2W"}, raw("ticket_created.json"))
    assert event == TicketEvent(
        helpdesk="zendesk", ticket_id=48213, kind="ticket_changed", delivery_id="01JDZK3V9Q8M2W",
        actor_id="3910012001", vendor_delivery_id="01JDZK3V9Q8M2W",
    )


def test_parse_trigger_body_without_header_uses_body_digest():
    body = raw("ticket_created.json")
    assert parse_event({}, body) == TicketEvent(
        helpdesk="zendesk", ticket_id=48213, kind="ticket_changed",
        delivery_id=hashlib.sha256(body).hexdigest(), actor_id="3910012001", vendor_delivery_id=None,
    )


def test_parse_ticket_created_event():
    event = parse_event({"X-Zendesk-Webhook-Invocation-Id": "01JDZK3V9Q8M2W"}, raw("ticket_created_event.json"))
    assert event == TicketEvent(
        helpdesk="zendesk", ticket_id=48213, kind="ticket_created",
        delivery_id="5f0e2b9a-1c3d-4e6f-8a7b-9c0d1e2f3a4b", actor_id="3910012001",
        vendor_delivery_id="5f0e2b9a-1c3d-4e6f-8a7b-9c0d1e2f3a4b",  # the envelope id wins over the header
    )


def test_parse_comment_added_event():
    assert parse_event({}, raw("comment_added.json")) == TicketEvent(
        helpdesk="zendesk", ticket_id=48213, kind="comment_added",
        delivery_id="a7c9e1f3-2b4d-4f6a-8c0e-1d3f5a7b9c2e", actor_id="3910012001",
        vendor_delivery_id="a7c9e1f3-2b4d-4f6a-8c0e-1d3f5a7b9c2e",
    )


@pytest.mark.parametrize("name", ["ticket_tags_changed.json", "user_deleted.json", "unknown_event.json"])
def test_known_other_and_unknown_events_are_ignored(name):
    assert parse_event({}, raw(name)) is None


def test_internal_note_event_is_ignored_at_intake():
    # Deskhand's own note (and any agent's) comes back as comment_added: not a customer message.
    assert parse_event({}, raw("comment_added_internal_note.json")) is None


@pytest.mark.parametrize("comment", [{"is_public": "false"}, {"author": {"id": "5", "is_staff": True}},
                                     {"author": {"id": "5", "is_staff": "true"}}])
def test_staff_or_private_comments_are_ignored(comment):
    payload = load("comment_added.json")
    payload["event"]["comment"].update(comment)
    assert parse_event({}, json.dumps(payload).encode()) is None


def test_comment_event_without_visibility_flags_is_kept():
    payload = load("comment_added.json")
    del payload["event"]["comment"]["is_public"], payload["event"]["comment"]["author"]["is_staff"]
    assert parse_event({}, json.dumps(payload).encode()).kind == "comment_added"


def test_event_text_is_not_carried_into_the_job():
    # The event's comment body may be truncated; the job must fetch the comment, so the event has no text.
    event = parse_event({}, raw("comment_added_truncated.json"))
    assert event.ticket_id == 48213 and event.kind == "comment_added"
    assert "Following up" not in repr(event)


def test_unknown_future_event_type_is_ignored():
    body = json.dumps({"type": "zen:event-type:ticket.sla_breached", "id": "x", "detail": {"id": "1"}}).encode()
    assert parse_event({}, body) is None


def test_missing_ticket_id_is_malformed():
    with pytest.raises(MalformedPayload, match="no ticket id"):
        parse_event({}, raw("missing_ticket_id.json"))


def test_ticket_id_from_subject_when_detail_has_none():
    payload = load("comment_added.json")
    del payload["detail"]["id"]
    event = parse_event({}, json.dumps(payload).encode())
    assert event is not None and event.ticket_id == 48213


def test_detail_and_subject_disagree_is_malformed():
    payload = load("comment_added.json")
    payload["subject"] = "zen:ticket:1"
    with pytest.raises(MalformedPayload, match="different tickets"):
        parse_event({}, json.dumps(payload).encode())


def test_actor_falls_back_to_detail_actor_id():
    payload = load("comment_added.json")
    del payload["event"]["comment"]["author"]
    event = parse_event({}, json.dumps(payload).encode())
    assert event is not None and event.actor_id == "3910012001"


@pytest.mark.parametrize(
    "body,reason",
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"hello": "world"}', "neither"),
        (b'{"type": "ticket.created", "detail": {"id": "1"}}', "neither"),
        (b'{"deskhand_event": "ticket_changed", "ticket_id": "{{ticket.id}}"}', "not a number"),
        (b'{"deskhand_event": "ticket_changed", "ticket_id": "48a"}', "not a number"),
        (b'{"deskhand_event": "ticket_changed", "ticket_id": ""}', "no ticket id"),
        (b'{"deskhand_event": "ticket_changed", "ticket_id": true}', "not a number"),
        (b'{"deskhand_event": "ticket_changed", "ticket_id": "0"}', "positive"),
        (b'{"deskhand_event": "", "ticket_id": "5"}', "deskhand_event"),
        (b'{"deskhand_event": "something_else", "ticket_id": "5"}', r"unknown deskhand_event 'something_else' \(valid: ticket_changed\)"),
        (b'\xff\xfe', "not valid JSON"),
    ],
)
def test_malformed_bodies(body, reason):
    with pytest.raises(MalformedPayload, match=reason):
        parse_event({}, body)


def test_trigger_body_with_numeric_id_and_unrendered_user():
    body = b'{"deskhand_event": "ticket_changed", "ticket_id": 77, "current_user_id": "{{current_user.id}}"}'
    event = parse_event({}, body)
    assert event is not None and (event.ticket_id, event.actor_id) == (77, None)


# --- pure response helpers ----------------------------------------------------------------------


def test_parse_retry_after():
    now = datetime(2026, 11, 29, 10, 0, 0, tzinfo=UTC)
    assert parse_retry_after("30") == 30.0
    assert parse_retry_after("1.5") == 1.5
    assert parse_retry_after("-4") == 0.0
    assert parse_retry_after("Sun, 29 Nov 2026 10:00:45 GMT", now=now) == 45.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None


@pytest.mark.parametrize(
    "status,cls",
    [(200, None), (204, None), (409, TransientHelpdeskError), (429, TransientHelpdeskError),
     (500, TransientHelpdeskError), (503, TransientHelpdeskError), (404, TicketNotFound),
     (401, PermanentHelpdeskError), (403, PermanentHelpdeskError), (422, PermanentHelpdeskError)],
)
def test_decipher_response(status, cls):
    error = decipher_response(status, {"retry-after": "12"})
    if cls is None:
        assert error is None
    else:
        assert type(error) is cls and error.status == status
        if cls is TransientHelpdeskError:
            assert error.retry_after_s == 12.0


def test_comment_id_from_update():
    assert comment_id_from_update(load("ticket_update_response.json")) == "27000000000121"
    assert comment_id_from_update({"audit": {"id": 5, "events": [{"type": "Change", "id": 6}]}}) == "5"
    with pytest.raises(PermanentHelpdeskError):
        comment_id_from_update({"ticket": {"id": 1}})


EXPECTED_TICKET = Ticket(
    id=48213,
    subject="Charged twice for November",
    requester_id="3910012001",
    status="open",
    tags=("billing", "web"),
    messages=(
        Message(
            id="27000000000101", author_id="3910012001", author_role="requester",
            body="Hello, I was charged twice for my November invoice. Can you refund one of the charges?",
            public=True, created_at=at("2026-11-28T08:14:03"),
            html='<div class="zd-comment" dir="auto"><p dir="auto">Hello, I was charged twice for my November '
                 "invoice. Can you refund one of the charges?</p></div>",
        ),
        Message(
            id="27000000000102", author_id="3910012002", author_role="agent",
            body="Checking the payment provider log before replying.", public=False,
            created_at=at("2026-11-28T09:02:40"),
            html='<div class="zd-comment" dir="auto"><p dir="auto">Checking the payment provider log before '
                 "replying.</p></div>",
        ),
        Message(
            id="27000000000103", author_id="3910012002", author_role="agent",
            body="Sorry about that! Could you send the invoice number so I can find both charges?", public=True,
            created_at=at("2026-11-28T09:05:12"),
            html='<div class="zd-comment" dir="auto"><p dir="auto">Sorry about that! Could you send the invoice '
                 "number so I can find both charges?</p></div>",
        ),
        Message(
            id="27000000000104", author_id="3910019999", author_role="agent",
            body="Deskhand · Billing › Refund · urgency normal", public=False,
            created_at=at("2026-11-28T09:05:30"),
            html='<div class="zd-comment" dir="auto"><p>Deskhand · Billing › Refund · urgency normal</p>'
                 "<!-- deskhand:v1 ticket=48213 answers=27000000000101 --></div>",
        ),
        Message(
            id="27000000000105", author_id="3910012001", author_role="requester",
            body="The invoice number is INV-2291.", public=True, created_at=at("2026-11-29T09:58:41"),
            html='<div class="zd-comment" dir="auto"><p dir="auto">The invoice number is INV-2291.</p></div>',
        ),
    ),
    group_id="3910000550",
    locale="pl",
    fields={"360011112222": "pro_annual"},
)


def test_ticket_from_api_on_fixtures():
    comments = load("comments_page_1.json")["comments"] + load("comments_page_2.json")["comments"]
    ticket = ticket_from_api(load("ticket_show.json")["ticket"], comments, load("users_show_many.json")["users"])
    assert ticket == EXPECTED_TICKET
    assert ticket.latest_customer_message().id == "27000000000105"


def test_ticket_from_api_roles_without_user_records():
    ticket = {"id": 5, "requester_id": 10, "status": "open", "subject": "s"}
    comments = [
        {"id": 3, "author_id": 30, "body": "bot", "public": False, "created_at": "2026-01-01T00:03:00Z"},
        {"id": 1, "author_id": 10, "body": "hi", "public": True, "created_at": "2026-01-01T00:01:00Z"},
        {"id": 2, "author_id": 20, "body": "cc", "public": True, "created_at": "2026-01-01T00:02:00Z"},
        {"id": 4, "author_id": -1, "body": "sys", "public": False, "created_at": "2026-01-01T00:04:00Z"},
    ]
    users = [{"id": 30, "role": "end-user"}]  # a misconfigured record: the bot id still wins
    result = ticket_from_api(ticket, comments, users, bot_user_id="30")
    assert [(m.id, m.author_role) for m in result.messages] == [
        ("1", "requester"),  # deleted user record, but it is the requester
        ("2", "agent"),  # unknown author: never treated as the customer
        ("3", "agent"),
        ("4", "system"),
    ]
    assert result.messages[0].body == "hi" and result.locale is None


# --- client over HTTP (responses) ---------------------------------------------------------------

BOT = "3910019999"


@pytest.fixture
def zd() -> ZendeskHelpdesk:
    return ZendeskHelpdesk(subdomain="acme", email="deskhand@acme-support.test", api_token="tok", timeout_s=3.0,
                           bot_user_id=BOT)


@pytest.fixture
def rsps():
    with responses.RequestsMock() as mock:
        yield mock


@pytest.fixture
def no_zenpy_sleep(monkeypatch):
    """zenpy must never wait for a rate limit inside the worker: fail loudly if it tries."""

    def forbidden(seconds):
        raise AssertionError(f"zenpy slept {seconds}s")

    monkeypatch.setattr(zenpy.lib.api, "sleep", forbidden)


COMMENTS_1 = "/tickets/48213/comments.json?page[size]=100&include=users&include_inline_images=false"


def add_ticket_responses(rsps, base: str = API) -> None:
    rsps.get(f"{base}/tickets/48213.json", json=load("ticket_show.json"))
    rsps.get(f"{base}{COMMENTS_1}", json=load("comments_with_users_page_1.json"))
    next_url = load("comments_with_users_page_1.json")["links"]["next"].replace(API, base)
    rsps.get(next_url, json=load("comments_with_users_page_2.json"))


def test_is_a_helpdesk(zd):
    assert isinstance(zd, Helpdesk) and zd.name == "zendesk"


def test_fetch_ticket_reads_all_pages_and_roles_in_two_calls_per_page(zd, rsps, no_zenpy_sleep):
    add_ticket_responses(rsps)
    assert zd.fetch_ticket(48213) == EXPECTED_TICKET
    # ticket + 2 comment pages with their authors sideloaded: no separate users call
    assert [c.request.method for c in rsps.calls] == ["GET"] * 3
    assert "include=users" in rsps.calls[1].request.url and "include=users" in rsps.calls[2].request.url
    assert all(c.request.req_kwargs["timeout"] == 3.0 for c in rsps.calls)
    assert rsps.calls[0].request.headers["Authorization"].startswith("Basic ")


def test_authors_missing_from_the_sideload_are_read_with_show_many(zd, rsps):
    rsps.get(f"{API}/tickets/48213.json", json=load("ticket_show.json"))
    page_1, page_2 = load("comments_with_users_page_1.json"), load("comments_with_users_page_2.json")
    page_1["users"], page_2["users"] = [], [u for u in page_2["users"] if u["id"] != 3910019999]
    rsps.get(f"{API}{COMMENTS_1}", json=page_1)
    rsps.get(page_1["links"]["next"], json=page_2)
    only_missing = responses.matchers.query_param_matcher({"ids": "3910019999"})  # asks only for the bot
    rsps.get(f"{API}/users/show_many.json", match=[only_missing],
             json={"users": [u for u in load("users_show_many.json")["users"] if u["id"] == 3910019999]})
    ticket = zd.fetch_ticket(48213)
    assert [m.author_role for m in ticket.messages] == [m.author_role for m in EXPECTED_TICKET.messages]
    assert len(rsps.calls) == 4


def test_cached_ticket_is_never_served(zd, rsps):
    # zenpy caches objects by default; a second read must reach Zendesk and see the new state.
    add_ticket_responses(rsps)
    zd.fetch_ticket(48213)
    changed = load("ticket_show.json")
    changed["ticket"]["tags"] = ["billing", "web", "vip"]
    rsps.replace(responses.GET, f"{API}/tickets/48213.json", json=changed)
    assert zd.fetch_ticket(48213).tags == ("billing", "web", "vip")
    assert sum(c.request.url.endswith("/tickets/48213.json") for c in rsps.calls) == 2


def test_api_url_replaces_the_zendesk_host(rsps):
    base = "http://zendesk-proxy.internal:8080/api/v2"
    add_ticket_responses(rsps, base=base)
    zd = ZendeskHelpdesk(subdomain="acme", email="e@x.test", api_token="tok",
                         api_url="http://zendesk-proxy.internal:8080/", bot_user_id=BOT)
    assert zd.fetch_ticket(48213) == EXPECTED_TICKET


def test_pagination_link_to_another_host_is_refused(zd, rsps):
    rsps.get(f"{API}/tickets/48213.json", json=load("ticket_show.json"))
    page = load("comments_with_users_page_1.json")
    page["links"]["next"] = "https://attacker.example/api/v2/tickets/48213/comments.json?page%5Bafter%5D=x"
    rsps.get(f"{API}/tickets/48213/comments.json", json=page)
    with pytest.raises(PermanentHelpdeskError, match="attacker.example"):
        zd.fetch_ticket(48213)
    assert len(rsps.calls) == 2


def test_pagination_that_does_not_advance_stops(zd, rsps):
    rsps.get(f"{API}/tickets/48213.json", json=load("ticket_show.json"))
    page = load("comments_with_users_page_1.json")
    page["links"]["next"] = f"{API}{COMMENTS_1}"  # the same page again, forever
    rsps.get(f"{API}/tickets/48213/comments.json", json=page)
    with pytest.raises(PermanentHelpdeskError, match="did not advance"):
        zd.fetch_ticket(48213)


@pytest.mark.parametrize("headers,retry_after_s", [({"Retry-After": "30"}, 30.0), ({}, None)])
def test_429_raises_transient_without_sleeping(zd, rsps, no_zenpy_sleep, headers, retry_after_s):
    rsps.get(f"{API}/tickets/48213.json", status=429, headers=headers, json=load("error_429.json"))
    with pytest.raises(TransientHelpdeskError) as caught:
        zd.fetch_ticket(48213)
    assert len(rsps.calls) == 1  # no retry inside the adapter, and no_zenpy_sleep proves no wait
    assert (caught.value.status, caught.value.retry_after_s) == (429, retry_after_s)
    assert isinstance(caught.value.__cause__, requests.HTTPError)


def test_429_on_a_write_is_not_retried_inside_the_worker(zd, rsps, no_zenpy_sleep):
    rsps.put(f"{API}/tickets/48213.json", status=429, headers={"Retry-After": "2"}, json=load("error_429.json"))
    with pytest.raises(TransientHelpdeskError) as caught:
        zd.post_note(48213, "<p>x</p>", tags=["deskhand_billing"])
    assert caught.value.retry_after_s == 2.0 and len(rsps.calls) == 1


def test_429_from_zenpy_calls_does_not_sleep(zd, rsps, no_zenpy_sleep):
    rsps.put(f"{API}/tickets/48213/tags.json", status=429, headers={"Retry-After": "9"}, json=load("error_429.json"))
    with pytest.raises(TransientHelpdeskError) as caught:
        zd.add_tags(48213, ["deskhand_billing"])
    assert caught.value.retry_after_s == 9.0 and len(rsps.calls) == 1


def test_500_is_transient(zd, rsps):
    rsps.get(f"{API}/tickets/48213.json", status=500, body="oops")
    with pytest.raises(TransientHelpdeskError) as caught:
        zd.fetch_ticket(48213)
    assert caught.value.status == 500 and caught.value.retry_after_s is None


def test_500_while_paging_comments_is_transient(zd, rsps):
    rsps.get(f"{API}/tickets/48213.json", json=load("ticket_show.json"))
    rsps.get(f"{API}{COMMENTS_1}", json=load("comments_with_users_page_1.json"))
    rsps.get(load("comments_with_users_page_1.json")["links"]["next"], status=503, headers={"Retry-After": "5"})
    with pytest.raises(TransientHelpdeskError) as caught:
        zd.fetch_ticket(48213)
    assert (caught.value.status, caught.value.retry_after_s) == (503, 5.0)


@pytest.mark.parametrize("exc", [requests.exceptions.ReadTimeout("slow"), requests.exceptions.ConnectionError("down")])
def test_timeouts_and_connection_errors_are_transient(zd, rsps, exc):
    rsps.get(f"{API}/tickets/48213.json", body=exc)
    with pytest.raises(TransientHelpdeskError) as caught:
        zd.fetch_ticket(48213)
    assert caught.value.__cause__ is exc


def test_timeout_on_the_note_is_transient(zd, rsps):
    rsps.put(f"{API}/tickets/48213.json", body=requests.exceptions.ReadTimeout("slow"))
    with pytest.raises(TransientHelpdeskError):
        zd.post_note(48213, "<p>x</p>")


def test_404_is_ticket_not_found(zd, rsps):
    rsps.get(f"{API}/tickets/48213.json", status=404, json=load("error_404.json"))
    with pytest.raises(TicketNotFound) as caught:
        zd.fetch_ticket(48213)
    assert caught.value.status == 404


def test_422_comment_limit_is_permanent(zd, rsps):
    rsps.put(f"{API}/tickets/48213.json", status=422, json=load("error_422_comment_limit.json"))
    with pytest.raises(PermanentHelpdeskError) as caught:
        zd.post_note(48213, "<p>x</p>")
    assert type(caught.value) is PermanentHelpdeskError and caught.value.status == 422
    assert len(rsps.calls) == 1


def test_409_on_the_note_is_retried_once_then_transient(zd, rsps):
    rsps.put(f"{API}/tickets/48213.json", status=409, json=load("error_409.json"))
    with pytest.raises(TransientHelpdeskError) as caught:
        zd.post_note(48213, "<p>x</p>")
    assert caught.value.status == 409 and len(rsps.calls) == 2


def test_409_then_success_posts_once(zd, rsps):
    rsps.put(f"{API}/tickets/48213.json", status=409, json=load("error_409.json"))
    rsps.put(f"{API}/tickets/48213.json", json=load("ticket_update_response.json"))
    assert zd.post_note(48213, "<p>x</p>") == "27000000000121"
    assert len(rsps.calls) == 2


def test_non_json_success_is_an_error(zd, rsps):
    rsps.get(f"{API}/tickets/48213.json", body="<html>maintenance</html>", content_type="text/html")
    with pytest.raises(PermanentHelpdeskError):
        zd.fetch_ticket(48213)


def test_post_note_is_private_and_returns_comment_id(zd, rsps):
    rsps.put(f"{API}/tickets/48213.json", json=load("ticket_update_response.json"))
    html = "<p>Draft reply</p><!-- deskhand:v1 -->"
    assert zd.post_note(48213, html) == "27000000000121"
    sent = json.loads(rsps.calls[0].request.body)
    assert sent == {"ticket": {"comment": {"html_body": html, "public": False}}}
    assert sent["ticket"]["comment"]["public"] is False
    assert "tags" not in sent["ticket"]


def test_note_tags_and_group_go_in_one_update(zd, rsps):
    rsps.put(f"{API}/tickets/48213.json", json=load("ticket_update_with_routing_response.json"))
    note_id = zd.post_note(48213, "<p>Draft</p>", tags=["deskhand_billing", "deskhand_refund", "deskhand_billing"],
                           group_id="3910000551")
    assert note_id == "27000000000121" and len(rsps.calls) == 1
    assert json.loads(rsps.calls[0].request.body) == {"ticket": {
        "comment": {"html_body": "<p>Draft</p>", "public": False},
        "additional_tags": ["deskhand_billing", "deskhand_refund"],  # added, never `tags` (which replaces)
        "group_id": 3910000551,
    }}
    assert zd.additional_tags_honoured is True


def test_additional_tags_ignored_by_the_account_falls_back_to_the_tags_endpoint(zd, rsps):
    # One reading of the docs: `additional_tags` is ignored on a single-ticket update. The response shows
    # the tags did not land, so they are added with the additive tags endpoint, and later notes do that first.
    rsps.put(f"{API}/tickets/48213.json", json=load("ticket_update_response.json"))  # tags unchanged
    rsps.put(f"{API}/tickets/48213/tags.json", json=load("tags_response.json"))
    with capture_logs() as logs:
        zd.post_note(48213, "<p>Draft</p>", tags=["deskhand_billing", "deskhand_refund"])
    assert [(c.request.method, c.request.url.rsplit("/", 1)[1]) for c in rsps.calls] == [
        ("PUT", "48213.json"), ("PUT", "tags.json")]
    assert json.loads(rsps.calls[1].request.body) == {"tags": ["deskhand_billing", "deskhand_refund"]}
    assert zd.additional_tags_honoured is False
    assert any(e.get("reading") == "ignored on single-ticket update" for e in logs)

    rsps.calls.reset()
    zd.post_note(48213, "<p>Next</p>", tags=["deskhand_billing"])
    assert [c.request.url.rsplit("/", 1)[1] for c in rsps.calls] == ["tags.json", "48213.json"]  # tags first
    assert "additional_tags" not in json.loads(rsps.calls[1].request.body)["ticket"]


def test_post_note_rejects_non_numeric_group_before_writing(zd, rsps):
    with pytest.raises(PermanentHelpdeskError):
        zd.post_note(48213, "<p>x</p>", group_id="billing")
    assert len(rsps.calls) == 0


def test_post_note_escapes_placeholders(zd, rsps):
    rsps.put(f"{API}/tickets/48213.json", json=load("ticket_update_response.json"))
    zd.post_note(48213, "<p>Use {{ticket.id}} in the macro</p>")
    sent = json.loads(rsps.calls[0].request.body)["ticket"]["comment"]["html_body"]
    assert "{" not in sent and "}" not in sent
    assert sent == "<p>Use &#123;&#123;ticket.id&#125;&#125; in the macro</p>"


def test_post_note_over_64kb_is_shortened_keeping_the_marker(zd, rsps):
    rsps.put(f"{API}/tickets/48213.json", json=load("ticket_update_response.json"))
    marker = "deskhand:v1 ticket=48213 message=27000000000105 pipeline=0.1.0"
    html = f"<p><strong>Request:</strong> {'é' * 40_000}</p>\n<p><small>{marker}</small></p>"
    zd.post_note(48213, html)
    sent = json.loads(rsps.calls[0].request.body)["ticket"]["comment"]["html_body"]
    assert len(sent.encode("utf-8")) <= MAX_COMMENT_BYTES
    assert sent.endswith(f"…</p>\n<p><small>{marker}</small></p>")
    assert sent.startswith("<p><strong>Request:</strong> ééé")


def test_add_tags_uses_the_additive_tags_endpoint(zd, rsps):
    rsps.put(f"{API}/tickets/48213/tags.json", json=load("tags_response.json"))
    zd.add_tags(48213, ["deskhand_billing", "deskhand_refund", "deskhand_billing", ""])
    assert len(rsps.calls) == 1
    call = rsps.calls[0]
    assert (call.request.method, call.request.url) == ("PUT", f"{API}/tickets/48213/tags.json")
    assert json.loads(call.request.body) == {"tags": ["deskhand_billing", "deskhand_refund"]}


def test_add_no_tags_sends_nothing(zd, rsps):
    zd.add_tags(48213, [])
    assert len(rsps.calls) == 0


def test_set_group_updates_only_group_id(zd, rsps):
    rsps.put(f"{API}/tickets/48213.json", json={"ticket": {"id": 48213, "group_id": 3910000551},
                                               "audit": {"id": 9, "events": []}})
    zd.set_group(48213, "3910000551")
    assert json.loads(rsps.calls[0].request.body) == {"ticket": {"id": 48213, "group_id": 3910000551}}


def test_set_group_rejects_non_numeric_id(zd, rsps):
    with pytest.raises(PermanentHelpdeskError):
        zd.set_group(48213, "billing")
    assert len(rsps.calls) == 0


# --- note body helpers (pure) -------------------------------------------------------------------

MARKER = "deskhand:v1 ticket=7 message=m1 pipeline=0.1.0"


def test_escape_placeholders_is_idempotent_and_keeps_markup():
    html = '<p><a href="https://h/{x}">{{a}}</a></p>'
    once = escape_placeholders(html)
    assert once == '<p><a href="https://h/&#123;x&#125;">&#123;&#123;a&#125;&#125;</a></p>'
    assert escape_placeholders(once) == once


def test_fit_comment_leaves_a_short_note_alone():
    html = f"<p>short</p><p><small>{MARKER}</small></p>"
    assert fit_comment(html, 1000) == html


def test_fit_comment_shortens_longest_text_first_and_never_the_marker():
    sources = "<br>".join(f"[{n}] Title {n}" for n in range(1, 5))
    html = f"<p>{'word ' * 300}</p><p><strong>Sources:</strong><br>{sources}</p><p><small>{MARKER}</small></p>"
    out = fit_comment(html, 600)
    assert len(out.encode()) <= 600
    assert out.endswith(f"<p><small>{MARKER}</small></p>") and "[4] Title 4" in out
    assert out.startswith("<p>word word") and "…</p>" in out
    assert out.count("<p>") == html.count("<p>") and out.count("</p>") == html.count("</p>")  # tags kept


def test_fit_comment_never_cuts_a_character_reference_or_a_utf8_character():
    html = "<p>" + "&amp;é" * 500 + f"</p><p>{MARKER}</p>"
    out = fit_comment(html, 400)
    text = out.split("</p>")[0].removeprefix("<p>").removesuffix("…")
    assert text and text.replace("&amp;", "").strip("é") == ""  # whole references, whole characters
    assert len(out.encode()) <= 400 and MARKER in out


def test_fit_comment_refuses_when_markup_alone_is_too_big():
    with pytest.raises(PermanentHelpdeskError, match="cannot be shortened"):
        fit_comment("<p></p>" * 100 + f"<p>{MARKER}</p>", 300)


def test_note_update_shape():
    assert note_update("<p>{x}</p>", tags=["a"], group_id=5) == {"ticket": {
        "comment": {"html_body": "<p>&#123;x&#125;</p>", "public": False}, "additional_tags": ["a"], "group_id": 5}}
    assert note_update("<p>x</p>") == {"ticket": {"comment": {"html_body": "<p>x</p>", "public": False}}}


# --- priority: raised in the note's update, never lowered -------------------------------------------


def _ticket_show(priority, updated_at="2026-11-29T09:58:41Z") -> dict:
    data = load("ticket_show.json")
    data["ticket"].update(priority=priority, updated_at=updated_at)
    return data


def _fetch(zd, rsps, priority) -> None:
    rsps.get(f"{API}/tickets/48213.json", json=_ticket_show(priority))
    rsps.get(f"{API}{COMMENTS_1}", json=load("comments_with_users_page_1.json"))
    rsps.get(load("comments_with_users_page_1.json")["links"]["next"], json=load("comments_with_users_page_2.json"))
    zd.fetch_ticket(48213)
    rsps.calls.reset()


def test_note_update_carries_priority_as_a_safe_update():
    body = note_update("<p>x</p>", priority="high", updated_stamp="2026-11-29T09:58:41Z")
    assert body == {"ticket": {"comment": {"html_body": "<p>x</p>", "public": False}, "priority": "high",
                               "safe_update": True, "updated_stamp": "2026-11-29T09:58:41Z"}}


def test_a_higher_priority_goes_in_the_one_note_update_stamped_with_the_fetch(zd, rsps):
    _fetch(zd, rsps, "normal")
    rsps.put(f"{API}/tickets/48213.json", json=load("ticket_update_with_routing_response.json"))
    zd.post_note(48213, "<p>Draft</p>", tags=["deskhand_billing"], priority="urgent")
    assert len(rsps.calls) == 1  # no extra read: the fetch told the priority and updated_at
    sent = json.loads(rsps.calls[0].request.body)["ticket"]
    assert (sent["priority"], sent["safe_update"], sent["updated_stamp"]) == ("urgent", True, "2026-11-29T09:58:41Z")
    assert sent["additional_tags"] == ["deskhand_billing"] and sent["comment"]["public"] is False


@pytest.mark.parametrize("current", ["high", "urgent"])
def test_priority_is_never_lowered_or_rewritten(zd, rsps, current):
    _fetch(zd, rsps, current)
    rsps.put(f"{API}/tickets/48213.json", json=load("ticket_update_response.json"))
    zd.post_note(48213, "<p>Draft</p>", priority="high")
    sent = json.loads(rsps.calls[0].request.body)["ticket"]
    assert "priority" not in sent and "safe_update" not in sent and "updated_stamp" not in sent


def test_a_ticket_without_priority_gets_one(zd, rsps):
    _fetch(zd, rsps, None)
    rsps.put(f"{API}/tickets/48213.json", json=load("ticket_update_response.json"))
    zd.post_note(48213, "<p>Draft</p>", priority="low")
    assert json.loads(rsps.calls[0].request.body)["ticket"]["priority"] == "low"


def test_priority_without_an_earlier_fetch_reads_the_ticket_first(zd, rsps):
    rsps.get(f"{API}/tickets/48213.json", json=_ticket_show("low", "2026-11-29T10:00:00Z"))
    rsps.put(f"{API}/tickets/48213.json", json=load("ticket_update_response.json"))
    zd.post_note(48213, "<p>Draft</p>", priority="high")
    assert [c.request.method for c in rsps.calls] == ["GET", "PUT"]
    sent = json.loads(rsps.calls[1].request.body)["ticket"]
    assert (sent["priority"], sent["updated_stamp"]) == ("high", "2026-11-29T10:00:00Z")


def test_a_safe_update_conflict_rereads_and_keeps_the_agents_higher_priority(zd, rsps):
    # An agent set the ticket to urgent between Deskhand's fetch and its note: Zendesk refuses the stamped
    # update (409), the ticket is re-read, and the retry carries the note without any priority.
    _fetch(zd, rsps, "normal")
    rsps.put(f"{API}/tickets/48213.json", status=409, json=load("error_409.json"))
    rsps.get(f"{API}/tickets/48213.json", json=_ticket_show("urgent", "2026-11-29T09:59:30Z"))
    rsps.put(f"{API}/tickets/48213.json", json=load("ticket_update_response.json"))
    assert zd.post_note(48213, "<p>Draft</p>", priority="high") == "27000000000121"
    assert [c.request.method for c in rsps.calls] == ["PUT", "GET", "PUT"]
    retry = json.loads(rsps.calls[2].request.body)["ticket"]
    assert "priority" not in retry and retry["comment"]["html_body"] == "<p>Draft</p>"


def test_a_safe_update_conflict_retries_with_the_new_stamp_when_still_lower(zd, rsps):
    _fetch(zd, rsps, "normal")
    rsps.put(f"{API}/tickets/48213.json", status=409, json=load("error_409.json"))
    rsps.get(f"{API}/tickets/48213.json", json=_ticket_show("low", "2026-11-29T09:59:30Z"))
    rsps.put(f"{API}/tickets/48213.json", json=load("ticket_update_response.json"))
    zd.post_note(48213, "<p>Draft</p>", priority="high")
    retry = json.loads(rsps.calls[2].request.body)["ticket"]
    assert (retry["priority"], retry["updated_stamp"]) == ("high", "2026-11-29T09:59:30Z")


def test_post_note_rejects_an_unknown_priority_before_writing(zd, rsps):
    with pytest.raises(PermanentHelpdeskError, match="low, normal, high, urgent"):
        zd.post_note(48213, "<p>x</p>", priority="4")
    assert len(rsps.calls) == 0
