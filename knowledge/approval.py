"""What counts as approved: one allowlist per source, read from `config/knowledge.yaml`.

```yaml
zendesk:                     # Zendesk Help Center
  sections: [360001234567, "Billing"]   # section ids or names; empty or absent = every section
  labels: [approved]                   # an article needs at least one of them; empty = any
  locales: [en-us]                     # "en" matches en, en-us, en-gb…; empty = every locale
  permission_groups: []                # only articles managed by these permission groups
  include_drafts: false
  include_restricted: false            # articles limited to a user segment (not visible to everyone)
freshdesk:                   # Freshdesk Solutions
  categories: ["Customer help"]        # category ids or names
  folders: []                          # folder (or subfolder) ids or names
  labels: []                           # article tags
  locales: []
  include_drafts: false                # status 1 (draft) articles
  include_restricted: false            # folders not visible to "All users"
folder:                      # a folder of Markdown/HTML/JSONL articles
  sections: []
  labels: []
  locales: []
```

A missing file, source or key means "no restriction" for that key, except drafts and restricted
articles, which are always left out unless turned on. A folder article's "section" is its
`section` field; a Zendesk article's is its section (id or name); a Freshdesk article's sections
are every folder above it.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SOURCES = ("zendesk", "freshdesk", "folder")
_KEYS = {
    "zendesk": {"sections", "labels", "locales", "permission_groups", "include_drafts", "include_restricted"},
    "freshdesk": {"categories", "folders", "labels", "locales", "include_drafts", "include_restricted"},
    "folder": {"sections", "labels", "locales"},
}


@dataclass(frozen=True)
class Allowlist:
    """The approval rules of one source. An empty set puts no restriction on that field.

    Names are compared case-insensitively, ids as strings; a locale entry matches the same locale
    or any regional variant of it ("en" matches "en-us").
    """

    sections: frozenset[str] = frozenset()
    categories: frozenset[str] = frozenset()
    labels: frozenset[str] = frozenset()
    locales: frozenset[str] = frozenset()
    permission_groups: frozenset[str] = frozenset()
    include_drafts: bool = False
    include_restricted: bool = False

    def allows(
        self,
        *,
        sections: Iterable[str] = (),
        categories: Iterable[str] = (),
        labels: Iterable[str] = (),
        locale: str = "",
        permission_group: str = "",
    ) -> bool:
        """True when an article with these ids/names, labels and locale passes every non-empty rule."""
        if self.sections and not self.sections & _keys(sections):
            return False
        if self.categories and not self.categories & _keys(categories):
            return False
        if self.labels and not self.labels & _keys(labels):
            return False
        if self.permission_groups and _norm(permission_group) not in self.permission_groups:
            return False
        if self.locales and not locale_matches(locale, self.locales):
            return False
        return True


def locale_matches(locale: str, wanted: Iterable[str]) -> bool:
    """True if `locale` ("en-us") equals an entry of `wanted` or is a regional variant of one ("en")."""
    locale = _norm(locale).replace("_", "-")
    for entry in wanted:
        entry = _norm(entry).replace("_", "-")
        if locale == entry or locale.startswith(entry + "-"):
            return True
    return False


def load_allowlists(path: Path) -> dict[str, Allowlist]:
    """The allowlist of each source in `SOURCES` from the YAML file at `path` (defaults if it is missing).

    Raises ValueError "<file>:<line>: <source>.<key>: <problem>" for invalid YAML, an unknown
    source or key, a list that is not a list of strings/ids, or a flag that is not true/false.
    """
    path = Path(path)
    if not path.exists():
        return {source: Allowlist() for source in SOURCES}
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise ValueError(f"{path}:{line}: the file must be UTF-8 text (byte 0x{exc.object[exc.start]:02x} is not); save it as UTF-8") from exc
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ValueError(f"{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from exc
    result = {source: Allowlist() for source in SOURCES}
    if root is None:
        return result
    if not isinstance(root, yaml.MappingNode):
        raise ValueError(f"{path}:{root.start_mark.line + 1}: expected a mapping of sources ({', '.join(SOURCES)})")
    for key_node, value_node in root.value:
        source = str(key_node.value)
        if source not in _KEYS:
            raise ValueError(f"{path}:{key_node.start_mark.line + 1}: {source}: unknown source (expected one of {', '.join(SOURCES)})")
        result[source] = _allowlist(path, source, value_node)
    return result


def _allowlist(path: Path, source: str, node: yaml.Node) -> Allowlist:
    if isinstance(node, yaml.ScalarNode) and node.value in ("", "~", "null"):
        return Allowlist()
    if not isinstance(node, yaml.MappingNode):
        raise ValueError(f"{path}:{node.start_mark.line + 1}: {source}: expected a mapping of rules")
    values: dict[str, Any] = {}
    for key_node, value_node in node.value:
        key = str(key_node.value)
        where = f"{path}:{key_node.start_mark.line + 1}: {source}.{key}"
        if key not in _KEYS[source]:
            raise ValueError(f"{where}: unknown key (expected one of {', '.join(sorted(_KEYS[source]))})")
        value = yaml.safe_load(yaml.serialize(value_node))
        if key.startswith("include_"):
            if not isinstance(value, bool):
                raise ValueError(f"{where}: must be true or false")
            values[key] = value
            continue
        if value is None:
            value = []
        if not isinstance(value, list) or not all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in value):
            raise ValueError(f"{where}: must be a list of names or ids")
        values["sections" if key == "folders" else key] = frozenset(_norm(str(v)) for v in value if str(v).strip())
    return Allowlist(**values)


def _norm(value: Any) -> str:
    return str(value).strip().casefold()


def _keys(values: Iterable[Any]) -> set[str]:
    return {_norm(v) for v in values if str(v).strip()}


def allowlist_from_mapping(data: Mapping[str, Any]) -> Allowlist:
    """An Allowlist from plain keyword values (tests, code callers); lists become sets of normalised keys."""
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key.startswith("include_"):
            values[key] = bool(value)
        else:
            values["sections" if key == "folders" else key] = frozenset(_norm(v) for v in value)
    return Allowlist(**values)
