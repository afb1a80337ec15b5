"""Load approved help-center articles from local files into `Article` records.

Supported inputs (see `load_path`):

* a folder, searched recursively (dot-files and dot-folders are skipped), holding any of
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

Every error in the input is a `ValueError` whose message starts with the file (and, for JSONL, the
line number). `html_to_text` is the same HTML conversion for vendor article bodies (Zendesk Help
Center, Freshdesk Solutions).
"""
from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
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


# ---------------------------------------------------------------------------------------------
# Entry points


def load_path(path: Path) -> list[Article]:
    """Load the articles at `path`: a folder (see `load_folder`) or a single supported file.

    Returns the articles in a stable order (file path, then position in the file).
    Raises FileNotFoundError if `path` does not exist, and ValueError for an unsupported file type,
    malformed content or two articles with the same id.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    if path.is_dir():
        return load_folder(path)
    articles = _load_file(path)
    _check_unique_ids((article, path) for article in articles)
    return articles


def load_folder(path: Path) -> list[Article]:
    """Load every supported file under the folder `path`, recursively, in sorted path order.

    Files with other suffixes are ignored, as is anything whose name (or a parent folder's name
    below `path`) starts with a dot. Raises FileNotFoundError if `path` does not exist, ValueError
    if it is not a folder, if any file is malformed, or if two articles share an id (both files
    are named).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such folder")
    if not path.is_dir():
        raise ValueError(f"{path}: not a folder")
    loaded: list[tuple[Article, Path]] = []
    for file in sorted(path.rglob("*")):
        relative = file.relative_to(path)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if not file.is_file() or file.suffix.lower() not in SUPPORTED_SUFFIXES:
            continue
        loaded.extend((article, file) for article in _load_file(file))
    _check_unique_ids(loaded)
    return [article for article, _ in loaded]


def _load_file(path: Path) -> list[Article]:
    suffix = path.suffix.lower()
    if suffix in MARKDOWN_SUFFIXES:
        return [load_markdown(path)]
    if suffix in HTML_SUFFIXES:
        return [load_html(path)]
    if suffix == ".jsonl":
        return load_jsonl(path)
    if suffix == ".json":
        return load_json(path)
    expected = ", ".join(sorted(SUPPORTED_SUFFIXES))
    raise ValueError(f"{path}: unsupported file type {path.suffix!r} (expected one of {expected})")


def _check_unique_ids(loaded: Iterable[tuple[Article, Path]]) -> None:
    seen: dict[str, Path] = {}
    for article, file in loaded:
        if article.id in seen:
            first = seen[article.id]
            where = f"{file}" if first == file else f"{first} and {file}"
            raise ValueError(f"{where}: duplicate article id {article.id!r}")
        seen[article.id] = file


def _read_text(path: Path) -> str:
    try:
        # utf-8-sig drops a byte-order mark, which editors on Windows like to add.
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not valid UTF-8 ({exc.reason} at byte {exc.start})") from exc


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
    text and images are dropped (as in HTML pages). Raises ValueError for unterminated or invalid
    front matter, or a bad updated_at.
    """
    text = _read_text(path).replace("\r\n", "\n")
    meta, body = _split_front_matter(text, path)
    title = _str_field(meta, "title", path)
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
        id=_str_field(meta, "id", path) or path.stem,
        title=title or _title_from_stem(path),
        body=_tidy_body(body),
        url=_str_field(meta, "url", path),
        section=_str_field(meta, "section", path),
        locale=_str_field(meta, "locale", path) or "en",
        updated_at=_iso_utc(meta.get("updated_at"), str(path)),
        outdated=_bool_field(meta.get("outdated"), "outdated", str(path)),
        labels=_labels_field(meta.get("labels"), str(path)),
    )


def _split_front_matter(text: str, path: Path) -> tuple[dict[str, Any], str]:
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        return {}, text
    for end in range(1, len(lines)):
        if lines[end].strip() in ("---", "..."):
            break
    else:
        raise ValueError(f"{path}: front matter opened with '---' on line 1 is never closed")
    try:
        meta = yaml.safe_load("\n".join(lines[1:end])) or {}
    except yaml.MarkedYAMLError as exc:
        line, what = _yaml_error_line(exc)
        # +2: YAML counts from 0, and the front matter starts on the file's line 2, after '---'.
        raise ValueError(f"{path}:{line + 2}: invalid YAML front matter: {what}") from exc
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: invalid YAML front matter: {exc}") from exc
    if not isinstance(meta, dict):
        raise ValueError(f"{path}: front matter must be a mapping of keys to values, got {type(meta).__name__}")
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


def _str_field(meta: Mapping[str, Any], key: str, path: Path) -> str:
    value = meta.get(key)
    if value is None:
        return ""
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return str(value).strip()
    raise ValueError(f"{path}: front matter {key!r} must be a string, got {type(value).__name__}")


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
    file stem. The id is the file stem; `<html lang>` sets the locale and `<link rel="canonical">`
    the url. The body is plain text: `## Heading` lines, `- item` lines (indented two spaces per
    nesting level), `cell | cell` table rows, paragraphs separated by blank lines; links keep their
    text; script, style, nav and other non-content elements are dropped.
    """
    soup = BeautifulSoup(_read_text(path), "html.parser")
    title = ""
    if soup.title is not None:
        title = _collapse(soup.title.get_text(" "))
    first_h1 = soup.find("h1")
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
    record missing id, title or body/text.
    """
    articles: list[Article] = []
    for number, line in enumerate(_read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{where}: invalid JSON: {exc.msg} (column {exc.colno})") from exc
        articles.append(article_from_record(record, where=where))
    return articles


def load_json(path: Path) -> list[Article]:
    """Articles from a JSON file: a list of records, `{"articles": [...]}`, or an ABCD-shaped manual.

    Raises ValueError naming the file (and the record's position) for invalid JSON or any other shape.
    """
    try:
        data = json.loads(_read_text(path))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg} (column {exc.colno})") from exc
    if isinstance(data, dict) and isinstance(data.get("articles"), list):
        data = data["articles"]
    if isinstance(data, list):
        return [article_from_record(record, where=f"{path}[{i}]") for i, record in enumerate(data)]
    if is_policy_manual(data):
        return articles_from_policy_manual(data)
    raise ValueError(
        f"{path}: expected a list of article objects, an object with an 'articles' list, "
        "or a policy manual (flows with 'subflows' holding 'actions')"
    )


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
