"""The PII redactor: each kind, checksums, reversibility, and what it must leave alone."""
import pytest

from worker.redaction import Redactor, find_spans, iban_valid, labelled_secrets, luhn_valid, redact


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


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("my SSN is 123-45-6789, can you update it?", "123-45-6789"),
        ("for the W-9 form: 078-05-1120", "078-05-1120"),  # the dashed 3-2-4 shape needs no label
        ("SSN 123 45 6789 thanks", "123 45 6789"),
        ("SSN: 123456789", "123456789"),
        ("my social security number is 219-09-9999.", "219-09-9999"),
    ],
)
def test_social_security_numbers_are_found(text, value):
    assert ("SSN", value) in kinds(text)


@pytest.mark.parametrize(
    "text",
    [
        "SSN 000-12-3456",  # area 000 is never issued
        "SSN 666-12-3456",  # nor 666
        "SSN 912-12-3456",  # nor 900-999
        "SSN 123-00-4567",  # nor group 00
        "SSN 123-45-0000",  # nor serial 0000
        "order 123-45-6789 never arrived",  # an order/reference word before it makes it an order number
        "Tracking #123-45-6789 is stuck",
        "the part AB123-45-6789 is missing",  # glued to a code
        "123-45-67890 is ten digits",
        "SSN 123 456 789 is not the SSN shape",
        "my account number is 123456789",  # 9 bare digits count only behind an SSN label
    ],
)
def test_what_is_not_a_social_security_number(text):
    assert "SSN" not in [k for k, _ in kinds(text)]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("my password is hunter2", "hunter2"),
        ("password: Tr0ub4dor&3", "Tr0ub4dor&3"),
        ("login anna, pwd=sunshine", "sunshine"),  # after "=" any token
        ("the password for my account is kettle99.", "kettle99"),  # the full stop is not part of it
        ("my password is now Summer2024!", "Summer2024!"),
        ('my password is "correct horse" and it fails', "correct horse"),  # quoted: any value
        ("PIN 4821", "4821"),
        ("my PIN is 0000.", "0000"),
        ("my pin number is 123456", "123456"),
        ("passcode 1234", "1234"),
        ("verification code 839201", "839201"),
        ("the one-time code: 839 201", "839 201"),
        ("OTP 4455 expired", "4455"),
        ("CVV 123", "123"),
        ("CVC: 1234", "1234"),
        ("the security code is 123", "123"),
    ],
)
def test_labelled_secrets_are_found(text, value):
    assert ("SECRET", value) in kinds(text)


@pytest.mark.parametrize(
    "text",
    [
        "I need a password reset.",
        "I forgot my password",
        "the password field is empty",
        "my password is incorrect",
        "my password isn't working",
        "Forgot password: can't log in",
        "the password is 8 characters long",
        "Password: sunshine",  # no digit or symbol after ":" — a known miss, chosen over "password: please help"
        "change my PIN",
        "PIN reset please",
        "Pin 3 on the plug is bent",
        "the CVV is on the back",
        "the verification code never arrived",
        "code 404 error",
        "error code 1234",
        "promo code 1234 failed",
    ],
)
def test_secret_words_without_a_secret_are_left_alone(text):
    assert find_spans(text) == []


def test_only_the_secret_value_is_replaced_and_never_restored():
    r = Redactor()
    text = "my password is hunter2, PIN 4821, CVV 123 and SSN 123-45-6789. Mail ana@example.com"
    out = r.redact(text)
    assert out == "my password is [SECRET_1], PIN [SECRET_2], CVV [SECRET_3] and SSN [SSN_1]. Mail [EMAIL_1]"
    # a note or reply never repeats a password or an SSN; other kinds come back
    assert r.restore(out) == "my password is [SECRET_1], PIN [SECRET_2], CVV [SECRET_3] and SSN [SSN_1]. Mail ana@example.com"
    assert r.mapping["[SECRET_1]"] == "hunter2" and r.mapping["[SSN_1]"] == "123-45-6789"
    assert r.counts() == {"SECRET": 3, "SSN": 1, "EMAIL": 1}


def test_a_secret_labelled_once_is_redacted_where_it_recurs():
    r = Redactor()
    assert r.redact("My password is hunter2!") == "My password is [SECRET_1]"
    assert r.redact("I typed hunter2! twice; hunter2!x is another word") == "I typed [SECRET_1] twice; hunter2!x is another word"


def test_a_customer_cannot_forge_a_new_kind_of_placeholder():
    r = Redactor()
    out = r.redact("print [SSN_1] and [SECRET_1]; my SSN is 123-45-6789")
    assert out == "print (SSN_1) and (SECRET_1); my SSN is [SSN_1]"
    assert r.restore(out) == out


@pytest.mark.parametrize(
    "text",
    [
        "I paid via Google Pay",
        "I paid via Apple Pay yesterday.",
        "I paid via Google Pay 2 weeks ago.",  # a number that does not end the phrase is no house number
        "It was sent via Royal Mail.",
    ],
)
def test_via_as_an_english_preposition_is_not_an_address(text):
    assert find_spans(text) == []


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("spedite a Via Roma 10, 00184 Roma grazie", "Via Roma 10, 00184 Roma"),
        ("abito in via dei Mille, 5.", "via dei Mille, 5"),
        ("Viale Monza 4, 20125 Milano", "Viale Monza 4, 20125 Milano"),
    ],
)
def test_italian_via_addresses_are_still_found(text, value):
    assert ("ADDRESS", value) in kinds(text)


def test_learning_the_whole_ticket_first_catches_a_secret_before_its_label():
    r = Redactor()
    r.learn(["Cannot log in with Summer2024!", "My password is Summer2024!"])
    assert r.redact("Cannot log in with Summer2024!") == "Cannot log in with [SECRET_1]"
    assert labelled_secrets(["Cannot log in with Summer2024!", "My password is Summer2024!"]) == {"Summer2024!"}


@pytest.mark.parametrize(
    "text, address",
    [
        ("Abito in via Roma 10 a Milano.", "via Roma 10"),
        ("Consegna in Via Po 3 entro venerdì", "Via Po 3"),
        ("please deliver to Via Torino 55 tomorrow", "Via Torino 55"),
        ("via Roma, 10 - 20121 Milano", "via Roma, 10"),
    ],
)
def test_an_italian_address_in_running_text_is_found(text, address):
    assert [(text[s.start : s.end], s.kind) for s in find_spans(text)] == [(address, "ADDRESS")]


@pytest.mark.parametrize("text", ["I paid via Apple Pay 2 weeks ago.", "It was sent via PayPal 3 times.", "paid via Google Pay 40 euros"])
def test_via_followed_by_a_count_is_no_address(text):
    assert find_spans(text) == []


@pytest.mark.parametrize("text", ["My order number is 123-45-6789", "Account number 123-45-6789", "Policy number: 123-45-6789",
                                  "Customer ID 123-45-6789", "Part 512-34-5678", "RMA 123-45-6789"])
def test_a_reference_number_shaped_like_an_ssn_is_not_taken_for_one(text):
    assert all(span.kind != "SSN" for span in find_spans(text))
