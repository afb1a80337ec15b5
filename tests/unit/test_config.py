from pathlib import Path

import pytest

from worker.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[2]

TRIAGE = """\
abstain_below: 0.4
categories:
  shipping:
    label: "Shipping"
    role: draft
    examples:
      - "where is my parcel"
  refunds:
    role: summary_only
    examples: ["I want my money back"]
"""
ROUTING = """\
tag_prefix: "deskhand_"
categories:
  shipping: {tags: [shipping]}
"""


def write(tmp_path: Path, triage: str = TRIAGE, routing: str = ROUTING) -> Path:
    (tmp_path / "triage.yaml").write_text(triage)
    (tmp_path / "routing.yaml").write_text(routing)
    return tmp_path


def test_shipped_config_is_valid():
    cfg = load_config(ROOT / "config")
    assert cfg.triage.categories["account_access"].role == "escalate_only"
    assert cfg.triage.categories["returns_refunds"].role == "summary_only"
    assert cfg.triage.categories["billing"].role == "constrained_draft"


def test_valid_minimal_config(tmp_path):
    cfg = load_config(write(tmp_path))
    assert list(cfg.triage.categories) == ["shipping", "refunds"]
    assert cfg.routing.categories["shipping"].tags == ["shipping"]


def test_invalid_role_names_file_line_and_valid_values(tmp_path):
    bad = TRIAGE.replace("role: summary_only", "role: refund_everyone")
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, triage=bad))
    msg = str(err.value)
    assert f"{tmp_path / 'triage.yaml'}:9: categories.refunds.role:" in msg
    assert "draft, constrained_draft, summary_only, escalate_only" in msg


def test_unknown_key_is_an_error_with_its_line(tmp_path):
    bad = TRIAGE.replace('    label: "Shipping"\n', '    label: "Shipping"\n    colour: blue\n')
    with pytest.raises(ConfigError, match=r"triage.yaml:5: categories.shipping.colour: unknown key"):
        load_config(write(tmp_path, triage=bad))


def test_yaml_syntax_error_names_line(tmp_path):
    bad = TRIAGE.replace('      - "where is my parcel"', '      - "where is my parcel\n    oops: [')
    with pytest.raises(ConfigError, match=r"triage.yaml:\d+: invalid YAML"):
        load_config(write(tmp_path, triage=bad))


def test_routing_must_reference_existing_categories(tmp_path):
    bad = ROUTING + "  billing: {tags: [billing]}\n"
    with pytest.raises(ConfigError, match=r"routing.yaml:4: categories.billing: no such category in triage.yaml"):
        load_config(write(tmp_path, routing=bad))


def test_bad_tags_are_rejected_on_their_own_line(tmp_path):
    bad = ROUTING.replace("[shipping]", "['ship ping']")
    with pytest.raises(ConfigError, match=r"routing.yaml:3: categories.shipping.tags.0: tag 'ship ping' must be lowercase"):
        load_config(write(tmp_path, routing=bad))
    for prefix in ('"desk hand_"', '""', '"Deskhand_"'):
        with pytest.raises(ConfigError, match=r"routing.yaml:1: tag_prefix: tag"):
            load_config(write(tmp_path, routing=ROUTING.replace('"deskhand_"', prefix)))


def test_duplicate_keys_are_an_error_not_a_silent_replacement(tmp_path):
    dup = TRIAGE + "  shipping:\n    role: draft\n    examples: [x]\n"
    with pytest.raises(ConfigError, match=r"triage.yaml:11: invalid YAML: duplicate key 'shipping' \(first on line 3\)"):
        load_config(write(tmp_path, triage=dup))


def test_an_empty_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match=r"routing.yaml:1: the file is empty"):
        load_config(write(tmp_path, routing=""))


def test_missing_file_is_a_config_error(tmp_path):
    (tmp_path / "triage.yaml").write_text(TRIAGE)
    with pytest.raises(ConfigError, match="routing.yaml: cannot read"):
        load_config(tmp_path)


def test_empty_examples_rejected(tmp_path):
    bad = TRIAGE.replace('examples: ["I want my money back"]', "examples: []")
    with pytest.raises(ConfigError, match=r"triage.yaml:10: categories.refunds.examples"):
        load_config(write(tmp_path, triage=bad))


def test_shipped_config_limits_roles_on_risk_flags():
    cfg = load_config(ROOT / "config")
    assert cfg.triage.risks["account_security"].role == "escalate_only"
    assert set(cfg.routing.risks) <= set(cfg.triage.risks) | {"personal_data"}


def test_unknown_risk_flag_lists_the_valid_ones(tmp_path):
    bad = TRIAGE + "risks:\n  account_security: {role: escalate_only}\n  alien_invasion: {role: escalate_only}\n"
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, triage=bad))
    msg = str(err.value)
    assert "triage.yaml:13: risks.alien_invasion: unknown risk flag" in msg
    assert "account_security, legal_threat, payment_dispute, self_harm, product_safety, prompt_injection, personal_data" in msg


def test_risk_role_must_be_a_role(tmp_path):
    bad = TRIAGE + "risks:\n  legal_threat: {role: ignore}\n"
    with pytest.raises(ConfigError, match=r"triage.yaml:12: risks.legal_threat.role: .*valid: draft, constrained_draft"):
        load_config(write(tmp_path, triage=bad))


def test_unknown_risk_flag_in_routing(tmp_path):
    bad = ROUTING + "risks:\n  self_harm: {tags: [risk_self_harm]}\n  typo_flag: {tags: [x]}\n"
    with pytest.raises(ConfigError, match=r"routing.yaml:6: risks.typo_flag: unknown risk flag"):
        load_config(write(tmp_path, routing=bad))


def test_bad_rule_pattern_names_its_line(tmp_path):
    bad = TRIAGE.replace('    role: summary_only\n', "    role: summary_only\n    patterns: ['refund(']\n")
    with pytest.raises(ConfigError, match=r"triage.yaml:10: categories.refunds.patterns.0: .*not a valid regular expression"):
        load_config(write(tmp_path, triage=bad))


def test_tier_urgency_lists_valid_levels(tmp_path):
    bad = TRIAGE + "urgency:\n  tier_field: plan\n  tiers: {gold: extreme}\n"
    with pytest.raises(ConfigError, match=r"triage.yaml:13: urgency.tiers.gold: .*'low', 'normal', 'high' or 'urgent'"):
        load_config(write(tmp_path, triage=bad))


def test_unknown_language_code(tmp_path):
    bad = TRIAGE + "language:\n  detect: [en, klingon]\n"
    with pytest.raises(ConfigError, match=r"triage.yaml:12: language.detect: .*unknown language code \['klingon'\]"):
        load_config(write(tmp_path, triage=bad))


def test_unknown_key_in_a_risk_entry(tmp_path):
    bad = TRIAGE + "risks:\n  self_harm:\n    role: escalate_only\n    colour: red\n"
    with pytest.raises(ConfigError, match=r"triage.yaml:14: risks.self_harm.colour: unknown key"):
        load_config(write(tmp_path, triage=bad))


def test_group_must_be_a_numeric_id(tmp_path):
    bad = ROUTING.replace("{tags: [shipping]}", '{tags: [shipping], group: "trust_and_safety"}')
    with pytest.raises(ConfigError, match=r"routing.yaml:3: categories.shipping.group: group must be the helpdesk's numeric group id"):
        load_config(write(tmp_path, routing=bad))
    ok = load_config(write(tmp_path, routing=ROUTING.replace("{tags: [shipping]}", "{tags: [shipping], group: 360001234567}")))
    assert ok.routing.categories["shipping"].group == "360001234567"


def test_shipped_routing_sets_no_priority_and_tags_stale_sources():
    routing = load_config(ROOT / "config").routing
    assert routing.urgency_priority == {}  # off by default: ops opt in
    assert all(r.priority is None for r in [routing.unknown, *routing.categories.values(), *routing.risks.values()])
    assert routing.stale_source_tags == ["stale_source"]


def test_priorities_per_urgency_category_and_risk_flag_load(tmp_path):
    routing = ROUTING + (
        "urgency_priority: {urgent: urgent, high: high}\n"
        "unknown: {tags: [needs_human_triage], priority: normal}\n"
        "risks:\n  self_harm: {tags: [risk_self_harm], priority: urgent}\n"
        "stale_source_tags: [stale_source]\n"
    )
    cfg = load_config(write(tmp_path, routing=routing)).routing
    assert cfg.urgency_priority == {"urgent": "urgent", "high": "high"}
    assert (cfg.unknown.priority, cfg.risks["self_harm"].priority) == ("normal", "urgent")
    assert "stale_source" in cfg.all_tags()


@pytest.mark.parametrize("routing,line,field", [
    (ROUTING + "urgency_priority: {urgent: critical}\n", 4, "urgency_priority.urgent"),
    (ROUTING.replace("{tags: [shipping]}", "{tags: [shipping], priority: 4}"), 3, "categories.shipping.priority"),
    (ROUTING + "risks:\n  legal_threat: {priority: asap}\n", 5, "risks.legal_threat.priority"),
])
def test_a_bad_priority_names_file_line_and_the_valid_values(tmp_path, routing, line, field):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, routing=routing))
    msg = str(err.value)
    assert msg.startswith(f"{tmp_path / 'routing.yaml'}:{line}: {field}: unknown priority")
    assert "(valid: low, normal, high, urgent; on Freshdesk these are 1 low, 2 medium, 3 high, 4 urgent)" in msg


@pytest.mark.parametrize("extra,field,expected", [
    ("urgency_priority: [urgent]\n", "urgency_priority", "expected a mapping such as {key: value}, got a list"),
    ("stale_source_tags: stale\n", "stale_source_tags", "expected a list such as [a, b], got text ('stale')"),
    ("stale_source_tags: {a: b}\n", "stale_source_tags", "expected a list such as [a, b], got a mapping"),
])
def test_a_value_of_the_wrong_shape_says_which_shape_in_plain_words(tmp_path, extra, field, expected):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, routing=ROUTING + extra))
    assert str(err.value) == f"{tmp_path / 'routing.yaml'}:4: {field}: {expected}"


@pytest.mark.parametrize("value,expected", [
    ("true", "expected a number such as 0.5, got true"),
    ('"0.5"', "expected a number such as 0.5, got text ('0.5')"),
])
def test_abstain_below_must_be_a_number_not_a_boolean_or_text(tmp_path, value, expected):
    bad = TRIAGE.replace("abstain_below: 0.4", f"abstain_below: {value}")
    assert bad != TRIAGE
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, triage=bad))
    assert str(err.value).endswith(f": abstain_below: {expected}")
    assert load_config(write(tmp_path, triage=TRIAGE.replace("abstain_below: 0.4", "abstain_below: 1"))).triage.abstain_below == 1.0


def test_urgency_priority_keys_must_be_urgency_levels(tmp_path):
    with pytest.raises(ConfigError, match=r"routing.yaml:4: urgency_priority.hgh: unknown urgency 'hgh' \(valid: low, normal, high, urgent\)"):
        load_config(write(tmp_path, routing=ROUTING + "urgency_priority: {hgh: high}\n"))


def test_risk_urgency_floor_lists_the_valid_floors_on_its_line(tmp_path):
    for level in ("low", "normal", "critical"):
        bad = TRIAGE + f"risks:\n  legal_threat:\n    role: escalate_only\n    urgency: {level}\n"
        with pytest.raises(ConfigError) as err:
            load_config(write(tmp_path, triage=bad))
        msg = str(err.value)
        assert f"triage.yaml:14: risks.legal_threat.urgency: unknown urgency floor '{level}' (valid: high, urgent" in msg
        assert "unknown risk flag" not in msg


def test_unknown_risk_flag_still_lists_the_flags_at_its_key(tmp_path):
    bad = TRIAGE + "risks:\n  legal_threats:\n    role: escalate_only\n"
    with pytest.raises(ConfigError, match=r"triage.yaml:12: risks.legal_threats: unknown risk flag \(valid: account_security, "):
        load_config(write(tmp_path, triage=bad))


@pytest.mark.parametrize("name", ["triage.yaml", "routing.yaml"])
def test_non_utf8_file_names_file_line_and_encoding(tmp_path, name):
    write(tmp_path)
    path = tmp_path / name
    lines = path.read_bytes().split(b"\n")
    lines[2] += b" # caf\xe9"  # Latin-1 e-acute on line 3
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path)
    assert str(err.value).startswith(f"{path}:3: the file must be UTF-8 text: byte 0xe9")


def test_utf16_file_is_named_as_such(tmp_path):
    write(tmp_path)
    (tmp_path / "triage.yaml").write_text(TRIAGE, encoding="utf-16")
    with pytest.raises(ConfigError, match=r"triage.yaml:1: the file must be UTF-8 text: .*looks like UTF-16"):
        load_config(tmp_path)


def test_unknown_block_key_points_at_the_key_and_lists_valid_keys(tmp_path):
    bad = TRIAGE + "urgency:\n  critical:\n    - \"on fire\"\n"
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, triage=bad))
    assert str(err.value) == (
        f"{tmp_path / 'triage.yaml'}:12: urgency.critical: unknown key (valid: urgent, high, low, tier_field, tiers)"
    )


def test_unknown_keys_list_the_valid_keys_in_both_files(tmp_path):
    bad_triage = TRIAGE.replace("    role: draft\n", "    role: draft\n    colour: blue\n")
    with pytest.raises(ConfigError, match=r"categories.shipping.colour: unknown key \(valid: label, description, role, examples,"):
        load_config(write(tmp_path, triage=bad_triage))
    bad_routing = ROUTING.replace("tag_prefix:", "tagprefix:")
    with pytest.raises(ConfigError, match=r"routing.yaml:1: tagprefix: unknown key \(valid: tag_prefix, always_tags, unknown,"):
        load_config(write(tmp_path, routing=bad_routing))
    bad_route = ROUTING.replace("{tags: [shipping]}", "{tags: [shipping], groups: \"1\"}")
    with pytest.raises(ConfigError, match=r"routing.yaml:3: categories.shipping.groups: unknown key \(valid: tags, group, priority\)"):
        load_config(write(tmp_path, routing=bad_route))


@pytest.mark.parametrize("name", ["Product Questions", "Shipping", "product-questions"])
def test_category_names_are_checked_where_they_are_defined(tmp_path, name):
    bad = TRIAGE.replace("  refunds:\n", f"  {name}:\n")
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, triage=bad))
    msg = str(err.value)
    assert msg.startswith(f"{tmp_path / 'triage.yaml'}:8: categories.{name}: category name must be lowercase letters, digits and '_'")


def test_an_empty_urgency_phrase_is_an_error(tmp_path):
    bad = TRIAGE + 'urgency:\n  urgent:\n    - "asap"\n    - ""\n'
    with pytest.raises(ConfigError, match=r"triage.yaml:\d+: urgency.urgent: .*phrases must be non-empty strings"):
        load_config(write(tmp_path, triage=bad))


def test_one_example_in_two_categories_is_an_error(tmp_path):
    bad = TRIAGE.replace('examples: ["I want my money back"]', 'examples: ["I want my money back", "Where is my  PARCEL?"]')
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, triage=bad))
    line = next(n for n, text in enumerate(bad.splitlines(), start=1) if "PARCEL" in text)
    assert str(err.value) == (
        f"{tmp_path / 'triage.yaml'}:{line}: categories.refunds.examples.1: "
        "example 'Where is my  PARCEL?' is also in shipping; keep it in one category"
    )


def test_a_phrase_of_punctuation_only_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match=r"urgency.high: .*phrases need a letter or digit, got \['!'\]"):
        load_config(write(tmp_path, triage=TRIAGE + 'urgency:\n  high: ["!"]\n'))


def test_customer_tiers_match_whatever_their_case(tmp_path):
    cfg = load_config(write(tmp_path, triage=TRIAGE + "urgency:\n  tier_field: plan\n  tiers: {Enterprise: high}\n"))
    assert cfg.triage.urgency.tiers == {"enterprise": "high"}
    with pytest.raises(ConfigError, match=r"urgency.tiers: .*tier 'enterprise' is given twice"):
        load_config(write(tmp_path, triage=TRIAGE + "urgency:\n  tiers: {Enterprise: urgent, enterprise: low}\n"))


# --- self_harm always reaches a person, fast ------------------------------------------------------


SELF_HARM_WHY = "a customer who may be at risk must reach a person"


@pytest.mark.parametrize("role, shown", [
    ("draft", "draft"), ("constrained_draft", "constrained_draft"), ("null", "null or missing (no limit)"),
])
def test_a_self_harm_role_that_lets_the_ai_draft_is_an_error_at_its_line(tmp_path, role, shown):
    bad = TRIAGE + f"risks:\n  self_harm:\n    role: {role}\n    urgency: urgent\n"
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, triage=bad))
    assert str(err.value) == (
        f"{tmp_path / 'triage.yaml'}:13: risks.self_harm.role: self_harm's role must be summary_only or escalate_only, "
        f"not {shown}: {SELF_HARM_WHY}, never get an AI-drafted reply"
    )


@pytest.mark.parametrize("entry, line, shown", [
    ("\n    role: escalate_only\n    urgency: high\n", 14, "high"),
    ("\n    role: summary_only\n", 13, "null or missing (no floor)"),  # no urgency key: the entry's first line
])
def test_a_self_harm_urgency_below_urgent_is_an_error_not_ignored(tmp_path, entry, line, shown):
    bad = TRIAGE + f"risks:\n  self_harm:{entry}"
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, triage=bad))
    assert str(err.value).startswith(
        f"{tmp_path / 'triage.yaml'}:{line}: risks.self_harm.urgency: self_harm's urgency must be urgent, not {shown}: "
        f"{SELF_HARM_WHY} fast"
    )


def test_the_new_user_pass_edit_of_the_shipped_file_fails_config_check(tmp_path):
    shipped = (ROOT / "config" / "triage.yaml").read_text()
    edited = shipped.replace("self_harm: {role: escalate_only, urgency: urgent}", "self_harm: {role: draft}")
    assert edited != shipped
    (tmp_path / "routing.yaml").write_text((ROOT / "config" / "routing.yaml").read_text())
    (tmp_path / "triage.yaml").write_text(edited)
    line = next(n for n, text in enumerate(edited.splitlines(), start=1) if "self_harm: {role: draft}" in text)
    with pytest.raises(ConfigError, match=rf"triage.yaml:{line}: risks.self_harm.role: .*not draft: {SELF_HARM_WHY}"):
        load_config(tmp_path)


def test_self_harm_may_stop_at_summary_only(tmp_path):
    ok = TRIAGE + "risks:\n  self_harm: {role: summary_only, urgency: urgent, phrases: [overdose]}\n"
    risk = load_config(write(tmp_path, triage=ok)).triage.risks["self_harm"]
    assert (risk.role, risk.urgency, risk.phrases) == ("summary_only", "urgent", ["overdose"])


@pytest.mark.parametrize("risks", ["", "risks:\n  legal_threat: {role: escalate_only}\n", "risks: {}\n"])
def test_self_harm_left_out_of_risks_gets_the_safe_built_in_entry(tmp_path, risks):
    cfg = load_config(write(tmp_path, triage=TRIAGE + risks)).triage
    assert (cfg.risks["self_harm"].role, cfg.risks["self_harm"].urgency) == ("escalate_only", "urgent")


def test_self_harm_is_checked_in_code_built_configs_too():
    from pydantic import ValidationError

    from worker.config import CategoryConfig, RiskConfig, TriageConfig

    categories = {"shipping": CategoryConfig(role="draft", examples=["where is my parcel"])}
    assert TriageConfig(categories=categories).risks["self_harm"] == RiskConfig(role="escalate_only", urgency="urgent")
    with pytest.raises(ValidationError, match="self_harm's role must be summary_only or escalate_only, not draft"):
        TriageConfig(categories=categories, risks={"self_harm": RiskConfig(role="draft", urgency="urgent")})


# --- category patterns must need some text ----------------------------------------------------------


@pytest.mark.parametrize("pattern, problem", [
    ("''", "it matches empty text"),
    ("'a*'", "it matches empty text"),
    ("'(x)?'", "it matches empty text"),
    ("'^'", "it matches empty text"),
    (r"'\b'", "it matches the single character 'a'"),
    ("'.'", "it matches the single character ' '"),
    (r"'\w+'", "it matches the single character 'a'"),
    ("'..'", "it matches the two characters 'zq'"),
    (r"'\d\d'", "it matches the two characters '77'"),
])
def test_a_pattern_that_matches_every_ticket_is_an_error_at_its_line(tmp_path, pattern, problem):
    bad = TRIAGE.replace("    role: summary_only\n", f"    role: summary_only\n    patterns:\n      - '\\bRMA-\\d{{6}}\\b'\n      - {pattern}\n")
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, triage=bad))
    msg = str(err.value)
    assert msg.startswith(f"{tmp_path / 'triage.yaml'}:12: categories.refunds.patterns.1: pattern ")
    assert f"matches every ticket: {problem}" in msg


def test_a_pattern_that_does_not_compile_names_its_own_line(tmp_path):
    bad = TRIAGE.replace("    role: summary_only\n", "    role: summary_only\n    patterns:\n      - 'refund'\n      - '[z-a]'\n")
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, triage=bad))
    assert str(err.value) == (
        f"{tmp_path / 'triage.yaml'}:12: categories.refunds.patterns.1: "
        "pattern '[z-a]' is not a valid regular expression: bad character range at position 4"
    )


def test_patterns_that_need_real_text_still_load(tmp_path):
    ok = TRIAGE.replace("    role: summary_only\n", "    role: summary_only\n    patterns: ['\\bRMA-\\d{6}\\b', 'money\\s+back', '(?=refund)\\w+']\n")
    cfg = load_config(write(tmp_path, triage=ok)).triage
    assert cfg.categories["refunds"].patterns == [r"\bRMA-\d{6}\b", r"money\s+back", r"(?=refund)\w+"]
