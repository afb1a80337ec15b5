"""Celery tasks: three lines of wiring each; the work is in worker/pipeline.py."""
from __future__ import annotations

import logging
import random
from dataclasses import asdict

from integrations.base import TicketEvent, TransientHelpdeskError
from worker.celery_app import KB_SYNC_TASK, TASK_NAME, app
from worker.pipeline import run_event
from worker.settings import get_settings
from worker.wiring import worker_pipeline

log = logging.getLogger(__name__)


def retry_countdown_s(exc: TransientHelpdeskError, retries: int, cap_s: int) -> float:
    """The helpdesk's Retry-After when it sent one, else capped exponential backoff with jitter."""
    if exc.retry_after_s is not None:
        return min(float(exc.retry_after_s), cap_s)
    return min(cap_s, 5 * 2**retries) * random.uniform(0.5, 1.0)


@app.task(bind=True, name=TASK_NAME, acks_late=True)
def handle_ticket_event(self, event: dict) -> dict:
    try:
        return asdict(run_event(TicketEvent(**event), worker_pipeline(), job_id=self.request.id))
    except TransientHelpdeskError as exc:
        s = get_settings()
        raise self.retry(exc=exc, countdown=retry_countdown_s(exc, self.request.retries, s.retry_backoff_max_s), max_retries=s.max_retries)


@app.task(bind=True, name=KB_SYNC_TASK, acks_late=True)
def sync_knowledge(self, source: str) -> dict:
    from worker.kb import run_sync, worker_index

    try:
        result = asdict(run_sync(get_settings(), source, index=worker_index()))
    except TransientHelpdeskError as exc:
        s = get_settings()
        raise self.retry(exc=exc, countdown=retry_countdown_s(exc, self.request.retries, s.retry_backoff_max_s), max_retries=s.max_retries)
    _log_sync(source, result)
    return result


def _log_sync(source: str, result: dict) -> None:
    """One warning per file or record a folder sync left out, then a summary line that counts them."""
    errors = result.get("errors", [])
    for message in errors:
        log.warning("kb sync %s: skipped %s", source, message)
    log.info(
        "kb sync %s: %d added, %d updated, %d deleted, %d unchanged, %d errors, %d articles kept at their last good version%s",
        source, result["added"], result["updated"], result["deleted"], result["unchanged"], len(errors),
        len(result.get("kept_ids", [])), "; deletions held" if result.get("deletions_held") else "",
    )
