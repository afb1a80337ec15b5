"""Question coverage with the real embedding model (all-MiniLM-L6-v2) on the demo help center's words:
the thresholds in worker/drafting.py were tuned on these cases."""
import pytest

from knowledge.embeddings import get_embedder
from knowledge.models import Passage
from worker.drafting import NOT_IN_DRAFT_PREFIX, UNANSWERED_PREFIX, SentenceVectors, unanswered_remarks
from worker.models import Draft
from worker.settings import Settings

pytestmark = pytest.mark.integration

SHIPPING = Passage(
    chunk_id="hc-101#1", article_id="hc-101", title="How long does standard shipping take?", section="Delivery times within the EU",
    score=0.56, text="- Standard delivery: 3–5 business days after dispatch.\n- Express delivery: 1–2 business days after dispatch.",
)
BATTERY = Passage(
    chunk_id="hc-603#2", article_id="hc-603", title="Larkspur Hearth battery and power", section="Running on batteries", score=0.6,
    text="Without a C-wire, Hearth runs on 2 AA alkaline batteries. A fresh pair lasts around 12 months with normal use.",
)


@pytest.fixture(scope="module")
def vectors():
    return SentenceVectors(get_embedder(Settings().embedding_model))


def test_unanswered_delivery_questions_are_named(vectors):
    d = Draft(body="- Express delivery: 1–2 business days after dispatch. [1]", citations=(SHIPPING,))
    questions = ["How long does express delivery take?", "Can I pick an evening time slot?", "Is the courier DHL or UPS?"]
    lines = unanswered_remarks(d, questions, [SHIPPING], vectors)
    assert lines == (UNANSWERED_PREFIX + "“Can I pick an evening time slot?” · “Is the courier DHL or UPS?”",)


def test_a_battery_answer_left_out_of_the_draft_is_flagged_and_one_quoted_is_not(vectors):
    question = ["How long do the AA batteries in my Hearth last?"]
    without = Draft(body="Do not use rechargeable batteries. [1]", citations=(BATTERY,))
    assert unanswered_remarks(without, question, [BATTERY], vectors) == (NOT_IN_DRAFT_PREFIX + "“How long do the AA batteries in my Hearth last?”",)
    quoted = Draft(body="Without a C-wire, Hearth runs on 2 AA alkaline batteries. [1] A fresh pair lasts around 12 months with normal use. [1]",
                   citations=(BATTERY,))
    assert unanswered_remarks(quoted, question, [BATTERY], vectors) == ()


def test_bare_follow_ups_and_messages_answered_nowhere_are_not_listed(vectors):
    quoted = Draft(body="Without a C-wire, Hearth runs on 2 AA alkaline batteries. [1] A fresh pair lasts around 12 months with normal use. [1]",
                   citations=(BATTERY,))
    battery = "How long do the AA batteries in my Hearth last?"
    slot = "Can I pick an evening delivery slot with DHL?"
    assert unanswered_remarks(quoted, [battery, "How do I fix it?", "Hi?"], [BATTERY], vectors) == ()
    assert unanswered_remarks(quoted, [slot], [BATTERY], vectors) == ()  # the draft answers nothing asked: no verdict
    assert unanswered_remarks(quoted, [battery, slot], [BATTERY], vectors) == (UNANSWERED_PREFIX + f"“{slot}”",)
