"""Sentence splitting and word counting shared by the drafters, the checks and the escalation packet."""
from __future__ import annotations

import re

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[¿¡]?[A-ZÀ-Ý0-9])")
LIST_ITEM = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
_EMPHASIS = re.compile(r"(\*\*|__|`)")


def split_sentences(text: str) -> list[str]:
    """Sentences and list items of `text`, in order; Markdown headings and blank lines dropped."""
    out: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        line = _EMPHASIS.sub("", line)
        if LIST_ITEM.match(line):
            out.append(line)
            continue
        out.extend(s.strip() for s in _SENTENCE_END.split(line) if s.strip())
    return out


def word_count(text: str) -> int:
    """Words as an agent counts them (citation markers included)."""
    return len(text.split())
