"""The checks every draft passes after drafting, whoever wrote it (the offline drafter or an LLM).

A drafter proposes a `Candidate`: sentences (`Claim`s), each naming the retrieved passages it says
support it. `check_draft` alone turns a candidate into the `Draft` the note shows, and enforces:

- **citations resolve**: a claim keeps only sources that are among the retrieved (approved) passages
  *and* actually support it (its numbers all appear in the passage, and enough of its content words
  when both are in the same language); a claim left with no source is dropped, never shown as sourced;
- **operating model** (`triage.role`), whatever the drafter said: `escalate_only` → no reply text, an
  escalation packet; `summary_only` → the request in the customer's words and a policy checklist quoted
  from the sources, no decision; `constrained_draft` → a claim that commits to a refund, credit,
  compensation, exception, replacement, discount, guarantee, approval or a date is dropped unless a
  passage it cites states that commitment;
- **language**: a draft written in another language than the customer's is withheld; when the sources
  are in another language than the customer's, a remark says so;
- **missing information**: the category's required facts absent from the conversation are listed and
  the draft asks for them (in the customer's language);
- **length**: at most `max_words` words, greeting, closing and the question included, by dropping the
  least-supported claims first (a step list goes whole: never cut after a few steps).

Pure: no I/O, no model, no clock. The only inputs are the arguments.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from integrations.base import Ticket
from knowledge.models import Passage
from worker.config import CategoryConfig
from worker.escalation import build_packet, public_message_count, tried_in_thread
from worker.language import detect_language, locale_language
from worker.models import Draft, EscalationPacket, Triage
from worker.sentences import LIST_ITEM, split_sentences, word_count

SUMMARY_WORDS = 40
MIN_OVERLAP = 0.5  # share of a claim's content words that must appear in a passage it cites
MAX_CLAIM_WORDS = 60  # a "sentence" longer than this is not a sentence a reviewer can check
MAX_CHECKLIST = 5
LANGUAGE_NAMES = {
    "en": "English", "es": "Spanish", "fr": "French", "de": "German", "it": "Italian", "nl": "Dutch", "pt": "Portuguese",
}


@dataclass(frozen=True)
class Claim:
    """One sentence (or one step of a list) a drafter proposes, with the passages it says support it.

    `sources` are passage chunk ids; `unit` groups claims that stand or fall together (a sentence and
    the one it leans on, the steps of one list); `step` marks list items, rendered one per line.
    """

    text: str
    sources: tuple[str, ...]
    unit: int = 0
    step: bool = False


@dataclass(frozen=True)
class Candidate:
    """What a drafter proposes, before the checks. `reason` says why there are no claims, if none."""

    claims: tuple[Claim, ...] = ()
    drafter: str = "offline"
    language: str = ""  # what the drafter wrote in; "" = the sources' own words
    missing_info: tuple[str, ...] = ()  # facts the drafter thinks are missing, besides the configured ones
    escalate: bool = False
    escalate_reason: str = ""
    reason: str = ""
    remarks: tuple[str, ...] = ()  # e.g. why an LLM draft was replaced by the offline one
    packet: EscalationPacket | None = None  # written by an LLM; else an extractive one is built


@dataclass(frozen=True)
class Frame:
    """The draft's first and last line, in the customer's language ("" = none)."""

    greeting: str = ""
    closing: str = ""


@dataclass
class _Report:
    dropped: Counter = field(default_factory=Counter)

    def drop(self, why: str, n: int = 1) -> None:
        self.dropped[why] += n


# ---------------------------------------------------------------------------------------------------
# Required facts


_FACT_PATTERNS = {
    "order_number": re.compile(r"(#\s?\d{4,}|\border\b[^.\n]{0,20}?\b[A-Z]{0,4}-?\d{4,}\b|\b\d{6,}\b)", re.I),
    "email": re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+"),
    "device_model": re.compile(r"\b(model|version|firmware|app|v)\s*[:#]?\s*[\w.-]*\d", re.I),
}
FACT_LABELS = {
    "en": {"order_number": "order number", "email": "e-mail address on the account", "device_model": "device model or app version"},
    "es": {"order_number": "número de pedido", "email": "correo electrónico de la cuenta", "device_model": "modelo del dispositivo o versión de la app"},
    "fr": {"order_number": "numéro de commande", "email": "adresse e-mail du compte", "device_model": "modèle de l'appareil ou version de l'application"},
    "de": {"order_number": "Bestellnummer", "email": "E-Mail-Adresse des Kontos", "device_model": "Gerätemodell oder App-Version"},
    "it": {"order_number": "numero d'ordine", "email": "indirizzo e-mail dell'account", "device_model": "modello del dispositivo o versione dell'app"},
    "nl": {"order_number": "bestelnummer", "email": "e-mailadres van het account", "device_model": "apparaatmodel of app-versie"},
    "pt": {"order_number": "número da encomenda", "email": "e-mail da conta", "device_model": "modelo do dispositivo ou versão da app"},
}
_ASK = {
    "en": ("Could you please send me your {}?", " and "),
    "es": ("¿Podría enviarme lo siguiente: {}?", " y "),
    "fr": ("Pourriez-vous m'envoyer les informations suivantes : {} ?", " et "),
    "de": ("Könnten Sie mir bitte Folgendes senden: {}?", " und "),
    "it": ("Potrebbe inviarmi quanto segue: {}?", " e "),
    "nl": ("Kunt u mij het volgende sturen: {}?", " en "),
    "pt": ("Poderia enviar-me o seguinte: {}?", " e "),
}


# The customer writes about their own case (an order, a parcel, an account, a device of theirs), not a
# general policy question: first-person possessives in the languages FACT_LABELS covers, and "I ordered".
_OWN_CASE = re.compile(
    r"\b(?:my|mine|our|I(?:'ve| have)? (?:ordered|bought|purchased|paid|returned|received|placed))\b"
    r"|\b(?:mi|mis|mío|mía|pedí|compré)\b"  # es
    r"|\b(?:mon|ma|mes|j'ai (?:commandé|acheté|payé))\b"  # fr
    r"|\b(?:mein|meine|meinen|meinem|meiner|meines)\b"  # de
    r"|\b(?:mio|mia|miei|mie|ho ordinato|ho comprato)\b"  # it
    r"|\b(?:mijn|besteld)\b"  # nl
    r"|\b(?:meu|minha|meus|minhas|encomendei|comprei)\b",  # pt
    re.I,
)


# A source sentence asking the customer for a fact ("contact us with your order number"): dropped
# from a draft to a customer whose messages already give it.
_ASKS_FOR = {
    "order_number": re.compile(r"\border (?:number|id|reference)\b", re.I),
    "email": re.compile(r"\be-?mail address\b", re.I),
}
_REQUEST = re.compile(
    r"\b(?:contact us|send|provide|include|give us|quote|tell us|let us know|reply with|(?:we|you)(?:'ll| will)? need)\b", re.I
)


def _customer_text(ticket: Ticket) -> str:
    """Every customer message and the subject: where a fact the customer gave can be."""
    return "\n".join(m.body for m in ticket.customer_messages()) + "\n" + ticket.subject


def given_fact_keys(ticket: Ticket) -> tuple[str, ...]:
    """The facts (FACT_LABELS keys) the customer's messages or the subject already give."""
    text = _customer_text(ticket)
    return tuple(fact for fact, pattern in _FACT_PATTERNS.items() if pattern.search(text))


def asks_for_given(claim: str, given: tuple[str, ...]) -> str | None:
    """The label of a fact in `given` that `claim` asks the customer for, or None."""
    if not _REQUEST.search(claim):
        return None
    return next((FACT_LABELS["en"][fact] for fact in given if fact in _ASKS_FOR and _ASKS_FOR[fact].search(claim)), None)


def missing_fact_keys(ticket: Ticket, category: CategoryConfig | None) -> tuple[str, ...]:
    """The category's required facts (config names, in config order) that no customer message contains.

    () when the customer asks a general question ("How long does standard shipping take?"): the
    facts are needed to act on the customer's own case ("my order", "I ordered"), not to quote a policy.
    """
    if category is None or not category.requires:
        return ()
    text = _customer_text(ticket)
    if not _OWN_CASE.search(text):
        return ()
    return tuple(fact for fact in category.requires if not _FACT_PATTERNS[fact].search(text))


def missing_facts(ticket: Ticket, category: CategoryConfig | None) -> tuple[str, ...]:
    """Human labels (English, for the agent) of the category's required facts no customer message contains."""
    return tuple(FACT_LABELS["en"][f] for f in missing_fact_keys(ticket, category))


def ask_for(keys: tuple[str, ...], language: str) -> str:
    """The draft's question asking the customer for the missing facts, in `language` (English if unknown)."""
    if not keys:
        return ""
    lang = language if language in _ASK else "en"
    template, joiner = _ASK[lang]
    return template.format(joiner.join(FACT_LABELS[lang][k] for k in keys))


def summarize_request(ticket: Ticket) -> str:
    """The customer's latest request in at most SUMMARY_WORDS words, taken from their own words."""
    latest = ticket.latest_customer_message()
    if latest is None:
        return "No customer message found."
    if not latest.body.strip():
        n = latest.attachments
        return f"The customer sent {n} attachment{'' if n == 1 else 's'} and no text." if n else "The customer's message has no text."
    words: list[str] = []
    for sentence in split_sentences(latest.body):
        words.extend(sentence.split())
        if len(words) >= SUMMARY_WORDS:
            break
    text = " ".join(words[:SUMMARY_WORDS])
    return f"Customer writes: “{text}{'…' if len(words) > SUMMARY_WORDS else ''}”"


# ---------------------------------------------------------------------------------------------------
# Support: does a passage back a claim?


_STOPWORDS = frozenset(
    "the and for are but not you your our can has have had was were will would could should with from this that these those "
    "they them their there here what when where which who why how all any its it's into onto over under than then also just "
    "only very more most some such about after before while been being does did done may might must shall out off per via "
    "yes please thanks thank hello dear regards".split()
)
_WORD = re.compile(r"[^\W\d_]+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_MARKERS = re.compile(r"\s*\[(?:\d+|P\d+|[A-Za-z0-9_#:-]{1,24})\]")


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def content_words(text: str) -> set[str]:
    """Lower-cased, lightly stemmed words of 3+ letters that carry meaning (no stop words)."""
    return {_stem(w) for w in (m.group(0).lower() for m in _WORD.finditer(text)) if len(w) >= 3 and w not in _STOPWORDS}


def numbers(text: str) -> set[str]:
    """Every number in `text`, with a decimal comma read as a point ("3,5" == "3.5")."""
    return {n.replace(",", ".") for n in _NUMBER.findall(text)}


_TOKEN = re.compile(r"\d+(?:[.,]\d+)?|[^\W\d_]+|[%€$£]")
_CONNECTIVES = frozenset("to and or a y e à bis tot et und of de per".split())


def quantities(text: str) -> set[tuple[str, str]]:
    """(number, the word it counts) pairs: "3 to 5 business days" → {("3", "business"), ("5", "business")}."""
    tokens = _TOKEN.findall(text.lower())
    out = set()
    for i, tok in enumerate(tokens):
        if tok[0].isdigit():
            unit = next((t for t in tokens[i + 1 : i + 5] if not t[0].isdigit() and t not in _CONNECTIVES), "")
            out.add((tok.replace(",", "."), _stem(unit)))
    return out


def _counted(pairs: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """The pairs that count something: a number at the end of a text ("instead of 1.") counts nothing
    there, while the same number in the passage is followed by the next sentence's first word; the
    number itself is checked by `numbers`."""
    return {(n, unit) for n, unit in pairs if unit}


def support(claim: str, passage_text: str, *, same_language: bool = True) -> float:
    """How well `passage_text` backs `claim`, 0..1: 0 when the claim has a number the passage lacks
    (or, in the same language, counts something else with it: "2 hours" vs "2 business days"); else
    the share of the claim's content words found in the passage (1.0 across languages, where only
    numbers and commitments can be checked)."""
    if not numbers(claim) <= numbers(passage_text):
        return 0.0
    if not same_language:
        return 1.0
    if not _counted(quantities(claim)) <= quantities(passage_text):
        return 0.0
    words = content_words(claim)
    if not words:
        return 0.0
    return len(words & content_words(passage_text)) / len(words)


# ---------------------------------------------------------------------------------------------------
# Commitments (constrained_draft)


_COMMITMENTS = {
    "refund": r"refund\w*|reimburs\w*|money back|reembols\w*|rembours\w*|r[üu]ckerstatt\w*|erstatt\w*|rimbors\w*|terugbeta\w*",
    "full refund": r"full refund|\bin full\b|fully refund\w*|100 ?%|reembolso (?:completo|total)|remboursement (?:complet|intégral)",
    "credit": r"(?<!\bcredit )\bcredit(?:s|ed)?\b(?! card)|store credit|vouchers?|gutschein\w*|bon d'achat|tegoed\w*",
    "compensation": r"compensat\w*|goodwill|gesture|compens\w*|entsch[äa]dig\w*|indemni\w*|risarc\w*|vergoed\w*",
    "exception": r"exception\w*|waive\w*|waiv\w*|excepci\w*|ausnahme\w*|eccezion\w*|uitzondering\w*|exempt\w*|overlook",
    "free": r"free of charge|for free|free replacement|at no (?:extra )?cost|no charge|gratis|gratuit\w*|kostenlos\w*|gratuito\w*",
    "replacement": r"replac\w*|reemplaz\w*|remplac\w*|ersatz\w*|sostitu\w*|vervang\w*|new one|reship\w*|resend\w*",
    "discount": r"discount\w*|descuento\w*|remise\w*|rabatt\w*|sconto\w*|korting\w*|% off",
    "guarantee": r"guarantee\w*|promis\w*|assure\w*|garanti\w*|prometo|promet\w*|versprech\w*|beloof\w*|definitely|certainly",
    "approval": r"approv\w*|authori[sz]\w*|aprobad\w*|aprobam\w*|approuv\w*|genehmig\w*|approvat\w*|goedgekeurd",
}
_COMMITMENT_RES = {k: re.compile(rf"(?:{v})", re.I) for k, v in _COMMITMENTS.items()}
_DATE = re.compile(
    r"\b(?:today|tonight|tomorrow|this (?:week|weekend|afternoon|evening)|next (?:week|month|monday|tuesday|wednesday|thursday|friday)|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|end of (?:the )?(?:day|week|month)|"
    r"january|february|march|april|june|july|august|september|october|november|december|"
    r"hoy|mañana|aujourd'hui|demain|heute|morgen|oggi|domani|vandaag|amanhã|hoje|"
    r"lunes|martes|miércoles|jueves|viernes|lundi|mardi|mercredi|jeudi|vendredi|montag|dienstag|mittwoch|donnerstag|freitag)\b"
    r"|\b\d{1,2}[/.]\d{1,2}(?:[/.]\d{2,4})?\b|\b(?:within|in|by) \d+ (?:hours?|days?|weeks?|business days?|working days?)\b",
    re.I,
)


def commitments(text: str) -> set[str]:
    """The kinds of commitment `text` makes (refund, credit, …) and each date expression, lower-cased."""
    kinds = {k for k, rx in _COMMITMENT_RES.items() if rx.search(text)}
    kinds |= {"date:" + m.group(0).lower() for m in _DATE.finditer(text)}
    return kinds


def unstated_commitments(claim: str, passage_texts: list[str]) -> set[str]:
    """Commitments of `claim` that none of `passage_texts` states (dates must appear as written)."""
    stated: set[str] = set()
    for text in passage_texts:
        stated |= commitments(text)
    joined = " ".join(passage_texts).lower()
    missing = set()
    for c in commitments(claim):
        if c.startswith("date:"):
            if c[5:] not in joined:
                missing.add(c)
        elif c not in stated:
            missing.add(c)
    return missing


# ---------------------------------------------------------------------------------------------------
# Policy checklist (summary_only)


_CONDITION = re.compile(
    r"\b(?:within|must|only|unless|if|require[sd]?|eligible|not (?:be )?(?:returnable|refundable|eligible|accepted)|cannot|can't|"
    r"excluded|except|original payment|proof|receipt|unused|sealed|condition|days?|fee|deduct\w*|after)\b",
    re.I,
)


def policy_checklist(passages: list[Passage], citations: list[Passage]) -> tuple[str, ...]:
    """Conditions quoted from `passages` (eligibility, time limits, fees, what to confirm), each cited
    `[n]` by its article's position in `citations`; at most MAX_CHECKLIST items."""
    ids = [c.article_id for c in citations]
    items: list[str] = []
    seen: list[set[str]] = []
    for p in passages:
        if p.article_id not in ids:
            continue
        sentences = [_MARKERS.sub("", s) for s in split_sentences(p.text)]
        picked = [i for i, s in enumerate(sentences) if _CONDITION.search(s) and word_count(s) >= 4] or [0][: len(sentences)]
        for i in picked:
            text = LIST_ITEM.sub("", sentences[i]).strip()
            if text.endswith(":"):
                # a lead-in alone ("These items cannot be returned:") says nothing: give it its list
                items_after = []
                for following in sentences[i + 1 :]:
                    if not LIST_ITEM.match(following):
                        break
                    items_after.append(LIST_ITEM.sub("", following).strip().rstrip("."))
                if not items_after:
                    continue
                text = f"{text} {'; '.join(items_after)}."
            elif LIST_ITEM.match(sentences[i]):
                # a list item alone ("Gift cards, digital or printed.") says nothing: give it its lead-in
                lead = next((s for s in reversed(sentences[:i]) if not LIST_ITEM.match(s)), "")
                # a heading that is itself a question ("Why is my refund less than expected?") is no lead-in
                heading = p.section if p.section and not p.section.rstrip().endswith("?") else ""
                lead = lead if lead.rstrip().endswith(":") else (f"{heading}:" if heading else "")
                text = f"{lead.strip()} {text}".strip()
            words = content_words(text)
            # two articles often state the same condition in other words: keep it once
            if text and not any(len(words & w) >= 0.6 * min(len(words), len(w)) for w in seen):
                seen.append(words)
                items.append(f"{text} [{ids.index(p.article_id) + 1}]")
    return tuple(items[:MAX_CHECKLIST])


# ---------------------------------------------------------------------------------------------------
# The check


def repeats_tried(lines: list[str], ticket: Ticket) -> list[str]:
    """The draft sentences (citation markers removed) that share at least two content words with one
    sentence of what the thread says was already tried ("I restarted the router" vs "1. Restart the
    router."): a hint for the agent, who knows whether repeating a step helps. Sentences are compared
    one by one, so words spread over a paragraph never add up to a match. [] when the thread mentions
    nothing tried."""
    customer, agents = tried_in_thread(ticket)
    tried = [content_words(s) for s in customer + agents]
    if not tried:
        return []
    sentences = [s for line in lines for part in _MARKERS.split(line) for s in split_sentences(part.strip())]
    return [s for s in sentences if any(len(content_words(s) & t) >= 2 for t in tried)]


def _cut_words(text: str, n: int) -> str:
    words = text.split()
    return " ".join(words[:n]) + ("…" if len(words) > n else "")


def sources_language(passages: list[Passage]) -> str:
    """The language most of `passages` are written in (from their locale), "" when there are none."""
    langs = Counter(locale_language(p.locale) or "en" for p in passages)
    return langs.most_common(1)[0][0] if langs else ""


def _clean(text: str) -> str:
    return " ".join(_MARKERS.sub("", text).split())


def _language_remark(customer: str, sources: str, drafter_wrote: str) -> str:
    if not sources or sources == customer:
        return ""
    c, s = LANGUAGE_NAMES.get(customer, customer), LANGUAGE_NAMES.get(sources, sources)
    if drafter_wrote == customer:
        return f"The sources are in {s}; the draft is a translation into {c}: check it against them before sending."
    return f"The sources are in {s} and the customer wrote in {c}: the draft quotes them in {s}, so translate it before sending."


def check_draft(
    candidate: Candidate,
    *,
    ticket: Ticket,
    triage: Triage,
    passages: list[Passage],
    category: CategoryConfig | None,
    frame: Frame = Frame(),
    max_words: int = 120,
    packet_after_messages: int = 0,
    detect_languages: tuple[str, ...] = ("en", "es", "fr", "de", "it", "nl", "pt"),
) -> Draft:
    """The Draft the note shows for `candidate`, after every check (see the module docstring).

    Returns a Draft whose `body` has at most `max_words` words and in which every sentence that is
    not the greeting, the closing or the question for missing facts carries `[n]` markers, each
    `citations[n-1]` being a retrieved passage that supports it; `body` is "" when the role forbids a
    reply or no claim survives (then `reason` says why). Never raises on a candidate's content.
    """
    report = _Report()
    remarks = list(candidate.remarks)
    missing_keys = missing_fact_keys(ticket, category)
    missing = tuple(FACT_LABELS["en"][k] for k in missing_keys)
    # a drafter's own missing-information items reach the note only when short and free of commitments
    # (ticket text can steer an LLM, so nothing it adds may read as a decision)
    extra = tuple(
        f"{_clean(m)} (suggested by the drafter)" for m in candidate.missing_info[:3]
        if 0 < word_count(_clean(m)) <= 8 and not commitments(_clean(m))
    )
    missing_all = missing + tuple(e for e in extra if e.split(" (")[0].lower() not in {x.lower() for x in missing})
    thread = public_message_count(ticket)
    long_thread = packet_after_messages > 0 and thread > packet_after_messages

    def packet(why: str) -> EscalationPacket:
        if candidate.packet is not None:
            return EscalationPacket(**{**candidate.packet.__dict__, "why": why, "risks": build_packet(ticket, triage, why).risks})
        return build_packet(ticket, triage, why)

    if triage.role == "escalate_only":
        if triage.category == "unknown" or category is None:
            why = "Triage could not place this ticket in a category; route it for human triage."
        elif category.role != "escalate_only" and triage.risks:  # the category drafts; a risk flag lowered the role
            why = f"Escalated because of risk flag(s) {', '.join(triage.risks)}: no draft. Hand it to the owning team."
        else:
            why = f"{triage.label} is escalate-only: no draft. Hand it to the owning team."
        if triage.risks:
            why += " Risk flags: " + ", ".join(triage.risks) + "."
        return Draft(
            body="", citations=(), missing_info=missing, escalate=True, reason=why, summary=summarize_request(ticket),
            remarks=tuple(remarks), drafter=candidate.drafter, packet=packet(why),
        )

    long_packet = packet(f"Long thread: {thread} public messages (more than {packet_after_messages}).") if long_thread else None
    if triage.role == "summary_only":
        reason = "Summary only: the agent decides. Check the policy sources below before replying."
        if not passages:
            reason = "Summary only, and no approved source covers this request: check the policy manually."
        cited = list({p.article_id: p for p in reversed(passages)}.values())[::-1][:2]  # the first two articles
        return Draft(
            body="", citations=tuple(cited), missing_info=missing, reason=reason, summary=summarize_request(ticket),
            checklist=policy_checklist(cited, cited), remarks=tuple(remarks), drafter=candidate.drafter, packet=long_packet,
        )

    # draft / constrained_draft
    by_id = {p.chunk_id: p for p in passages}
    customer_lang = triage.language
    src_lang = sources_language(passages)
    wrote = candidate.language or src_lang
    same_language = (wrote or customer_lang) == (src_lang or wrote)
    claims = candidate.claims
    if claims and candidate.language:
        # whatever the drafter says it wrote in, the customer's language is what counts
        text = " ".join(_clean(c.text) for c in claims)
        code, _conf, detected = detect_language(text, tuple(sorted({*detect_languages, customer_lang})), customer_lang)
        if detected and code != customer_lang:
            report.drop(f"written in {LANGUAGE_NAMES.get(code, code)}, not the customer's {LANGUAGE_NAMES.get(customer_lang, customer_lang)}",
                        len(claims))
            claims = ()
    units = _checked_units(claims, by_id, triage.role == "constrained_draft", same_language, report, given_fact_keys(ticket))

    ask = ask_for(missing_keys, customer_lang)
    fixed_words = word_count(ask) + word_count(frame.greeting) + word_count(frame.closing)
    units = _trim(units, max_words - fixed_words, report)

    if report.dropped:
        total = sum(report.dropped.values())
        remarks.append(
            f"Checks removed {total} sentence{'s' if total != 1 else ''}: "
            + "; ".join(f"{why} ({n})" for why, n in report.dropped.most_common())
            + "."
        )
    if candidate.escalate:
        # the model's own words are not shown: ticket text can steer them; the case summary says what happened
        remarks.append("The drafter suggests escalating this ticket; see the case summary.")
        long_packet = long_packet or packet("The drafter suggested escalating.")

    if not units:
        reason = candidate.reason if not candidate.claims and candidate.reason else (
            "No proposed sentence passed the checks, so there is no draft. Answer manually."
            if candidate.claims
            else "No approved help-center source supports a reply, so there is no draft. Answer manually or add an article."
        )
        return Draft(body="", citations=(), missing_info=missing_all, reason=reason, remarks=tuple(remarks),
                     drafter=candidate.drafter, packet=long_packet)

    body, citations = _render(units, by_id)
    repeated = repeats_tried(body.splitlines(), ticket)
    if repeated:
        quoted = "; ".join(f"“{_cut_words(sentence, 6)}”" for sentence in repeated[:2])
        remarks.append(f"May repeat what the thread says was already tried: {quoted}. Check before sending.")
    if ask:
        body += "\n" + ask
    if frame.greeting:
        body = frame.greeting + "\n" + body
    if frame.closing:
        body += "\n" + frame.closing
    lang_remark = _language_remark(customer_lang, src_lang, wrote)
    if lang_remark:
        remarks.append(lang_remark)
    reason = "Policy wording only: make no commitment the sources do not state." if triage.role == "constrained_draft" else ""
    return Draft(
        body=body, citations=tuple(citations), missing_info=missing_all, reason=reason, remarks=tuple(remarks),
        drafter=candidate.drafter, packet=long_packet,
    )


# A unit after the checks: its claims, each with the passages that support it and their support.
_Unit = list[tuple[Claim, list[tuple[Passage, float]]]]


def _checked_units(
    claims: tuple[Claim, ...],
    by_id: dict[str, Passage],
    constrained: bool,
    same_language: bool,
    report: _Report,
    given: tuple[str, ...] = (),
) -> list[_Unit]:
    units: dict[int, _Unit] = {}
    order: list[int] = []
    failed: set[int] = set()
    for claim in claims:
        text = _clean(claim.text)
        claim = Claim(text=text, sources=claim.sources, unit=claim.unit, step=claim.step)
        if claim.unit not in units:
            units[claim.unit] = []
            order.append(claim.unit)
        if not text:
            continue
        if word_count(text) > MAX_CLAIM_WORDS:
            report.drop("too long to check")
            failed.add(claim.unit)
            continue
        resolved = [by_id[s] for s in dict.fromkeys(claim.sources) if s in by_id]
        if not resolved:
            report.drop("no valid source" if not claim.sources else "cites a passage that was not retrieved")
            failed.add(claim.unit)
            continue
        backed = [(p, support(text, _passage_text(p), same_language=same_language)) for p in resolved]
        backed = [(p, s) for p, s in backed if s >= MIN_OVERLAP]
        if not backed:
            report.drop("not supported by the passage it cites")
            failed.add(claim.unit)
            continue
        if constrained and unstated_commitments(text, [_passage_text(p) for p, _ in backed]):
            report.drop("a commitment the sources do not state")
            failed.add(claim.unit)
            continue
        if asked := asks_for_given(text, given):
            report.drop(f"asks for the {asked} the customer already gave")
            failed.add(claim.unit)
            continue
        units[claim.unit].append((claim, backed))
    out = []
    for u in order:
        unit = units[u]
        if not unit:
            continue
        if u in failed and not unit[0][0].step:
            # a sentence glued to one that failed loses what it leans on
            report.drop("leans on a removed sentence", len(unit))
            continue
        out.append(unit)
    return out


def _passage_text(passage: Passage) -> str:
    """What a passage states, its section heading included: the offline drafter quotes the heading as
    the lead-in of a list that opens the chunk ("Delivery times within the EU:"), and the chunk's text
    starts below that heading."""
    return "\n".join(t for t in (passage.section, passage.text) if t)


def _unit_words(unit: _Unit) -> int:
    return sum(word_count(c.text) + 1 for c, _backed in unit)  # + the citation marks, written as one word


def _unit_support(unit: _Unit) -> float:
    return min(max(s * max(p.score, 0.01) for p, s in backed) for _c, backed in unit)


def _trim(units: list[_Unit], budget: int, report: _Report) -> list[_Unit]:
    units = [list(u) for u in units]
    while units and sum(_unit_words(u) for u in units) > budget:
        # the least-supported unit goes first (the later one on ties); a step list goes whole, never
        # cut after a few steps (a customer would follow half a procedure)
        i = min(range(len(units)), key=lambda k: (_unit_support(units[k]), -k))
        dropped = units.pop(i)
        report.drop("over the word limit", len(dropped))
    return units


def _render(units: list[_Unit], by_id: dict[str, Passage]) -> tuple[str, list[Passage]]:
    """The body with one citation number per article, numbered in order of first use."""
    citations: list[Passage] = []
    lines = []
    for unit in units:
        parts = []
        for claim, backed in unit:
            marks = ""
            for p, _s in backed:
                ids = [c.article_id for c in citations]
                if p.article_id not in ids:
                    citations.append(p)
                    ids.append(p.article_id)
                mark = f"[{ids.index(p.article_id) + 1}]"
                if mark not in marks:
                    marks += mark
            parts.append(f"{claim.text} {marks}")
        lines.append("\n".join(parts) if unit[0][0].step else " ".join(parts))
    steps = any(u[0][0].step for u in units)
    return ("\n".join(lines) if steps else " ".join(lines)), citations
