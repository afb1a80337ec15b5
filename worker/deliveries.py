"""Intake-level dedupe: drop a webhook delivery whose vendor-issued id was already accepted.

Zendesk gives every delivery an id that stays the same when it retries that delivery (the event
envelope `id`, or the `X-Zendesk-Webhook-Invocation-Id` of a trigger-connected webhook), and retries
arrive late — hours late after an outage. Remembering those ids for `ttl_s` lets intake answer such a
retry with 200 instead of queueing a job that would only re-read the ticket (2 API calls) to skip it.

This is an optimisation, not the guarantee. The guarantee that a customer message gets at most one
note is the job's: `worker.store.Store.claim` and `worker.pipeline.should_process`. So the log fails
open — if Redis or the database cannot answer, the delivery is treated as new and the job decides.

Two implementations, one per deployment shape:
- `RedisDeliveryLog`: `SET key 1 NX EX ttl` when `REDIS_URL` is set (one round trip; Redis expires keys);
- `StoreDeliveryLog`: a unique row per id in the outcomes database (SQLite or Postgres) when it is not,
  i.e. with the embedded broker, where web and worker share one machine.
"""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Protocol

import structlog
from sqlalchemy import Column, DateTime, MetaData, String, Table, create_engine, delete, insert, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

log = structlog.get_logger(__name__)

_metadata = MetaData()
deliveries = Table(
    "webhook_deliveries",
    _metadata,
    Column("key", String(300), primary_key=True),  # "<helpdesk>:<vendor delivery id>"
    Column("seen_at", DateTime(timezone=True), nullable=False, index=True),
)


class DeliveryLog(Protocol):
    """Which vendor delivery ids intake has already accepted."""

    def first_delivery(self, helpdesk: str, delivery_id: str) -> bool:
        """True the first time (helpdesk, delivery_id) is seen within the TTL, and records it; False for
        a repeat. Fails open: True when the backing store cannot answer."""

    def forget(self, helpdesk: str, delivery_id: str) -> None:
        """Forget an id again (the delivery could not be queued, so the vendor's retry must get through)."""


def _key(helpdesk: str, delivery_id: str) -> str:
    return f"{helpdesk}:{delivery_id}"[:300]


class RedisDeliveryLog:
    """Delivery ids as Redis keys `deskhand:delivery:<helpdesk>:<id>` that expire after `ttl_s`."""

    def __init__(self, url: str, *, ttl_s: int, client=None) -> None:
        import redis

        self._errors = (redis.RedisError, OSError)
        self._client = client or redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        self.ttl_s = ttl_s

    def first_delivery(self, helpdesk: str, delivery_id: str) -> bool:
        try:
            return bool(self._client.set(f"deskhand:delivery:{_key(helpdesk, delivery_id)}", b"1", nx=True, ex=self.ttl_s))
        except self._errors as exc:
            log.warning("delivery_log_unavailable", backend="redis", error=type(exc).__name__)
            return True

    def forget(self, helpdesk: str, delivery_id: str) -> None:
        try:
            self._client.delete(f"deskhand:delivery:{_key(helpdesk, delivery_id)}")
        except self._errors as exc:
            log.warning("delivery_log_unavailable", backend="redis", error=type(exc).__name__)


class StoreDeliveryLog:
    """Delivery ids as rows of `webhook_deliveries` in any SQLAlchemy database; rows older than `ttl_s`
    count as unseen and are pruned now and then (on about 1 insert in `prune_every`)."""

    def __init__(self, url: str, *, ttl_s: int, prune_every: int = 200) -> None:
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self._engine = create_engine(url, future=True, pool_pre_ping=True)
        _metadata.create_all(self._engine)
        self.ttl_s = ttl_s
        self._prune_every = prune_every

    def first_delivery(self, helpdesk: str, delivery_id: str) -> bool:
        key, now = _key(helpdesk, delivery_id), datetime.now(timezone.utc)
        try:
            try:
                with self._engine.begin() as conn:
                    conn.execute(insert(deliveries).values(key=key, seen_at=now))
                if random.randrange(self._prune_every) == 0:
                    self._prune(now)
                return True
            except IntegrityError:
                pass
            # Seen before: new again only if that was longer ago than the TTL (compare-and-set on seen_at).
            with self._engine.begin() as conn:
                res = conn.execute(
                    update(deliveries)
                    .where(deliveries.c.key == key, deliveries.c.seen_at < now - timedelta(seconds=self.ttl_s))
                    .values(seen_at=now)
                )
                return res.rowcount == 1
        except SQLAlchemyError as exc:
            log.warning("delivery_log_unavailable", backend="sql", error=type(exc).__name__)
            return True

    def forget(self, helpdesk: str, delivery_id: str) -> None:
        try:
            with self._engine.begin() as conn:
                conn.execute(delete(deliveries).where(deliveries.c.key == _key(helpdesk, delivery_id)))
        except SQLAlchemyError as exc:
            log.warning("delivery_log_unavailable", backend="sql", error=type(exc).__name__)

    def _prune(self, now: datetime) -> None:
        with self._engine.begin() as conn:
            conn.execute(delete(deliveries).where(deliveries.c.seen_at < now - timedelta(seconds=self.ttl_s)))


def build_delivery_log(*, redis_url: str, database_url: str, ttl_s: int) -> DeliveryLog | None:
    """Redis when `redis_url` is set, else the SQL database at `database_url`; None when `ttl_s` ≤ 0
    (intake dedupe switched off)."""
    if ttl_s <= 0:
        return None
    if redis_url:
        return RedisDeliveryLog(redis_url, ttl_s=ttl_s)
    return StoreDeliveryLog(database_url, ttl_s=ttl_s)
