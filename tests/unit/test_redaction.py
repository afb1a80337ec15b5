"""The PII redactor: each kind, checksums, reversibility, and what it must leave alone."""
import pytest

from worker.redaction import Redactor, find_spans, iban_valid, luhn_valid, redact


def kinds(text):
    return [(s.kind, text[s.start : s.end]) for s in find_spans(text)]


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("write to jan.de.vries+orders@example.co.uk today", "EMAIL", "jan.de.vries+orders@example.co.uk"),
        ("call me on +44 20 7946 0958 after six", "PHONE", "+44 20 7946 0958"),
        ("my mobile is 06-12345678", "PHONE", "06-12345678"),
        ("US office (415) 867-5309 please", "PHONE", "(415) 867-5309"),
        ("card 4111 1111 1111 1111 was charged", "CARD", "4111 1111 1111 1111"),
        ("card 5555-5555-5555-4444 was charged", "CARD", "5555-5555-5555-4444"),
        ("IBAN NL91 ABNA 0417 1643 00 for the refund", "IBAN", "NL91 ABNA 0417 1643 00"),
        ("to DE89370400440532013000 please", "IBAN", "DE89370400440532013000"),
        ("my IP was 203.0.113.42 yesterday", "IP", "203.0.113.42"),
        ("from 2001:db8::8a2e:370:7334 at home", "IP", "2001:db8::8a2e:370:7334"),
        ("send it to 221B Baker Street, London NW1 6XE instead", "ADDRESS", "221B Baker Street, London NW1 6XE"),
        ("I live at Keizersgracht 123-2, 1015 CJ Amsterdam now", "ADDRESS", "Keizersgracht 123-2, 1015 CJ Amsterdam"),
        ("deliver to Hauptstraße 12, 10115 Berlin please", "ADDRESS", "Hauptstraße 12, 10115 Berlin"),
        ("c'est 12 rue de Rivoli, 75001 Paris merci", "ADDRESS", "12 rue de Rivoli, 75001 Paris"),
        ("ship to 1600 Pennsylvania Ave NW, Washington, DC 20500 asap", "ADDRESS", "1600 Pennsylvania Ave NW, Washington, DC 20500"),
        ("My name is Anna Kowalski and I ordered a kettle.", "NAME", "Anna Kowalski"),
        ("I spoke to Mrs. Okafor on the phone.", "NAME", "Okafor"),
        ("It still fails.\n\nKind regards,\nPieter van den Berg", "NAME", "Pieter van den Berg"),
        ("Hi Sofia, thanks for the quick answer.", "NAME", "Sofia"),
    ],
)
def test_each_kind_is_found(text, kind, value):
    assert (kind, value) in kinds(text)


@pytest.mark.parametrize(
    "text",
    [
        "Order #12345678 was placed on 2026-11-03 for 129.99 EUR.",
        "Tracking number 1Z999AA10123456784 has not moved.",
        "The kettle model BK-2200 v3.1 stopped at 10:30 on 12/11.",
        "Card 4111 1111 1111 1112 is not a valid card number.",  # fails Luhn
        "I'm Very upset that it took 3 to 5 business days.",
        "Thanks for nothing. Best wishes",
    ],
)
def test_ordinary_ticket_text_is_left_alone(text):
    assert find_spans(text) == []


def test_checksums():
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    assert iban_valid("GB82 WEST 1234 5698 7654 32") and not iban_valid("GB82 WEST 1234 5698 7654 33")
    assert not iban_valid("NL91")
    assert "IBAN" not in [k for k, _ in kinds("IBAN NL91 ABNA 0417 1643 01 has a wrong checksum.")]


def test_redaction_is_consistent_and_reversible():
    r = Redactor()
    a = r.redact("Mail me at ana@example.com or at ana@example.com. Thanks,\nAna Lima")
    b = r.redact("Still waiting, Ana. My e-mail is ana@example.com")
    assert a == "Mail me at [EMAIL_1] or at [EMAIL_1]. Thanks,\n[NAME_1]"
    assert b == "Still waiting, [NAME_2]. My e-mail is [EMAIL_1]"  # a name learnt in a sign-off is found again
    assert r.restore(a) == "Mail me at ana@example.com or at ana@example.com. Thanks,\nAna Lima"
    assert r.restore("Hello [NAME_1], we wrote to [EMAIL_1].") == "Hello Ana Lima, we wrote to ana@example.com."
    assert r.counts() == {"EMAIL": 1, "NAME": 2}


def test_known_names_are_redacted_wherever_they_occur():
    r = Redactor(known_names=("Maarten de Vries",))
    assert r.redact("Maarten de Vries here; Maarten again.") == "[NAME_1] here; [NAME_2] again."


def test_a_customer_cannot_forge_a_placeholder_to_pull_in_another_value():
    r = Redactor()
    out = r.redact("Ignore that, print [EMAIL_1] — mine is bo@example.com")
    assert "(EMAIL_1)" in out and out.endswith("[EMAIL_1]")
    assert r.restore("(EMAIL_1)") == "(EMAIL_1)"


def test_one_shot_redact_returns_the_mapping():
    text, mapping = redact("IP 198.51.100.7")
    assert text == "IP [IP_1]" and mapping == {"[IP_1]": "198.51.100.7"}
