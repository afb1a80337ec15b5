"""Recall of the PII redactor (worker/redaction.py) on generated personal data, per kind.

Generates, with a fixed seed, e-mail addresses, phone numbers (random digits in each country's usual
formats, so some are numbers libphonenumber rejects), Luhn-valid card numbers, checksum-valid IBANs,
IPv4/IPv6 addresses, postal addresses (US, UK, DE, NL, FR, ES formats), names (introduced, in
sign-offs, greetings and with titles), US Social Security numbers (valid ranges, dashed or behind a
label) and labelled secrets (passwords, PINs, passcodes, card security codes, one-time codes), each
inside a ticket-like sentence. A string counts as redacted when placeholders cover every character of
the value. Also reports how many of a set of ordinary ticket sentences (order and tracking numbers,
dates, prices, versions, and the redactor's known traps: "password reset", "change my PIN", "error
code 404", an SSN-shaped order number, "via Google Pay") lose any text: over-redaction.

Caveat: the generator and the redactor were written by the same person, so this measures the formats
listed above, not the open world. Prints a table, then one JSON object as the last line.

    .venv/bin/python benchmarks/redaction_recall.py [--per-kind 40] [--seed 5]
"""
from __future__ import annotations

import argparse
import json
import random
import string
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from worker.redaction import Redactor  # noqa: E402

FIRST = ["Anna", "Jan", "Sofia", "Pieter", "Lucía", "Marc", "Chloé", "Tomasz", "Aisha", "Oliver", "Giulia", "Mateo", "Ingrid",
         "Kwame", "Yuki", "Fatima", "Liam", "Noor", "Émile", "Hannah"]
LAST = ["Kowalski", "de Vries", "García", "Okafor", "Müller", "Rossi", "Dubois", "Jansen", "O'Brien", "Nakamura", "van den Berg",
        "Fernández", "Smith", "Nowak", "Haddad", "Lindqvist", "Moreau", "Schmidt", "Costa", "Walsh"]
STREETS_EN = ["Main", "Oak", "Kings", "Church", "Station", "Mill", "Park", "Victoria", "Elm", "Maple", "High", "Queen"]
TYPES_EN = ["Street", "Road", "Avenue", "Lane", "Drive", "Close", "Way", "St", "Rd", "Ave"]
CITIES_US = [("Springfield", "IL"), ("Austin", "TX"), ("Portland", "OR"), ("Denver", "CO"), ("Madison", "WI")]
CITIES_UK = ["London", "Leeds", "Bristol", "York", "Brighton"]
DE_STREETS = ["Lindenstraße", "Hauptstraße", "Bahnhofstr.", "Gartenweg", "Schillerplatz", "Kastanienallee"]
NL_STREETS = ["Prinsengracht", "Kerkstraat", "Dorpsweg", "Stationsplein", "Molenlaan", "Havenkade"]
FR_STREETS = ["rue de la Paix", "avenue Victor Hugo", "boulevard Voltaire", "rue des Lilas", "place de la République"]
ES_STREETS = ["Calle Mayor", "Calle de Alcalá", "Avenida de la Constitución", "Paseo del Prado", "Plaza Nueva"]


def digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(n))


def luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + digits(rng, length - len(prefix) - 1)
    for check in string.digits:
        candidate = body + check
        total = 0
        for i, ch in enumerate(reversed(candidate)):
            d = int(ch)
            if i % 2:
                d = d * 2 - 9 if d > 4 else d * 2
            total += d
        if total % 10 == 0:
            return candidate
    raise AssertionError("unreachable")


def iban(country: str, bban: str) -> str:
    numeric = "".join(str(int(c, 36)) for c in bban + country + "00")
    return f"{country}{98 - int(numeric) % 97:02d}{bban}"


def grouped(value: str, size: int = 4, sep: str = " ") -> str:
    return sep.join(value[i : i + size] for i in range(0, len(value), size))


def gen_email(rng):
    first, last = rng.choice(FIRST), rng.choice(LAST)
    local = rng.choice([f"{first}.{last}", f"{first[0]}{last}", f"{first}_{last}{rng.randint(1, 99)}", f"{last}+orders",
                        f"{first}.{last}.{rng.randint(1970, 2005)}"])
    local = "".join(c for c in local.lower().replace(" ", "").replace("'", "") if c.isascii())
    domain = rng.choice(["example.com", "mail.example.org", "example.co.uk", "uni-example.de", "EXAMPLE.NET", "post.example.fr"])
    return f"{local}@{domain}", rng.choice(["You can reach me at {}.", "My e-mail is {} if you need it.", "reply to {} please",
                                             "Account e-mail: {}", "(contact: {})"])


def gen_phone(rng):
    kind = rng.randrange(10)
    value = [
        lambda: f"+44 7700 9{digits(rng, 5)}",
        lambda: f"07700 9{digits(rng, 5)}",
        lambda: f"+49 151 {digits(rng, 8)}",
        lambda: f"030 {digits(rng, 7)}",
        lambda: f"06-{rng.randint(1, 9)}{digits(rng, 7)}",
        lambda: f"+31 6 {digits(rng, 4)} {digits(rng, 4)}",
        lambda: f"06 {rng.randint(10, 99)} {digits(rng, 2)} {digits(rng, 2)} {digits(rng, 2)}",
        lambda: f"+33 6 {digits(rng, 2)} {digits(rng, 2)} {digits(rng, 2)} {digits(rng, 2)}",
        lambda: f"(212) {rng.randint(200, 999)}-{digits(rng, 4)}",
        lambda: f"+34 6{digits(rng, 2)} {digits(rng, 3)} {digits(rng, 3)}",
    ][kind]()
    return value, rng.choice(["Call me on {} after 5pm.", "My phone number is {}.", "mobile: {}", "You can ring {} any time.",
                              "Please text {} when the courier is near."])


def gen_card(rng):
    brand = rng.randrange(3)
    if brand == 0:
        number, groups = luhn_complete("4", 16, rng), (4, 4, 4, 4)
    elif brand == 1:
        number, groups = luhn_complete(str(rng.randint(51, 55)), 16, rng), (4, 4, 4, 4)
    else:
        number, groups = luhn_complete(rng.choice(["34", "37"]), 15, rng), (4, 6, 5)
    sep = rng.choice([" ", "-", ""])
    parts, i = [], 0
    for g in groups:
        parts.append(number[i : i + g])
        i += g
    return sep.join(parts), rng.choice(["I paid with card {} and it was charged twice.", "Card number: {}", "the card {} expired",
                                        "Charge it to {} instead."])


def gen_iban(rng):
    country = rng.choice(["DE", "NL", "FR", "GB", "ES", "BE", "IT"])
    bban = {
        "DE": lambda: digits(rng, 18),
        "NL": lambda: rng.choice(["ABNA", "INGB", "RABO"]) + digits(rng, 10),
        "FR": lambda: digits(rng, 23),
        "GB": lambda: rng.choice(["WEST", "NWBK", "BARC"]) + digits(rng, 14),
        "ES": lambda: digits(rng, 20),
        "BE": lambda: digits(rng, 12),
        "IT": lambda: rng.choice(string.ascii_uppercase) + digits(rng, 22),
    }[country]()
    value = iban(country, bban)
    value = grouped(value) if rng.random() < 0.6 else value
    return value, rng.choice(["Please refund to IBAN {}.", "My bank account is {}", "IBAN: {}, thanks", "send the money to {} please"])


def gen_ip(rng):
    if rng.random() < 0.6:
        value = ".".join(str(rng.randint(1, 254)) for _ in range(4))
    else:
        groups = [f"{rng.randint(0, 0xFFFF):x}" for _ in range(8)]
        value = ":".join(groups) if rng.random() < 0.5 else ":".join(groups[:3]) + "::" + groups[-1]
    return value, rng.choice(["My IP address is {}.", "The login came from {} which is not me.", "blocked ip {} at checkout",
                              "Router shows {} for the thermostat."])


def gen_address(rng):
    kind = rng.randrange(6)
    if kind == 0:
        city, state = rng.choice(CITIES_US)
        value = f"{rng.randint(1, 9999)} {rng.choice(STREETS_EN)} {rng.choice(TYPES_EN)}, {city}, {state} {digits(rng, 5)}"
    elif kind == 1:
        pc = f"{rng.choice(['SW', 'N', 'LS', 'BS', 'YO'])}{rng.randint(1, 19)} {rng.randint(1, 9)}{rng.choice('ABDEFGHJLNP')}{rng.choice('QRSTUWXYZ')}"
        value = f"{rng.randint(1, 250)} {rng.choice(STREETS_EN)} {rng.choice(TYPES_EN)}, {rng.choice(CITIES_UK)} {pc}"
    elif kind == 2:
        value = f"{rng.choice(DE_STREETS)} {rng.randint(1, 120)}, {digits(rng, 5)} {rng.choice(['Berlin', 'Köln', 'München', 'Hamburg'])}"
    elif kind == 3:
        value = f"{rng.choice(NL_STREETS)} {rng.randint(1, 400)}, {rng.randint(1000, 9999)} {rng.choice(['AB', 'GV', 'KL', 'TZ'])} {rng.choice(['Amsterdam', 'Utrecht', 'Leiden'])}"
    elif kind == 4:
        value = f"{rng.randint(1, 90)} {rng.choice(FR_STREETS)}, {rng.randint(10, 95)}{digits(rng, 3)} {rng.choice(['Paris', 'Lyon', 'Nantes'])}"
    else:
        value = f"{rng.choice(ES_STREETS)} {rng.randint(1, 150)}, {digits(rng, 5)} {rng.choice(['Madrid', 'Sevilla', 'Valencia'])}"
    return value, rng.choice(["Please deliver to {} instead.", "My new address is {}.", "ship it to {} thanks", "Address: {}"])


def gen_name(rng):
    first, last = rng.choice(FIRST), rng.choice(LAST)
    full = f"{first} {last}"
    template = rng.randrange(6)
    if template == 0:
        return full, "My name is {} and I ordered a kettle last week."
    if template == 1:
        return full, "The blender still doesn't work.\n\nKind regards,\n{}"
    if template == 2:
        return first, "Thanks for checking.\nCheers, {}"
    if template == 3:
        return last, "I already spoke to Mr. {} about this on the phone."
    if template == 4:
        return first, "Hi {}, thanks for the quick reply yesterday."
    return full, "Thanks,\n{}"


def gen_ssn(rng):
    area = rng.choice([n for n in range(1, 900) if n != 666])
    group, serial = rng.randint(1, 99), rng.randint(1, 9999)
    if rng.random() < 0.6:  # the dashed shape, labelled or not
        value = f"{area:03d}-{group:02d}-{serial:04d}"
        return value, rng.choice(["My SSN is {}.", "SSN: {}", "for the tax form: {}", "social security number {} (new account)",
                                  "Here it is {} as requested"])
    sep = rng.choice([" ", ""])  # spaced or bare digits count only behind a label
    value = f"{area:03d}{sep}{group:02d}{sep}{serial:04d}"
    return value, rng.choice(["SSN {} thanks", "my social security number is {}", "SSN: {}"])


PASSWORD_WORDS = ["hunter", "Kettle", "sunflower", "Marmot", "blue", "Tr0ub4dor", "winter", "Larkspur"]


def gen_secret(rng):
    kind = rng.randrange(6)
    if kind == 0:
        value = f"{rng.choice(PASSWORD_WORDS)}{digits(rng, rng.randint(1, 4))}{rng.choice(['', '!', '&', '#', '$'])}"
        return value, rng.choice(["my password is {}", "Password: {} (I changed it)", "pwd={}", "the password for my account is {}."])
    if kind == 1:
        return digits(rng, 4), rng.choice(["PIN {} does not work", "my PIN is {}.", "passcode {}", "pin code: {}"])
    if kind == 2:
        return digits(rng, rng.choice([3, 3, 4])), rng.choice(["CVV {}", "CVC: {}", "the security code is {}"])
    if kind == 3:
        return f"{rng.randint(1, 9)}{digits(rng, 5)}", rng.choice(["verification code {}", "OTP {} expired", "one-time code: {}"])
    if kind == 4:
        return f"{rng.randint(1, 9)}{digits(rng, 2)} {digits(rng, 3)}", "the login code {} came too late"
    return f"{rng.choice(PASSWORD_WORDS).lower()} {rng.choice(PASSWORD_WORDS).lower()}", 'my password is "{}" and it fails'


KINDS = {"EMAIL": gen_email, "PHONE": gen_phone, "CARD": gen_card, "IBAN": gen_iban, "IP": gen_ip, "ADDRESS": gen_address, "NAME": gen_name,
         "SSN": gen_ssn, "SECRET": gen_secret}  # appended kinds, so the strings of the first seven do not change with them

CLEAN = [
    "Order #{} was placed on 2026-11-{:02d} for {}.99 EUR.", "Tracking number 1Z{}AA{} has not moved since Monday.",
    "The kettle model BK-{} stopped at 10:{:02d} on 12/11.", "Invoice INV-{} shows {} items at 24.50 each.",
    "Version 4.{}.{} of the app asks me to update again.", "It took {} to {} business days last time.",
    "My order LK-{} arrived with {} of 6 mugs broken.", "The code SAVE{} gave {}% off once, then failed.",
    # the traps of the SSN and secret patterns and of "via" (an Italian street word)
    "I forgot my password and the reset link from {} minutes ago expired.", "The password field is empty after {} tries.",
    "Please change my PIN, the card ending {} was blocked.", "Error code {} appears at checkout.",
    "Order {:03d}-{:02d}-{:04d} was split into two parcels.", "I paid via Google Pay on {:02d}/11.",
    "I paid via Apple Pay {} days ago.", "The verification code never arrived, I tried {} times.",
]


def fill(template: str, rng: random.Random) -> str:
    """`template` with its fields filled: "{:02d}" a day or minute (2-28), "{:03d}" 1-899, "{:04d}"
    1-9999 (so an SSN-shaped order number has valid SSN ranges), any other field 2-99999."""
    values = []
    for _, name, spec, _ in string.Formatter().parse(template):
        if name is None:
            continue
        values.append({"02d": (2, 28), "03d": (1, 899), "04d": (1, 9999)}.get(spec, (2, 99999)))
    return template.format(*(rng.randint(lo, hi) for lo, hi in values))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-kind", type=int, default=40)
    ap.add_argument("--seed", type=int, default=5)
    args = ap.parse_args()
    rng = random.Random(args.seed)

    results: dict[str, list[bool]] = {k: [] for k in KINDS}
    misses: dict[str, list[str]] = {k: [] for k in KINDS}
    start = time.perf_counter()
    for kind, gen in KINDS.items():
        for _ in range(args.per_kind):
            value, template = gen(rng)
            text = template.format(value)
            at = text.index(value)
            spans = Redactor().spans(text)
            covered = all(any(s.start <= i < s.end for s in spans) for i in range(at, at + len(value)) if not text[i].isspace())
            results[kind].append(covered)
            if not covered:
                misses[kind].append(value)
    clean_total = clean_hit = 0
    for _ in range(args.per_kind * 2):
        text = fill(rng.choice(CLEAN), rng)
        clean_total += 1
        clean_hit += bool(Redactor().spans(text))
    seconds = time.perf_counter() - start

    total = sum(len(v) for v in results.values())
    hits = sum(sum(v) for v in results.values())
    print(f"{'kind':<10}{'strings':>9}{'redacted':>10}   first misses")
    for kind, v in results.items():
        print(f"{kind:<10}{len(v):>9}{sum(v) / len(v):>10.1%}   {'; '.join(misses[kind][:3])}")
    print(f"{'all':<10}{total:>9}{hits / total:>10.1%}")
    print(f"ordinary sentences with anything redacted (over-redaction): {clean_hit}/{clean_total}")
    figures = {
        "strings": total,
        "recall": round(hits / total, 4),
        "recall_by_kind": {k: round(sum(v) / len(v), 4) for k, v in results.items()},
        "over_redaction_share": round(clean_hit / clean_total, 4),
        "ms_per_string": round(seconds * 1000 / (total + clean_total), 2),
        "seed": args.seed,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
