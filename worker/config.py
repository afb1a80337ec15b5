"""Ops-editable YAML (`config/triage.yaml`, `config/routing.yaml`): schema, loading, errors with file:line.

A bad file never half-loads: `load_config` raises `ConfigError` whose message names the file, the line
and the field, and lists valid values where there is a fixed set. `ConfigWatcher` lets a running worker
pick up edited files and keep the last good version when an edit is invalid.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import regex
import structlog
import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from integrations.base import PRIORITIES, Priority
from worker.models import ROLES, Role

log = structlog.get_logger(__name__)


class ConfigError(Exception):
    """Invalid configuration; the message is `file:line: field: problem`."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


RequiredFact = Literal["order_number", "email", "device_model"]
Urgency = Literal["low", "normal", "high", "urgent"]
URGENCIES: tuple[str, ...] = get_args(Urgency)
# A risk flag may raise a ticket's urgency, never lower it, so only the top two levels make sense as a floor.
UrgencyFloor = Literal["high", "urgent"]
URGENCY_FLOORS: tuple[str, ...] = get_args(UrgencyFloor)
# The risk detectors that exist in worker/triage.py; config may tune them, not invent new ones.
RiskFlag = Literal[
    "account_security", "legal_threat", "payment_dispute", "self_harm", "product_safety", "prompt_injection", "personal_data"
]
RISK_FLAGS: tuple[str, ...] = get_args(RiskFlag)


# Texts of one or two characters: a pattern that matches one of them (or the empty text) matches nearly
# every ticket. '' catches '', 'a*' and '(x)?'; the others catch zero-width patterns ('\b'), one-character
# ones ('.', '\w') and two-character ones ('..', '\w\w', '\w{2,}', '\d\d').
_TRIVIAL_TEXTS = ("", " ", "\n", ".", ",", "!", "?", *"abcdefghijklmnopqrstuvwxyz0123456789", "zq", "77")


# How triage runs ops' keywords and patterns (worker/triage.py `Taxonomy.build`, `rule_match`): defined
# here so the config check compiles and times them exactly as triage does.
RULE_FLAGS = regex.I | regex.V0
RULE_TIMEOUT_S = 0.05  # a search slower than this counts as no match (and is logged)


def _check_pattern(rx: str) -> str:
    """A category pattern must compile with the `regex` module and flags triage matches it with
    (worker/triage.py `Taxonomy.build`), and must need some real text to match."""
    try:
        compiled = regex.compile(rx, RULE_FLAGS)
    except regex.error as exc:
        raise ValueError(f"pattern {rx!r} is not a valid regular expression: {exc}") from exc
    for text in _TRIVIAL_TEXTS:
        try:
            found = compiled.search(text, timeout=RULE_TIMEOUT_S)
        except TimeoutError:  # so slow on one character that it cannot match every ticket in time either
            continue
        if found is None:
            continue
        if text == "":
            raise ValueError(
                f"pattern {rx!r} matches every ticket: it matches empty text "
                "(a pattern whose parts are all optional, such as 'x*', 'x?' or '(x)?', needs no text at all)"
            )
        what = "the single character" if len(text) == 1 else "the two characters"
        raise ValueError(f"pattern {rx!r} matches every ticket: it matches {what} {text!r}")
    return rx


Pattern = Annotated[str, AfterValidator(_check_pattern)]


def _check_phrases(v: list[str]) -> list[str]:
    if any(not p.strip() for p in v):
        raise ValueError("phrases must be non-empty strings")
    bare = [p for p in v if not any(ch.isalnum() for ch in p)]
    if bare:
        raise ValueError(f"phrases need a letter or digit, got {bare}")
    return v


def _check_language_keys(v: dict[str, str]) -> dict[str, str]:
    from worker.language import KNOWN_LANGUAGES

    bad = [c for c in v if c not in KNOWN_LANGUAGES]
    if bad:
        raise ValueError(f"unknown language code {bad}; valid: ISO 639-1 codes such as en, es, fr, de")
    return v


class CategoryConfig(_Strict):
    label: str = ""
    description: str = ""
    role: Role
    examples: list[str] = Field(min_length=1)
    requires: list[RequiredFact] = []  # facts the agent needs before replying; absent ones are listed in the note
    keywords: list[str] = []  # case-insensitive whole-word phrases; a match overrides the classifier
    patterns: list[Pattern] = []  # case-insensitive regular expressions; a match overrides the classifier
    greeting: dict[str, str] = {}  # language → the draft's first line, overriding drafting.greeting for this category
    closing: dict[str, str] = {}  # language → the draft's last line, overriding drafting.closing for this category

    @field_validator("greeting", "closing")
    @classmethod
    def _frame_languages(cls, v: dict[str, str]) -> dict[str, str]:
        return _check_language_keys(v)

    @field_validator("examples")
    @classmethod
    def _non_empty(cls, v: list[str]) -> list[str]:
        if any(not e.strip() for e in v):
            raise ValueError("examples must be non-empty strings")
        return v

    _keywords = field_validator("keywords")(_check_phrases)


class UrgencyConfig(_Strict):
    urgent: list[str] = []
    high: list[str] = []
    low: list[str] = []
    tier_field: str = ""  # ticket field holding the customer tier ("" = not used)
    tiers: dict[str, Urgency] = {}  # tier value (matched case-insensitively) → the least urgency its tickets get

    _phrases = field_validator("urgent", "high", "low")(_check_phrases)  # "" would match every ticket

    @field_validator("tiers")
    @classmethod
    def _lower_tiers(cls, v: dict[str, Urgency]) -> dict[str, Urgency]:
        lowered: dict[str, Urgency] = {}
        for tier, urgency in v.items():
            key = tier.strip().lower()
            if key in lowered:
                raise ValueError(f"tier {key!r} is given twice (tiers match whatever their case)")
            lowered[key] = urgency
        return lowered


class LanguageConfig(_Strict):
    detect: list[str] = Field(["en", "es", "fr", "de", "it", "nl", "pt"], min_length=1)  # ISO 639-1 candidates
    supported: list[str] = Field(["en"], min_length=1)  # languages the examples are written in

    @field_validator("detect", "supported")
    @classmethod
    def _iso(cls, v: list[str]) -> list[str]:
        from worker.language import KNOWN_LANGUAGES

        bad = [c for c in v if c not in KNOWN_LANGUAGES]
        if bad:
            raise ValueError(f"unknown language code {bad}; valid: ISO 639-1 codes such as en, es, fr, de")
        return v

    @model_validator(mode="after")
    def _supported_detected(self) -> "LanguageConfig":
        missing = [c for c in self.supported if c not in self.detect]
        if missing:
            raise ValueError(f"supported languages {missing} must also be listed in detect")
        return self


class RiskConfig(_Strict):
    role: Role | None = None  # the most the AI may do when this flag is raised (null: no limit; self_harm: see below)
    phrases: list[str] = []  # extra case-insensitive phrases that raise the flag, besides the built-in detector
    urgency: UrgencyFloor | None = None  # the least urgency a ticket with this flag gets (null: no floor)

    _phrases = field_validator("phrases")(_check_phrases)


# A customer who may be at risk must reach a person, fast, whatever ops configure: self_harm may lower a
# role to summary_only or escalate_only only, its urgency floor is "urgent", and a file whose `risks:`
# leaves it out gets this entry. A weaker entry is a config error rather than silently corrected, so
# the file never says something Deskhand does not do.
SELF_HARM_ROLES: tuple[Role, ...] = ("summary_only", "escalate_only")
SELF_HARM_DEFAULT = RiskConfig(role="escalate_only", urgency="urgent")


def _self_harm_reaches_a_human(risks: dict[str, RiskConfig]) -> dict[str, RiskConfig]:
    """`risks` with the self_harm entry added when absent; raises PydanticCustomError `unsafe_self_harm`
    (its context names the key at fault, for the file:line) when the entry would let the AI draft or
    leave the ticket below urgent."""
    entry = risks.get("self_harm")
    if entry is None:
        return {**risks, "self_harm": SELF_HARM_DEFAULT}
    if entry.role not in SELF_HARM_ROLES:
        raise PydanticCustomError(
            "unsafe_self_harm",
            "self_harm's role must be summary_only or escalate_only, not {got}: a customer who may be at risk "
            "must reach a person, never get an AI-drafted reply",
            {"key": "role", "got": entry.role or "null or missing (no limit)"},
        )
    if entry.urgency != "urgent":
        raise PydanticCustomError(
            "unsafe_self_harm",
            "self_harm's urgency must be urgent, not {got}: a customer who may be at risk must reach a person "
            "fast (Deskhand refuses a lower floor rather than ignore it)",
            {"key": "urgency", "got": entry.urgency or "null or missing (no floor)"},
        )
    return risks


class DraftingConfig(_Strict):
    """How drafts are framed and when a case summary (escalation packet) is added."""

    greeting: dict[str, str] = {}  # language → the draft's first line, e.g. {en: "Hello,"}; missing/"" = none
    closing: dict[str, str] = {}  # language → the draft's last line, e.g. {en: "Kind regards,"}
    packet_after_messages: StrictInt = Field(0, ge=0)  # threads with more public messages get a case summary (0 = escalations only)

    _frame_languages = field_validator("greeting", "closing")(_check_language_keys)


class TriageConfig(_Strict):
    # strict: YAML's `true` or a quoted "0.5" is a mistake, not 1.0 or 0.5
    abstain_below: StrictFloat = Field(0.4, ge=0.0, le=1.0)
    out_of_scope_below: StrictFloat = Field(0.0, ge=0.0, le=1.0)
    categories: dict[str, CategoryConfig] = Field(min_length=1)
    urgency: UrgencyConfig = UrgencyConfig()
    language: LanguageConfig = LanguageConfig()
    # validate_default: a file without `risks:` still gets the self_harm entry
    risks: dict[RiskFlag, RiskConfig] = Field({}, validate_default=True)
    drafting: DraftingConfig = DraftingConfig()

    _self_harm = field_validator("risks")(_self_harm_reaches_a_human)

    @field_validator("categories")
    @classmethod
    def _names(cls, v: dict[str, CategoryConfig]) -> dict[str, CategoryConfig]:
        if "unknown" in v:
            raise ValueError("'unknown' is reserved for tickets triage abstains on")
        return v


# A category name becomes a routing tag (`deskhand_<name>`) when routing.yaml has no entry for it, and the
# key routing.yaml uses; helpdesks lowercase tags and split them on spaces, so "Product Questions" would
# never match. `label` is where the human-readable name goes.
_CATEGORY_NAME = re.compile(r"^[a-z0-9_]+$")
CATEGORY_NAME_HELP = "lowercase letters, digits and '_' (e.g. product_questions; put the display name in label)"


def _bad_category_names(triage: TriageConfig) -> list[str]:
    """Category names (in file order) that `_CATEGORY_NAME` refuses."""
    return [name for name in triage.categories if not _CATEGORY_NAME.match(name)]


def _shared_phrases(triage: TriageConfig) -> list[tuple[tuple[str, str, str, int], str]]:
    """Examples and keywords given in two categories (compared without case, spacing and punctuation):
    one example teaches both answers at once. Returns (location of the later copy, problem) pairs."""
    found = []
    for kind in ("examples", "keywords"):
        seen: dict[str, str] = {}
        for name, category in triage.categories.items():
            for i, text in enumerate(getattr(category, kind)):
                key = " ".join(re.findall(r"\w+", text.casefold()))
                if seen.get(key, name) != name:
                    found.append((("categories", name, kind, i), f"{kind[:-1]} {text!r} is also in {seen[key]}; keep it in one category"))
                seen.setdefault(key, name)
    return found


_TAG = re.compile(r"^[a-z0-9_\-]+$")


def _check_tag(tag: str) -> str:
    if not _TAG.match(tag):
        raise ValueError(
            f"tag {tag!r} must be lowercase letters, digits, '_' or '-' (helpdesks split tags on spaces and lowercase them)"
        )
    return tag


Tag = Annotated[str, AfterValidator(_check_tag)]


#: What a `priority` error lists: the names config uses, and the numbers Freshdesk stores for them.
PRIORITY_HELP = f"{', '.join(PRIORITIES)}; on Freshdesk these are 1 low, 2 medium, 3 high, 4 urgent"


class RouteConfig(_Strict):
    tags: list[Tag] = []
    group: str | None = None
    priority: Priority | None = None  # the least helpdesk priority the ticket gets (raised, never lowered); null: no change

    @field_validator("group", mode="before")
    @classmethod
    def _group_id(cls, v: object) -> object:
        # A group name would pass here and then fail every note at the helpdesk: both vendors want the id.
        if v is not None and not str(v).strip().isdigit():
            raise ValueError(f"group must be the helpdesk's numeric group id (e.g. \"360001234567\"), not {v!r}")
        return None if v is None else str(v).strip()


class RoutingConfig(_Strict):
    tag_prefix: Tag = "deskhand_"  # every Deskhand tag starts with it (invariant 2), so it may not be empty
    always_tags: list[Tag] = []
    unknown: RouteConfig = RouteConfig(tags=["needs_human_triage"])
    categories: dict[str, RouteConfig] = {}
    urgency_tags: dict[str, list[Tag]] = {}
    role_tags: dict[Role, list[Tag]] = {}
    no_draft_tags: list[Tag] = []
    stale_source_tags: list[Tag] = []  # added when a source the note cites is stale or outdated upstream
    urgency_priority: dict[Urgency, Priority] = {}  # urgency level → the least helpdesk priority; {} = off
    risks: dict[RiskFlag, RouteConfig] = {}  # per risk flag: tags to add, a group that wins over the category's, a priority

    @field_validator("urgency_tags")
    @classmethod
    def _urgency_keys(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        bad = set(v) - {"low", "normal", "high", "urgent"}
        if bad:
            raise ValueError(f"unknown urgency {sorted(bad)}; valid: low, normal, high, urgent")
        return v

    def all_tags(self) -> list[str]:
        tags = [*self.always_tags, *self.unknown.tags, *self.no_draft_tags, *self.stale_source_tags]
        tags += [t for r in self.categories.values() for t in r.tags]
        tags += [t for ts in self.urgency_tags.values() for t in ts]
        tags += [t for ts in self.role_tags.values() for t in ts]
        tags += [t for r in self.risks.values() for t in r.tags]
        return tags


@dataclass(frozen=True)
class Config:
    triage: TriageConfig
    routing: RoutingConfig
    triage_path: Path
    routing_path: Path


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...], at_key: bool = False) -> int:
    """1-based line of the YAML node at pydantic location `loc` (deepest node that exists).

    With `at_key`, the last step gives the line of the mapping key rather than of its value (a block
    value starts on the line after its key, and an unknown or misnamed key is what the reader must fix).
    """
    line = node.start_mark.line + 1 if node else 1
    for i, key in enumerate(loc):
        if isinstance(node, yaml.MappingNode):
            last = at_key and i == len(loc) - 1
            match = None if last else next((v for k, v in node.value if k.value == str(key)), None)
            if match is None:
                # an unknown key (or `at_key`): point at the key itself
                match = next((k for k, _ in node.value if k.value == str(key)), None)
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            break
        if node is None:
            break
        line = node.start_mark.line + 1
    return line


def _read_utf8(path: Path) -> str:
    """The text of `path`; raises ConfigError naming the file and line when it is unreadable or not UTF-8.

    Editors on Windows may save as UTF-16 or a legacy code page; the decoder's byte offset alone would
    leave the reader searching, so the message gives the line of the first bad byte.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        hint = " (it looks like UTF-16)" if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
        raise ConfigError(
            f"{path}:{line}: the file must be UTF-8 text: byte 0x{raw[exc.start]:02x} is not valid UTF-8{hint}; "
            "save it as UTF-8"
        ) from exc


def _load_yaml(path: Path) -> tuple[Any, yaml.Node | None]:
    text = _read_utf8(path)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        _refuse_duplicate_keys(node)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise ConfigError(f"{path}:{line}: invalid YAML: {exc.problem or exc}") from exc
    if data is None:
        raise ConfigError(f"{path}:1: the file is empty (see the comment block of the shipped file for its keys)")
    return data, node


def _refuse_duplicate_keys(node: yaml.Node | None) -> None:
    """YAML keeps the last of two equal keys silently; a second `orders:` would replace the first."""
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            line = key.start_mark.line + 1
            if key.value in seen:
                raise yaml.MarkedYAMLError(problem=f"duplicate key {key.value!r} (first on line {seen[key.value]})", problem_mark=key.start_mark)
            seen[key.value] = line
            _refuse_duplicate_keys(value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _refuse_duplicate_keys(item)


def _unwrap(annotation: Any) -> Any:
    """`X | None` → X, `Annotated[X, ...]` → X; anything else unchanged."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin is Union or type(annotation).__name__ == "UnionType":
            inner = [a for a in get_args(annotation) if a is not type(None)]
            if len(inner) != 1:
                return annotation
            annotation = inner[0]
        else:
            return annotation


def _valid_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The field names of the model found by following `loc` from `model` ([] when it leads elsewhere).

    E.g. `_valid_keys(TriageConfig, ("urgency",))` → the keys of UrgencyConfig.
    """
    current: Any = model
    for key in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(key))
            if field is None:
                return []
            current = field.annotation
        elif get_origin(current) is dict:
            current = get_args(current)[1]
        elif get_origin(current) is list:
            current = get_args(current)[0]
        else:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _yaml_kind(value: Any) -> str:
    """How a YAML value reads to the person who wrote it: "a list", "a mapping", "text", ..."""
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, bool):
        return str(value).lower()
    for kind, name in ((dict, "a mapping"), (list, "a list"), (str, "text"), ((int, float), "a number")):
        if isinstance(value, kind):
            return f"{name} ({value!r})" if kind in (str, (int, float)) else name
    return type(value).__name__


def _validate(model: type[BaseModel], path: Path) -> BaseModel:
    data, node = _load_yaml(path)
    try:
        result = model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if not isinstance(p, str) or not (p.startswith("function-") or p == "[key]"))
            field = ".".join(str(p) for p in loc) or "(top level)"
            msg = err["msg"].removeprefix("Value error, ")
            at_key = False
            if err["type"] == "extra_forbidden":
                valid = _valid_keys(model, loc[:-1])
                msg = f"unknown key (valid: {', '.join(valid)})" if valid else "unknown key"
                at_key = True
            elif err["type"] == "literal_error" and loc and loc[0] == "urgency_priority" and "[key]" in err["loc"]:
                msg = f"unknown urgency {err['input']!r} (valid: {', '.join(URGENCIES)})"
            elif err["type"] == "literal_error" and loc and (loc[-1] == "priority" or loc[0] == "urgency_priority"):
                msg = f"unknown priority {err['input']!r} (valid: {PRIORITY_HELP})"
            elif err["type"] == "literal_error" and "role" in field:
                msg = f"{msg} (valid: {', '.join(ROLES)})"
            elif err["type"] == "literal_error" and loc and loc[0] == "risks" and loc[-1] == "urgency":
                msg = f"unknown urgency floor {err['input']!r} (valid: {', '.join(URGENCY_FLOORS)}; a risk flag only raises urgency)"
            elif err["type"] == "literal_error" and loc and loc[0] == "risks" and "[key]" in err["loc"]:
                msg = f"unknown risk flag (valid: {', '.join(RISK_FLAGS)})"
                at_key = True
            elif err["type"] == "unsafe_self_harm":
                loc = (*loc, "self_harm", err["ctx"]["key"])  # the validator sees all of `risks`; point at the key
                field = ".".join(str(p) for p in loc)
            elif err["type"] in ("float_type", "int_type"):
                number = "a whole number" if err["type"] == "int_type" else "a number such as 0.5"
                msg = f"expected {number}, got {_yaml_kind(err['input'])}"
            elif err["type"] == "dict_type":
                msg = f"expected a mapping such as {{key: value}}, got {_yaml_kind(err['input'])}"
            elif err["type"] == "list_type":
                msg = f"expected a list such as [a, b], got {_yaml_kind(err['input'])}"
            problems.append(f"{path}:{_line_of(node, loc, at_key=at_key)}: {field}: {msg}")
        raise ConfigError("\n".join(problems)) from exc
    if isinstance(result, TriageConfig):
        problems = [
            f"{path}:{_line_of(node, ('categories', name), at_key=True)}: categories.{name}: category name must be {CATEGORY_NAME_HELP}"
            for name in _bad_category_names(result)
        ]
        problems += [f"{path}:{_line_of(node, loc)}: {'.'.join(map(str, loc))}: {msg}" for loc, msg in _shared_phrases(result)]
        if problems:
            raise ConfigError("\n".join(problems))
    return result


def load_config(config_dir: Path) -> Config:
    """Load and cross-check `triage.yaml` and `routing.yaml` from `config_dir`.

    Raises ConfigError (file:line: field: problem) on unreadable files, invalid YAML, schema errors,
    or routing that names a category triage.yaml does not define.
    """
    triage_path, routing_path = config_dir / "triage.yaml", config_dir / "routing.yaml"
    triage = _validate(TriageConfig, triage_path)
    routing = _validate(RoutingConfig, routing_path)
    unknown = sorted(set(routing.categories) - set(triage.categories))
    if unknown:
        _, node = _load_yaml(routing_path)
        line = _line_of(node, ("categories", unknown[0]))
        raise ConfigError(
            f"{routing_path}:{line}: categories.{unknown[0]}: no such category in {triage_path.name} "
            f"(valid: {', '.join(triage.categories)})"
        )
    return Config(triage=triage, routing=routing, triage_path=triage_path, routing_path=routing_path)
