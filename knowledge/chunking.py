"""Split articles into chunks small enough to embed and to quote in a draft.

An article's body is cut at its Markdown headings first, so a chunk never straddles two sections;
a section longer than `max_words` is then cut by size, preferring paragraph, line and sentence
boundaries, with `overlap_words` of context repeated between neighbouring pieces.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache

from langchain_text_splitters import RecursiveCharacterTextSplitter

from knowledge.models import Article


@dataclass(frozen=True)
class Chunk:
    """One piece of an article, as stored in the index.

    `id` is "<article id>#<index>" with `index` counting from 0 in reading order. `section` is the
    heading the chunk sits under, or the article's section when it sits before any heading;
    `heading` is that heading alone ("" before the first one); `article_section` is the article's own
    section whatever the heading. `content_hash` is the hex SHA-256 of `text` (UTF-8).
    """

    id: str
    article_id: str
    title: str
    section: str
    text: str
    index: int
    content_hash: str
    url: str = ""
    locale: str = "en"
    updated_at: str = ""
    heading: str = ""
    article_section: str = ""
    outdated: bool = False

    @property
    def embedding_text(self) -> str:
        """What gets embedded: title, heading (if any) and text on separate lines.

        The title and heading make a short chunk ("Click Save.") findable by what it is about.
        """
        parts = [self.title]
        if self.heading and self.heading != self.title:
            parts.append(self.heading)
        parts.append(self.text)
        return "\n".join(part for part in parts if part)


def chunk_article(article: Article, *, max_words: int = 200, overlap_words: int = 30) -> list[Chunk]:
    """Chunks of `article` in reading order; [] when the body has no text.

    Each chunk holds at most `max_words` whitespace-separated words; neighbouring pieces cut from
    one section by size repeat up to `overlap_words` words of each other (counted within the
    `max_words`). Chunks never cross a heading. Raises ValueError unless 1 <= max_words and
    0 <= overlap_words < max_words.
    """
    if max_words < 1:
        raise ValueError(f"max_words must be >= 1, got {max_words}")
    if not 0 <= overlap_words < max_words:
        raise ValueError(
            f"overlap_words must be in [0, max_words), got {overlap_words} with max_words={max_words}"
        )
    splitter = _size_splitter(max_words, overlap_words)
    chunks: list[Chunk] = []
    for heading, text in split_sections(article.body):
        for piece in splitter.split_text(text):
            if not piece.strip():
                continue
            index = len(chunks)
            chunks.append(
                Chunk(
                    id=f"{article.id}#{index}",
                    article_id=article.id,
                    title=article.title,
                    section=heading or article.section,
                    text=piece,
                    index=index,
                    content_hash=hashlib.sha256(piece.encode("utf-8")).hexdigest(),
                    url=article.url,
                    locale=article.locale,
                    updated_at=article.updated_at,
                    heading=heading,
                    article_section=article.section,
                    outdated=article.outdated,
                )
            )
    return chunks


# ATX headings ("## Title", optionally closed with "##"); up to three leading spaces, as in CommonMark.
_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def split_sections(body: str) -> list[tuple[str, str]]:
    """(heading, text) pairs in order: heading is the nearest Markdown heading above ("" before any).

    Heading lines are not part of the text; `#` lines inside fenced code blocks are not headings.
    Sections without text are left out.
    """
    # Written by hand rather than with LangChain's MarkdownHeaderTextSplitter, which drops blank
    # lines: the size splitter below needs them to cut at paragraph boundaries.
    sections: list[tuple[str, str]] = []
    heading = ""
    lines: list[str] = []
    fence = ""

    def close() -> None:
        text = "\n".join(lines).strip()
        if text:
            sections.append((heading, text))

    for line in body.replace("\r\n", "\n").split("\n"):
        if match := _FENCE.match(line):
            marker = match.group(1)
            if not fence:
                fence = marker
            elif marker[0] == fence[0] and len(marker) >= len(fence):
                fence = ""
        elif not fence and (match := _HEADING.match(line)):
            close()
            heading = match.group(1).strip()
            lines = []
            continue
        lines.append(line)
    close()
    return sections


def _word_count(text: str) -> int:
    return len(text.split())


@lru_cache(maxsize=8)
def _size_splitter(max_words: int, overlap_words: int) -> RecursiveCharacterTextSplitter:
    return RecursiveCharacterTextSplitter(
        chunk_size=max_words,
        chunk_overlap=overlap_words,
        length_function=_word_count,
        # Paragraphs, then lines, then sentences (the full stop stays with its sentence), then words.
        separators=["\n\n", "\n", ". ", "? ", "! ", " ", ""],
        keep_separator="end",
    )
