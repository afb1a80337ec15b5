"""Language of a ticket with lingua (offline n-gram models, https://github.com/pemistahl/lingua-py).

Short texts are the hard case ("ok", "refund pls" look like Dutch or German to any detector), so a
detection only counts when the text is long enough or the detector is sure; otherwise the ticket's
own locale, then the first supported language, is used.
"""
from __future__ import annotations

import re
from functools import lru_cache

from lingua import IsoCode639_1, Language, LanguageDetector, LanguageDetectorBuilder

KNOWN_LANGUAGES: frozenset[str] = frozenset(lang.iso_code_639_1.name.lower() for lang in Language.all())

SHORT_WORDS = 4  # fewer words than this is a "short text"
SHORT_MIN_CONFIDENCE = 0.8  # a short text's detection must be at least this sure
MIN_CONFIDENCE = 0.5  # any other text's detection must be at least this sure


@lru_cache(maxsize=4)
def _detector(codes: tuple[str, ...]) -> LanguageDetector:
    """One detector per set of candidate languages; its models load lazily, per language, on first use."""
    languages = [Language.from_iso_code_639_1(IsoCode639_1.from_str(c)) for c in codes]
    if len(languages) == 1:  # lingua needs two candidates; any second one will do, it can only lose
        languages.append(Language.ENGLISH if languages[0] != Language.ENGLISH else Language.SPANISH)
    return LanguageDetectorBuilder.from_languages(*languages).build()


_LATIN_LETTER = re.compile(r"[A-Za-z\u00C0-\u024F\u1E00-\u1EFF]")
_LATIN_LANGUAGES = frozenset(lang.iso_code_639_1.name.lower() for lang in Language.all_with_latin_script())


@lru_cache(maxsize=1)
def _other_script_detector() -> LanguageDetector:
    """A detector over every language lingua knows that is not written in Latin script (Arabic,
    Russian, Greek, Chinese…); low-accuracy mode, since the script itself narrows the choice."""
    others = [lang for lang in Language.all() if lang.iso_code_639_1.name.lower() not in _LATIN_LANGUAGES]
    return LanguageDetectorBuilder.from_languages(*others).with_low_accuracy_mode().build()


def detect_language(text: str, candidates: tuple[str, ...], fallback: str) -> tuple[str, float, bool]:
    """(ISO 639-1 code, confidence 0..1, detected) for `text` among `candidates`.

    `detected` is False when the text is too short or too ambiguous to tell; the code is then
    `fallback` (the ticket's locale or the first supported language) and the confidence 0. A text
    mostly in another script than every candidate's (Arabic, Cyrillic…) is detected as its own
    language, so it is never mistaken for the fallback.
    """
    words = re.findall(r"[^\W\d_]+", text)
    if not words:
        return fallback, 0.0, False
    letters = "".join(words)
    if set(candidates) <= _LATIN_LANGUAGES and len(_LATIN_LETTER.findall(letters)) < len(letters) / 2:
        found = _other_script_detector().compute_language_confidence_values(text)
        if found:
            return found[0].language.iso_code_639_1.name.lower(), float(found[0].value), True
    values = _detector(tuple(sorted(set(candidates)))).compute_language_confidence_values(text)
    if not values:
        return fallback, 0.0, False
    best = values[0]
    code = best.language.iso_code_639_1.name.lower()
    needed = SHORT_MIN_CONFIDENCE if len(words) < SHORT_WORDS else MIN_CONFIDENCE
    if code not in candidates or best.value < needed:
        return fallback, 0.0, False
    return code, float(best.value), True


def locale_language(locale: str | None) -> str | None:
    """'es' from a helpdesk locale such as 'es', 'es-419' or 'pt_BR'; None when there is none."""
    if not locale:
        return None
    code = re.split(r"[-_]", locale.strip().lower(), maxsplit=1)[0]
    return code if code in KNOWN_LANGUAGES else None
