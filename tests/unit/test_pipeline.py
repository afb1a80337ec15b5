"""The pipeline with pure doubles: loop safety, idempotency, ordering of writes, permanent errors."""
from dataclasses import replace

import pytest

from integrations.base import PermanentHelpdeskError, TicketEvent, TicketNotFound, TransientHelpdeskError
from knowledge.models import Passage
from worker.config import CategoryConfig, Config, RouteConfig, RoutingConfig, TriageConfig
from worker.notes import make_marker
from worker.pipeline import Pipeline, run_event, should_process, with_best_article
from worker.store import Store
from worker.triage import Taxonomy

from .fakes import BagOfWordsEmbedder, ListIndex, message, ticket

EMB = BagOfWordsEmbedder()
TRIAGE = TriageConfig(
    abstain_below=0.3,
    categories={
        "shipping": CategoryConfig(role="draft", examples=["how long does standard shipping take", "where is my parcel"]),
        "account_access": CategoryConfig(role="escalate_only", examples=["my account was hacked", "cannot log in to my account"]),
    },
)
ROUTING = RoutingConfig(tag_prefix="deskhand_", categories={"shipping": RouteConfig(tags=["shipping"], group="55")})
PASSAGE = Passage(chunk_id="s#0", article_id="s", title="Shipping", text="Standard shipping takes 3 to 5 business days.", score=0.0)


class FakeHelpdesk:
    name = "fake"

    def __init__(self, t, fail_on=None):
        self.ticket, self.calls, self.fail_on = t, [], fail_on or {}

    def _maybe_fail(self, what):
        exc = self.fail_on.pop(what, None)
        if exc:
            raise exc

    def fetch_ticket(self, ticket_id):
        self.calls.append(("fetch", ticket_id))
        self._maybe_fail("fetch")
        return self.ticket

    def post_note(self, ticket_id, html, tags=(), group_id=None, priority=None):
        # a real adapter writes tags, group and priority no later than the note; record them in that order
        if tags:
            self.add_tags(ticket_id, tags)
        if group_id:
            self.set_group(ticket_id, group_id)
        if priority:
            self.calls.append(("priority", priority))
        self.calls.append(("note", ticket_id))
        self._maybe_fail("note")
        n = len(self.ticket.messages) + 1
        self.ticket = replace(self.ticket, messages=self.ticket.messages + (message(n, "note", role="agent", public=False, html=html, author="bot"),))
        return f"c{n}"

    def add_tags(self, ticket_id, tags):
        self.calls.append(("tags", tuple(tags)))
        self._maybe_fail("tags")

    def set_group(self, ticket_id, group_id):
        self.calls.append(("group", group_id))


def pipeline(helpdesk, tmp_path):
    cfg = Config(triage=TRIAGE, routing=ROUTING, triage_path=tmp_path, routing_path=tmp_path)
    return Pipeline(helpdesk=helpdesk, config=cfg, taxonomy=Taxonomy.build(TRIAGE, EMB), index=ListIndex([PASSAGE], EMB),
                    embedder=EMB, store=Store(f"sqlite:///{tmp_path}/s.db"), min_score=0.2)


EVENT = TicketEvent(helpdesk="zendesk", ticket_id=42, kind="ticket_created", delivery_id="d1")


def test_posts_one_note_with_tags_and_group_then_stops(tmp_path):
    hd = FakeHelpdesk(ticket(message(1, "How long does standard shipping take?")))
    p = pipeline(hd, tmp_path)
    out = run_event(EVENT, p, job_id="j1")
    assert out.status == "posted" and out.category == "shipping" and out.drafted
    assert [c[0] for c in hd.calls] == ["fetch", "tags", "group", "note"]
    assert ("tags", ("deskhand_shipping",)) in hd.calls
    # the same delivery again, and the note's own re-trigger: nothing more is posted
    assert run_event(EVENT, p, job_id="j2").status == "skipped"
    assert run_event(replace(EVENT, delivery_id="d2", actor_id="bot"), p, job_id="j3").reason == "already answered by Deskhand"
    assert sum(c[0] == "note" for c in hd.calls) == 1


def test_new_customer_message_after_the_note_is_answered(tmp_path):
    hd = FakeHelpdesk(ticket(message(1, "How long does standard shipping take?")))
    p = pipeline(hd, tmp_path)
    run_event(EVENT, p, "j1")
    hd.ticket = replace(hd.ticket, messages=hd.ticket.messages + (message(9, "Where is my parcel? still nothing"),))
    assert run_event(EVENT, p, "j2").status == "posted"
    assert sum(c[0] == "note" for c in hd.calls) == 2


def test_store_claim_blocks_a_concurrent_duplicate(tmp_path):
    hd = FakeHelpdesk(ticket(message(1, "How long does standard shipping take?")))
    p = pipeline(hd, tmp_path)
    assert p.store.claim("fake", 42, "m1", "other-job")
    out = run_event(EVENT, p, "j1")
    assert out.status == "skipped" and out.reason == "in progress in another job"
    assert not any(c[0] == "note" for c in hd.calls)


def test_resent_message_whose_note_the_store_recorded_says_so(tmp_path):
    # the helpdesk copy shows no note (e.g. tickets copied anew), but the store row says it was posted
    hd = FakeHelpdesk(ticket(message(1, "How long does standard shipping take?")))
    p = pipeline(hd, tmp_path)
    assert p.store.claim("fake", 42, "m1", "j1")
    p.store.finish("fake", 42, "m1", status="posted")
    out = run_event(EVENT, p, "j2")
    assert (out.status, out.reason, out.message_id) == ("skipped", "a note was already posted for this message", "m1")
    assert not any(c[0] == "note" for c in hd.calls)


def test_transient_error_propagates_and_retry_of_same_job_posts_once(tmp_path):
    hd = FakeHelpdesk(ticket(message(1, "How long does standard shipping take?")),
                      fail_on={"note": TransientHelpdeskError("429", retry_after_s=7)})
    p = pipeline(hd, tmp_path)
    with pytest.raises(TransientHelpdeskError) as err:
        run_event(EVENT, p, "j1")
    assert err.value.retry_after_s == 7
    assert run_event(EVENT, p, "j1").status == "posted"  # Celery re-runs the task with the same id
    assert sum(c[0] == "note" for c in hd.calls) == 2  # one failed attempt + one success
    assert len([m for m in hd.ticket.messages if not m.public]) == 1


def test_permanent_errors_are_recorded_not_raised(tmp_path):
    hd = FakeHelpdesk(ticket(message(1, "How long does standard shipping take?")),
                      fail_on={"note": PermanentHelpdeskError("422 comment limit", status=422)})
    p = pipeline(hd, tmp_path)
    out = run_event(EVENT, p, "j1")
    assert out.status == "failed" and "422" in out.reason
    assert [r.status for r in p.store.outcomes()] == ["failed"]
    hd2 = FakeHelpdesk(ticket(message(1, "x")), fail_on={"fetch": TicketNotFound("gone", status=404)})
    assert run_event(EVENT, pipeline(hd2, tmp_path / "b"), "j1").status == "failed"


def test_escalate_only_gets_tags_and_escalation_but_no_draft(tmp_path):
    hd = FakeHelpdesk(ticket(message(1, "My account was hacked and I cannot log in")))
    p = pipeline(hd, tmp_path)
    out = run_event(EVENT, p, "j1")
    assert out.status == "posted" and out.role == "escalate_only" and out.drafted is False
    note = hd.ticket.messages[-1].html
    assert "Escalation (no draft):" in note and "Draft reply" not in note


def test_should_process_rules():
    bot_note = message(2, "x", role="agent", public=False, html=make_marker(42, "m1", "0.1.0"))
    assert should_process(ticket(message(1, "hi"), bot_note)) == (None, "already answered by Deskhand")
    assert should_process(ticket(message(1, "hi"), message(2, "hello", role="agent"))) == (None, "an agent already replied")
    assert should_process(ticket(message(1, "internal", role="agent", public=False))) == (None, "no customer message")
    # a customer cannot silence Deskhand by pasting a marker into a public message
    forged = message(1, "hi " + make_marker(42, "m1", "0.1.0"))
    assert should_process(ticket(forged))[0] == forged
    # an agent's private note (no marker) after the message does not block
    plain_note = message(2, "checking", role="agent", public=False)
    assert should_process(ticket(message(1, "hi"), plain_note))[0].id == "m1"


def test_no_priority_is_sent_unless_routing_sets_one(tmp_path):
    hd = FakeHelpdesk(ticket(message(1, "How long does standard shipping take?")))
    run_event(EVENT, pipeline(hd, tmp_path), job_id="j1")
    assert not any(c[0] == "priority" for c in hd.calls)


def test_routings_priority_goes_with_the_note(tmp_path):
    hd = FakeHelpdesk(ticket(message(1, "How long does standard shipping take?")))
    p = pipeline(hd, tmp_path)
    routing = ROUTING.model_copy(update={"categories": {"shipping": RouteConfig(tags=["shipping"], group="55", priority="high")},
                                         "urgency_priority": {"urgent": "urgent"}})
    p.config = replace(p.config, routing=routing)
    out = run_event(EVENT, p, job_id="j1")
    assert out.status == "posted"
    assert [c[0] for c in hd.calls] == ["fetch", "tags", "group", "priority", "note"]
    assert ("priority", "high") in hd.calls


def test_the_best_article_is_read_whole_in_its_own_order_where_it_first_ranked():
    emb = BagOfWordsEmbedder()

    def chunk(article, n, text):
        return Passage(chunk_id=f"{article}#{n}", article_id=article, title=article, text=text, score=0.0)

    wifi = [chunk("wifi", 0, "Hearth connects to wifi for the app"), chunk("wifi", 1, "What you need: a wifi password"),
            chunk("wifi", 2, "1. Hold the dial 2. Pick wifi in the app"), chunk("wifi", 3, "Unrelated legal boilerplate text")]
    other = chunk("offline", 0, "Hearth offline wifi router")
    index = ListIndex([*wifi, other], emb)
    query = emb.embed(["how do I connect hearth to wifi in the app"])[0]
    found = index.search(query_embedding=query, top_k=3, min_score=0.1)
    searched = [p for p in found if p.article_id != "wifi" or p.chunk_id in ("wifi#0", "wifi#1")]  # a search capped at 2 per article

    result = with_best_article(searched, index, query, min_score=0.1)

    ids = [p.chunk_id for p in result]
    assert [i for i in ids if i.startswith("wifi")] == ["wifi#0", "wifi#1", "wifi#2"]  # #3 is below the minimum score
    assert ids.index("wifi#0") == [p.chunk_id for p in searched].index("wifi#0")  # the article sits where it ranked
    assert ids.count("offline#0") == ("offline#0" in [p.chunk_id for p in searched])
    assert with_best_article(searched, ListIndex([other], emb), query, min_score=0.1) == searched  # article gone: unchanged


def test_reading_the_best_article_adds_at_most_two_more_chunks_its_closest():
    emb = BagOfWordsEmbedder()
    words = ["wifi app", "wifi app dial", "wifi app dial ring", "wifi app dial ring light", "wifi"]
    chunks = [Passage(chunk_id=f"w#{n}", article_id="w", title="w", text=t, score=0.0) for n, t in enumerate(words)]
    index = ListIndex(chunks, emb)
    query = emb.embed(["wifi app dial ring light"])[0]
    first = [p for p in index.search(query_embedding=query, top_k=1)]
    assert [p.chunk_id for p in first] == ["w#3"]
    result = with_best_article(first, index, query, min_score=0.0)
    assert [p.chunk_id for p in result] == ["w#1", "w#2", "w#3"]  # the two closest others, in article order


def test_a_how_to_ticket_reads_the_best_articles_numbered_steps_before_closer_chunks():
    emb = BagOfWordsEmbedder()
    texts = ["warranty claim blender covers faults", "warranty claim blender not covered drops",
             "warranty claim blender gift", "1. Find the order.\n2. Fill in the form."]
    chunks = [Passage(chunk_id=f"w#{n}", article_id="w", title="w", text=t, score=0.0) for n, t in enumerate(texts)]
    index = ListIndex(chunks, emb)
    query = emb.embed(["warranty claim blender order form"])[0]
    first = [p for p in index.search(query_embedding=query, top_k=1)]
    plain = with_best_article(first, index, query, min_score=0.0, extra=1)
    steps = with_best_article(first, index, query, min_score=0.0, extra=1, prefer_steps=True)
    assert "w#3" not in [p.chunk_id for p in plain]  # by score alone the steps are the furthest chunk
    assert "w#3" in [p.chunk_id for p in steps]


def test_a_huge_message_is_read_up_to_the_limit_and_the_note_says_so(tmp_path):
    from worker.pipeline import MAX_MESSAGE_CHARS, analyze, within_reading_limit

    body = "How long does standard shipping take? " + "lorem ipsum " * 10_000  # ~120,000 characters
    t = ticket(message(1, body), message(2, "short one"))
    capped, remark = within_reading_limit(t)
    assert len(capped.messages[0].body) <= MAX_MESSAGE_CHARS and capped.messages[0].body.endswith(("lorem", "ipsum"))
    assert capped.messages[1] is t.messages[1]
    assert remark == (f"Message cut: Deskhand read only the first {MAX_MESSAGE_CHARS:,} characters of a message "
                      f"(the longest has {len(body):,}); read the rest in the ticket.")
    long_subject, subject_remark = within_reading_limit(ticket(message(1, "short"), subject="s" * 5000))
    assert len(long_subject.subject) == 1000 and subject_remark == (
        "Message cut: Deskhand read only the first 1,000 of the subject's 5,000 characters; read the rest in the ticket.")
    assert within_reading_limit(ticket(message(1, "short"))) == (ticket(message(1, "short")), "")
    a = analyze(t, t.messages[0], pipeline(FakeHelpdesk(t), tmp_path))
    assert a.triage.category == "shipping" and remark in a.draft.remarks and "Message cut:" in a.note.html
