"""The Celery app: Redis when `REDIS_URL` is set, else an embedded filesystem broker under `data_dir`.

The embedded broker lets one machine run `deskhand serve` with no Redis, but a message is removed from
the queue when it is fetched, so a crash mid-job loses that job (at-most-once); Redis with `acks_late`
re-delivers it. `celery -A worker.celery_app worker -Q tickets` is the Procfile's worker, `-Q knowledge`
its help-center sync worker; `deskhand serve` runs one worker on both queues.
"""
from __future__ import annotations

import os
import time
import uuid

from celery import Celery
from celery.signals import setup_logging
from kombu.transport import filesystem

from worker.settings import Settings, get_settings

TICKETS_QUEUE = "tickets"
TASK_NAME = "deskhand.handle_ticket_event"
KNOWLEDGE_QUEUE = "knowledge"  # help-center syncs: their own worker, so a large sync never delays tickets
KB_SYNC_TASK = "deskhand.sync_knowledge"


class _WholeFileChannel(filesystem.Channel):
    """kombu's filesystem channel, except that a message file appears whole. kombu creates the file
    under its final name and then writes it, so a worker polling at that moment could take it empty
    and stop ("Unrecoverable error: JSONDecodeError"), which ended `deskhand serve` mid-demo. Here
    the message is written under a name the consumer skips (it takes only "<id>.<queue>.msg"),
    then renamed, which is atomic within one folder."""

    def _put(self, queue, payload, **kwargs):
        name = f"{int(round(time.monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = final + ".part"
        try:
            with open(partial, "wb") as handle:
                handle.write(filesystem.str_to_bytes(filesystem.dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise filesystem.ChannelError(f"Cannot add file {final!r} to directory") from exc


class EmbeddedTransport(filesystem.Transport):
    """The embedded broker: kombu's filesystem transport with `_WholeFileChannel`."""

    Channel = _WholeFileChannel


def make_celery(settings: Settings, *, result_backend: bool = True) -> Celery:
    """The Celery app for `settings`. With Redis, job outcomes are kept by job id for a day; intake passes
    `result_backend=False` so publishing never waits on (or fails through) the result store."""
    app = Celery("deskhand", include=["worker.tasks"])
    conf: dict = dict(
        task_default_queue=TICKETS_QUEUE,
        task_acks_late=True,  # a job is acknowledged after it ran, so a crashed worker's job is re-delivered
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        # Intake must answer the helpdesk within seconds: fail fast (→ 503) when the broker is down.
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5},
        worker_hijack_root_logger=False,
        task_routes={KB_SYNC_TASK: {"queue": KNOWLEDGE_QUEUE}},
        beat_schedule=knowledge_schedule(settings),
    )
    if settings.redis_url:
        conf.update(
            broker_url=settings.redis_url,
            task_ignore_result=False,
            result_expires=86400,
            broker_transport_options={
                "socket_connect_timeout": 2,
                "socket_timeout": 5,
                "visibility_timeout": 3600,
                # A worker consuming several queues (`deskhand serve`: tickets, knowledge) polls them in
                # the order given, so waiting ticket jobs go before help-center syncs. The embedded
                # filesystem broker has no such option: it takes from its queues in turn.
                "queue_order_strategy": "priority",
            },
        )
    else:
        folder = (settings.data_dir / "broker").resolve()
        for sub in ("queue", "processed", "control"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        conf.update(
            broker_url="filesystem://",
            broker_transport="worker.celery_app:EmbeddedTransport",
            broker_transport_options={
                # producer and worker must share one folder; control_folder defaults to ./control otherwise
                "data_folder_in": str(folder / "queue"),
                "data_folder_out": str(folder / "queue"),
                "processed_folder": str(folder / "processed"),
                "store_processed": False,
                "control_folder": str(folder / "control"),
                "polling_interval": 0.1,
            },
        )
    if settings.redis_url and result_backend:
        conf["result_backend"] = settings.redis_url  # job outcomes readable by the 202's job_id
    app.conf.update(conf)
    return app


def knowledge_schedule(settings: Settings) -> dict:
    """Celery beat entries: one periodic sync per source in KB_SYNC_SOURCES, every KB_SYNC_INTERVAL_S.

    A run that has not started by the next one expires, so a slow knowledge worker never piles syncs up.
    """
    interval = settings.kb_sync_interval_s
    sources = [item.strip() for item in settings.kb_sync_sources.split(",") if item.strip()]
    if interval <= 0:
        return {}
    return {
        f"kb-sync-{source}": {
            "task": KB_SYNC_TASK,
            "schedule": float(interval),
            "args": (source,),
            "options": {"queue": KNOWLEDGE_QUEUE, "expires": float(interval)},
        }
        for source in sources
    }


@setup_logging.connect
def _json_logs(**_kwargs) -> None:
    """Celery workers and beat log through Deskhand's JSON logging instead of their own format."""
    from worker.logs import configure_logging

    s = get_settings()
    configure_logging(s.log_level, s.log_json)


app = make_celery(get_settings())
