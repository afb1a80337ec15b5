"""knowledge.approval: the allowlist file and what it approves."""
from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.approval import Allowlist, load_allowlists, locale_matches

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_config_restricts_nothing_but_drafts_and_restricted() -> None:
    rules = load_allowlists(ROOT / "config" / "knowledge.yaml")
    assert rules == {"zendesk": Allowlist(), "freshdesk": Allowlist(), "folder": Allowlist()}


def test_missing_file_means_defaults(tmp_path: Path) -> None:
    assert load_allowlists(tmp_path / "knowledge.yaml")["zendesk"] == Allowlist()


def test_rules_are_read_and_normalised(tmp_path: Path) -> None:
    path = tmp_path / "knowledge.yaml"
    path.write_text(
        "zendesk:\n  sections: [360001, Billing]\n  locales: [EN]\n  include_drafts: true\n"
        "freshdesk:\n  folders: [Returns]\n  categories: [7]\n"
    )

    rules = load_allowlists(path)

    assert rules["zendesk"] == Allowlist(sections=frozenset({"360001", "billing"}), locales=frozenset({"en"}), include_drafts=True)
    assert rules["freshdesk"] == Allowlist(sections=frozenset({"returns"}), categories=frozenset({"7"}))
    assert rules["folder"] == Allowlist()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("zendesk:\n  sections: Billing\n", "knowledge.yaml:2: zendesk.sections: must be a list"),
        ("zendesk:\n  folders: [a]\n", "knowledge.yaml:2: zendesk.folders: unknown key"),
        ("freshdesk:\n  include_drafts: maybe\n", "knowledge.yaml:2: freshdesk.include_drafts: must be true or false"),
        ("intercom:\n  sections: []\n", "knowledge.yaml:1: intercom: unknown source"),
        ("zendesk: [a, b]\n", "knowledge.yaml:1: zendesk: expected a mapping"),
        ("zendesk:\n  sections: [a\n", "knowledge.yaml:3: invalid YAML"),
    ],
)
def test_errors_name_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "knowledge.yaml"
    path.write_text(text)
    with pytest.raises(ValueError) as caught:
        load_allowlists(path)
    assert message in str(caught.value)


def test_locales_match_regional_variants() -> None:
    assert locale_matches("en-us", {"en"}) and locale_matches("EN_GB", {"en"}) and locale_matches("de", {"de"})
    assert not locale_matches("en", {"en-us"}) and not locale_matches("es", {"en"})


def test_allows_needs_every_non_empty_rule() -> None:
    rules = Allowlist(sections=frozenset({"billing"}), labels=frozenset({"approved"}))
    assert rules.allows(sections=("Billing",), labels=("approved", "x"))
    assert not rules.allows(sections=("Billing",), labels=("x",))
    assert not rules.allows(sections=("Orders",), labels=("approved",))
    assert Allowlist().allows()
