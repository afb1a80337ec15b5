from knowledge.models import Passage
from worker.config import RouteConfig, RoutingConfig
from worker.models import Draft, Triage
from worker.notes import parse_marker, render_note, route, route_priority
from worker.sentences import word_count

from .fakes import message, ticket

ROUTING = RoutingConfig(
    tag_prefix="dh_",
    always_tags=["triaged"],
    unknown=RouteConfig(tags=["needs_human_triage"], group="900"),
    categories={"billing": RouteConfig(tags=["billing"], group="77")},
    urgency_tags={"urgent": ["urgent"]},
    role_tags={"constrained_draft": ["constrained"]},
    no_draft_tags=["no_source"],
)
P = Passage(chunk_id="a#0", article_id="a", title="Charged twice?", text="…", score=0.7, url="https://h/a", updated_at="2026-10-02T00:00:00Z")


def tri(category="billing", role="constrained_draft", urgency="urgent"):
    return Triage(category=category, confidence=0.82, role=role, urgency=urgency, sentiment="negative", language="en", label="Billing › Charges", reasons=("nearest examples: billing 0.82",))


def test_note_shape_and_marker():
    d = Draft(body="A pending authorisation drops off within 7 days. [1]\nCould you please send me your order number?", citations=(P,), missing_info=("order number",))
    note = render_note(ticket(message(1, "charged twice")), "m1", tri(), d, ROUTING, "0.1.0")
    assert note.html.startswith("<p><strong>Deskhand</strong> · Billing › Charges · urgency urgent · negative · en · confidence 0.82</p>")
    assert "<strong>Draft reply (review before sending):</strong><br>A pending authorisation drops off within 7 days. [1]<br>Could you" in note.html
    assert '[1] <a href="https://h/a">Charged twice?</a> (updated 2026-10-02)' in note.html
    assert "<strong>Missing before you reply:</strong> order number" in note.html
    assert parse_marker(note.html) == {"ticket": "42", "message": "m1", "pipeline": "0.1.0"}
    assert note.tags == ("dh_triaged", "dh_billing", "dh_urgent", "dh_constrained")
    assert note.group == "77"


def test_no_draft_note_says_why_and_tags_no_source():
    d = Draft(body="", citations=(), reason="No approved help-center source supports a reply, so there is no draft.")
    note = render_note(ticket(message(1, "x")), "m1", tri(), d, ROUTING, "0.1.0")
    assert "<strong>No draft:</strong> No approved help-center source" in note.html
    assert "Draft reply" not in note.html
    assert "dh_no_source" in note.tags and "dh_constrained" not in note.tags


def test_unknown_routes_to_human_triage():
    d = Draft(body="", citations=(), escalate=True, reason="route it for human triage", summary="Customer writes: “hi”")
    note = render_note(ticket(message(1, "x")), "m1", tri(category="unknown", role="escalate_only", urgency="normal"), d, ROUTING, "0.1.0")
    assert note.tags == ("dh_triaged", "dh_needs_human_triage")
    assert note.group == "900"
    assert "<strong>Escalation (no draft):</strong> route it for human triage" in note.html


def test_placeholders_and_html_in_text_are_escaped():
    d = Draft(body="Use {{ticket.requester.email}} <script>x</script> [1]", citations=(P,))
    note = render_note(ticket(message(1, "x")), "m1", tri(), d, ROUTING, "0.1.0")
    assert "{{" not in note.html and "<script>" not in note.html
    assert "&#123;&#123;ticket.requester.email&#125;&#125;" in note.html


def test_route_dedupes_and_prefixes():
    tags, _ = route(tri(), Draft(body="x", citations=(P,)), ROUTING.model_copy(update={"always_tags": ["billing"]}))
    assert tags == ("dh_billing", "dh_urgent", "dh_constrained")


def test_parse_marker_ignores_other_text():
    assert parse_marker("thanks, deskhand!") is None


# --- priority ---------------------------------------------------------------------------------------


def test_no_priority_unless_routing_sets_one():
    assert route_priority(tri(), ROUTING) is None


def test_the_highest_configured_priority_wins():
    routing = ROUTING.model_copy(update={
        "urgency_priority": {"urgent": "high", "high": "normal"},
        "categories": {"billing": RouteConfig(tags=["billing"], priority="normal")},
        "risks": {"self_harm": RouteConfig(priority="urgent"), "legal_threat": RouteConfig(priority="low")},
    })
    assert route_priority(tri(urgency="urgent"), routing) == "high"
    assert route_priority(tri(urgency="low"), routing) == "normal"  # the category's
    flagged = Triage(**{**tri(urgency="high").__dict__, "risks": ("legal_threat", "self_harm")})
    assert route_priority(flagged, routing) == "urgent"


def test_unknown_tickets_use_the_unknown_priority():
    routing = ROUTING.model_copy(update={"unknown": RouteConfig(tags=["needs_human_triage"], priority="high")})
    assert route_priority(tri(category="unknown", role="escalate_only", urgency="normal"), routing) == "high"


# --- stale sources ----------------------------------------------------------------------------------

OLD = Passage(chunk_id="b#0", article_id="b", title="Refund policy", text="…", score=0.6, url="https://h/b",
              updated_at="2024-03-02T00:00:00Z", stale=True)
OUTDATED = Passage(chunk_id="c#0", article_id="c", title="Chargebacks", text="…", score=0.6, updated_at="2026-09-01T00:00:00Z",
                   outdated=True, stale=True)
STALE_ROUTING = ROUTING.model_copy(update={"stale_source_tags": ["stale_source"]})


def test_stale_and_outdated_sources_are_marked_next_to_their_citation():
    d = Draft(body="A pending authorisation drops off within 7 days. [1] Refunds take 10 days. [2] Disputes take 60 days. [3]",
              citations=(P, OLD, OUTDATED))
    note = render_note(ticket(message(1, "x")), "m1", tri(), d, STALE_ROUTING, "0.1.0", stale_after_days=365)
    assert '[1] <a href="https://h/a">Charged twice?</a> (updated 2026-10-02)<br>' in note.html  # fresh: no mark
    assert '[2] <a href="https://h/b">Refund policy</a> (updated 2024-03-02) — stale: older than 365 days' in note.html
    assert "[3] Chargebacks (updated 2026-09-01) — outdated upstream" in note.html
    assert note.tags.count("dh_stale_source") == 1


def test_stale_mark_without_a_known_age_limit_and_the_draft_budget():
    body = " ".join(["word"] * 117) + " [1]"
    d = Draft(body=body, citations=(OLD,))
    note = render_note(ticket(message(1, "x")), "m1", tri(), d, STALE_ROUTING, "0.1.0")
    assert '[1] <a href="https://h/b">Refund policy</a> (updated 2024-03-02) — stale</p>' in note.html
    # the mark lives in the sources list, outside the draft: the draft itself is unchanged and within 120 words
    draft_html = note.html.split("<strong>Draft reply (review before sending):</strong><br>")[1].split("</p>")[0]
    assert draft_html == body and word_count(draft_html) <= 120 and "stale" not in draft_html


def test_fresh_sources_add_no_stale_tag():
    note = render_note(ticket(message(1, "x")), "m1", tri(), Draft(body="x [1]", citations=(P,)), STALE_ROUTING, "0.1.0")
    assert "dh_stale_source" not in note.tags and "stale" not in note.html


def test_policy_sources_of_a_summary_are_marked_too():
    d = Draft(body="", citations=(OLD,), summary="Customer asks for a refund", checklist=("Items within 30 days [1]",))
    note = render_note(ticket(message(1, "x")), "m1", tri(role="summary_only"), d, STALE_ROUTING, "0.1.0", stale_after_days=365)
    assert "<strong>Policy to check:</strong><br>[1] " in note.html and "— stale: older than 365 days" in note.html
    assert "dh_stale_source" in note.tags


def test_a_cut_procedure_is_said_in_bold_not_small_print():
    d = Draft(body="1. Open the app. [1]\n2. Choose Reset. [1]", citations=(P,),
              remarks=("Procedure cut: the draft quotes steps 1–2 of 6; the full procedure is in “Reset”.",))
    html = render_note(ticket(message(1, "how do I reset it")), "m1", tri(), d, ROUTING, "0.1.0").html
    assert "<p><strong>Procedure cut:</strong> the draft quotes steps 1–2 of 6; the full procedure is in “Reset”.</p>" in html


def test_only_http_and_https_article_urls_become_links():
    for url in ("javascript:alert(1)", " JavaScript:alert(1)", "data:text/html,<b>x</b>", "vbscript:x", "/relative/path"):
        source = Passage(chunk_id="a#0", article_id="a", title="Charged twice?", text="…", score=0.7, url=url)
        note = render_note(ticket(message(1, "x")), "m1", tri(), Draft(body="Text. [1]", citations=(source,)), ROUTING, "0.1.0")
        assert "<a " not in note.html and "[1] Charged twice?" in note.html
    secure = Passage(chunk_id="a#0", article_id="a", title="Charged twice?", text="…", score=0.7, url="HTTPS://h/a?x=1&y=2")
    note = render_note(ticket(message(1, "x")), "m1", tri(), Draft(body="Text. [1]", citations=(secure,)), ROUTING, "0.1.0")
    assert '[1] <a href="HTTPS://h/a?x=1&amp;y=2">Charged twice?</a>' in note.html


def test_the_note_never_copies_a_card_number_ssn_or_secret_from_the_ticket():
    summary = "Customer writes: “my card is 4111 1111 1111 1111 exp 12/29 cvv 123, SSN 123-45-6789, password: hunter2!”"
    d = Draft(body="", citations=(), escalate=True, reason="payment data in the ticket", summary=summary)
    note = render_note(ticket(message(1, "x")), "m1", tri(role="escalate_only"), d, ROUTING, "0.1.0")
    assert "4111" not in note.html and "123-45-6789" not in note.html and "hunter2" not in note.html
    assert ("my card is [card number removed] exp 12/29 cvv [secret removed], SSN [SSN removed], "
            "password: [secret removed]”") in note.html


def test_a_secret_repeated_without_its_label_is_masked_too_but_article_text_and_links_never_are():
    thread = ticket(message(1, "Cannot log in with Summer2024! again."), message(2, "My password is Summer2024! and it fails."))
    source = Passage(chunk_id="p#0", article_id="p", title="Reset the hub PIN", score=0.7, text="…",
                     url="https://h/hc/articles/4408883489909-Reset-the-hub-PIN?pwd=guest")
    d = Draft(body="After a reset, the hub PIN is 0000 again. [1]", citations=(source,),
              summary="Customer writes: “Cannot log in with Summer2024! again.”")
    html = render_note(thread, "m2", tri(role="summary_only"), d, ROUTING, "0.1.0").html
    assert "Summer2024" not in html
    assert "the hub PIN is 0000 again. [1]" in html
    assert 'href="https://h/hc/articles/4408883489909-Reset-the-hub-PIN?pwd=guest"' in html


def test_risk_flags_say_what_they_ask_of_the_agent_even_when_a_draft_is_allowed():
    flagged = Triage(category="billing", confidence=0.8, role="summary_only", urgency="urgent", sentiment="negative",
                     language="en", risks=("self_harm", "personal_data"))
    d = Draft(body="", citations=(), reason="Summary only.", summary="Customer writes: “…”")
    html = render_note(ticket(message(1, "x")), "m1", flagged, d, ROUTING, "0.1.0").html
    assert ("<p><strong>Risk flags:</strong><br>self_harm: the customer may be at risk: follow the wellbeing procedure now, "
            "before the request itself<br>personal_data: ") in html
    assert html.index("Risk flags") < html.index("Request:")
    assert "Risk flags" not in render_note(ticket(message(1, "x")), "m1", tri(), d, ROUTING, "0.1.0").html
