"""Knowledge jobs run on their own queue, and beat schedules one sync per configured source."""
from __future__ import annotations

from worker.celery_app import KB_SYNC_TASK, KNOWLEDGE_QUEUE, knowledge_schedule, make_celery
from worker.kb import sync_sources
from worker.settings import Settings


def settings(**values) -> Settings:
    return Settings(embedding_model="unused", **values)


def test_sync_task_is_routed_to_the_knowledge_queue() -> None:
    app = make_celery(settings())
    assert app.conf.task_routes[KB_SYNC_TASK] == {"queue": KNOWLEDGE_QUEUE} == {"queue": "knowledge"}
    assert app.conf.task_default_queue == "tickets"


def test_beat_syncs_each_source_every_interval_and_lets_late_runs_expire() -> None:
    schedule = knowledge_schedule(settings(kb_sync_sources="zendesk, /srv/kb ,", kb_sync_interval_s=600))

    assert sorted(schedule) == ["kb-sync-/srv/kb", "kb-sync-zendesk"]
    entry = schedule["kb-sync-zendesk"]
    assert (entry["task"], entry["schedule"], entry["args"]) == (KB_SYNC_TASK, 600.0, ("zendesk",))
    assert entry["options"] == {"queue": "knowledge", "expires": 600.0}
    assert make_celery(settings(kb_sync_sources="freshdesk")).conf.beat_schedule["kb-sync-freshdesk"]["args"] == ("freshdesk",)


def test_no_sources_or_no_interval_schedules_nothing() -> None:
    assert knowledge_schedule(settings()) == {}
    assert knowledge_schedule(settings(kb_sync_sources="zendesk", kb_sync_interval_s=0)) == {}
    assert sync_sources(settings(kb_sync_sources=" zendesk ,, freshdesk")) == ["zendesk", "freshdesk"]
