import os
from datetime import timedelta

import pytest
import sqlalchemy

from worker.store import Claim, Store, outcomes


def pg_url():
    return os.environ.get("DESKHAND_TEST_DATABASE_URL", "")


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, tmp_path):
    if request.param == "sqlite":
        return Store(f"sqlite:///{tmp_path}/t.db", stale_claim_after=timedelta(seconds=0.5))
    if not pg_url():
        pytest.skip("DESKHAND_TEST_DATABASE_URL not set (.ci/run sets it)")
    s = Store(pg_url(), stale_claim_after=timedelta(seconds=0.5))
    with s.engine.begin() as conn:
        conn.execute(sqlalchemy.delete(outcomes))
    return s


def test_claim_is_exclusive_until_posted(store):
    assert store.claim("zendesk", 1, "c1", "job-a")
    assert not store.claim("zendesk", 1, "c1", "job-b")
    assert store.claim("zendesk", 1, "c1", "job-a")  # the same job, re-delivered
    store.finish("zendesk", 1, "c1", status="posted", category="shipping", role="draft", drafted=True)
    assert not store.claim("zendesk", 1, "c1", "job-a")
    assert store.claim("zendesk", 1, "c2", "job-b")  # another message of the same ticket
    assert store.claim("freshdesk", 1, "c1", "job-b")  # another helpdesk
    rows = store.outcomes("zendesk")
    assert [(r.message_id, r.status, r.drafted) for r in rows] == [("c1", "posted", True), ("c2", "claimed", None)]


def test_failed_or_stale_claims_can_be_taken_over(store):
    import time

    assert store.claim("zendesk", 2, "c1", "job-a")
    store.finish("zendesk", 2, "c1", status="failed", detail="422")
    assert store.claim("zendesk", 2, "c1", "job-b")
    assert not store.claim("zendesk", 2, "c1", "job-c")
    time.sleep(0.6)
    assert store.claim("zendesk", 2, "c1", "job-c")


def test_a_refused_claim_says_whether_a_note_was_posted_or_which_job_holds_it(store):
    assert store.claim("zendesk", 3, "c1", "job-a") == Claim(True, "claimed", "job-a")
    assert store.claim("zendesk", 3, "c1", "job-b") == Claim(False, "claimed", "job-a")
    store.finish("zendesk", 3, "c1", status="posted")
    assert store.claim("zendesk", 3, "c1", "job-b") == Claim(False, "posted", "job-a")
    assert store.claim("zendesk", 3, "c1", "job-a") == Claim(False, "posted", "job-a")  # even its own job never posts twice
