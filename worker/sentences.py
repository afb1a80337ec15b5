"""Sentence splitting and word counting shared by the drafters, the checks and the escalation packet."""
from __future__ import annotations

import re

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[¿¡]?[A-ZÀ-Ý0-9])")
LIST_ITEM = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
NUMBERED_ITEM = re.compile(r"^\s*\d+[.)]\s+")  # a list item that is a numbered step
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


# A question inside a longer one starts after a comma, semicolon or "and" with one of these words:
# "How long does express take, can I pick a slot?" asks two things.
_QUESTION_WORDS = r"can|could|will|would|do|does|did|is|are|should|may|how|what|when|where|which|who|why"
_CLAUSE_START = re.compile(rf"(?:,|;|\band)\s+(?=(?:{_QUESTION_WORDS})\b)", re.I)
# A sentence without "?" still asks when it opens like a question or says please / I'd like / I want to.
_REQUEST = re.compile(
    r"^(?:can|could|will|would|do|does|is|are|how|what)\b|\bplease\b|\b(?:can|could|would) you\b|"
    r"\bi(?:'d| would) like\b|\bi want to\b",
    re.I,
)


def split_questions(text: str) -> list[str]:
    """The questions and requests of a customer message, in order, each as written.

    A sentence ending with "?" is split into its questions where a comma, semicolon or "and" is
    followed by a question word ("…take, can I pick a slot?" → two), each given a "?". Another
    sentence is a request when it opens like a question or holds "please", "can/could you", "I'd
    like" or "I want to". Statements ("The heating still comes on.") are neither. [] when none.
    """
    out: list[str] = []
    for sentence in split_sentences(text):
        sentence = sentence.strip()
        if sentence.endswith("?"):
            clauses = [c.strip(" ,;?") for c in _CLAUSE_START.split(sentence)]
            out += [c[:1].upper() + c[1:] + "?" for c in clauses if c]
        elif _REQUEST.search(sentence):
            out.append(sentence)
    return out
