"""Intake status codes through the Flask test client; the queue is a fake or an unreachable broker."""
import base64
import hashlib
import hmac
import json
from datetime import datetime, timedelta, timezone

import pytest

from worker.settings import Settings
from worker.web import create_app

SECRET = "dGVzdC1zaWduaW5nLXNlY3JldA=="


def settings(**kw):
    base = dict(zendesk_webhook_secret=SECRET, freshdesk_webhook_secret="fd-secret", webhook_max_body_bytes=2048, embedding_model="unused")
    return Settings(**{**base, **kw})


@pytest.fixture
def queued():
    return []


@pytest.fixture
def client(queued):
    def enqueue(event):
        queued.append(event)
        return f"job-{len(queued)}"

    return create_app(settings(), enqueue=enqueue).test_client()


def signed(body: bytes, *, secret=SECRET, ts=None):
    ts = ts or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    sig = base64.b64encode(hmac.new(secret.encode(), ts.encode() + body, hashlib.sha256).digest()).decode()
    return {"X-Zendesk-Webhook-Signature": sig, "X-Zendesk-Webhook-Signature-Timestamp": ts, "Content-Type": "application/json"}


TRIGGER = json.dumps({"deskhand_event": "ticket_changed", "ticket_id": "1001", "current_user_id": "7", "updated_at": ""}).encode()


def test_signed_zendesk_webhook_is_enqueued(client, queued):
    resp = client.post("/webhooks/zendesk", data=TRIGGER, headers=signed(TRIGGER))
    assert resp.status_code == 202 and resp.get_json() == {"job_id": "job-1"}
    assert queued[0].ticket_id == 1001 and queued[0].helpdesk == "zendesk"


def test_bad_signature_is_401_without_reason(client, queued):
    resp = client.post("/webhooks/zendesk", data=TRIGGER, headers=signed(TRIGGER, secret="wrong"))
    assert resp.status_code == 401 and resp.get_json() == {"error": "invalid request"}
    stale = (datetime.now(timezone.utc) - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert client.post("/webhooks/zendesk", data=TRIGGER, headers=signed(TRIGGER, ts=stale)).status_code == 401
    reserialized = json.dumps(json.loads(TRIGGER), indent=2).encode()
    assert client.post("/webhooks/zendesk", data=reserialized, headers=signed(TRIGGER)).status_code == 401
    assert queued == []


def test_unset_secret_fails_closed(queued):
    app = create_app(settings(zendesk_webhook_secret=""), enqueue=lambda e: queued.append(e) or "x")
    assert app.test_client().post("/webhooks/zendesk", data=TRIGGER, headers=signed(TRIGGER)).status_code == 401
    assert queued == []


def test_malformed_and_missing_id_are_400(client):
    for body in (b"{not json", json.dumps({"deskhand_event": "ticket_changed"}).encode()):
        assert client.post("/webhooks/zendesk", data=body, headers=signed(body)).status_code == 400


def test_a_json_array_is_400_on_both_routes_even_with_a_ticket_id_inside(client, queued):
    zendesk = json.dumps([json.loads(TRIGGER)]).encode()
    freshdesk = json.dumps([{"freshdesk_webhook": {"ticket_id": "77", "triggered_event": "x"}}]).encode()

    zd = client.post("/webhooks/zendesk", data=zendesk, headers=signed(zendesk))
    fd = client.post("/webhooks/freshdesk", data=freshdesk, headers={"X-Deskhand-Secret": "fd-secret", "Content-Type": "application/json"})

    assert (zd.status_code, fd.status_code) == (400, 400)
    assert zd.get_json()["detail"] == fd.get_json()["detail"] == "body is not a JSON object"
    assert queued == []


def test_ignored_event_is_200(client, queued):
    body = json.dumps({"type": "zen:event-type:user.deleted", "id": "e-1", "account_id": 1, "subject": "zen:user:5", "detail": {"id": "5"}, "event": {}}).encode()
    resp = client.post("/webhooks/zendesk", data=body, headers=signed(body))
    assert resp.status_code == 200 and resp.get_json() == {"status": "ignored"} and queued == []


def test_body_over_limit_is_413(client, queued):
    body = json.dumps({"ticket_id": "1", "pad": "x" * 4096}).encode()
    assert client.post("/webhooks/zendesk", data=body, headers=signed(body)).status_code == 413
    assert queued == []


def test_unreachable_broker_is_503_with_retry_after():
    client = create_app(settings(redis_url="redis://127.0.0.1:1/0")).test_client()  # the default Celery wiring
    resp = client.post("/webhooks/zendesk", data=TRIGGER, headers=signed(TRIGGER))
    assert resp.status_code == 503 and resp.headers["Retry-After"] == "30"


def test_freshdesk_shared_secret(client, queued):
    body = json.dumps({"freshdesk_webhook": {"ticket_id": "77", "triggered_event": "{ticket_action:created}"}}).encode()
    ok = client.post("/webhooks/freshdesk", data=body, headers={"X-Deskhand-Secret": "fd-secret", "Content-Type": "application/json"})
    assert ok.status_code == 202 and queued[-1].ticket_id == 77 and queued[-1].helpdesk == "freshdesk"
    basic = "Basic " + base64.b64encode(b"deskhand:fd-secret").decode()
    assert client.post("/webhooks/freshdesk", data=body, headers={"Authorization": basic}).status_code == 202
    assert client.post("/webhooks/freshdesk", data=body, headers={"X-Deskhand-Secret": "nope"}).status_code == 401
    assert client.post("/webhooks/freshdesk", data=body).status_code == 401


def test_healthz(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_chunked_body_over_limit_is_413_not_a_signature_failure(client, queued):
    import io

    body = json.dumps({"ticket_id": "1", "pad": "x" * 4096}).encode()
    resp = client.post(
        "/webhooks/zendesk",
        input_stream=io.BytesIO(body),
        headers={**signed(body), "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},  # what gunicorn and werkzeug set for chunked requests
    )
    assert resp.status_code == 413 and queued == []


def test_unknown_routes_and_methods_answer_json(client):
    assert client.get("/webhooks/zendesk").get_json() == {"error": "method not allowed"}
    assert client.get("/nope").status_code == 404 and client.get("/nope").get_json() == {"error": "not found"}


def test_deeply_nested_json_is_400(queued):
    client = create_app(settings(webhook_max_body_bytes=100_000), enqueue=lambda e: queued.append(e) or "x").test_client()
    body = b"[" * 20000 + b"]" * 20000
    assert client.post("/webhooks/zendesk", data=body, headers=signed(body)).status_code == 400
    assert queued == []


def test_unknown_deskhand_event_is_400_naming_the_valid_events(client, queued):
    body = json.dumps({"deskhand_event": "something_else", "ticket_id": "1001", "current_user_id": "7"}).encode()
    resp = client.post("/webhooks/zendesk", data=body, headers=signed(body))
    assert resp.status_code == 400
    assert resp.get_json() == {"error": "malformed payload", "detail": "unknown deskhand_event 'something_else' (valid: ticket_changed)"}
    assert queued == []


@pytest.mark.parametrize("route", ["/webhooks/zendesk", "/webhooks/freshdesk"])
def test_options_and_get_on_webhook_routes_are_json_405_with_allow(client, route):
    for resp in (client.options(route), client.get(route)):
        assert resp.status_code == 405
        assert resp.mimetype == "application/json" and resp.get_json() == {"error": "method not allowed"}
        assert resp.headers["Allow"] == "POST"


@pytest.mark.parametrize(
    "helpdesk,unset,setting,route",
    [
        ("zendesk", "zendesk_webhook_secret", "ZENDESK_WEBHOOK_SECRET", "/webhooks/zendesk"),
        ("local", "zendesk_webhook_secret", "ZENDESK_WEBHOOK_SECRET", "/webhooks/zendesk"),
        ("freshdesk", "freshdesk_webhook_secret", "FRESHDESK_WEBHOOK_SECRET", "/webhooks/freshdesk"),
    ],
)
def test_startup_warns_when_the_active_helpdesks_secret_is_unset(helpdesk, unset, setting, route):
    from structlog.testing import capture_logs

    with capture_logs() as logs:
        create_app(settings(helpdesk=helpdesk, **{unset: ""}), enqueue=lambda e: "x")
    (warning,) = [e for e in logs if e["event"] == "no_webhook_secret"]
    assert warning["log_level"] == "warning" and warning["helpdesk"] == helpdesk
    assert warning["detail"].startswith(f"{setting} is unset: every webhook to {route} will be rejected with 401")

    with capture_logs() as logs:  # the other helpdesk's secret does not matter
        create_app(settings(helpdesk=helpdesk), enqueue=lambda e: "x")
    assert [e for e in logs if e["event"] == "no_webhook_secret"] == []


@pytest.mark.parametrize("route,helpdesk", [("/webhooks/zendesk", "zendesk"), ("/webhooks/freshdesk", "freshdesk")])
def test_too_large_log_names_the_route_and_the_sender(client, route, helpdesk):
    from structlog.testing import capture_logs

    body = json.dumps({"ticket_id": "1", "pad": "x" * 4096}).encode()
    with capture_logs() as logs:
        resp = client.post(route, data=body, headers={"Content-Type": "application/json"},
                           environ_overrides={"REMOTE_ADDR": "203.0.113.9"})
    assert resp.status_code == 413
    (entry,) = [e for e in logs if e["event"] == "webhook_too_large"]
    assert (entry["helpdesk"], entry["path"], entry["remote"]) == (helpdesk, route, "203.0.113.9")
    assert entry["content_length"] == len(body) and entry["limit_bytes"] == 2048


def test_readyz_is_503_while_the_broker_is_unreachable_and_200_once_it_is_back():
    from kombu.exceptions import OperationalError

    broker_up = {"value": False}

    def ready():
        if not broker_up["value"]:
            raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    client = create_app(settings(), enqueue=lambda event: "job-1", ready=ready).test_client()
    down = client.get("/readyz")
    assert down.status_code == 503 and down.headers["Retry-After"] == "30"
    assert down.get_json() == {"status": "unavailable", "detail": "the job queue (broker) is unreachable"}
    assert client.get("/healthz").status_code == 200  # liveness: the process itself is fine
    broker_up["value"] = True
    assert client.get("/readyz").get_json() == {"status": "ok"}


def test_the_default_readiness_check_opens_a_real_broker_connection():
    client = create_app(settings(redis_url="redis://127.0.0.1:1/0")).test_client()  # nothing listens on port 1
    assert client.get("/readyz").status_code == 503


def test_a_key_twice_in_one_object_is_400_on_both_routes(client, queued):
    zendesk = b'{"deskhand_event": "ticket_changed", "ticket_id": "1002", "ticket_id": "1003", "current_user_id": "7"}'
    freshdesk = b'{"freshdesk_webhook": {"ticket_id": "1002", "triggered_event": "x", "ticket_id": "1003"}}'

    zd = client.post("/webhooks/zendesk", data=zendesk, headers=signed(zendesk))
    fd = client.post("/webhooks/freshdesk", data=freshdesk, headers={"X-Deskhand-Secret": "fd-secret", "Content-Type": "application/json"})

    detail = "duplicate key 'ticket_id' in a JSON object: which value is meant is ambiguous; send each key once"
    assert (zd.status_code, zd.get_json()) == (400, {"error": "malformed payload", "detail": detail})
    assert (fd.status_code, fd.get_json()) == (400, {"error": "malformed payload", "detail": detail})
    assert queued == []
    unsigned = client.post("/webhooks/zendesk", data=zendesk, headers=signed(zendesk, secret="wrong"))
    assert unsigned.status_code == 401  # verified first: an unsigned body learns nothing about its content


def test_a_freshdesk_body_a_placeholder_broke_still_recovers_its_ticket_id(client, queued):
    body = b'{"freshdesk_webhook": {"ticket_id": "1002", "triggered_event": "say "hi""}}'  # not JSON: no duplicate check
    resp = client.post("/webhooks/freshdesk", data=body, headers={"X-Deskhand-Secret": "fd-secret", "Content-Type": "application/json"})
    assert resp.status_code == 202 and queued[-1].ticket_id == 1002


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded", "application/json; charset=utf-8"])
def test_any_content_type_is_taken_since_the_signed_body_is_parsed_as_json(client, queued, content_type):
    headers = {k: v for k, v in signed(TRIGGER).items() if k != "Content-Type"}
    if content_type:
        headers["Content-Type"] = content_type
    resp = client.post("/webhooks/zendesk", data=TRIGGER, headers=headers)
    assert resp.status_code == 202 and queued[-1].ticket_id == 1001
