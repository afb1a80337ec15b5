"""Load approved help-center articles from local files into `Article` records.

Supported inputs (see `load_path`):

* a folder, searched recursively (dot-files and dot-folders are not read, and are listed), holding any of
  * `.md` / `.markdown` — optional YAML front matter between `---` lines (id, title, url, section,
    locale, updated_at, outdated, labels); otherwise the title comes from the first `# ` heading and the id from the
    file stem;
  * `.html` / `.htm` — title from `<title>` or the first `<h1>`; headings become `## Heading`
    lines, list items `- item`, table rows `cell | cell`; scripts and styles are dropped;
  * `.jsonl` / `.json` — article records (below);
* a `.jsonl` file: one article record per line;
* a `.json` file: a list of article records, an object with an `articles` list, or a policy manual
  shaped like ABCD's `guidelines.json` (flows → subflows → actions), one article per subflow.

An article record is a JSON object with `id`, `title`, `body` (or `text`), and optionally `url`,
`section`, `locale`, `updated_at`, `outdated`, `labels`. GNOME-help-style records are accepted too: `desc` is put before
the text, and the first of `guides` becomes the section when there is no `section`.

An article whose text is longer than `MAX_ARTICLE_CHARS` is not loaded (a `LoadError`): split it into
smaller articles.

Every error in the input is a `ValueError` whose message starts with the file (and, for JSONL, the
line number). `html_to_text` is the same HTML conversion for vendor article bodies (Zendesk Help
Center, Freshdesk Solutions).
"""
from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import yaml
from bs4 import BeautifulSoup
from bs4.element import Comment, Declaration, Doctype, NavigableString, ProcessingInstruction, Tag

from knowledge.models import Article

MARKDOWN_SUFFIXES = frozenset({".md", ".markdown"})
HTML_SUFFIXES = frozenset({".html", ".htm"})
SUPPORTED_SUFFIXES = MARKDOWN_SUFFIXES | HTML_SUFFIXES | {".jsonl", ".json"}
# The most text one article may have: ~30,000 words, ~200 chunks, 40 times the longest GNOME Help page
# (5,416 characters). Text beyond it is a dump or a whole manual, not an article: a 10 MB one took 520 s
# to embed into 9,382 chunks, which then matched almost any ticket and crowded out every other article.
MAX_ARTICLE_CHARS = 200_000
# A Markdown or HTML file larger than this is refused before it is parsed (an 8.6 MB page took 17 s to
# parse only to be refused for its text): ten times the text limit leaves room for any page's markup.
MAX_PAGE_BYTES = 10 * MAX_ARTICLE_CHARS


# ---------------------------------------------------------------------------------------------
# Entry points


@dataclass(frozen=True)
class LoadError:
    """A file or record that could not be loaded, and which article ids it holds as far as they can be read.

    `message` starts with the place: "<file>", "<file>:<line>" (a line of a Markdown file or JSONL
    feed) or "<file>[<position>]" (a record of a JSON list). `article_ids` are the ids the bad
    file or record most probably holds (a Markdown file's `id:` line or file stem, a JSONL line's
    "id"), so that a sync can keep their indexed version; `ids_known` is False when they could not
    be read at all (a JSON file that does not parse, a record without an id), and then no sync
    can tell which indexed articles are gone and which are only broken.
    """

    message: str
    article_ids: frozenset[str] = frozenset()
    ids_known: bool = True


@dataclass(frozen=True)
class LoadReport:
    """What `load_articles` found: the good articles (stable order: file path, then position) and every problem."""

    articles: tuple[Article, ...]
    errors: tuple[LoadError, ...]
    ignored: tuple[str, ...] = ()  # "<file>: <why>" per file of a folder that is not read (a PDF, a symbolic link, a dot-file)


def load_path(path: Path) -> list[Article]:
    """Load the articles at `path`: a folder (see `load_folder`) or a single supported file.

    Returns the articles in a stable order (file path, then position in the file).
    Raises FileNotFoundError if `path` does not exist, and ValueError for an unsupported file type,
    malformed content or two articles with the same id: one line per problem, each naming its file
    (and line), so one run shows them all. `load_articles` loads what it can instead.
    """
    report = load_articles(path)
    if report.errors:
        raise ValueError("\n".join(error.message for error in report.errors))
    return list(report.articles)


def load_folder(path: Path) -> list[Article]:
    """Load every supported file under the folder `path`, recursively, in sorted path order.

    Files with other suffixes are ignored, as is anything whose name (or a parent folder's name
    below `path`) starts with a dot (`load_articles` lists them). Raises FileNotFoundError if `path` does not exist, ValueError
    if it is not a folder, and ValueError listing every malformed file or record and every id that
    two articles share (all places named).
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{path}: not a folder")
    return load_path(path)


def load_articles(path: Path) -> LoadReport:
    """Load every good article at `path` (a folder or one supported file) and collect the problems.

    A malformed Markdown or HTML file, an unreadable or unparseable file, and a bad JSONL line or
    JSON record is left out with a `LoadError`; so is every article whose id appears more than
    once (one error per id, naming each place, the last first): which copy is right is the
    author's call; and so is an article whose text is longer than `MAX_ARTICLE_CHARS` (its error
    holds its id, so a sync keeps its indexed version). The rest loads as `load_path` would.
    A folder's files of other types, its symbolic links (never followed) and its dot-files and
    dot-folders (one line per dot-folder, not per file in it) are listed in `ignored`, so a caller
    can say so.
    Raises FileNotFoundError if `path` does not exist and ValueError for a single file of an
    unsupported type (a folder lists those) or a single file that is a symbolic link.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    ignored: list[str] = []
    if path.is_dir():
        # A symbolic link (to a file or a folder, or dangling) is not followed: it may lead out of the
        # approved folder (to any file the worker can read), and one inside it is a second copy.
        # A dot-file or dot-folder is an editor's, a tool's or the OS's (.git, .DS_Store, .#draft.md) or
        # hidden on purpose: it is not read, but named, so an article saved under such a name is noticed.
        kinds = ", ".join(sorted(SUPPORTED_SUFFIXES))
        files: list[Path] = []
        for file in sorted(path.rglob("*")):
            parts = file.relative_to(path).parts
            if any(part.startswith(".") for part in parts[:-1]):
                continue  # inside a dot-folder, which is listed itself
            if parts[-1].startswith("."):
                kind = "folder" if file.is_dir() and not file.is_symlink() else "file"
                ignored.append(f"{file}: a hidden {kind} (its name starts with '.'), not read (rename it if it holds articles)")
            elif file.is_symlink():
                ignored.append(f"{file}: a symbolic link, not followed (copy the file or folder in instead)")
            elif not file.is_file():
                continue  # a folder (its files are listed) or a device, pipe or socket
            elif file.suffix.lower() in SUPPORTED_SUFFIXES:
                files.append(file)
            else:
                ignored.append(f"{file}: not a file type Deskhand reads ({kinds}); convert it to Markdown or HTML")
    elif path.is_symlink():
        raise ValueError(f"{path}: a symbolic link to a file, not followed (give the file itself, or its folder)")
    elif path.suffix.lower() in SUPPORTED_SUFFIXES:
        files = [path]
    else:
        expected = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise ValueError(f"{path}: unsupported file type {path.suffix!r} (expected one of {expected})")
    located: list[tuple[Article, str]] = []
    errors: list[LoadError] = []
    for file in files:
        file_articles, file_errors = _load_file_located(file)
        located.extend(file_articles)
        errors.extend(file_errors)
    articles, duplicates = _drop_duplicate_ids(located)
    unique = {article.id for article in articles}
    too_long = [
        _too_long(article, place) for article, place in located if article.id in unique and len(article.body) > MAX_ARTICLE_CHARS
    ]
    articles = [article for article in articles if len(article.body) <= MAX_ARTICLE_CHARS]
    return LoadReport(articles=tuple(articles), errors=tuple(errors + duplicates + too_long), ignored=tuple(ignored))


def _too_long(article: Article, place: str) -> LoadError:
    return LoadError(
        f"{place}: article {article.id!r} has {len(article.body):,} characters of text, more than the "
        f"{MAX_ARTICLE_CHARS:,} one article may have; split it into smaller articles",
        frozenset({article.id}),
    )


def _load_file_located(path: Path) -> tuple[list[tuple[Article, str]], list[LoadError]]:
    """(article, place) pairs of one supported file, and its problems; never raises for bad content."""
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return _load_jsonl_located(path)
    if suffix == ".json":
        return _load_json_located(path)
    try:
        size = path.stat().st_size
        if size > MAX_PAGE_BYTES:
            raise ValueError(f"{path}: {size:,} bytes, more than the {MAX_PAGE_BYTES:,} one article's file may have; "
                             "split it into smaller articles")
        article = load_markdown(path) if suffix in MARKDOWN_SUFFIXES else load_html(path)
    except (ValueError, OSError) as exc:
        ids, known = _page_ids(path) if suffix in MARKDOWN_SUFFIXES else (frozenset({path.stem}), True)
        return [], [LoadError(_message(exc, path), ids, known)]
    return [(article, str(path))], []


def _drop_duplicate_ids(located: list[tuple[Article, str]]) -> tuple[list[Article], list[LoadError]]:
    places: dict[str, list[str]] = {}
    for article, place in located:
        places.setdefault(article.id, []).append(place)
    errors = [
        LoadError(f"{where[-1]}: duplicate article id {article_id!r}, also at {', '.join(where[:-1])}; none of them is loaded", frozenset({article_id}))
        for article_id, where in places.items()
        if len(where) > 1
    ]
    return [article for article, _ in located if len(places[article.id]) == 1], errors


def _message(exc: Exception, path: Path) -> str:
    """The error's message, starting with the file (OSError and PyYAML messages do not)."""
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return text if text.startswith(str(path)) else f"{path}: {text}"


# Reading the id of a file that does not load: the line "id: …" of its front matter, or the stem.
_FRONT_MATTER_ID = re.compile(r"^id[ \t]*:(.*)$")
# A record's "id" in JSON text that does not parse: a string or a number.
_JSON_ID = re.compile(r'"id"\s*:\s*(?:"((?:[^"\\]|\\.)*)"|(-?\d+))')


def _page_ids(path: Path) -> tuple[frozenset[str], bool]:
    """The id a Markdown file that failed to load most probably has, and whether that is certain.

    An id in readable front matter is certain; so is the file name of a readable file without one.
    The file name of a file that is not text (bad UTF-8, or control characters such as NUL bytes) is
    only a guess (its front matter may hold an id the bad bytes hide), so a sync holds its deletions
    rather than delete that article."""
    try:
        raw = path.read_bytes()
    except OSError:
        return frozenset({path.stem}), False
    # Read what can be read: a UTF-16 file (its byte-order mark says so) or UTF-8 with bad bytes replaced.
    encoding = "utf-16" if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"
    try:
        text = raw.decode(encoding)
        readable = not _CONTROL.search(text)
    except UnicodeDecodeError:
        text, readable = raw.decode(encoding, errors="replace"), False
    lines = text.replace("\r\n", "\n").split("\n")
    if lines and lines[0].strip() == "---":
        for line in lines[1:]:
            if line.strip() in ("---", "..."):
                break
            if match := _FRONT_MATTER_ID.match(line):
                try:
                    value = yaml.safe_load(match.group(1))
                except (yaml.YAMLError, ValueError):
                    value = match.group(1).strip().strip("'\"")
                if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
                    return frozenset({str(value).strip()}), True
    return frozenset({path.stem}), readable


def _json_ids(text: str) -> frozenset[str]:
    """Every "id" value written in `text`: a best guess for JSON that does not parse."""
    return frozenset(string if string else number for string, number in _JSON_ID.findall(text))


def _record_ids(record: Any) -> tuple[frozenset[str], bool]:
    raw_id = record.get("id") if isinstance(record, dict) else None
    if isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)) or not str(raw_id).strip():
        return frozenset(), False
    return frozenset({str(raw_id).strip()}), True


# Control characters no text editor writes (tab, line feed, form feed and carriage return excepted):
# a file holding them is binary, even when its bytes happen to be valid UTF-8 (a run of NUL bytes is).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def _read_text(path: Path) -> str:
    """The file's text. Raises ValueError naming `file:line` when it is not UTF-8 or holds control
    characters (a binary file)."""
    try:
        # utf-8-sig drops a byte-order mark, which editors on Windows like to add.
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        line = exc.object.count(b"\n", 0, exc.start) + 1
        raise ValueError(
            f"{path}:{line}: not valid UTF-8 (byte 0x{exc.object[exc.start]:02x}); save it as UTF-8"
        ) from exc
    if control := _CONTROL.search(text):
        line = text.count("\n", 0, control.start()) + 1
        raise ValueError(f"{path}:{line}: not a text file (control character 0x{ord(control.group()):02x})")
    return text


# ---------------------------------------------------------------------------------------------
# Markdown

_FRONT_MATTER_FIELDS = ("id", "title", "url", "section", "locale", "updated_at", "outdated", "labels")
_H1 = re.compile(r"^#[ \t]+(.+?)[ \t]*#*[ \t]*$")
_MD_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")


def load_markdown(path: Path) -> Article:
    """One article from a Markdown file.

    Front matter (YAML between a first line `---` and a closing `---`) may set id, title, url,
    section, locale, updated_at, outdated (bool), labels; other keys are ignored. Without a title there, the first `# `
    heading is the title; without either, the file stem (with `-`/`_` as spaces). The id defaults
    to the file stem. A leading `# ` title heading is removed from the body; links keep only their
    text and images are dropped (as in HTML pages). Raises ValueError "<file>:<line>: <problem>"
    for unterminated or invalid front matter, or a field of the wrong type or a bad updated_at
    (the line of that key).
    """
    text = _read_text(path).replace("\r\n", "\n")
    meta, body = _split_front_matter(text, path)
    key_lines = _front_matter_key_lines(text)

    def at(key: str) -> str:
        return f"{path}:{key_lines[key]}" if key in key_lines else str(path)

    title = _str_field(meta, "title", at("title"))
    lines = body.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None and (match := _H1.match(lines[first])):
        heading = match.group(1).strip()
        if not title or heading == title:
            title = title or heading
            del lines[first]
    body = "\n".join(lines)
    body = _MD_IMAGE.sub("", body)
    body = _MD_LINK.sub(r"\1", body)
    return Article(
        id=_str_field(meta, "id", at("id")) or path.stem,
        title=title or _title_from_stem(path),
        body=_tidy_body(body),
        url=_str_field(meta, "url", at("url")),
        section=_str_field(meta, "section", at("section")),
        locale=_str_field(meta, "locale", at("locale")) or "en",
        updated_at=_iso_utc(meta.get("updated_at"), at("updated_at")),
        outdated=_bool_field(meta.get("outdated"), "outdated", at("outdated")),
        labels=_labels_field(meta.get("labels"), at("labels")),
    )


class _FrontMatterLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that dates stay strings.

    PyYAML turns `2026-02-30` into a date itself and fails with a bare "day is out of range for
    month" naming neither file nor key; as a string, `_iso_utc` checks it and says where it is.
    """


_FrontMatterLoader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

_FRONT_MATTER_KEY = re.compile(r"^([A-Za-z_][\w-]*)[ \t]*:")


def _front_matter_key_lines(text: str) -> dict[str, int]:
    """{top-level key: its 1-based line in the file} of the front matter, for error messages."""
    lines = text.split("\n")
    found: dict[str, int] = {}
    if not lines or lines[0].strip() != "---":
        return found
    for number, line in enumerate(lines[1:], start=2):
        if line.strip() in ("---", "..."):
            break
        if match := _FRONT_MATTER_KEY.match(line):
            found.setdefault(match.group(1), number)
    return found


def _split_front_matter(text: str, path: Path) -> tuple[dict[str, Any], str]:
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        return {}, text
    for end in range(1, len(lines)):
        if lines[end].strip() in ("---", "..."):
            break
    else:
        raise ValueError(f"{path}:1: front matter opened with '---' on this line is never closed (no closing '---' line)")
    try:
        meta = yaml.load("\n".join(lines[1:end]), Loader=_FrontMatterLoader) or {}
    except yaml.MarkedYAMLError as exc:
        line, what = _yaml_error_line(exc)
        # +2: YAML counts from 0, and the front matter starts on the file's line 2, after '---'.
        raise ValueError(f"{path}:{line + 2}: invalid YAML front matter: {what}") from exc
    except (yaml.YAMLError, ValueError) as exc:
        raise ValueError(f"{path}: invalid YAML front matter: {exc}") from exc
    if not isinstance(meta, dict):
        raise ValueError(f"{path}:2: front matter must be a mapping of keys to values, got {type(meta).__name__}")
    return meta, "\n".join(lines[end + 1 :])


# Constructs YAML lets run over several lines until they are closed: when one is never closed, the
# parser notices only where the front matter ends (or at the next key), lines after the mistake.
_UNCLOSED_CONTEXTS = ("while scanning a quoted scalar", "while parsing a flow sequence", "while parsing a flow mapping")


def _yaml_error_line(exc: yaml.MarkedYAMLError) -> tuple[int, str]:
    """(0-based line within the YAML text, a one-line description) of a YAML error.

    The line is where the mistake is: for an unclosed quote, `[` or `{`, where it was opened (the
    error's context mark), else where the parser stopped (its problem mark). The description leaves
    out PyYAML's own positions, which count from the start of the front matter, not of the file.
    """
    unclosed = exc.context in _UNCLOSED_CONTEXTS and exc.context_mark is not None
    mark = exc.context_mark if unclosed else exc.problem_mark
    line = mark.line if mark is not None else 0
    if unclosed:
        opener = "quote" if "quoted" in (exc.context or "") else "bracket"
        return line, f"the {opener} opened on this line is never closed ({exc.problem})"
    parts = [part for part in (exc.context, exc.problem) if part]
    return line, ": ".join(parts) or "not valid YAML"


def _str_field(meta: Mapping[str, Any], key: str, where: str) -> str:
    value = meta.get(key)
    if value is None:
        return ""
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return str(value).strip()
    raise ValueError(f"{where}: front matter {key!r} must be a string, got {type(value).__name__}")


def _bool_field(value: Any, key: str, where: str) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    raise ValueError(f"{where}: {key!r} must be true or false, got {value!r}")


def _labels_field(value: Any, where: str) -> tuple[str, ...]:
    """Labels from a list of strings or a comma-separated string; () when unset."""
    if value is None:
        return ()
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(item, (str, int)) and not isinstance(item, bool) for item in value):
        raise ValueError(f"{where}: 'labels' must be a list of strings")
    return tuple(str(item).strip() for item in value if str(item).strip())


def _title_from_stem(path: Path) -> str:
    return re.sub(r"[-_]+", " ", path.stem).strip() or path.stem


# ---------------------------------------------------------------------------------------------
# HTML

_SKIPPED_TAGS = frozenset({"script", "style", "noscript", "template", "head", "title", "svg", "iframe", "nav"})
_HEADING_TAGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "caption", "center", "dd", "details",
        "dialog", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "header",
        "hr", "html", "main", "ol", "p", "section", "summary", "table", "tbody", "tfoot",
        "thead", "ul",
    }
)  # fmt: skip
_LIST_TAGS = frozenset({"ul", "ol"})
_NON_TEXT_STRINGS = (Comment, Declaration, Doctype, ProcessingInstruction)


def load_html(path: Path) -> Article:
    """One article from an HTML page (parsed with BeautifulSoup's `html.parser`).

    The title is `<title>`, else the first `<h1>` (which is then not repeated in the body), else the
    file stem. A `<title>` left unclosed (it then holds elements, or runs past 200 characters) is
    not used: the first heading or the file stem is the title, and what it swallowed stays in the body. The id is the file stem; `<html lang>` sets the locale and `<link rel="canonical">`
    the url. The body is plain text: `## Heading` lines, `- item` lines (indented two spaces per
    nesting level), `cell | cell` table rows, paragraphs separated by blank lines; links keep their
    text; script, style, nav and other non-content elements are dropped.
    """
    soup = BeautifulSoup(_read_text(path), "html.parser")
    title = ""
    broken_title = soup.title is not None and _title_is_broken(soup.title)
    if broken_title:
        # An unclosed <title> swallows the page: the parser puts everything after it inside. Its
        # leading text was meant as the title; the elements after it are the body, so keep them.
        assert soup.title is not None
        leading = soup.title.contents[0] if soup.title.contents else None
        if isinstance(leading, NavigableString):
            leading.extract()
        soup.title.unwrap()
    elif soup.title is not None:
        title = _collapse(soup.title.get_text(" "))
    first_h1 = soup.find("h1") or (soup.find(_HEADING_TAGS) if broken_title else None)
    title_h1: Tag | None = None
    if isinstance(first_h1, Tag):
        h1_text = _inline_text(first_h1)
        if not title or h1_text == title:
            title = title or h1_text
            title_h1 = first_h1
    html_tag = soup.find("html")
    locale = html_tag.get("lang", "") if isinstance(html_tag, Tag) else ""
    canonical = soup.find("link", rel="canonical")
    url = canonical.get("href", "") if isinstance(canonical, Tag) else ""
    root = soup.body if soup.body is not None else soup
    return Article(
        id=path.stem,
        title=title or _title_from_stem(path),
        body=_HtmlText(skip=title_h1).convert(root),
        url=str(url).strip(),
        locale=str(locale).strip() or "en",
    )


# A real <title> is a line of text; past this, it has swallowed part of the page.
_MAX_TITLE_CHARS = 200


def _title_is_broken(title: Tag) -> bool:
    """True when `<title>` holds elements (only text is valid there) or is absurdly long: left unclosed."""
    return any(isinstance(child, Tag) for child in title.children) or len(_collapse(title.get_text(" "))) > _MAX_TITLE_CHARS


def html_to_text(html: str) -> str:
    """Structured plain text of an HTML fragment or page (a vendor article body), as `load_html` makes it.

    Headings become `## Heading` lines, list items `- item` (indented two spaces per level), table
    rows `cell | cell`, paragraphs are separated by blank lines, links keep their text; scripts,
    styles and other non-content elements are dropped. "" for an empty or text-free fragment.
    """
    if not html or not html.strip():
        return ""
    soup = BeautifulSoup(html, "html.parser")
    root = soup.body if soup.body is not None else soup
    return _HtmlText().convert(root)


class _HtmlText:
    """Walks a parsed page and collects blocks of text; one instance per page."""

    def __init__(self, skip: Tag | None = None) -> None:
        self._skip = skip
        self._blocks: list[tuple[str, str]] = []  # (kind, text); kind decides how blocks are joined
        self._inline: list[str] = []

    def convert(self, root: Tag) -> str:
        self._walk(root)
        self._flush()
        out: list[str] = []
        previous = ""
        for kind, text in self._blocks:
            if out:
                # Consecutive list items and table rows stay on adjacent lines; a <br> breaks a line.
                tight = previous == "br" or (kind == previous and kind in ("li", "tr"))
                out.append("\n" if tight else "\n\n")
            out.append(text)
            previous = kind
        return _tidy_body("".join(out))

    def _flush(self, kind: str = "p") -> None:
        text = _collapse("".join(self._inline))
        self._inline.clear()
        if text:
            self._blocks.append((kind, text))

    def _walk(self, node: Tag) -> None:
        for child in node.children:
            if isinstance(child, NavigableString):
                if not isinstance(child, _NON_TEXT_STRINGS):
                    self._inline.append(str(child))
                continue
            if not isinstance(child, Tag) or child.name in _SKIPPED_TAGS or child is self._skip:
                continue
            name = child.name
            if name == "br":
                self._flush("br")
            elif name in _HEADING_TAGS:
                self._flush()
                if text := _inline_text(child):
                    self._blocks.append(("h", f"## {text}"))
            elif name == "li":
                self._flush()
                depth = sum(1 for parent in child.parents if parent.name == "li")
                if text := _inline_text(child, stop=_LIST_TAGS):
                    self._blocks.append(("li", f"{'  ' * depth}- {text}"))
                # Sub-lists (directly in the <li> or wrapped, e.g. in a <div>) follow as indented items.
                for nested in child.find_all(_LIST_TAGS):
                    if nested.find_parent("li") is child:
                        self._walk(nested)
            elif name == "tr":
                self._flush()
                cells = [_inline_text(cell) for cell in child.find_all(("td", "th"), recursive=False)]
                if any(cells):
                    self._blocks.append(("tr", " | ".join(cells)))
            elif name == "pre":
                self._flush()
                if text := child.get_text().strip("\n"):
                    self._blocks.append(("pre", text))
            elif name in _BLOCK_TAGS:
                self._flush()
                self._walk(child)
                self._flush()
            else:  # inline: a, span, strong, em, code, ...
                self._walk(child)


def _inline_text(tag: Tag, stop: frozenset[str] = frozenset()) -> str:
    """The text of `tag` on one line, leaving out skipped elements and any child tag in `stop`."""
    parts: list[str] = []

    def visit(node: Tag) -> None:
        for child in node.children:
            if isinstance(child, NavigableString):
                if not isinstance(child, _NON_TEXT_STRINGS):
                    parts.append(str(child))
            elif isinstance(child, Tag) and child.name not in _SKIPPED_TAGS and child.name not in stop:
                block = child.name in _BLOCK_TAGS or child.name in ("br", "li", "tr", "td", "th")
                if block:
                    parts.append(" ")
                visit(child)
                if block:
                    parts.append(" ")

    visit(tag)
    return _collapse("".join(parts))


def _collapse(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


# ---------------------------------------------------------------------------------------------
# JSON and JSONL records


def load_jsonl(path: Path) -> list[Article]:
    """Articles from a JSONL file, one record per non-blank line, in file order.

    Raises ValueError naming the file and line for invalid JSON, a line that is not an object, or a
    record missing id, title or body/text (one line of message per bad line).
    """
    return _strict(*_load_jsonl_located(path))


def load_json(path: Path) -> list[Article]:
    """Articles from a JSON file: a list of records, `{"articles": [...]}`, or an ABCD-shaped manual.

    Raises ValueError naming the file (and the record's position) for invalid JSON or any other shape.
    """
    return _strict(*_load_json_located(path))


def _strict(located: list[tuple[Article, str]], errors: list[LoadError]) -> list[Article]:
    if errors:
        raise ValueError("\n".join(error.message for error in errors))
    return [article for article, _ in located]


def _load_jsonl_located(path: Path) -> tuple[list[tuple[Article, str]], list[LoadError]]:
    """Each good line's (article, "<file>:<line>"), and one LoadError per bad line (or for an unreadable file)."""
    try:
        text = _read_text(path)
    except (ValueError, OSError) as exc:
        return [], [LoadError(_message(exc, path), _json_ids(_best_effort_text(path)), ids_known=False)]
    located: list[tuple[Article, str]] = []
    errors: list[LoadError] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            ids = _json_ids(line)
            errors.append(LoadError(f"{where}: invalid JSON: {exc.msg} (column {exc.colno})", ids, ids_known=bool(ids)))
            continue
        try:
            located.append((article_from_record(record, where=where), where))
        except ValueError as exc:
            errors.append(LoadError(str(exc), *_record_ids(record)))
    return located, errors


def _load_json_located(path: Path) -> tuple[list[tuple[Article, str]], list[LoadError]]:
    """Each good record's (article, "<file>[<i>]"), and one LoadError per bad record (or for the whole file)."""
    try:
        data = json.loads(_read_text(path))
    except json.JSONDecodeError as exc:
        message = f"{path}:{exc.lineno}: invalid JSON: {exc.msg} (column {exc.colno})"
        return [], [LoadError(message, _json_ids(exc.doc), ids_known=False)]
    except (ValueError, OSError) as exc:
        return [], [LoadError(_message(exc, path), _json_ids(_best_effort_text(path)), ids_known=False)]
    if isinstance(data, dict) and isinstance(data.get("articles"), list):
        data = data["articles"]
    if isinstance(data, list):
        located: list[tuple[Article, str]] = []
        errors: list[LoadError] = []
        for i, record in enumerate(data):
            where = f"{path}[{i}]"
            try:
                located.append((article_from_record(record, where=where), where))
            except ValueError as exc:
                errors.append(LoadError(str(exc), *_record_ids(record)))
        return located, errors
    if is_policy_manual(data):
        return [(article, str(path)) for article in articles_from_policy_manual(data)], []
    message = (
        f"{path}: expected a list of article objects, an object with an 'articles' list, "
        "or a policy manual (flows with 'subflows' holding 'actions')"
    )
    return [], [LoadError(message, ids_known=False)]


def _best_effort_text(path: Path) -> str:
    """The file's text with undecodable bytes replaced ("" if it cannot be read): for guessing ids only."""
    try:
        return path.read_bytes().decode("utf-8", errors="replace")
    except OSError:
        return ""


def article_from_record(record: Any, *, where: str) -> Article:
    """An `Article` from one JSON record; `where` (e.g. "file.jsonl:12") prefixes error messages.

    Reads id (string or number), title, body or text, and optionally desc, url, section, guides,
    locale, updated_at, outdated (bool) and labels (list or comma-separated). Raises ValueError when the record is not an object or a required field is
    missing, empty or of the wrong type.
    """
    if not isinstance(record, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(record).__name__}")
    raw_id = record.get("id")
    if isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)) or not str(raw_id).strip():
        raise ValueError(f"{where}: missing or empty 'id'")
    title = _record_str(record, "title", where)
    if not title:
        raise ValueError(f"{where}: missing or empty 'title'")
    key = "body" if record.get("body") is not None else "text"
    if record.get(key) is None:
        raise ValueError(f"{where}: needs a 'body' or 'text'")
    body = _record_str(record, key, where)
    if desc := _record_str(record, "desc", where):
        body = f"{desc}\n\n{body}" if body else desc
    section = _record_str(record, "section", where)
    guides = record.get("guides")
    if not section and isinstance(guides, list) and guides and isinstance(guides[0], str):
        section = guides[0].strip()
    return Article(
        id=str(raw_id).strip(),
        title=title,
        body=_tidy_body(body),
        url=_record_str(record, "url", where),
        section=section,
        locale=_record_str(record, "locale", where) or "en",
        updated_at=_iso_utc(record.get("updated_at"), where),
        outdated=_bool_field(record.get("outdated"), "outdated", where),
        labels=_labels_field(record.get("labels"), where),
    )


def _record_str(record: Mapping[str, Any], key: str, where: str) -> str:
    value = record.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{where}: {key!r} must be a string, got {type(value).__name__}")
    return value.strip()


# ---------------------------------------------------------------------------------------------
# Policy manuals shaped like ABCD's guidelines.json


def is_policy_manual(data: Any) -> bool:
    """True if `data` is shaped like ABCD's guidelines: {flow: {"subflows": {name: {"actions": [...]}}}}."""
    if not isinstance(data, dict) or not data:
        return False
    for flow in data.values():
        if not isinstance(flow, dict):
            return False
        subflows = flow.get("subflows")
        if not isinstance(subflows, dict) or not subflows:
            return False
        if not all(isinstance(sub, dict) and isinstance(sub.get("actions"), list) for sub in subflows.values()):
            return False
    return True


def articles_from_policy_manual(manual: Mapping[str, Any]) -> list[Article]:
    """One article per subflow of an ABCD-shaped manual, in manual order.

    id is "<flow-slug>/<subflow-slug>", title "<Flow> › <Subflow>", section the flow name; the body
    is the flow's description followed by each action's text as a `- ` line with its subtext as
    indented `  - ` lines. Raises ValueError if the manual is not of that shape.
    """
    if not is_policy_manual(manual):
        raise ValueError("not a policy manual: expected {flow: {'subflows': {name: {'actions': [...]}}}}")
    articles = []
    for flow_name, flow in manual.items():
        description = flow.get("description")
        intro = description.strip() if isinstance(description, str) else ""
        for subflow_name, subflow in flow["subflows"].items():
            lines: list[str] = []
            for action in subflow["actions"]:
                if not isinstance(action, dict):
                    continue
                text = action.get("text")
                if isinstance(text, str) and text.strip():
                    lines.append(f"- {_collapse(text)}")
                subtext = action.get("subtext")
                for item in subtext if isinstance(subtext, list) else []:
                    if isinstance(item, str) and item.strip():
                        lines.append(f"  - {_collapse(item)}")
            body = "\n\n".join(part for part in (intro, "\n".join(lines)) if part)
            articles.append(
                Article(
                    id=f"{_slug(flow_name)}/{_slug(subflow_name)}",
                    title=f"{flow_name} › {subflow_name}",
                    body=body,
                    section=flow_name,
                )
            )
    return articles


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


# ---------------------------------------------------------------------------------------------
# Shared helpers


def _tidy_body(text: str) -> str:
    """Normalise line endings, drop trailing spaces and runs of blank lines."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")


def iso_utc(value: Any, where: str) -> str:
    """Public name of `_iso_utc`, for the vendor loaders."""
    return _iso_utc(value, where)


def _iso_utc(value: Any, where: str) -> str:
    """ISO-8601 in UTC: "YYYY-MM-DD" for a date, "YYYY-MM-DDTHH:MM:SSZ" for a time; "" if unset.

    A time without an offset is taken as UTC. Raises ValueError for anything else.
    """
    if value is None or value == "":
        return ""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        return value.isoformat()
    elif isinstance(value, str):
        text = value.strip()
        try:
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
                return date.fromisoformat(text).isoformat()
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{where}: updated_at {value!r} is not an ISO-8601 date or time") from None
    else:
        raise ValueError(f"{where}: updated_at must be an ISO-8601 string, got {type(value).__name__}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
