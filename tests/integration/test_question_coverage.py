"""Question coverage with the real embedding model (all-MiniLM-L6-v2) on the demo help center's words:
the thresholds in worker/drafting.py were tuned on these cases."""
import pytest

from knowledge.embeddings import get_embedder
from knowledge.models import Passage
from worker.drafting import NOT_IN_DRAFT_PREFIX, UNANSWERED_PREFIX, SentenceVectors, named_question, unanswered_remarks
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


HEAT_PUMP = Passage(
    chunk_id="hc-601#0", article_id="hc-601", title="Will Larkspur Hearth work with my heating system?", section="", score=0.7,
    text="Air-to-water heat pumps that accept an on/off thermostat signal work with Hearth. "
         "Hearth is designed to be installed yourself in about 30 minutes when replacing a low-voltage thermostat.",
)


def test_a_question_whose_it_is_named_elsewhere_in_the_message_is_matched(vectors):
    # demo ticket 1013: "…Will Hearth work with that, and can I install it myself?" was split into two
    # questions, and "Can I install it myself?" was listed unanswered next to a draft answering it
    message = "Before I buy the Hearth thermostat: we have a heat pump. Will Hearth work with that, and can I install it myself?"
    questions = ["Will Hearth work with that?", "Can I install it myself?"]
    assert named_question(questions[1], message, [HEAT_PUMP]) == "Can I install Hearth myself?"
    d = Draft(body=HEAT_PUMP.text.replace("Hearth. ", "Hearth. [1] ") + " [1]", citations=(HEAT_PUMP,))
    assert unanswered_remarks(d, questions, [HEAT_PUMP], vectors, message) == ()
    assert unanswered_remarks(d, questions, [HEAT_PUMP], vectors) == (UNANSWERED_PREFIX + "“Can I install it myself?”",)
