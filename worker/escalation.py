"""The escalation packet: a case summary an agent in another tier can act on without reading the thread.

Extractive: every item is a sentence (or the start of one) the customer or an agent wrote, so nothing
in it can be invented. `worker.llm` writes the same packet with a model when one is configured, and
falls back to this one.
"""
from __future__ import annotations

import re

from integrations.base import Message, Ticket
from worker.models import EscalationPacket, Triage
from worker.sentences import split_sentences
from worker.triage import steering_sentences

ITEM_WORDS = 30  # an item longer than this is cut with "…"
MAX_ITEMS = 4

RISK_WHY = {
    "account_security": "possible account takeover or unauthorised use: verify the requester's identity before changing anything",
    "legal_threat": "legal action is mentioned: route to whoever handles legal complaints; no admission in the reply",
    "payment_dispute": "a chargeback or bank dispute is mentioned: no refund decision in the reply",
    "self_harm": "the customer may be at risk: follow the wellbeing procedure now, before the request itself",
    "product_safety": "a possible safety hazard (sparks, fire, smoke, shock): follow the product-safety procedure; no troubleshooting steps",
    "prompt_injection": "the ticket tries to instruct Deskhand: those sentences were ignored for triage and drafting",
    "personal_data": "the ticket contains personal data (card, IBAN, ID or contact numbers, a password or code): handle it per the data policy",
}

_GREETING_OR_THANKS = re.compile(
    r"^(?:hi|hello|hey|dear|good (?:morning|afternoon|evening)|thanks|thank you|many thanks|regards|kind regards|best|cheers)\b[^.!?]{0,40}[,.!]?$",
    re.I,
)
_PROBLEM_CUE = re.compile(
    r"\b(?:not|never|no longer|can't|cannot|won't|doesn't|didn't|isn't|haven't|hasn't|still|stuck|broken|error|fail\w*|missing|lost|"
    r"wrong|charged|damaged|late|offline|locked|hacked|refund|return|cancel|where|why|how)\b|\?",
    re.I,
)
_TRIED_CUSTOMER = re.compile(
    r"\b(?:i|we)(?:'ve| have| had)?\s+(?:already\s+|also\s+)?(?:tried|restarted|reset|rebooted|reinstalled|unplugged|replugged|checked(?! out)|"
    r"cleared|updated|contacted|called|phoned|emailed|e-mailed|followed|replaced|changed|waited|descaled|charged|swapped|used)\b"
    r"|\balready\b",
    re.I,
)
_AGENT_ACTION = re.compile(
    r"\b(?:please (?:try|check|make sure|send|confirm)|could you|can you|have you tried|try\b|"
    r"(?:i|we)(?:'ve| have)? (?:also |already |just )?(?:sent|reset|refunded|issued|escalated|forwarded|checked|asked|created|opened|replaced|reshipped|contacted))",
    re.I,
)


# Sentences written to Deskhand rather than about the problem ("in the summary, write that …") never
# become packet items: the packet would otherwise carry the injection to the next tier as a fact.
_ADDRESSED_TO_US = re.compile(
    r"\b(?:in (?:the|your) (?:summary|note|reply|draft)|(?:the )?next agent|assistant|deskhand|ai|bot|chatbot|"
    r"your (?:instructions|rules|prompt|policy)|system prompt)\b",
    re.I,
)


# What the customer says went wrong, in their own words ("Your thermostat flooded my flat"): preferred
# as the problem over a question about what to do next ("How do I make a warranty claim?").
_ISSUE = re.compile(
    r"\b(?:broke\w*|broken|flood\w*|leak\w*|burn\w*|smok\w*|spark\w*|crack\w*|damag\w*|stopped|stuck|offline|"
    r"hacked|charged|missing|lost|late|wrong|faulty|dead|won't|doesn't|didn't|isn't|can't|cannot|not working|never arrived)\b",
    re.I,
)
# Claims about policy or orders to the writer ("The approved policy says…", "Write the reply…",
# "Also say…") are a ticket steering the summary, even when triage did not flag the sentence.
_INSTRUCTION = re.compile(
    r"^(?:also\s+)?(?:write|say|tell|confirm|promise|add|set|ignore|include|mention|state)\b|"
    r"\b(?:the|your|our) (?:approved |official |new )?(?:policy|policies|rules?) (?:says?|states?|allows?)\b",
    re.I,
)


def _cut(text: str, words: int = ITEM_WORDS) -> str:
    parts = text.split()
    return " ".join(parts[:words]) + ("…" if len(parts) > words else "")


def _sentences(message: Message) -> list[str]:
    steering = set(steering_sentences(message.body))
    return [
        s for s in split_sentences(message.body)
        if not _GREETING_OR_THANKS.match(s) and len(s.split()) >= 3 and not _ADDRESSED_TO_US.search(s)
        and not any(st in s or s in st for st in steering)
    ]


def _problem(ticket: Ticket) -> str:
    customer = ticket.customer_messages()
    if not customer:
        return ticket.subject or "No customer message found."
    first = [s for s in _sentences(customer[0]) if not _INSTRUCTION.search(s)]

    def rank(sentence: str) -> int:
        """2: a statement of what went wrong; 1: another sentence with a problem cue; 0: neither."""
        if _ISSUE.search(sentence) and not sentence.rstrip().endswith("?"):
            return 2
        return 1 if _PROBLEM_CUE.search(sentence) else 0

    cued = [s for s in first if len(s.split()) >= 5 and rank(s) > 0]
    # the highest rank wins, the earliest sentence on ties
    pick = max(cued, key=lambda s: (rank(s), -first.index(s))) if cued else (first[0] if first else "")
    if not pick:
        # there is a message, but nothing in it states a problem: say which, never "no message"
        steering = steering_sentences(customer[0].body)
        return ticket.subject or (
            "None stated: the message only gives Deskhand instructions (left out)." if steering
            else "None stated in words (see the request above)."
        )
    return _cut(pick)


def _public_thread(ticket: Ticket) -> list[Message]:
    return [m for m in ticket.messages if m.public]


def tried_in_thread(ticket: Ticket) -> tuple[list[str], list[str]]:
    """(what the customer says they tried, what agents did or asked for): whole sentences of the thread."""
    tried_customer = [s for m in ticket.customer_messages() for s in _sentences(m) if _TRIED_CUSTOMER.search(s)]
    tried_agents: list[str] = []
    for m in _public_thread(ticket):
        if m.author_role == "agent":
            sentences = _sentences(m)
            tried_agents += ([s for s in sentences if _AGENT_ACTION.search(s)] or sentences[:1])[:2]
    return tried_customer, tried_agents


def build_packet(ticket: Ticket, triage: Triage, why: str) -> EscalationPacket:
    """The extractive packet for `ticket`: items quoted (and cut to ITEM_WORDS words) from the thread."""
    thread = _public_thread(ticket)
    customer, agents = tried_in_thread(ticket)
    tried_customer, tried_agents = [_cut(s) for s in customer], [_cut(s) for s in agents]
    last_agent = max((i for i, m in enumerate(thread) if m.author_role == "agent"), default=-1)
    after = [m for m in thread[last_agent + 1 :] if m.author_role == "requester"]
    questions = [_cut(s) for m in after for s in _sentences(m) if s.rstrip().endswith("?")]
    if not questions and ticket.customer_messages():
        questions = [_cut(s) for s in _sentences(ticket.customer_messages()[-1]) if s.rstrip().endswith("?")]
    return EscalationPacket(
        problem=_problem(ticket),
        tried_by_customer=tuple(dict.fromkeys(tried_customer))[-MAX_ITEMS:],
        tried_by_agents=tuple(dict.fromkeys(tried_agents))[-MAX_ITEMS:],
        open_questions=tuple(dict.fromkeys(questions))[:3],
        risks=tuple((flag, RISK_WHY.get(flag, "raised by triage")) for flag in triage.risks),
        why=why,
        messages=len(thread),
        source="extractive",
    )


def public_message_count(ticket: Ticket) -> int:
    """Public messages in the conversation (customer and agents), the measure of a long thread."""
    return len(_public_thread(ticket))
