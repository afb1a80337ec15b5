"""Intake dedupe by vendor delivery id (worker/deliveries.py) and how the intake view uses it."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime, timedelta, timezone

import pytest
import redis
from kombu.exceptions import OperationalError
from sqlalchemy import update

from worker.deliveries import RedisDeliveryLog, StoreDeliveryLog, build_delivery_log, deliveries
from worker.settings import Settings
from worker.web import create_app

SECRET = "ZGVsaXZlcmllcy10ZXN0LXNlY3JldA=="
BODY = json.dumps({"deskhand_event": "ticket_changed", "ticket_id": "31", "current_user_id": "5", "updated_at": ""}).encode()


def headers(invocation: str | None = "inv-31") -> dict[str, str]:
    ts = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    sig = base64.b64encode(hmac.new(SECRET.encode(), ts.encode() + BODY, hashlib.sha256).digest()).decode()
    out = {"X-Zendesk-Webhook-Signature": sig, "X-Zendesk-Webhook-Signature-Timestamp": ts, "Content-Type": "application/json"}
    if invocation:
        out["X-Zendesk-Webhook-Invocation-Id"] = invocation
    return out


@pytest.fixture
def log(tmp_path):
    return StoreDeliveryLog(f"sqlite:///{tmp_path}/d.db", ttl_s=3600)


def test_store_log_first_then_duplicate_per_helpdesk(log):
    assert log.first_delivery("zendesk", "inv-1")
    assert not log.first_delivery("zendesk", "inv-1")
    assert log.first_delivery("freshdesk", "inv-1")
    assert log.first_delivery("zendesk", "inv-2")


def test_store_log_forgets_and_expires(log):
    assert log.first_delivery("zendesk", "inv-1")
    log.forget("zendesk", "inv-1")
    assert log.first_delivery("zendesk", "inv-1")
    old = datetime.now(timezone.utc) - timedelta(hours=2)
    with log._engine.begin() as conn:
        conn.execute(update(deliveries).values(seen_at=old))
    assert log.first_delivery("zendesk", "inv-1")  # seen longer ago than the TTL: new again
    assert not log.first_delivery("zendesk", "inv-1")


def test_store_log_fails_open(tmp_path):
    log = StoreDeliveryLog(f"sqlite:///{tmp_path}/d.db", ttl_s=3600)
    with log._engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE webhook_deliveries")
    assert log.first_delivery("zendesk", "inv-1") and log.first_delivery("zendesk", "inv-1")


class FakeRedis:
    def __init__(self, fail: bool = False):
        self.data: dict[str, tuple[bytes, int]] = {}
        self.fail = fail

    def set(self, key, value, nx=False, ex=None):
        if self.fail:
            raise redis.ConnectionError("down")
        if nx and key in self.data:
            return None
        self.data[key] = (value, ex)
        return True

    def delete(self, key):
        if self.fail:
            raise redis.ConnectionError("down")
        self.data.pop(key, None)


def test_redis_log_uses_set_nx_with_ttl():
    client = FakeRedis()
    log = RedisDeliveryLog("redis://unused", ttl_s=600, client=client)
    assert log.first_delivery("zendesk", "inv-1") and not log.first_delivery("zendesk", "inv-1")
    assert client.data == {"deskhand:delivery:zendesk:inv-1": (b"1", 600)}
    log.forget("zendesk", "inv-1")
    assert log.first_delivery("zendesk", "inv-1")


def test_redis_log_fails_open():
    log = RedisDeliveryLog("redis://unused", ttl_s=600, client=FakeRedis(fail=True))
    assert log.first_delivery("zendesk", "inv-1") and log.first_delivery("zendesk", "inv-1")
    log.forget("zendesk", "inv-1")  # no exception


def test_build_delivery_log(tmp_path):
    assert build_delivery_log(redis_url="", database_url=f"sqlite:///{tmp_path}/x.db", ttl_s=0) is None
    assert isinstance(build_delivery_log(redis_url="", database_url=f"sqlite:///{tmp_path}/x.db", ttl_s=60), StoreDeliveryLog)
    assert isinstance(build_delivery_log(redis_url="redis://127.0.0.1:1/0", database_url="", ttl_s=60), RedisDeliveryLog)


def app_with(log, enqueue):
    return create_app(Settings(zendesk_webhook_secret=SECRET, freshdesk_webhook_secret="s", embedding_model="unused"), enqueue=enqueue,
                      deliveries=log).test_client()


def test_intake_answers_a_repeated_invocation_with_200(log):
    queued = []
    client = app_with(log, lambda e: queued.append(e) or f"job-{len(queued)}")
    assert client.post("/webhooks/zendesk", data=BODY, headers=headers()).status_code == 202
    again = client.post("/webhooks/zendesk", data=BODY, headers=headers())
    assert (again.status_code, again.get_json()) == (200, {"status": "duplicate"})
    assert client.post("/webhooks/zendesk", data=BODY, headers=headers("inv-32")).status_code == 202
    assert [e.vendor_delivery_id for e in queued] == ["inv-31", "inv-32"]


def test_intake_without_a_vendor_id_never_dedupes(log):
    queued = []
    client = app_with(log, lambda e: queued.append(e) or "job")
    for _ in range(2):
        assert client.post("/webhooks/zendesk", data=BODY, headers=headers(invocation=None)).status_code == 202
    fd = json.dumps({"freshdesk_webhook": {"ticket_id": "9", "triggered_event": "x"}}).encode()
    for _ in range(2):  # identical Freshdesk bodies may be two different replies: the job decides
        assert client.post("/webhooks/freshdesk", data=fd, headers={"X-Deskhand-Secret": "s"}).status_code == 202
    assert [e.helpdesk for e in queued] == ["zendesk", "zendesk", "freshdesk", "freshdesk"]


def test_a_delivery_that_could_not_be_queued_is_forgotten(log):
    calls = []

    def enqueue(event):
        calls.append(event)
        if len(calls) == 1:
            raise OperationalError("broker down")
        return "job-2"

    client = app_with(log, enqueue)
    assert client.post("/webhooks/zendesk", data=BODY, headers=headers()).status_code == 503
    assert client.post("/webhooks/zendesk", data=BODY, headers=headers()).status_code == 202  # Zendesk's retry gets in
