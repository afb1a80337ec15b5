"""Reversible redaction of personal data before any ticket text leaves for an external LLM.

`Redactor.redact(text)` replaces e-mail addresses, phone numbers, payment card numbers (Luhn-checked),
IBANs (ISO 13616 mod-97 checksum), US Social Security numbers (`SSN`), secrets a customer pastes
behind a label (`SECRET`: passwords, PINs and passcodes, card security codes, one-time codes; only
the value, "my password is [SECRET_1]"), IP addresses, postal addresses and names where they are
detectable with placeholders such as `[EMAIL_1]`; the same value always gets the same placeholder
within one ticket, so the model can still tell "the customer's address" from "the agent's".
`restore(text)` puts the values back — only ever in the internal note, which stays inside the helpdesk —
except SSNs and secrets, which no note or reply should repeat. A name or secret found once is also
redacted where it recurs in the ticket.

Why a small redactor and not a library: Presidio (the maintained option) needs a spaCy model that
it downloads at start-up, and its pattern recognisers fetch the public-suffix list over the network;
neither works on a machine that reaches only package registries, and it has no postal-address
recogniser for English. Phone numbers are the hard part of the patterns, so they come from
`phonenumbers` (Google's libphonenumber metadata, offline); the checksums are a few lines each.
Names and postal addresses are found only where the text signals them (a sign-off, "my name is",
a title, a street type, a postcode after a street): a bare name in the middle of a sentence is not.
Secrets are found only behind an English label ("password:", "PIN", "CVV", "verification code"):
a bare "hunter2" or "4821" is not.
"""
from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from phonenumbers import Leniency, PhoneNumberMatcher

KINDS = ("EMAIL", "IBAN", "CARD", "SSN", "SECRET", "IP", "PHONE", "ADDRESS", "NAME")  # also the priority on overlaps
PLACEHOLDER_RE = re.compile(rf"\[(?:{'|'.join(KINDS)})_\d+\]")
NEVER_RESTORED = ("SSN", "SECRET")  # kinds `Redactor.restore` leaves as placeholders
# Regions whose national formats (no "+") the phone matcher tries; "+…" numbers match in any region.
PHONE_REGIONS = ("US", "GB", "IE", "DE", "FR", "NL", "BE", "ES", "IT", "PT", "AU", "CA")


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    kind: str


# ---------------------------------------------------------------------------------------------------
# Checksums


def luhn_valid(digits: str) -> bool:
    """True when the digit string passes the Luhn check used by payment card numbers."""
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_valid(candidate: str) -> bool:
    """True when `candidate` (spaces allowed) is an IBAN whose mod-97 check digits are right (ISO 13616)."""
    s = re.sub(r"\s", "", candidate).upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}", s):
        return False
    rearranged = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


# ---------------------------------------------------------------------------------------------------
# Detectors: each returns spans of the original text


_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_CARD = re.compile(r"(?<![\d+-])\d(?:[ -]?\d){12,18}(?![\d])")  # after "+" it is a phone number
_IBAN = re.compile(r"\b[A-Za-z]{2}\d{2}(?:[ ]?[A-Za-z0-9]){11,30}\b")
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.]*\d)")
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")
# A phone number libphonenumber rejects (made-up ranges) still looks like one: "+" and 8+ digits, or
# a phone word just before a run of digits with separators.
_PLUS_PHONE = re.compile(r"(?<![\w+])\+\d[\d ()./-]{6,}\d(?!\d)")
_WORD_PHONE = re.compile(
    r"\b(?:phone|mobile|cell|tel|telephone|call(?: me)?(?: on| at)?|whatsapp|ring me(?: on)?|number|móvil|teléfono|handy|téléphone|portable)"
    r"\b[^\d\n]{0,12}(\(?\d[\d ()./-]{5,}\d)",
    re.I,
)
_NOT_PHONE_BEFORE = re.compile(
    r"(?:order|tracking|invoice|ticket|case|reference|ref|item|sku|serial|model|version|build|firmware|\bv|#)\W{0,3}(?:no\.?|number|id)?\W{0,3}$"
    r"|[A-Za-z0-9.-]$",  # glued to a code ("BK-16947", "v2.10442…") it is part of that code
    re.I,
)

# US Social Security numbers. Areas 000, 666 and 900-999, group 00 and serial 0000 are never issued.
# The dashed 3-2-4 shape alone counts (it is the SSN's own shape; no phone, date or card is written
# so), unless an order/reference word or a code is glued before it ("order 123-45-6789"); spaced or
# unseparated digits count only behind an SSN label, since 9 bare digits are usually something else.
_SSN_DIGITS = r"(?!000|666|9\d\d)\d{3}(?P<sep>[ -]?)(?!00)\d{2}(?P=sep)(?!0000)\d{4}(?![\w-])"
_SSN_BARE = re.compile(r"(?<![\w-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\w-])")
_SSN_LABELLED = re.compile(
    r"\b(?i:ssn|social security(?:[ \t]+(?:number|no\.?))?|soc\.?[ \t]?sec\.?(?:[ \t]+no\.?)?)"
    rf"[ \t]*#?[ \t]*(?:[:=][ \t]*|(?i:is|was)[ \t]+)?(?P<value>{_SSN_DIGITS})"
)

# Secrets, only behind an English label and only the value. Digit codes: a card security code is 3-4
# digits, a PIN or passcode 4-8, a one-time code 3-8 (or "839 201"); a bare "code" never counts
# ("error code 1234", "code 404"), nor a label with no digits after it ("change my PIN").
_CODE_LINK = r"(?:[ \t]+(?i:number|no\.?|code))?[ \t]*(?:[:=#][ \t]*|(?i:is|was)[ \t]+)?"
_SECRET_CODES = [
    re.compile(rf"\b(?i:cvv2?|cvc2?|csc|card verification (?:code|value|number)){_CODE_LINK}(?P<value>\d{{3,4}})(?![\w-])"),
    re.compile(rf"\b(?i:pin(?:[ -]?code)?|pass ?code){_CODE_LINK}(?P<value>\d{{4,8}})(?![\w-])"),
    re.compile(
        r"\b(?i:(?:verification|security|authentication|auth|login|log-in|sign-in|one-time|one time|2fa|mfa|two-factor|sms)"
        rf"[ \t]+code|otp|one[- ]time (?:password|passcode)){_CODE_LINK}(?P<value>\d{{3}}[ -]\d{{3}}|\d{{3,8}})(?![\w-])"
    ),
]
# Passwords: after "=" ("pwd=…", config style, never prose) any token; after ":" or "is"/"was" a quoted
# value, or a token of 4+ characters with a digit or a symbol, so that "my password is incorrect",
# "password: can't log in" and "password is 8 characters" stay (and a digit-free "sunshine" is missed).
# "password reset", "forgot my password" and "the password field" have no link word and never match.
_PASSWORD = re.compile(
    r"\b(?i:password|passwd|pwd|passphrase|pass phrase)\b"
    r"(?:[ \t]+(?i:for|to|on|of)[ \t]+(?i:my|the|our|this)[ \t]+[\w-]+)?"  # "the password for my account is …"
    r"(?:[ \t]*(?P<eq>=)[ \t]*|[ \t]*:[ \t]*|[ \t]+(?i:is|was)(?:[ \t]+(?i:now|still))?(?:[ \t]*:)?[ \t]+)"
    r"(?:[\"'“‘](?P<quoted>[^\"'”’\n]{1,64})[\"'”’]|(?P<token>\S+))"
)
_SECRET_SYMBOL = re.compile(r"[\d!@#$%^&*_+=~|\\/<>{}\[\]()]")  # "-" and "'" are in ordinary words
_TRAILING_PUNCT = ".,;:?)]}\"'”’»"  # sentence punctuation after a password is not part of it; "!" often is

_STREET_TYPES = (
    r"Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Dr|Boulevard|Blvd|Way|Court|Ct|Place|Pl|Terrace|Close|Crescent|"
    r"Square|Sq|Parkway|Pkwy|Highway|Hwy|Row|Gardens|Grove|Mews|Walk|Circle|Cir|Trail|Park|Hill"
)
_CAP = r"(?:[A-ZÀ-Ý][a-zà-ÿ'’-]+|\d{1,3}(?:st|nd|rd|th))"  # a word of a street or city name
_UK_POSTCODE = r"[A-Z]{1,2}\d[A-Z\d]?[ \t]*\d[A-Z]{2}"
_POSTCODE_CITY = (
    rf"(?:,?[ \t]*(?:{_UK_POSTCODE}|\d{{4}}[ \t]?[A-Z]{{2}}|\d{{4,5}}|[A-Z]{{2}}[ \t]+\d{{5}}(?:-\d{{4}})?)(?:[ \t]+{_CAP}(?:[ -]{_CAP}){{0,2}})?)"
)
_UNIT = r"(?:,?[ \t]*(?:Apt|Apartment|Suite|Unit|Flat|Floor|Fl)\.?[ \t]*#?\w+)"
_TAIL = rf"{_UNIT}?(?:,[ \t]*{_CAP}(?:[ -]{_CAP}){{0,2}}){{0,2}}{_POSTCODE_CITY}?(?:,[ \t]*{_CAP}(?:[ \t]{_CAP})?)?"
_ADDRESSES = [
    # 221B Baker Street, London NW1 6XE · 1600 Pennsylvania Ave NW, Washington, DC 20500
    re.compile(rf"\b\d{{1,5}}[A-Za-z]?(?:[-/]\d{{1,4}})?,?\s+(?:{_CAP}\s+){{1,4}}(?:{_STREET_TYPES})\b\.?(?:\s+(?:NW|NE|SW|SE|N|S|E|W)\b)?{_TAIL}"),
    # Hauptstraße 12, 10115 Berlin · Keizersgracht 123-2, 1015 CJ Amsterdam
    re.compile(
        r"\b[A-ZÄÖÜ][\wäöüßéè'-]*(?:straße|strasse|str\.|weg|gasse|platz|allee|ring|damm|ufer|laan|straat|gracht|plein|kade|dijk|steeg|singel|markt)"
        rf"\s+\d{{1,4}}[a-zA-Z]?(?:[-/]\d{{1,4}})?{_TAIL}"
    ),
    # 12 rue de Rivoli, 75001 Paris · Calle Mayor 5, 28013 Madrid · Viale Monza 4, 20125 Milano
    re.compile(
        r"\b(?:\d{1,4}(?:\s?(?:bis|ter))?,?\s+)?(?:(?i:rue|avenue|boulevard|bd|chemin|allée|impasse|quai|calle|c/|avenida|av\.|plaza|paseo|"
        r"carrer|viale|piazza|corso|rua|travessa|largo)\s+(?:(?:de|del|de la|des|du|da|do|dos|della|di|la|le|les|los|las|d')\s*)?"
        r"|(?i:place)\s+(?:de la|de l'|du|des|de|d')\s*)"  # "place" alone is too common an English word
        rf"{_CAP}(?:\s+{_CAP}){{0,3}}(?:,?\s*(?:n[º°o.]\s*)?\d{{1,4}}[a-zA-Z]?(?!\d))?{_TAIL}"
    ),
    # Via Roma 10, 00184 Roma · via dei Mille, 5 · in via Po 3 entro venerdì. "via" is also an English
    # preposition ("via Google Pay", "via Royal Mail"), so it needs a house number, and one that is not a
    # count ("via Apple Pay 2 weeks ago", "via PayPal 3 times").
    re.compile(
        rf"\b(?i:via)\s+(?:(?i:del|della|dello|dei|degli|delle|di|d')\s*)?{_CAP}(?:\s+{_CAP}){{0,3}},?\s*(?:n[º°o.]\s*)?"
        rf"\d{{1,4}}[a-zA-Z]?(?:/\w{{1,3}})?(?![ \t]*(?:(?i:x\b|times?|weeks?|days?|months?|years?|hours?|minutes?|"
        rf"mins?|ago|euros?|dollars?|pounds?|items?|orders?|payments?|%)))\b{_TAIL}"
    ),
    # P.O. Box 1234 · PO Box 77
    re.compile(rf"\bP\.?\s?O\.?\s+Box\s+\d{{1,6}}{_TAIL}", re.I),
    # a postcode on its own: UK, or a US "City, ST 12345"
    re.compile(rf"\b{_UK_POSTCODE}\b"),
    re.compile(rf"\b{_CAP}(?:\s{_CAP}){{0,2}},\s*[A-Z]{{2}}\s+\d{{5}}(?:-\d{{4}})?\b"),
]

_NAME_TOKEN = r"(?:[A-ZÀ-Ý][a-zà-ÿ]*(?:['’-][A-ZÀ-Ýa-zà-ÿ][a-zà-ÿ]+)+|Ma?c[A-Z][a-z]+|[A-ZÀ-Ý][a-zà-ÿ'’-]+)"  # O'Brien, McKay
_PARTICLE = r"(?:van|de|der|den|von|da|di|du|del|della|le|la|ter|ten|mac|mc|o')"
_FULL_NAME = rf"(?:{_PARTICLE}\s+)*{_NAME_TOKEN}(?:\s+(?:{_PARTICLE}\s+)*{_NAME_TOKEN}){{0,3}}(?:\s+[A-Z]\.)?"
_NOT_NAMES = {
    "there", "team", "all", "support", "sir", "madam", "everyone", "folks", "guys", "customer", "service", "again",
    "very", "not", "so", "still", "just", "really", "sorry", "writing", "trying", "looking", "having", "back", "here",
    "happy", "unhappy", "a", "the", "in", "on", "at", "afraid", "sure", "glad", "good", "fine", "ok", "okay", "thanks",
    "thank", "hello", "hi", "dear", "regards", "best", "cheers", "kind", "please", "help", "desk", "helpdesk", "agent",
    "deskhand", "larkspur", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "today",
    "tomorrow", "yesterday", "order", "account", "i", "we", "you", "my", "your", "it", "this", "that", "no", "yes",
}
_TITLE = re.compile(rf"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Madam|Herr|Frau|Mme|Mlle|Sr|Sra|Señor|Señora|Signor|Signora|Dhr|Mevr)\.?\s+({_FULL_NAME})")
_INTRO = re.compile(
    rf"\b(?i:my name is|my name's|name:|i am|i'm|this is|me llamo|je m'appelle|ich heiße|ich bin|mi chiamo|ik ben|mijn naam is)\s+({_FULL_NAME})"
)
_GREETING = re.compile(rf"^\s*(?i:hi|hello|hey|dear|hallo|hola|bonjour|ciao|hej|beste|good (?:morning|afternoon|evening))\s+({_FULL_NAME})\s*[,!:.]", re.M)
_SIGNOFF_WORDS = (
    r"thanks|thank you|many thanks|thanks again|thanks in advance|regards|kind regards|best regards|warm regards|best|"
    r"best wishes|cheers|sincerely|yours sincerely|yours faithfully|yours|all the best|take care|cordially|"
    r"groeten|met vriendelijke groet|mvg|saludos|un saludo|atentamente|cordialement|bien à vous|merci|"
    r"grüße|viele grüße|mit freundlichen grüßen|lg|vg|grazie|cordiali saluti|obrigado|obrigada|cumprimentos"
)
_SIGNOFF_SAME_LINE = re.compile(rf"(?m)(?:^|(?<=[.!?]))\s*(?i:{_SIGNOFF_WORDS})\s*[,!.–-]*\s+({_FULL_NAME})\s*\.?\s*$")
_SIGNOFF_NEXT_LINE = re.compile(rf"(?m)^\s*(?i:{_SIGNOFF_WORDS})\s*[,!.]*\s*\n\s*(?:-\s*)?({_FULL_NAME})\s*\.?\s*$")


def _phone_spans(text: str) -> list[Span]:
    spans: list[Span] = []
    seen: set[tuple[int, int]] = set()
    for region in PHONE_REGIONS:
        for m in PhoneNumberMatcher(text, region, leniency=Leniency.VALID):
            if len(re.sub(r"\D", "", m.raw_string)) < 7:
                continue  # short service numbers match in some regions; in a ticket they are codes and counts
            if (m.start, m.end) not in seen and not _NOT_PHONE_BEFORE.search(text[max(0, m.start - 24) : m.start]):
                seen.add((m.start, m.end))
                spans.append(Span(m.start, m.end, "PHONE"))
    for m in _PLUS_PHONE.finditer(text):
        if len(re.sub(r"\D", "", m.group(0))) >= 8:
            spans.append(Span(m.start(), m.end(), "PHONE"))
    for m in _WORD_PHONE.finditer(text):
        if 7 <= len(re.sub(r"\D", "", m.group(1))) <= 15:
            spans.append(Span(m.start(1), m.end(1), "PHONE"))
    return spans


# Numbers an agent needs, which share the SSN's 3-2-4 shape: "my order number is 123-45-6789".
_NOT_SSN_BEFORE = re.compile(
    r"(?:order|tracking|invoice|ticket|case|reference|ref|item|sku|serial|model|part|rma|account|acct|policy|customer|"
    r"member|membership|contract|claim|booking|confirmation|transaction|subscription)\W{0,3}(?:no\.?|number|num|id|#)?"
    r"\W{0,3}(?:(?:is|was|:)\W{0,3})?$",
    re.I,
)


def _ssn_spans(text: str) -> list[Span]:
    spans = [Span(m.start("value"), m.end("value"), "SSN") for m in _SSN_LABELLED.finditer(text)]
    for m in _SSN_BARE.finditer(text):
        before = text[max(0, m.start() - 32) : m.start()]
        if not _NOT_PHONE_BEFORE.search(before) and not _NOT_SSN_BEFORE.search(before):
            spans.append(Span(m.start(), m.end(), "SSN"))
    return spans


def _secret_spans(text: str) -> list[Span]:
    spans = [Span(m.start("value"), m.end("value"), "SECRET") for rx in _SECRET_CODES for m in rx.finditer(text)]
    for m in _PASSWORD.finditer(text):
        if m.group("quoted") is not None:
            spans.append(Span(m.start("quoted"), m.end("quoted"), "SECRET"))
            continue
        value = m.group("token").rstrip(_TRAILING_PUNCT)
        if value and (m.group("eq") or (len(value) >= 4 and _SECRET_SYMBOL.search(value))):
            spans.append(Span(m.start("token"), m.start("token") + len(value), "SECRET"))
    return spans


def _iban_spans(text: str) -> list[Span]:
    """IBANs, compact or in groups; the regex may run on into the next words, so the longest prefix
    that ends a word and passes the checksum is the IBAN."""
    spans = []
    pos = 0
    while (m := _IBAN.search(text, pos)) is not None:
        end = next(
            (e for e in range(m.end(), m.start() + 14, -1)
             if text[e - 1].isalnum() and (e == len(text) or not text[e].isalnum()) and iban_valid(text[m.start() : e])),
            None,
        )
        if end is not None:
            spans.append(Span(m.start(), end, "IBAN"))
        pos = end if end is not None else m.start() + 1
    return spans


def _ip_spans(text: str) -> list[Span]:
    spans = []
    for rx in (_IPV4, _IPV6):
        for m in rx.finditer(text):
            value = m.group(0)
            if rx is _IPV6 and value.count(":") < 2:
                continue
            try:
                ipaddress.ip_address(value)
            except ValueError:
                continue
            spans.append(Span(m.start(), m.end(), "IP"))
    return spans


def _name_spans(text: str) -> list[Span]:
    spans = []
    for rx in (_TITLE, _INTRO, _GREETING, _SIGNOFF_SAME_LINE, _SIGNOFF_NEXT_LINE):
        for m in rx.finditer(text):
            start = m.start(1)
            tokens = list(re.finditer(r"\S+", m.group(1)))
            while tokens and tokens[-1].group(0).lower().strip(".") in _NOT_NAMES:
                tokens.pop()  # "I'm Anna Again" → "Anna"
            if not tokens or tokens[0].group(0).lower() in _NOT_NAMES:
                continue
            words = [t.group(0) for t in tokens]
            end = start + tokens[-1].end()
            if rx is _INTRO and m.group(0).lower().startswith(("i am", "i'm", "this is", "ich bin", "ik ben")) and len(words) < 2:
                continue  # "I'm Sorry", "this is Ridiculous": one capitalised word after these is rarely a name
            spans.append(Span(start, end, "NAME"))
    return spans


def find_spans(text: str) -> list[Span]:
    """Non-overlapping spans of personal data in `text`, in text order.

    On overlaps the kind listed first in KINDS wins, then the longer span.
    """
    found: list[Span] = [Span(m.start(), m.end(), "EMAIL") for m in _EMAIL.finditer(text)]
    found += _iban_spans(text)
    found += _card_spans(text)
    found += _ssn_spans(text)
    found += _secret_spans(text)
    found += _ip_spans(text)
    found += _phone_spans(text)
    for rx in _ADDRESSES:
        found += [Span(m.start(), m.end(), "ADDRESS") for m in rx.finditer(text)]
    found += _name_spans(text)
    return _without_overlaps(found)


def _card_spans(text: str) -> list[Span]:
    spans = []
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group(0))
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            spans.append(Span(m.start(), m.end(), "CARD"))
    return spans


def _without_overlaps(found: list[Span]) -> list[Span]:
    """On overlaps the kind listed first in KINDS wins, then the longer span; in text order."""
    found = sorted(found, key=lambda s: (KINDS.index(s.kind), -(s.end - s.start), s.start))
    kept: list[Span] = []
    for span in found:
        if all(span.end <= k.start or span.start >= k.end for k in kept):
            kept.append(span)
    return sorted(kept, key=lambda s: s.start)


def labelled_secrets(texts: Iterable[str]) -> frozenset[str]:
    """The secret values behind a label anywhere in `texts` (for `mask_secrets`'s `known`); never logged."""
    return frozenset(text[s.start : s.end] for text in texts for s in _secret_spans(text))


def secret_kinds(text: str) -> tuple[str, ...]:
    """"ssn" and/or "secret" when `text` holds a US Social Security number or a labelled secret (a
    password, PIN, card security code or one-time code): for the personal_data risk flag."""
    return tuple(kind for kind, spans in (("ssn", _ssn_spans(text)), ("secret", _secret_spans(text))) if spans)


def _whole_token(value: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w]){re.escape(value)}(?![\w])")


_REMOVED = {"CARD": "[card number removed]", "SSN": "[SSN removed]", "SECRET": "[secret removed]"}


def mask_secrets(text: str, known: Iterable[str] = ()) -> str:
    """`text` with card numbers, SSNs and labelled secrets replaced by "[card number removed]",
    "[SSN removed]" and "[secret removed]", and so is each of the `known` values (secrets found
    elsewhere in the ticket, `labelled_secrets`) wherever it stands as a whole token;
    everything else as it is.

    For text Deskhand writes into a note (a case summary quotes the customer): the note is a second
    copy inside the helpdesk, and these are the values nobody should have to scrub from it twice.
    Cheaper than `find_spans` (no phone, address or name matching), and a text without a digit or a
    secret label is returned at once.
    """
    found = [Span(m.start(), m.end(), "SECRET") for value in known for m in _whole_token(value).finditer(text)]
    if not found and not any(ch.isdigit() for ch in text) and not _PASSWORD.search(text):
        return text
    spans = _without_overlaps(found + _card_spans(text) + _ssn_spans(text) + _secret_spans(text))
    for span in reversed(spans):
        text = text[: span.start] + _REMOVED[span.kind] + text[span.end :]
    return text


@dataclass
class Redactor:
    """Redacts the texts of one ticket with shared, numbered placeholders; restores them in the note.

    `known_names` (the requester's name when the helpdesk gives it) are redacted wherever they occur;
    a name found once (say in a sign-off) is also redacted where it recurs in any later text.
    """

    known_names: tuple[str, ...] = ()
    mapping: dict[str, str] = field(default_factory=dict)  # placeholder → original value
    _by_value: dict[tuple[str, str], str] = field(default_factory=dict)
    _counts: dict[str, int] = field(default_factory=dict)
    _names: set[str] = field(default_factory=set)
    _secrets: set[str] = field(default_factory=set)  # labelled once ("password: hunter2!"), redacted wherever they recur

    def __post_init__(self) -> None:
        for name in self.known_names:
            self._learn_name(name)

    def _learn_name(self, name: str) -> None:
        name = " ".join(name.split())
        if len(name) >= 2:
            self._names.add(name)
            for part in name.split():
                if len(part) >= 3 and part[0].isupper() and part.lower() not in _NOT_NAMES:
                    self._names.add(part)

    def _placeholder(self, kind: str, value: str) -> str:
        key = (kind, value)
        if key not in self._by_value:
            self._counts[kind] = self._counts.get(kind, 0) + 1
            ph = f"[{kind}_{self._counts[kind]}]"
            self._by_value[key] = ph
            self.mapping[ph] = value
        return self._by_value[key]

    def spans(self, text: str) -> list[Span]:
        """What `redact` would replace in `text` (for tests and the recall benchmark)."""
        spans = find_spans(text)
        for s in spans:
            if s.kind == "NAME":
                self._learn_name(text[s.start : s.end])
            elif s.kind == "SECRET":
                self._secrets.add(text[s.start : s.end])
        learned = [(value, "SECRET") for value in self._secrets] + [(name, "NAME") for name in self._names]
        for value, kind in sorted(learned, key=lambda item: len(item[0]), reverse=True):
            for m in _whole_token(value).finditer(text):
                if all(m.end() <= k.start or m.start() >= k.end for k in spans):
                    spans.append(Span(m.start(), m.end(), kind))
        return sorted(spans, key=lambda s: s.start)

    def learn(self, texts: Iterable[str]) -> None:
        """Find the names and secrets of all of a ticket's `texts` first, so that a later `redact` also
        catches a copy that comes before its label ("Cannot log in with Summer2024!" in the subject,
        "my password is Summer2024!" in the message)."""
        for text in texts:
            self.spans(text)

    def redact(self, text: str) -> str:
        """`text` with every detected personal datum replaced by its placeholder."""
        # a customer typing "[EMAIL_1]" must not be able to pull another value into the note
        text = PLACEHOLDER_RE.sub(lambda m: "(" + m.group(0)[1:-1] + ")", text)
        out, last = [], 0
        for s in self.spans(text):
            out.append(text[last : s.start])
            out.append(self._placeholder(s.kind, text[s.start : s.end]))
            last = s.end
        out.append(text[last:])
        return "".join(out)

    def restore(self, text: str) -> str:
        """`text` with this redactor's placeholders replaced by the original values (unknown ones left).

        SSNs and secrets are never put back: nothing in a note or a reply should repeat a password or
        a social security number, so their placeholders stay as they are."""
        def value(m: re.Match[str]) -> str:
            placeholder = m.group(0)
            kind = placeholder[1:].rsplit("_", 1)[0]
            return placeholder if kind in NEVER_RESTORED else self.mapping.get(placeholder, placeholder)

        return PLACEHOLDER_RE.sub(value, text)

    def counts(self) -> dict[str, int]:
        """How many distinct values of each kind were redacted (for logs: counts, never values)."""
        return dict(self._counts)


def redact(text: str) -> tuple[str, dict[str, str]]:
    """(redacted text, placeholder → value) for one text; see `Redactor` for several texts of a ticket."""
    r = Redactor()
    return r.redact(text), r.mapping


