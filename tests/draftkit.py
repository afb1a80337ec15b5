"""Shared pieces for the drafting tests: a small help center, triage results per role, and one call
that runs the drafting stage (offline, or with an LLM drafter) and renders the note."""
from __future__ import annotations

from knowledge.models import Passage
from worker.config import CategoryConfig, DraftingConfig, RouteConfig, RoutingConfig
from worker.drafting import SentenceVectors, compose_draft
from worker.models import Draft, Note, Triage
from worker.notes import render_note

from tests.unit.fakes import BagOfWordsEmbedder, ListIndex

EMB = BagOfWordsEmbedder()
SENTENCES = SentenceVectors(EMB)


def _p(article: str, title: str, text: str, n: int = 0) -> Passage:
    return Passage(chunk_id=f"{article}#{n}", article_id=article, title=title, text=text, score=0.0, url=f"https://help.example/{article}")


HELP_CENTER = [
    _p("hc-ship", "How long does shipping take?",
       "Standard delivery within the EU takes 3 to 5 business days after dispatch. Express delivery takes 1 to 2 business days. "
       "Orders placed after 14:00 are dispatched on the next business day."),
    _p("hc-refund", "When will I get my refund?",
       "Refunds are made to the original payment method within 5 to 10 business days after we receive your return. "
       "A return label fee of 5.95 euros is deducted for change-of-mind returns. Items must be returned within 30 days of delivery."),
    _p("hc-charge", "I have been charged twice",
       "A second charge is often a pending authorisation that disappears within 7 days. "
       "If both charges are completed for the same order, contact us with your order number and the date of each charge."),
    _p("hc-password", "Reset your password",
       "1. Open the sign-in page and choose Forgot password.\n2. Enter the e-mail address on your account.\n"
       "3. Follow the link in the e-mail within 60 minutes."),
    _p("hc-kettle", "My kettle won't switch on",
       "Check that the kettle sits flat on its base and that the socket works with another appliance. "
       "If the kettle boiled dry, let it cool for 15 minutes: the safety cut-out resets by itself."),
]
INDEX = ListIndex(HELP_CENTER, EMB)

CATEGORIES = {
    "draft": CategoryConfig(label="Shipping", role="draft", examples=["x"]),
    "constrained_draft": CategoryConfig(label="Billing", role="constrained_draft", examples=["x"]),
    "summary_only": CategoryConfig(label="Refunds", role="summary_only", examples=["x"], requires=["order_number"]),
    "escalate_only": CategoryConfig(label="Account", role="escalate_only", examples=["x"]),
}
CATEGORY_NAMES = {"draft": "shipping", "constrained_draft": "billing", "summary_only": "returns_refunds", "escalate_only": "account_access"}
ROUTING = RoutingConfig(
    tag_prefix="deskhand_",
    always_tags=["triaged"],
    categories={name: RouteConfig(tags=[name]) for name in CATEGORY_NAMES.values()},
    role_tags={"draft": ["draft_ready"], "constrained_draft": ["constrained"], "summary_only": ["policy_review"], "escalate_only": ["escalation"]},
    no_draft_tags=["no_source"],
)
DRAFTING = DraftingConfig(greeting={"en": "Hello,", "es": "Hola:"}, closing={"en": "Kind regards,", "es": "Un saludo,"}, packet_after_messages=6)


def triage_for(role: str, language: str = "en", risks: tuple[str, ...] = ()) -> Triage:
    name = CATEGORY_NAMES[role]
    return Triage(category=name, confidence=0.9, role=role, urgency="normal", sentiment="neutral", language=language,
                  risks=risks, label=CATEGORIES[role].label)


def retrieve(text: str, top_k: int = 3, min_score: float = 0.1) -> list[Passage]:
    return INDEX.search(text, query_embedding=EMB.embed([text])[0], top_k=top_k, min_score=min_score)


def run_drafting(ticket, triage: Triage, llm=None, passages: list[Passage] | None = None, max_words: int = 120) -> tuple[Draft, Note]:
    """The drafting stage and the note for `ticket`, as the pipeline runs them after triage."""
    text = ticket.latest_customer_message().body
    found = retrieve(text) if passages is None else passages
    if triage.role == "escalate_only":
        found = []
    category = CATEGORIES[triage.role]
    d = compose_draft(ticket, triage, found, query_vec=EMB.embed([text])[0], sentences=SENTENCES, category=category,
                      max_words=max_words, drafting=DRAFTING, llm=llm)
    note = render_note(ticket, ticket.latest_customer_message().id, triage, d, ROUTING, "test")
    return d, note
