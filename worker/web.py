"""Intake: verify the webhook on its raw bytes, parse it to a TicketEvent, enqueue, answer 202. Nothing else.

| answer | when |
|---|---|
| 202 {"job_id"} | verified, parsed, enqueued |
| 200 {"status": "ignored"} | a known event Deskhand deliberately ignores (the helpdesk must not retry it) |
| 200 {"status": "duplicate"} | a retry of a delivery already queued, by the vendor's delivery id (worker/deliveries.py) |
| 400 {"error", "detail"} | malformed JSON, a key twice in one object, no or invalid ticket id, unknown `deskhand_event` |
| 401 {"error": "invalid request"} | bad signature or shared secret (the reason goes to the log only) |
| 405 {"error"} + Allow | a method the route does not take (OPTIONS included: there is no CORS, helpdesks only POST) |
| 413 | body over WEBHOOK_MAX_BODY_BYTES |
| 503 + Retry-After | the broker is unreachable, so the helpdesk retries later |

`GET /healthz` answers 200 while the process runs (liveness); `GET /readyz` answers 200 only when the
broker takes connections, else 503 (readiness: what a load balancer should route on).
"""
from __future__ import annotations

from dataclasses import asdict
from typing import Callable

import structlog
from flask import Flask, abort, jsonify, request
from kombu.exceptions import OperationalError as BrokerError

from integrations import freshdesk, zendesk
from integrations.base import InvalidSignature, MalformedPayload, TicketEvent
from worker.settings import Settings, get_settings

log = structlog.get_logger(__name__)

Enqueue = Callable[[TicketEvent], str]
Ready = Callable[[], None]  # raises when the broker cannot take jobs


def make_enqueue(celery_app) -> Enqueue:
    """Enqueue on the `tickets` queue by task name (the web process never imports the pipeline or the model)."""
    from worker.celery_app import TASK_NAME, TICKETS_QUEUE

    def enqueue(event: TicketEvent) -> str:
        return celery_app.send_task(TASK_NAME, args=[asdict(event)], queue=TICKETS_QUEUE).id

    return enqueue


def make_ready(celery_app, timeout_s: float = 2.0) -> Ready:
    """Open (and close) one connection to the broker; raises kombu's OperationalError when it is down."""

    def ready() -> None:
        with celery_app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=timeout_s)

    return ready


#: The setting holding the secret of each helpdesk's webhook route. The local helpdesk has no webhook of
#: its own: it is fed Zendesk-style signed webhooks, as `deskhand demo` does.
WEBHOOK_SECRET_SETTINGS: dict[str, tuple[str, str]] = {
    "zendesk": ("ZENDESK_WEBHOOK_SECRET", "/webhooks/zendesk"),
    "local": ("ZENDESK_WEBHOOK_SECRET", "/webhooks/zendesk"),
    "freshdesk": ("FRESHDESK_WEBHOOK_SECRET", "/webhooks/freshdesk"),
}


def missing_webhook_secret(s: Settings) -> tuple[str, str] | None:
    """(setting name, route) when the active helpdesk's (HELPDESK) webhook secret is unset, else None.

    Intake fails closed without it (401 for every delivery), which a new user reads as a broken signature.
    """
    setting, route = WEBHOOK_SECRET_SETTINGS[s.helpdesk]
    return None if getattr(s, setting.lower()) else (setting, route)


def create_app(
    settings: Settings | None = None, enqueue: Enqueue | None = None, deliveries=None, ready: Ready | None = None
) -> Flask:
    """The intake app. With the default `enqueue` (Celery) comes the default delivery log (Redis when
    REDIS_URL is set, else the store; see worker/deliveries.py) and readiness check; a caller injecting
    `enqueue` passes its own `deliveries` (a `DeliveryLog`) and `ready`, or gets no intake dedupe and
    an always-ready /readyz."""
    s = settings or get_settings()
    if enqueue is None:
        from worker.celery_app import make_celery
        from worker.deliveries import build_delivery_log

        celery_app = make_celery(s, result_backend=False)
        enqueue = make_enqueue(celery_app)
        ready = ready or make_ready(celery_app)
        if deliveries is None:
            deliveries = build_delivery_log(redis_url=s.redis_url, database_url=s.db_url, ttl_s=s.webhook_dedupe_ttl_s)
    unset = missing_webhook_secret(s)
    if unset:
        setting, route = unset
        log.warning(
            "no_webhook_secret",
            helpdesk=s.helpdesk,
            detail=f"{setting} is unset: every webhook to {route} will be rejected with 401. Set it in .env "
            "(see .env.example; README 'Try serve with the local helpdesk' for HELPDESK=local).",
        )
    app = Flask("deskhand")
    app.config["MAX_CONTENT_LENGTH"] = s.webhook_max_body_bytes
    # Flask would answer OPTIONS itself with an empty 200 text/html; no browser calls these routes, so
    # OPTIONS is just another method they do not take: a JSON 405 with Allow, like GET.
    app.config["PROVIDE_AUTOMATIC_OPTIONS"] = False

    def accept(helpdesk: str, verify: Callable[[bytes], None], parse: Callable[[bytes], TicketEvent | None]):
        # The raw bytes: signatures cover these, never re-serialized JSON. Any Content-Type is taken (none,
        # text/plain, form-encoded): the body is authenticated and parsed as JSON whatever its label, and
        # Freshdesk's header for JSON-encoded rules is undocumented, so refusing one could drop real deliveries.
        body = request.get_data(cache=False)
        if request.content_length is None and len(body) >= s.webhook_max_body_bytes:
            # A chunked body (no Content-Length) is cut at the limit by the stream wrapper, not refused:
            # one that reached the limit is treated as too large rather than failing its signature.
            abort(413)
        bound = log.bind(helpdesk=helpdesk, remote=request.remote_addr)
        try:
            verify(body)
        except InvalidSignature as exc:
            bound.warning("webhook_rejected", reason=str(exc))
            return jsonify(error="invalid request"), 401
        try:
            event = parse(body)
        except MalformedPayload as exc:
            bound.warning("webhook_malformed", reason=str(exc))
            return jsonify(error="malformed payload", detail=str(exc)), 400
        if event is None:
            bound.info("webhook_ignored")
            return jsonify(status="ignored"), 200
        bound = bound.bind(ticket_id=event.ticket_id, delivery_id=event.delivery_id)
        dedupe_id = event.vendor_delivery_id if deliveries is not None else None
        if dedupe_id and not deliveries.first_delivery(helpdesk, dedupe_id):
            bound.info("webhook_duplicate")
            return jsonify(status="duplicate"), 200
        try:
            job_id = enqueue(event)
        except (BrokerError, OSError) as exc:
            if dedupe_id:
                deliveries.forget(helpdesk, dedupe_id)  # the vendor's retry of this delivery must get through
            bound.error("broker_unreachable", error=type(exc).__name__)
            return jsonify(error="queue unavailable, retry later"), 503, {"Retry-After": "30"}
        bound.info("webhook_enqueued", job_id=job_id, kind=event.kind)
        return jsonify(job_id=job_id), 202

    @app.post("/webhooks/zendesk")
    def zendesk_webhook():
        def verify(body: bytes) -> None:
            if not s.zendesk_webhook_secret:
                raise InvalidSignature("ZENDESK_WEBHOOK_SECRET is not set")
            zendesk.verify_signature(
                secret=s.zendesk_webhook_secret,
                timestamp=request.headers.get("X-Zendesk-Webhook-Signature-Timestamp", ""),
                body=body,
                signature=request.headers.get("X-Zendesk-Webhook-Signature", ""),
                max_skew_s=s.webhook_max_skew_s,
            )

        return accept("zendesk", verify, lambda body: zendesk.parse_event(request.headers, body))

    @app.post("/webhooks/freshdesk")
    def freshdesk_webhook():
        def verify(body: bytes) -> None:
            freshdesk.verify_shared_secret(secret=s.freshdesk_webhook_secret, headers=request.headers)

        return accept("freshdesk", verify, lambda body: freshdesk.parse_event(request.headers, body))

    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok")

    @app.get("/readyz")
    def readyz():
        if ready is not None:
            try:
                ready()
            except (BrokerError, OSError) as exc:
                log.warning("not_ready", error=type(exc).__name__)
                return jsonify(status="unavailable", detail="the job queue (broker) is unreachable"), 503, {"Retry-After": "30"}
        return jsonify(status="ok")

    @app.errorhandler(404)
    @app.errorhandler(405)
    def not_here(exc):
        allowed = getattr(exc, "valid_methods", None)
        headers = {"Allow": ", ".join(allowed)} if allowed else {}
        return jsonify(error=exc.name.lower()), exc.code, headers

    @app.errorhandler(413)
    def too_large(_exc):
        # Raised by Flask before or while reading the body, so outside `accept`: name the route here.
        helpdesk = request.path.removeprefix("/webhooks/") if request.path.startswith("/webhooks/") else None
        log.warning(
            "webhook_too_large",
            helpdesk=helpdesk,
            path=request.path,
            remote=request.remote_addr,
            limit_bytes=s.webhook_max_body_bytes,
            content_length=request.content_length,
        )
        return jsonify(error="payload too large", limit_bytes=s.webhook_max_body_bytes), 413

    return app
